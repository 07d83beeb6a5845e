//! `ImportRun`, `ImportStatus` and `ImportProgress`: how a tenant's imports went and how a
//! running one is doing.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use super::{TenantObject, loaders};
use crate::domain::{self, RunStatus};
use crate::graphql::error::{ApiError, ApiResult};
use crate::importer::progress::{Phase, Progress};
use crate::store::import_queries::TenantRuns;
use crate::store::import_runs;

/// What started an import run.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "ImportTrigger", remote = "crate::domain::ImportTrigger")]
pub enum ImportTriggerValue {
    /// The daily schedule (`TENANTGRAPH_IMPORT_SCHEDULE`) of `serve`.
    Schedule,
    /// The `triggerImport` mutation.
    Manual,
    /// The `tenantgraph import` command.
    Cli,
    /// The start-up import of `serve --demo`.
    Demo,
}

/// How an import run read the tenant's users.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "ImportMode", remote = "crate::domain::ImportMode")]
pub enum ImportModeValue {
    /// Every user listed; users not listed were soft-deleted.
    Full,
    /// Only the changes since the previous run (Graph delta query).
    Delta,
}

/// Where an import run stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::RunStatus")]
pub enum ImportRunStatus {
    /// Still fetching or committing.
    Running,
    /// Committed: the tenant's data is this run's.
    Succeeded,
    /// Ended without changing the tenant's data; see the reason.
    Failed,
}

/// Why an import run failed. `remediation` says what an operator can do about it.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::FailureReason")]
pub enum ImportFailureReason {
    /// A Conditional Access policy of the customer tenant refused the token (AADSTS53003).
    ConditionalAccessBlocked,
    /// The token request needs MFA the service user can't give.
    MfaRequired,
    /// The importer app is not consented in the customer tenant.
    ConsentMissing,
    /// The refresh token expired or was revoked.
    RefreshTokenExpired,
    /// The service user has no role in the customer tenant.
    NoDelegatedAccess,
    /// The tenant does not exist.
    TenantNotFound,
    /// Microsoft kept throttling (429) after every retry.
    Throttled,
    /// Microsoft kept failing or was unreachable after every retry.
    UpstreamUnavailable,
    /// Microsoft sent data that is not in the documented format.
    InvalidUpstreamData,
    /// The app registration or its secret was refused.
    AppConfiguration,
    /// The process stopped before the run finished.
    Interrupted,
    /// tenantgraph's own database failed while writing the run.
    StoreFailed,
    /// The partner's own service account cannot sign in (password expired, disabled, locked,
    /// or held back for sign-in risk): fix the account, signing in again does not help.
    ServiceAccountBlocked,
}

/// What a successful import worked around.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::ImportWarningCode")]
pub enum ImportWarningCode {
    /// Graph refused the stored delta link with an error other than expiry; every user was
    /// listed instead.
    DeltaLinkRefused,
    /// `$deltatoken=latest` was refused; no delta link was stored, and the next run starts
    /// with an initial delta round.
    DeltaLatestRefused,
    /// A page token expired while paging; the listing was read again from its first page.
    PageTokenExpired,
    /// Users hold licenses of SKUs that subscribedSkus does not list (read once more when the
    /// run's records name one): the licenses are kept under placeholder SKUs marked unknown
    /// (`LicenseSubscription.unknown`). The message names each SKU id and how many users hold
    /// it.
    UnknownSku,
    /// Partner Center's subscriptions of the customer could not be read; those stored by an
    /// earlier run were kept.
    CommerceSubscriptionsUnavailable,
    /// Graph refused directory/subscriptions (it needs Organization.Read.All): commerce
    /// subscriptions are stored without the SKU they back, and SKU billing is less exact.
    DirectorySubscriptionsRefused,
}

/// Wraps a domain warning as its GraphQL object.
pub struct ImportWarningObject(crate::domain::ImportWarning);

#[Object(name = "ImportWarning")]
impl ImportWarningObject {
    /// What happened.
    async fn code(&self) -> ImportWarningCode {
        self.0.code.into()
    }

