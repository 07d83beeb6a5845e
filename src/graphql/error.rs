//! The one place GraphQL error codes (`extensions.code`) are chosen.

use std::sync::Arc;

use crate::domain::allocation::ReportError;
use crate::domain::{CostGroupError, DomainError};
use crate::importer::TriggerError;
use crate::store::StoreError;

/// `extensions.code` of internal errors; the handler adds the request id to them.
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";

/// `extensions.code` of an operation refused by a limit (depth, complexity, size, timeout, …)
/// before or while it runs.
pub const OPERATION_LIMIT_EXCEEDED: &str = "OPERATION_LIMIT_EXCEEDED";

/// An error a resolver returns to the client.
///
/// Deliberately not `Display`: async-graphql converts any `Display` error into a message without
/// a code, so the only way into an `async_graphql::Error` is the `From` below, which sets one.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The client sent something invalid; the message names it.
    BadUserInput(String),
    /// A named thing does not exist (or is out of the caller's scope).
    NotFound(String),
    /// The change collides with existing data.
    Conflict(String),
    /// The caller may not do this (e.g. introspection while it is disabled).
    Forbidden(String),
    /// The operation exceeds a limit; the message names the limit, the value and the maximum.
    OperationLimit(String),
    /// Anything else; the cause is logged, the client sees a generic message.
    Internal(String),
}

impl ApiError {
    /// The message the client sees.
    pub fn message(&self) -> &str {
        match self {
            ApiError::BadUserInput(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::Forbidden(m)
            | ApiError::OperationLimit(m) => m,
            ApiError::Internal(_) => "internal error",
        }
    }

    /// The DESIGN.md error code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::OperationLimit(_) => OPERATION_LIMIT_EXCEEDED,
            ApiError::Internal(_) => INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        ApiError::BadUserInput(err.to_string())
    }
}

impl From<CostGroupError> for ApiError {
    fn from(err: CostGroupError) -> Self {
        match err {
            CostGroupError::InvalidName { .. }
            | CostGroupError::InvalidCode { .. }
            | CostGroupError::InvalidDescription { .. } => ApiError::BadUserInput(err.to_string()),
            CostGroupError::DuplicateSiblingName { .. }
            | CostGroupError::DuplicateCode { .. }
            | CostGroupError::Cycle { .. }
            | CostGroupError::TooDeep { .. }
            | CostGroupError::InUse { .. }
            | CostGroupError::ReassignToSelf { .. } => ApiError::Conflict(err.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Conflict(detail) => ApiError::Conflict(detail),
            StoreError::CostGroup(rule) => ApiError::from(rule),
            StoreError::Report(e @ ReportError::Price(_)) => ApiError::Conflict(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<Arc<StoreError>> for ApiError {
    fn from(err: Arc<StoreError>) -> Self {
        match &*err {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Conflict(detail) => ApiError::Conflict(detail.clone()),
            StoreError::CostGroup(rule) => ApiError::from(rule.clone()),
            StoreError::Report(e @ ReportError::Price(_)) => ApiError::Conflict(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<TriggerError> for ApiError {
    fn from(err: TriggerError) -> Self {
        match err {
            // Starting an import is refused by the state of this deployment, not by the
            // request: of DESIGN's codes, CONFLICT says that best.
            TriggerError::NotConfigured => ApiError::Conflict(err.to_string()),
            TriggerError::Busy { .. } => ApiError::Conflict(err.to_string()),
            TriggerError::Store(store) => ApiError::from(store),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        if let ApiError::Internal(cause) = &err {
            // Logged once here, inside the request's span (which carries the request id).
            tracing::error!(cause = %cause, "internal error in resolver");
        }
        let code = err.code();
        let mut error = async_graphql::Error::new(err.message());
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
        error
    }
}

impl ApiError {
    /// The error as a request-level GraphQL error (no path), for refusals before execution.
    pub fn into_server_error(self) -> async_graphql::ServerError {
        let error = async_graphql::Error::from(self);
        let mut server_error = async_graphql::ServerError::new(error.message, None);
        server_error.extensions = error.extensions;
        server_error
    }
}

/// Result of a resolver.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause_from_the_client() {
        let err: async_graphql::Error =
            ApiError::Internal("password authentication failed for user app".into()).into();
        assert_eq!(err.message, "internal error");
        let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(
            code,
            Some(async_graphql::Value::from("INTERNAL_SERVER_ERROR"))
        );
    }

    #[test]
    fn a_busy_tenant_is_a_conflict_naming_the_tenant() {
        let tenant_id = crate::domain::TenantId(uuid::Uuid::from_u128(7));
        let err = ApiError::from(TriggerError::Busy { tenant_id });
        assert_eq!(err.code(), "CONFLICT");
        assert!(err.message().contains(&tenant_id.to_string()), "{err:?}");
        let err = ApiError::from(TriggerError::NotConfigured);
        assert_eq!(err.code(), "CONFLICT");
        assert!(err.message().starts_with("imports are not configured"));
    }

    #[test]
    fn cost_group_value_errors_are_bad_user_input_and_clashes_conflicts() {
        let err = ApiError::from(CostGroupError::InvalidName { got: 0 });
        assert_eq!(err.code(), "BAD_USER_INPUT");
        assert_eq!(err.message(), "name must be 1 to 100 characters, got 0");
        let err = ApiError::from(StoreError::from(CostGroupError::Cycle { name: "A".into() }));
        assert_eq!(err.code(), "CONFLICT");
    }

    #[test]
    fn domain_errors_are_bad_user_input_with_their_message() {
        let err: async_graphql::Error =
            ApiError::from(DomainError::InvalidPageSize { max: 500, got: 900 }).into();
        assert_eq!(err.message, "first must be between 0 and 500, got 900");
        let code = err.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("BAD_USER_INPUT")));
    }
}
