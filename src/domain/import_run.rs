//! Import runs: what started a run, how it ended, why it failed and what an operator can do
//! about it, and what it wrote.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};

use super::ids::{ImportRunId, SkuId, TenantId};

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportTrigger {
    /// `TENANTGRAPH_IMPORT_SCHEDULE` in `serve`.
    Schedule,
    /// The `triggerImport` mutation.
    Manual,
    /// `tenantgraph import`.
    Cli,
    /// The start-up import of `serve --demo`.
    Demo,
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
    /// The partner's service account itself cannot sign in: password expired, disabled,
    /// locked (AADSTS50055, 50057, 50053) or held back for sign-in risk (AADSTS530034).
    ServiceAccountBlocked,
}

impl FailureReason {
    /// Every reason, for tests and documentation.
    pub const ALL: [FailureReason; 13] = [
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
        FailureReason::ServiceAccountBlocked,
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
            FailureReason::ServiceAccountBlocked => "SERVICE_ACCOUNT_BLOCKED",
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
            FailureReason::ServiceAccountBlocked => {
                "The partner's own service account cannot sign in: its password expired, it was \
                 disabled or locked out, or Entra ID holds its sign-ins back for risk. Fix the \
                 account in the partner tenant (reset the password, enable or unlock it, or \
                 remediate the risk in Identity Protection); signing in again with the same \
                 account state will not help. Then trigger the import again."
            }
        }
    }

    /// The remediation with what this failure knows filled in: for a Conditional Access block,
    /// the partner tenant to exclude and the policies that blocked the sign-in.
    pub fn remediation_for(self, context: &RemediationContext<'_>) -> String {
        if self != FailureReason::ConditionalAccessBlocked {
            return self.remediation().to_owned();
        }
        let partner = match context.partner_tenant_id {
            Some(id) => format!("the partner tenant {id}"),
            None => "the partner tenant (set TENANTGRAPH_PARTNER_TENANT_ID to see its id here)"
                .to_owned(),
        };
        let policies = match context.policy_ids {
            [] => "the blocking policy (its id is in the upstream message when Entra ID sent one)"
                .to_owned(),
            [one] => format!("policy {one}"),
            many => format!("policies {}", many.join(", ")),
        };
        format!(
            "A Conditional Access policy in the customer tenant blocks the partner's service user. \
             Ask the customer's admin to exclude service provider users of {partner} from \
             {policies} (Users > Exclude > Guest or external users > Service provider users, with \
             that tenant as the external tenant); a scheduled import cannot meet device, location \
             or MFA conditions."
        )
    }
}

/// What a failed run knows beyond its reason, for [`FailureReason::remediation_for`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RemediationContext<'a> {
    /// The configured partner tenant (`TENANTGRAPH_PARTNER_TENANT_ID`).
    pub partner_tenant_id: Option<uuid::Uuid>,
    /// Conditional Access policy ids from the token error's claims challenge.
    pub policy_ids: &'a [String],
}

/// Something a successful run worked around: the tenant was imported, but an operator may
/// want to know.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportWarning {
    /// What happened.
    pub code: ImportWarningCode,
    /// Details: upstream codes, ids, what was done instead.
    pub message: String,
}

impl ImportWarning {
    /// The warning of a run after which users hold licenses of SKUs that `subscribedSkus` did
    /// not list, kept under placeholders: each SKU with the number of users holding it.
    pub fn unknown_skus(held: &[(SkuId, u64)]) -> ImportWarning {
        let skus: Vec<String> = held
            .iter()
            .map(|(sku, users)| {
                let plural = if *users == 1 { "" } else { "s" };
                format!("{sku} ({users} user{plural})")
            })
            .collect();
        ImportWarning {
            code: ImportWarningCode::UnknownSku,
            message: format!(
                "subscribedSkus does not list SKU{} {} that users hold; their licenses are kept \
                 under placeholder SKUs marked unknown until an import finds them listed",
                if held.len() == 1 { "" } else { "s" },
                skus.join(", ")
            ),
        }
    }
}