    /// Details: upstream codes and what was done instead.
    async fn message(&self) -> &str {
        &self.0.message
    }
}

/// Where a running import is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::importer::progress::Phase")]
pub enum ImportPhase {
    /// Getting a token and the tenant's SKUs.
    Starting,
    /// Reading user pages.
    Users,
    /// Writing the tenant's new data.
    Committing,
    /// Ended; `status` is final.
    Finished,
}

/// One import of one tenant: what started it, how it ended and what it wrote.
pub struct ImportRunObject(pub Arc<domain::ImportRun>);

/// One import of one tenant: what started it, how it ended and what it wrote.
#[Object(name = "ImportRun")]
impl ImportRunObject {
    /// Run id (GUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The tenant imported; null when it is out of the caller's scope.
    async fn tenant(&self, ctx: &Context<'_>) -> ApiResult<Option<TenantObject>> {
        Ok(loaders(ctx)?
            .tenant
            .load_one(self.0.tenant_id)
            .await?
            .map(TenantObject))
    }

    /// Entra tenant id of the tenant imported.
    async fn tenant_id(&self) -> ID {
        ID(self.0.tenant_id.to_string())
    }

    /// What started the run.
    async fn trigger(&self) -> ImportTriggerValue {
        self.0.trigger.into()
    }

    /// How users were read; null until the run knows.
    async fn mode(&self) -> Option<ImportModeValue> {
        self.0.mode.map(Into::into)
    }

    /// Where the run stands.
    async fn status(&self) -> ImportRunStatus {
        self.0.status.into()
    }

    /// Why the run failed; null unless `FAILED`.
    async fn reason(&self) -> Option<ImportFailureReason> {
        self.0.reason.map(Into::into)
    }

    /// The upstream error code, e.g. `AADSTS53003`, `Authorization_RequestDenied` or an HTTP
    /// status.
    async fn upstream_code(&self) -> Option<&str> {
        self.0.upstream_code.as_deref()
    }

    /// The upstream error message, with its trace ids.
    async fn upstream_message(&self) -> Option<&str> {
        self.0.upstream_message.as_deref()
    }

    /// What an operator does to fix the failure; null unless `FAILED`. For a Conditional
    /// Access block it names the partner tenant to exclude and the blocking policy ids.
    async fn remediation(&self) -> Option<&str> {
        self.0.remediation()
    }

    /// What a successful run worked around (a refused delta link, an expired page token, a
    /// SKU missing from subscribedSkus, commerce data that could not be read, ...); empty when
    /// nothing.
    async fn warnings(&self) -> Vec<ImportWarningObject> {
        self.0
            .warnings
            .iter()
            .cloned()
            .map(ImportWarningObject)
            .collect()
    }

    /// The schedule slot of a scheduled run.
    async fn scheduled_for(&self) -> Option<DateTime<Utc>> {
        self.0.scheduled_for
    }

    /// The date the run records what it saw as observed on: `tenantgraph import --as-of`, else
    /// the UTC date it started. History and chargeback date changes by it.
    async fn observed_on(&self) -> super::Date {
        super::Date(self.0.observed_on)
    }

    /// When the run started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }

    /// When the run ended; null while it runs.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }

    /// Wall time from start to end, in milliseconds; null while it runs.
    async fn duration_ms(&self) -> Option<i64> {
        self.0.duration().map(|d| d.num_milliseconds())
    }

    /// Users seen for the first time.
    async fn users_added(&self) -> i64 {
        self.0.counts.users_added
    }

    /// Present users whose fields, manager or licenses changed.
    async fn users_updated(&self) -> i64 {
        self.0.counts.users_updated
    }

    /// Users soft-deleted because they are gone upstream.
    async fn users_removed(&self) -> i64 {
        self.0.counts.users_removed
    }

    /// Soft-deleted users that came back under the same id.
    async fn users_restored(&self) -> i64 {
        self.0.counts.users_restored
    }

    /// Licenses assigned to present users after the run.
    async fn licenses(&self) -> i64 {
        self.0.counts.licenses
    }

