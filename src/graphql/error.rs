//! The one place GraphQL error codes (`extensions.code`) are chosen.

use std::sync::Arc;

use crate::domain::allocation::ReportError;
use crate::domain::allocation::{OverrideError, PriceError, RuleError};
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
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::Forbidden(m)
            | ApiError::OperationLimit(m)
            | ApiError::PersistedQueryNotFound(m)
            | ApiError::PersistedQueryNotSupported(m) => m,
            ApiError::Internal(_) => "internal error",
        }
    }

    /// The same error with its message put under an input path: `within("input")` turns
    /// `currency must be …` into `input.currency must be …`. Errors about the request as a whole
    /// (forbidden, limits) and internal errors are unchanged.
    pub fn within(self, path: &str) -> Self {
        match self {
            ApiError::BadUserInput(m) => ApiError::BadUserInput(format!("{path}.{m}")),
            ApiError::NotFound(m) => ApiError::NotFound(format!("{path}.{m}")),
            ApiError::Conflict(m) => ApiError::Conflict(format!("{path}.{m}")),
            other @ (ApiError::Forbidden(_)
            | ApiError::OperationLimit(_)
            | ApiError::PersistedQueryNotFound(_)
            | ApiError::PersistedQueryNotSupported(_)
            | ApiError::Internal(_)) => other,
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
            ApiError::PersistedQueryNotFound(_) => "PERSISTED_QUERY_NOT_FOUND",
            ApiError::PersistedQueryNotSupported(_) => "PERSISTED_QUERY_NOT_SUPPORTED",
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
        | RuleError::NotAGuid { .. } => ("values".to_owned(), err.to_string()),
        RuleError::OperatorNotAllowed { .. } => ("operator".to_owned(), err.to_string()),
        RuleError::ExtensionAttributeOutOfRange { .. } => ("attribute".to_owned(), err.to_string()),
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Conflict(detail) => ApiError::Conflict(detail),
            StoreError::CostGroup(rule) => ApiError::from(rule),
            StoreError::Report(e @ ReportError::Price(_)) => ApiError::Conflict(e.to_string()),
            StoreError::Rule(rule) => ApiError::from(rule),
            StoreError::RuleOrder(order) => ApiError::BadUserInput(order.to_string()),
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
