//! The principal of an HTTP request from its `Authorization` header, or the refusal (401, 403
//! or 429) of a request without one. Shared by `/graphql` and the CSV exports.

use actix_web::HttpRequest;
use actix_web::http::header;

use super::forwarded::client_address;
use crate::auth::Authenticator;
use crate::domain::{Action, Principal};
use crate::graphql::error::ApiError;
use crate::rate_limit::{Caller, RateLimiter};

/// The caller of `req`, allowed to read and within its rate limit; or the error refusing it:
/// `UNAUTHENTICATED` naming the failed check (never the token), `FORBIDDEN` without a role,
/// `RATE_LIMITED` over the rate. A request without a valid token is counted against its client
/// address.
pub async fn reader(
    req: &HttpRequest,
    auth: &Authenticator,
    limits: &RateLimiter,
) -> Result<Principal, ApiError> {
    let address = client_address(req);
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    let principal = match auth.authenticate(header).await {
        Ok(principal) => principal,
        Err(error) => {
            limits
                .check_unauthenticated(address)
                .map_err(|l| ApiError::from(&l))?;
            return Err(ApiError::unauthenticated(error));
        }
    };
    limits
        .check(&Caller::of(&principal, address))
        .map_err(|l| ApiError::from(&l))?;
    if !principal.may(Action::Read) {
        return Err(ApiError::without_role());
    }
    Ok(principal)
}
