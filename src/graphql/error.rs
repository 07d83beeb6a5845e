//! The one place error codes (`extensions.code`) and the HTTP statuses of refused requests are
//! chosen, for GraphQL errors and HTTP refusals alike.

use std::sync::Arc;

use crate::domain::allocation::ReportError;
use crate::domain::allocation::{OverrideError, PriceError, RuleError};
use crate::domain::{CostGroupError, DomainError};
use crate::importer::TriggerError;
use crate::rate_limit::Limited;
use crate::store::StoreError;

/// `extensions.code` of an input the request got wrong.
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
/// `extensions.code` of a missing or refused bearer token.
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
/// `extensions.code` of something the caller's roles or the server's settings don't allow.
pub const FORBIDDEN: &str = "FORBIDDEN";
/// `extensions.code` of an unknown (or out of scope) id.
pub const NOT_FOUND: &str = "NOT_FOUND";
/// `extensions.code` of a change that collides with stored data or the deployment's state.
pub const CONFLICT: &str = "CONFLICT";
/// `extensions.code` of an operation refused by a limit (depth, complexity, size, timeout, …)
/// before or while it runs.
pub const OPERATION_LIMIT_EXCEEDED: &str = "OPERATION_LIMIT_EXCEEDED";
/// `extensions.code` of a caller over its rate.
pub const RATE_LIMITED: &str = "RATE_LIMITED";
/// `extensions.code` of a persisted document hash the server does not know.
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
/// `extensions.code` of a persisted document sent while persisted queries are off.
pub const PERSISTED_QUERY_NOT_SUPPORTED: &str = "PERSISTED_QUERY_NOT_SUPPORTED";
/// `extensions.code` of internal errors; the handler adds the request id to them.
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";

/// A limit a request went past: which, the value found (`at least 13`, `over 10000`) and the
/// maximum. Clients read the three from `extensions` (`limit`, `value`, `max`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// What is limited (`depth`, `request body size in bytes`).
    pub limit: String,
    /// The value found.
    pub value: String,
    /// The largest value allowed.
    pub max: u64,
    /// The message, naming the three.
    message: String,
}

impl Limit {
    /// The limit `limit` passed with `value`, where `max` is allowed.
    pub fn new(limit: &str, value: impl std::fmt::Display, max: u64) -> Limit {
        let value = value.to_string();
        Limit {
            message: format!("operation limit exceeded: {limit} is {value}, the maximum is {max}"),
            limit: limit.to_owned(),
            value,
            max,
        }
    }
}

/// An error the API answers with: a resolver's error, or the refusal of a whole request.
///
/// Deliberately not `Display`: async-graphql converts any `Display` error into a message without
/// a code, so the only way into an `async_graphql::Error` is the `From` below, which sets one.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The client sent something invalid; the message names it.
    BadUserInput(String),
    /// No valid bearer token; the message names the failed check, never the token.
    Unauthenticated(String),
    /// The caller may not do this (e.g. introspection while it is disabled).
    Forbidden(String),
    /// A named thing does not exist (or is out of the caller's scope).
    NotFound(String),
    /// The change collides with existing data.
    Conflict(String),
    /// The operation exceeds a limit.
    OperationLimit(Limit),
    /// The request body (or batch) exceeds its limit: HTTP 413.
    PayloadTooLarge(Limit),
    /// The caller is over its rate.
    RateLimited {
        /// Says so, and when to retry.
        message: String,
        /// Whole seconds to wait (`Retry-After`, `extensions.retryAfter`).
        retry_after_secs: u64,
    },
    /// An HTTP method the endpoint does not take for this request (a mutation over GET):
    /// HTTP 405 with `Allow: POST`.
    MethodNotAllowed(String),
    /// The request names a persisted document by a hash the server does not know; Apollo
    /// clients then send the document (message `PersistedQueryNotFound`, as they expect).
    PersistedQueryNotFound(String),
    /// The request names a persisted document, and persisted queries are off.
    PersistedQueryNotSupported(String),
    /// Anything else; the cause is logged, the client sees a generic message.
    Internal(String),
}

impl ApiError {
    /// The message the client sees.
    pub fn message(&self) -> &str {
        match self {
            ApiError::BadUserInput(m)
            | ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::MethodNotAllowed(m)
            | ApiError::RateLimited { message: m, .. }
            | ApiError::PersistedQueryNotFound(m)
            | ApiError::PersistedQueryNotSupported(m) => m,
            ApiError::OperationLimit(limit) | ApiError::PayloadTooLarge(limit) => &limit.message,
            ApiError::Internal(_) => "internal error",
        }
    }

    /// The refusal of a request whose token failed `check` (`token expired`).
    pub fn unauthenticated(check: impl std::fmt::Display) -> Self {
        ApiError::Unauthenticated(format!("authentication failed: {check}"))
    }

    /// The refusal of a principal without any role.
    pub fn without_role() -> Self {
        ApiError::Forbidden(
            "the token grants none of the roles reader, allocator, importer, partner_admin"
                .to_owned(),
        )
    }

