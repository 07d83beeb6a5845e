//! Import runs: what started a run, how it ended, why it failed and what an operator can do
//! about it, and what it wrote.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::ids::{ImportRunId, TenantId};

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportTrigger {
    /// `TENANTGRAPH_IMPORT_SCHEDULE` in `serve`.
    Schedule,
    /// The `triggerImport` mutation.
    Manual,
    /// `tenantgraph import`.
    Cli,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Still fetching or committing.
    Running,
    /// Committed.
    Succeeded,
    /// Ended without changing the tenant's data; see the reason.
    Failed,
}

/// How a run read the users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportMode {
    /// Every user listed; users not listed are soft-deleted.
    Full,
    /// Only the changes since the stored delta link.
    Delta,
}

/// Why a run failed. Each reason has a remediation an operator can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// A Conditional Access policy refused the token (AADSTS53003 and relatives).
    ConditionalAccessBlocked,
    /// The token request needs MFA the service user can't give (AADSTS50076 and relatives).
    MfaRequired,
    /// The app is not consented in the customer tenant (AADSTS65001, Graph
    /// `Authorization_IdentityNotFound`).
    ConsentMissing,
    /// The refresh token expired or was revoked (AADSTS700082, 70008, ...).
    RefreshTokenExpired,
    /// The service user has no role in the customer tenant (Graph `Authorization_RequestDenied`).
    NoDelegatedAccess,
    /// The tenant does not exist (AADSTS90002).
    TenantNotFound,
    /// Upstream kept answering 429 after every retry.
    Throttled,
    /// Upstream kept failing (5xx, timeouts, dropped connections) after every retry.
    UpstreamUnavailable,
    /// Upstream sent data that is not what the reference describes.
    InvalidUpstreamData,
    /// The app registration or its secret was refused (AADSTS7000215 and relatives).
    AppConfiguration,
    /// The process stopped before the run finished (the previous data stayed as it was).
    Interrupted,
    /// tenantgraph's own store failed while writing the run.
    StoreFailed,
}

impl FailureReason {
    /// Every reason, for tests and documentation.
    pub const ALL: [FailureReason; 12] = [
        FailureReason::ConditionalAccessBlocked,
        FailureReason::MfaRequired,
        FailureReason::ConsentMissing,
        FailureReason::RefreshTokenExpired,
        FailureReason::NoDelegatedAccess,
        FailureReason::TenantNotFound,
        FailureReason::Throttled,
        FailureReason::UpstreamUnavailable,
        FailureReason::InvalidUpstreamData,
        FailureReason::AppConfiguration,
        FailureReason::Interrupted,
        FailureReason::StoreFailed,
    ];

    /// The stable code stored and served (`CONDITIONAL_ACCESS_BLOCKED`, ...).
    pub fn code(self) -> &'static str {
        match self {
            FailureReason::ConditionalAccessBlocked => "CONDITIONAL_ACCESS_BLOCKED",
            FailureReason::MfaRequired => "MFA_REQUIRED",
            FailureReason::ConsentMissing => "CONSENT_MISSING",
            FailureReason::RefreshTokenExpired => "REFRESH_TOKEN_EXPIRED",
            FailureReason::NoDelegatedAccess => "NO_DELEGATED_ACCESS",
            FailureReason::TenantNotFound => "TENANT_NOT_FOUND",
            FailureReason::Throttled => "THROTTLED",
            FailureReason::UpstreamUnavailable => "UPSTREAM_UNAVAILABLE",
            FailureReason::InvalidUpstreamData => "INVALID_UPSTREAM_DATA",
            FailureReason::AppConfiguration => "APP_CONFIGURATION",
            FailureReason::Interrupted => "INTERRUPTED",
            FailureReason::StoreFailed => "STORE_FAILED",
        }
    }

    /// What an operator does to fix it (shared/reference/microsoft-apis.md §1.6, §7, §8).
    pub fn remediation(self) -> &'static str {
        match self {
            FailureReason::ConditionalAccessBlocked => {
                "A Conditional Access policy in the customer tenant blocks the partner's service user. \
                 Ask the customer's admin to exclude service provider users of the partner tenant from \
                 the policy (Users > Exclude > Guest or external users > Service provider users, scoped \
                 to the partner tenant id); the blocking policy ids are in the upstream message."
            }
            FailureReason::MfaRequired => {
                "The customer tenant requires MFA for the service user, which a scheduled import cannot \
                 satisfy. Ask the customer's admin to exclude service provider users of the partner \
                 tenant from the MFA policy; if the partner's own MFA registration lapsed, sign the \
                 service user in again interactively and store the new refresh token."
            }
            FailureReason::ConsentMissing => {
                "The importer app is not consented in this customer tenant. Grant consent for \
                 User.Read.All and LicenseAssignment.Read.All (Partner Center applicationconsents, \
                 or the customer's admin), then trigger the import again."
            }
            FailureReason::RefreshTokenExpired => {
                "The stored refresh token is no longer valid (unused for 90 days, revoked, or a password \
                 reset). Sign the service user in again interactively with MFA and set \
                 TENANTGRAPH_REFRESH_TOKEN (or its _FILE) to the new token."
            }
            FailureReason::NoDelegatedAccess => {
                "The service user has no sufficient role in this customer tenant. Check the GDAP \
                 relationship is active and that its security group, which must contain the service \
                 user, holds Directory Readers (or Global Reader)."
            }
            FailureReason::TenantNotFound => {
                "The tenant does not exist (deleted, or a wrong id). Fix or remove the customer in \
                 Partner Center or in TENANTGRAPH_IMPORT_TENANTS."
            }
            FailureReason::Throttled => {
                "Microsoft throttled every retry. The next scheduled run usually succeeds; lower \
                 TENANTGRAPH_IMPORT_CONCURRENCY if this repeats."
            }
            FailureReason::UpstreamUnavailable => {
                "Microsoft's service failed or was unreachable on every retry. Nothing was changed; \
                 trigger the import again later."
            }
            FailureReason::InvalidUpstreamData => {
                "The upstream answer did not match the documented format; nothing was changed. Keep \
                 the upstream message and report it; the next run retries."
            }
            FailureReason::AppConfiguration => {
                "The app registration or its secret was refused. Check TENANTGRAPH_CLIENT_ID and \
                 rotate TENANTGRAPH_CLIENT_SECRET if it expired."
            }
            FailureReason::Interrupted => {
                "The process stopped during the run; the tenant kept its previous data. Trigger the \
                 import again or wait for the next scheduled run."
            }
            FailureReason::StoreFailed => {
                "tenantgraph's database failed while writing; nothing of the run was kept. Check the \
                 database's health and the log lines of this run, then trigger the import again."
            }
        }
    }
}