/// Kinds of [`ImportWarning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportWarningCode {
    /// The stored delta link was refused; the run imported every user instead.
    DeltaLinkRefused,
    /// `$deltatoken=latest` was refused; the run stored no delta link and the next run starts
    /// with an initial delta round.
    DeltaLatestRefused,
    /// A page token expired while paging (`Directory_ExpiredPageToken`); the listing restarted.
    PageTokenExpired,
    /// Users hold licenses of SKUs that `subscribedSkus` does not list (read once more when the
    /// run's records name one); the licenses are kept under placeholder SKUs marked unknown.
    UnknownSku,
    /// Partner Center's subscriptions of the customer could not be read; the ones stored by an
    /// earlier run were kept.
    CommerceSubscriptionsUnavailable,
    /// Graph refused `directory/subscriptions` (it needs Organization.Read.All); commerce
    /// subscriptions are stored without the SKU they back.
    DirectorySubscriptionsRefused,
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
    /// Subscribed SKUs after the run, as `subscribedSkus` listed them (placeholders of unknown
    /// SKUs aside).
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
    /// The remediation written when the run failed.
    pub remediation: Option<String>,
    /// What a successful run worked around.
    pub warnings: Vec<ImportWarning>,
    /// The date the run records what it saw as observed on (`import --as-of`, else the UTC
    /// date it started); a tenant's dates only move forward.
    pub observed_on: NaiveDate,
}

impl ImportRun {
    /// Wall time from start to end, once ended.
    pub fn duration(&self) -> Option<chrono::Duration> {
        self.finished_at.map(|end| end - self.started_at)
    }

    /// The remediation for the failure reason, if failed: as written when the run ended
    /// (with the partner tenant and policy ids filled in), else the reason's general text.
    pub fn remediation(&self) -> Option<&str> {
        let reason = self.reason?;
        Some(self.remediation.as_deref().unwrap_or(reason.remediation()))
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
    Demo => "DEMO",
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
    fn conditional_access_remediation_names_the_partner_tenant_and_policies() {
        let partner = uuid::Uuid::from_u128(7);
        let policies = ["p-1".to_owned(), "p-2".to_owned()];
        let text = FailureReason::ConditionalAccessBlocked.remediation_for(&RemediationContext {
            partner_tenant_id: Some(partner),
            policy_ids: &policies,
        });
        assert!(text.contains(&partner.to_string()), "{text}");
        assert!(text.contains("policies p-1, p-2"), "{text}");
        let other = FailureReason::MfaRequired.remediation_for(&RemediationContext {
            partner_tenant_id: Some(partner),
            policy_ids: &policies,
        });
        assert_eq!(other, FailureReason::MfaRequired.remediation());
    }

    #[test]
    fn service_account_remediation_says_to_fix_the_account() {
        let text = FailureReason::ServiceAccountBlocked.remediation();
        assert!(text.contains("Fix the account"), "{text}");
        assert!(!text.contains("store the new refresh token"), "{text}");
    }

    #[test]
    fn the_unknown_sku_warning_names_each_sku_and_its_holders() {
        let one = SkuId(uuid::Uuid::from_u128(1));
        let two = SkuId(uuid::Uuid::from_u128(2));
        let warning = ImportWarning::unknown_skus(&[(one, 1), (two, 3)]);
        assert_eq!(warning.code, ImportWarningCode::UnknownSku);
        assert!(
            warning
                .message
                .contains(&format!("SKUs {one} (1 user), {two} (3 users)")),
            "{}",
            warning.message
        );
        let json = serde_json::to_string(&warning.code).unwrap();
        assert_eq!(json, "\"UNKNOWN_SKU\"");
    }

    #[test]
    fn status_names_round_trip() {
        for status in [RunStatus::Running, RunStatus::Succeeded, RunStatus::Failed] {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
        }
    }
}