    /// Subscribed SKUs after the run, as subscribedSkus listed them (placeholders of unknown
    /// SKUs aside).
    async fn skus(&self) -> i64 {
        self.0.counts.skus
    }

    /// Upstream pages fetched (users, delta and SKUs); grows while the run runs.
    async fn pages(&self) -> i64 {
        self.0.counts.pages
    }

    /// Upstream requests repeated after a 429, a 5xx or a dropped connection.
    async fn retries(&self) -> i64 {
        self.0.counts.retries
    }
}

/// How a tenant's imports stand: its last run and its last successful run.
pub struct ImportStatusObject(pub Arc<TenantRuns>);

/// How a tenant's imports stand: its last run and its last successful run.
#[Object(name = "ImportStatus")]
impl ImportStatusObject {
    /// The newest run, whatever its status; null when the tenant was never imported.
    async fn last_run(&self) -> Option<ImportRunObject> {
        self.0
            .last_run
            .clone()
            .map(|run| ImportRunObject(Arc::new(run)))
    }

    /// Status of the newest run; null when the tenant was never imported.
    async fn status(&self) -> Option<ImportRunStatus> {
        self.0.last_run.as_ref().map(|run| run.status.into())
    }

    /// Why the newest run failed; null unless it failed.
    async fn reason(&self) -> Option<ImportFailureReason> {
        self.0
            .last_run
            .as_ref()
            .and_then(|run| run.reason)
            .map(Into::into)
    }

    /// What an operator does about the newest run's failure; null unless it failed.
    async fn remediation(&self) -> Option<&str> {
        self.0.last_run.as_ref().and_then(|run| run.remediation())
    }

    /// The newest run that succeeded: the data served now is its.
    async fn last_success(&self) -> Option<ImportRunObject> {
        self.0
            .last_success
            .clone()
            .map(|run| ImportRunObject(Arc::new(run)))
    }

    /// When the newest successful run ended.
    async fn last_success_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_success.as_ref().and_then(|run| run.finished_at)
    }
}

/// One progress report of an import run.
pub struct ImportProgressObject(pub Progress);

/// One progress report of an import run.
#[Object(name = "ImportProgress")]
impl ImportProgressObject {
    /// The run.
    async fn run_id(&self) -> ID {
        ID(self.0.run_id.to_string())
    }

    /// Entra tenant id of the tenant imported.
    async fn tenant_id(&self) -> ID {
        ID(self.0.tenant_id.to_string())
    }

    /// Where the run is; `FINISHED` is the last report.
    async fn phase(&self) -> ImportPhase {
        self.0.phase.into()
    }

    /// Upstream pages fetched so far.
    async fn pages(&self) -> i64 {
        self.0.pages
    }

    /// User records read so far (runs of another replica: users written, once ended).
    async fn users(&self) -> i64 {
        self.0.users
    }

    /// Status; final once the phase is `FINISHED`.
    async fn status(&self) -> ImportRunStatus {
        self.0.status.into()
    }

    /// Why the run failed; null unless it failed.
    async fn reason(&self) -> Option<ImportFailureReason> {
        self.0.reason.map(Into::into)
    }

    /// The run as stored at the time of the report (read afresh, not from a cache).
    async fn run(&self, ctx: &Context<'_>) -> ApiResult<Option<ImportRunObject>> {
        let run = import_runs::find_run(&loaders(ctx)?.store, self.0.run_id)
            .await
            .map_err(ApiError::from)?;
        Ok(run.map(|run| ImportRunObject(Arc::new(run))))
    }
}

/// A progress report made from a stored run (ended, or running in another replica).
pub(crate) fn progress_of_stored(run: &domain::ImportRun) -> Progress {
    let c = &run.counts;
    Progress {
        run_id: run.id,
        tenant_id: run.tenant_id,
        phase: if run.status == RunStatus::Running {
            Phase::Users
        } else {
            Phase::Finished
        },
        pages: c.pages,
        users: c.users_added + c.users_updated + c.users_removed + c.users_restored,
        status: run.status,
        reason: run.reason,
    }
}
