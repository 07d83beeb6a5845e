//! Ids read from GraphQL arguments, parsed once at the edge; a malformed one is the client's
//! error. Uses only `domain` and the API's error type, so every module of the API may use it.

use async_graphql::ID;

use super::error::{ApiError, ApiResult};
use crate::domain::DomainError;

/// Parses a GUID argument, naming the argument when it is malformed.
pub(crate) fn parse_id<T>(argument: &str, id: &ID) -> ApiResult<T>
where
    T: std::str::FromStr<Err = DomainError>,
{
    id.parse::<T>()
        .map_err(|e| ApiError::BadUserInput(format!("{argument}: {e}")))
}