    /// The same error with its message put under an input path: `within("input")` turns
    /// `currency must be …` into `input.currency must be …`. Errors about the request as a whole
    /// (forbidden, limits) and internal errors are unchanged.
    pub fn within(self, path: &str) -> Self {
        match self {
            ApiError::BadUserInput(m) => ApiError::BadUserInput(format!("{path}.{m}")),
            ApiError::NotFound(m) => ApiError::NotFound(format!("{path}.{m}")),
            ApiError::Conflict(m) => ApiError::Conflict(format!("{path}.{m}")),
            other => other,
        }
    }

    /// The DESIGN.md error code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadUserInput(_) | ApiError::MethodNotAllowed(_) => BAD_USER_INPUT,
            ApiError::Unauthenticated(_) => UNAUTHENTICATED,
            ApiError::Forbidden(_) => FORBIDDEN,
            ApiError::NotFound(_) => NOT_FOUND,
            ApiError::Conflict(_) => CONFLICT,
            ApiError::OperationLimit(_) | ApiError::PayloadTooLarge(_) => OPERATION_LIMIT_EXCEEDED,
            ApiError::RateLimited { .. } => RATE_LIMITED,
            ApiError::PersistedQueryNotFound(_) => PERSISTED_QUERY_NOT_FOUND,
            ApiError::PersistedQueryNotSupported(_) => PERSISTED_QUERY_NOT_SUPPORTED,
            ApiError::Internal(_) => INTERNAL_SERVER_ERROR,
        }
    }

    /// The HTTP status when this error refuses a whole HTTP request. Errors of an operation
    /// that ran are answered inside a 200 GraphQL response.
    pub fn http_status(&self) -> u16 {
        match self {
            ApiError::BadUserInput(_) | ApiError::OperationLimit(_) => 400,
            ApiError::Unauthenticated(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::RateLimited { .. } => 429,
            // Apollo clients expect these inside a 200 answer, and retry with the document.
            ApiError::PersistedQueryNotFound(_) | ApiError::PersistedQueryNotSupported(_) => 200,
            ApiError::Internal(_) => 500,
        }
    }

    /// `extensions` of the error: its code, plus `limit`, `value` and `max` for limits and
    /// `retryAfter` for rate limits.
    fn extensions(&self) -> async_graphql::ErrorExtensionValues {
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", self.code());
        match self {
            ApiError::OperationLimit(limit) | ApiError::PayloadTooLarge(limit) => {
                ext.set("limit", limit.limit.as_str());
                ext.set("value", limit.value.as_str());
                ext.set("max", limit.max);
            }
            ApiError::RateLimited {
                retry_after_secs, ..
            } => ext.set("retryAfter", *retry_after_secs),
            _ => {}
        }
        ext
    }

    /// The JSON body refusing a whole HTTP request: `{"errors": [{message, extensions}]}`,
    /// with the request id in the extensions of an internal error.
    pub fn http_body(&self, request_id: Option<&str>) -> serde_json::Value {
        let mut error = self.clone().into_server_error();
        if let (ApiError::Internal(_), Some(id), Some(ext)) =
            (self, request_id, error.extensions.as_mut())
        {
            ext.set("requestId", id);
        }
        serde_json::json!({ "errors": [error] })
    }
}