/// Counts of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportCounts {
    /// Users seen for the first time.
    pub users_added: i64,
    /// Present users whose fields, manager or licenses changed.
    pub users_updated: i64,
    /// Users soft-deleted because they are gone upstream.
    pub users_removed: i64,
    /// Soft-deleted users that came back under the same id.
    pub users_restored: i64,
    /// Licenses assigned to present users after the run.
    pub licenses: i64,
    /// Subscribed SKUs after the run.
    pub skus: i64,
    /// Upstream pages fetched (users, delta and SKUs).
    pub pages: i64,
    /// Upstream requests repeated after a 429, 5xx or dropped connection.
    pub retries: i64,
}

impl std::ops::AddAssign for ImportCounts {
    /// Adds every count of `other` (the counts of a part of a run to the run's).
    fn add_assign(&mut self, other: ImportCounts) {
        self.users_added += other.users_added;
        self.users_updated += other.users_updated;
        self.users_removed += other.users_removed;
        self.users_restored += other.users_restored;
        self.licenses += other.licenses;
        self.skus += other.skus;
        self.pages += other.pages;
        self.retries += other.retries;
    }
}

/// One import of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRun {
    /// Run id.
    pub id: ImportRunId,
    /// The tenant imported.
    pub tenant_id: TenantId,
    /// What started it.
    pub trigger: ImportTrigger,
    /// How users were read, once known.
    pub mode: Option<ImportMode>,
    /// Where it stands.
    pub status: RunStatus,
    /// Why it failed.
    pub reason: Option<FailureReason>,
    /// The upstream error code (`AADSTS53003`, `Authorization_RequestDenied`, HTTP status).
    pub upstream_code: Option<String>,
    /// The upstream error message, with trace ids, never a token.
    pub upstream_message: Option<String>,
    /// The schedule slot it belongs to, for scheduled runs.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// The process that ran it (`host:pid:…`).
    pub holder: String,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time, once ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Counts so far (final once ended).
    pub counts: ImportCounts,
}

impl ImportRun {
    /// Wall time from start to end, once ended.
    pub fn duration(&self) -> Option<chrono::Duration> {
        self.finished_at.map(|end| end - self.started_at)
    }

    /// The remediation for the failure reason, if failed.
    pub fn remediation(&self) -> Option<&'static str> {
        self.reason.map(FailureReason::remediation)
    }
}

macro_rules! text_enum {
    ($name:ident, $kind:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            /// The stored and served name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", $kind)),
                }
            }
        }
    };
}

text_enum!(ImportTrigger, "import trigger", {
    Schedule => "SCHEDULE",
    Manual => "MANUAL",
    Cli => "CLI",
});
text_enum!(RunStatus, "run status", {
    Running => "RUNNING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
});
text_enum!(ImportMode, "import mode", {
    Full => "FULL",
    Delta => "DELTA",
});

impl FromStr for FailureReason {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        FailureReason::ALL
            .into_iter()
            .find(|r| r.code() == value)
            .ok_or_else(|| format!("unknown failure reason {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_reason_reads_back_from_its_code() {
        for reason in FailureReason::ALL {
            assert_eq!(reason.code().parse::<FailureReason>(), Ok(reason));
        }
    }

    #[test]
    fn conditional_access_remediation_names_the_service_provider_exclusion() {
        let text = FailureReason::ConditionalAccessBlocked.remediation();
        assert!(text.contains("Service provider users"), "{text}");
    }

    #[test]
    fn status_names_round_trip() {
        for status in [RunStatus::Running, RunStatus::Succeeded, RunStatus::Failed] {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
        }
    }
}
