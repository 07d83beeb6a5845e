//! Why an import step failed, classified once where the upstream answer enters
//! (shared/reference/microsoft-apis.md §1.6 for token errors, §3 for Graph errors).

use crate::domain::{FailureReason, RemediationContext};
use crate::store::StoreError;
use crate::store::import_commit::CommitError;

/// A failed import step. Messages carry upstream codes and trace ids, never a token.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Upstream refused us for a reason an operator must fix (token endpoint or Graph 403).
    #[error("{code}: {message}")]
    Refused {
        /// The failure class.
        reason: FailureReason,
        /// `AADSTS53003`, `Authorization_RequestDenied`, ...
        code: String,
        /// What upstream said, with its trace ids.
        message: String,
        /// Conditional Access policy ids the token error named (empty otherwise).
        policies: Vec<String>,
    },
    /// Every attempt was throttled.
    #[error("throttled on all {attempts} attempts: {message}")]
    Throttled {
        /// Attempts made.
        attempts: u32,
        /// The last answer.
        message: String,
    },
    /// Every attempt failed with 5xx, a timeout or a dropped connection.
    #[error("unavailable on all {attempts} attempts: {message}")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// HTTP status or error code of the last answer, if any.
        code: Option<String>,
        /// The last answer.
        message: String,
    },
    /// An answer that does not match the documented format.
    #[error("malformed upstream data: {message}")]
    Malformed {
        /// Where and what.
        message: String,
    },
    /// The saved delta link was rejected (expired or reset); a full import follows.
    #[error("delta link rejected ({code})")]
    DeltaExpired {
        /// `syncStateNotFound`, `resyncRequired`, `HTTP 410` or the code of another 4xx.
        code: String,
        /// Whether Graph said the link expired (routine after 7 days) rather than refusing it
        /// for another reason.
        expired: bool,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run's spool file failed.
    #[error("spool file: {0}")]
    Spool(String),
}

impl ImportError {
    /// The failure reason recorded on the run.
    pub fn reason(&self) -> FailureReason {
        match self {
            ImportError::Refused { reason, .. } => *reason,
            ImportError::Throttled { .. } => FailureReason::Throttled,
            ImportError::Unavailable { .. } => FailureReason::UpstreamUnavailable,
            ImportError::Malformed { .. } | ImportError::DeltaExpired { .. } => {
                FailureReason::InvalidUpstreamData
            }
            ImportError::Store(_) | ImportError::Spool(_) => FailureReason::StoreFailed,
        }
    }

    /// The upstream code recorded on the run.
    pub fn upstream_code(&self) -> Option<String> {
        match self {
            ImportError::Refused { code, .. } => Some(code.clone()),
            ImportError::Throttled { .. } => Some("429".to_owned()),
            ImportError::Unavailable { code, .. } => code.clone(),
            ImportError::DeltaExpired { code, .. } => Some(code.clone()),
            _ => None,
        }
    }

    /// What an operator does about it, with the partner tenant and the blocking policies
    /// filled in where they matter.
    pub fn remediation(&self, partner_tenant_id: Option<uuid::Uuid>) -> String {
        let policy_ids = match self {
            ImportError::Refused { policies, .. } => policies.as_slice(),
            _ => &[],
        };
        self.reason().remediation_for(&RemediationContext {
            partner_tenant_id,
            policy_ids,
        })
    }