impl From<&Limited> for ApiError {
    fn from(limited: &Limited) -> Self {
        ApiError::RateLimited {
            message: limited.message(),
            retry_after_secs: limited.retry_after_secs(),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(err: ReportError) -> Self {
        match err {
            // Stored prices that don't fit together: the request is fine, the data is not.
            ReportError::Price(_) => ApiError::Conflict(err.to_string()),
            // The stored evaluation and tree disagree, or amounts overflow: not the request's
            // fault.
            _ => ApiError::Internal(err.to_string()),
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
            | CostGroupError::ControlCharacterInName { .. }
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

impl From<OverrideError> for ApiError {
    fn from(err: OverrideError) -> Self {
        ApiError::BadUserInput(err.to_string())
    }
}

impl From<PriceError> for ApiError {
    fn from(err: PriceError) -> Self {
        match err {
            PriceError::UnknownCurrency { .. }
            | PriceError::Negative { .. }
            | PriceError::TooHigh { .. }
            | PriceError::TooPrecise { .. } => ApiError::BadUserInput(err.to_string()),
            // Stored prices that don't fit together: the request is fine, the data is not.
            PriceError::MixedCurrencies { .. } => ApiError::Conflict(err.to_string()),
        }
    }
}

impl From<RuleError> for ApiError {
    fn from(err: RuleError) -> Self {
        ApiError::rule_input("", &err)
    }
}

impl ApiError {
    /// `BAD_USER_INPUT` for a rule given as input field `prefix` (`input`, `rules[2]`), naming the
    /// field at fault: `input.conditions[1].values: MATCHES pattern "(" is not a valid regex: …`.
    pub(crate) fn rule_input(prefix: &str, err: &RuleError) -> ApiError {
        let (field, detail) = rule_field(err);
        let path = match (prefix, field.as_str()) {
            ("", field) => field.to_owned(),
            (prefix, "") => prefix.to_owned(),
            (prefix, field) => format!("{prefix}.{field}"),
        };
        ApiError::BadUserInput(format!("{path}: {detail}"))
    }
}

/// The field of a rule that `err` is about (`conditions[1].values`) and what is wrong with it.
fn rule_field(err: &RuleError) -> (String, String) {
    match err {
        RuleError::InCondition { index, source } => {
            let (field, detail) = rule_field(source);
            (format!("conditions[{index}].{field}"), detail)
        }
        RuleError::InTargets(e) => (format!("targets{}", e.field()), e.detail()),
        RuleError::NoConditions => (
            "conditions".to_owned(),
            "must not be empty: a rule needs at least one condition".to_owned(),
        ),
        RuleError::TooManyValues { max, got } => (
            "values".to_owned(),
            format!("must hold at most {max} entries, got {got}"),
        ),
        RuleError::EmptyValue { index } => (
            format!("values[{index}]"),
            "must not be empty; use IS_EMPTY to test for a missing value".to_owned(),
        ),
        RuleError::WrongValueCount { .. }
        | RuleError::PatternTooLong { .. }
        | RuleError::InvalidPattern { .. }
        | RuleError::NotAGuid { .. }
        | RuleError::NotABoolean { .. }
        | RuleError::UnknownManager { .. } => ("values".to_owned(), err.to_string()),
        RuleError::OperatorNotAllowed { .. } => ("operator".to_owned(), err.to_string()),
        RuleError::ExtensionAttributeOutOfRange { .. } => ("attribute".to_owned(), err.to_string()),
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::from(&err)
    }
}

impl From<Arc<StoreError>> for ApiError {
    fn from(err: Arc<StoreError>) -> Self {
        ApiError::from(&*err)
    }
}

impl From<&StoreError> for ApiError {
    fn from(err: &StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Conflict(detail) => ApiError::Conflict(detail.clone()),
            StoreError::CostGroup(rule) => ApiError::from(rule.clone()),
            StoreError::Rule(rule) => ApiError::from(rule.clone()),
            StoreError::RuleOrder(order) => ApiError::BadUserInput(order.to_string()),
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
            TriggerError::Busy { .. } | TriggerError::ObservedBefore { .. } => {
                ApiError::Conflict(err.to_string())
            }
            TriggerError::Store(store) => ApiError::from(store),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        if let ApiError::Internal(cause) = &err {
            // Logged once here, inside the request's span (which carries the request id).
            tracing::error!(cause = %cause, "internal error");
        }
        let mut error = async_graphql::Error::new(err.message());
        error.extensions = Some(err.extensions());
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
    fn override_and_price_errors_are_bad_user_input_naming_the_field() {
        let err = ApiError::from(OverrideError::SumNot100 {
            sum: rust_decimal::Decimal::new(9999, 2),
        });
        assert_eq!(err.code(), "BAD_USER_INPUT");
        assert_eq!(err.message(), "shares must sum to exactly 100, got 99.99");
        let err = ApiError::from(PriceError::Negative {
            price: rust_decimal::Decimal::NEGATIVE_ONE,
        })
        .within("input");
        assert_eq!(err.code(), "BAD_USER_INPUT");
        assert_eq!(
            err.message(),
            "input.monthlyUnitPrice must be 0 or more, got -1"
        );
    }

    #[test]
    fn rule_errors_name_the_field_at_fault() {
        use crate::domain::allocation::{Attribute, Condition, Operator, validate_conditions};
        let err = validate_conditions(&[]).unwrap_err();
        let api = ApiError::rule_input("input", &err);
        assert_eq!(api.code(), "BAD_USER_INPUT");
        assert_eq!(
            api.message(),
            "input.conditions: must not be empty: a rule needs at least one condition"
        );
        let conditions = [
            Condition::new(Attribute::City, Operator::IsEmpty, vec![]).unwrap(),
            Condition {
                attribute: Attribute::City,
                operator: Operator::Matches,
                values: vec!["(".into()],
                case_sensitive: false,
            },
        ];
        let err = validate_conditions(&conditions).unwrap_err();
        let message = ApiError::rule_input("rules[2]", &err).message().to_owned();
        assert!(
            message.starts_with(r#"rules[2].conditions[1].values: MATCHES pattern "(" is not"#),
            "{message}"
        );
        let empty = [Condition {
            attribute: Attribute::City,
            operator: Operator::In,
            values: vec!["Bern".into(), String::new()],
            case_sensitive: false,
        }];
        let err = ApiError::from(validate_conditions(&empty).unwrap_err());
        assert_eq!(
            err.message(),
            "conditions[0].values[1]: must not be empty; use IS_EMPTY to test for a missing value"
        );
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