    /// The message recorded on the run.
    pub fn upstream_message(&self) -> String {
        match self {
            ImportError::Refused { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

impl From<CommitError> for ImportError {
    fn from(err: CommitError) -> Self {
        match err {
            CommitError::Invalid(message) => ImportError::Malformed { message },
            CommitError::Spool(message) => ImportError::Spool(message),
            CommitError::Store(err) => ImportError::Store(err),
        }
    }
}

/// What to do with a token endpoint error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenFailure {
    /// A human must act; the reason says what.
    Refused(FailureReason),
    /// Worth retrying.
    Transient,
}

/// Classifies a token endpoint error by its `error_codes`, then its OAuth `error` class
/// (never by the description text).
pub(crate) fn classify_token_error(error: &str, codes: &[i64], http_status: u16) -> TokenFailure {
    use FailureReason as R;
    for code in codes {
        let reason = match code {
            53003 | 53000 | 53001 | 53002 | 530032 | 530035 | 50131 | 500212 | 500213 => {
                R::ConditionalAccessBlocked
            }
            // The service account's own state, not the customer's policies (reference §1.6).
            50055 | 50057 | 50053 | 530034 => R::ServiceAccountBlocked,
            50076 | 50079 | 50072 | 50074 | 50078 | 50158 => R::MfaRequired,
            700082 | 70008 | 70043 | 50173 | 50132 | 50133 | 50089 | 70000 | 54005 => {
                R::RefreshTokenExpired
            }
            65001 | 90099 | 500011 | 700016 | 650052 => R::ConsentMissing,
            90002 => R::TenantNotFound,
            50020 | 50034 => R::NoDelegatedAccess,
            7000215 | 7000222 | 7000112 | 700011 | 700022 | 28002 | 70011 | 50196 => {
                R::AppConfiguration
            }
            50033 | 90006 | 90033 | 90055 => return TokenFailure::Transient,
            _ => continue,
        };
        return TokenFailure::Refused(reason);
    }
    match error {
        "invalid_grant" => TokenFailure::Refused(R::RefreshTokenExpired),
        "interaction_required" => TokenFailure::Refused(R::MfaRequired),
        "temporarily_unavailable" => TokenFailure::Transient,
        "invalid_client" | "unauthorized_client" | "invalid_scope" | "invalid_request" => {
            TokenFailure::Refused(R::AppConfiguration)
        }
        _ if http_status >= 500 => TokenFailure::Transient,
        _ => TokenFailure::Refused(R::AppConfiguration),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_are_classified_by_their_codes() {
        let cases = [
            (
                "invalid_grant",
                53003,
                FailureReason::ConditionalAccessBlocked,
            ),
            ("interaction_required", 50076, FailureReason::MfaRequired),
            ("invalid_grant", 700082, FailureReason::RefreshTokenExpired),
            ("invalid_grant", 65001, FailureReason::ConsentMissing),
            ("invalid_request", 90002, FailureReason::TenantNotFound),
            ("invalid_client", 7000215, FailureReason::AppConfiguration),
            ("invalid_grant", 50055, FailureReason::ServiceAccountBlocked),
            ("invalid_grant", 50057, FailureReason::ServiceAccountBlocked),
            ("invalid_grant", 50053, FailureReason::ServiceAccountBlocked),
            (
                "interaction_required",
                530034,
                FailureReason::ServiceAccountBlocked,
            ),
        ];
        for (error, code, reason) in cases {
            assert_eq!(
                classify_token_error(error, &[code], 400),
                TokenFailure::Refused(reason),
                "AADSTS{code}"
            );
        }
    }

    #[test]
    fn unknown_codes_fall_back_to_the_oauth_error_class() {
        assert_eq!(
            classify_token_error("invalid_grant", &[99999], 400),
            TokenFailure::Refused(FailureReason::RefreshTokenExpired)
        );
        assert_eq!(
            classify_token_error("interaction_required", &[], 400),
            TokenFailure::Refused(FailureReason::MfaRequired)
        );
        assert_eq!(
            classify_token_error("temporarily_unavailable", &[], 503),
            TokenFailure::Transient
        );
    }

    #[test]
    fn transient_sign_in_codes_win_over_the_error_class() {
        for code in [50033, 90006, 90033, 90055] {
            assert_eq!(
                classify_token_error("invalid_grant", &[code], 400),
                TokenFailure::Transient,
                "AADSTS{code}"
            );
        }
        assert_eq!(
            classify_token_error("temporarily_unavailable", &[], 400),
            TokenFailure::Transient
        );
    }
}
