//! Import runs, each tenant's import lease and delta link, and the newest refresh token
//! (encrypted).
//! A lease row per tenant makes one replica at a time import a tenant; a scheduled slot's run
//! row is unique per tenant, so a slot imports each tenant once whichever replica gets there.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::connect::Store;
use super::entities::{import_run, partner_credential, tenant, tenant_import_state, user};
use super::error::StoreError;
use super::secrets::{Keyring, Sealed};
use crate::domain::{
    FailureReason, ImportCounts, ImportMode, ImportRun, ImportRunId, ImportTrigger, ImportWarning,
    RunStatus, Tenant, TenantId,
};

/// A run to start.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The tenant.
    pub tenant_id: TenantId,
    /// What started it.
    pub trigger: ImportTrigger,
    /// The schedule slot, for scheduled runs (unique per tenant).
    pub scheduled_for: Option<DateTime<Utc>>,
    /// This process's name.
    pub holder: String,
    /// How long the claim lasts without renewal.
    pub lease: chrono::Duration,
    /// The date the run records as observed (`import --as-of`); `None`: its UTC start date.
    pub observed_on: Option<NaiveDate>,
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartRefused {
    /// Another run of the tenant holds the lease.
    Busy {
        /// That run.
        run_id: Option<ImportRunId>,
    },
    /// The scheduled slot already has a run of this tenant.
    SlotTaken,
    /// The run would observe a date before the tenant's last import: dates only move forward.
    ObservedBefore {
        /// The date the tenant's last import observed.
        last: NaiveDate,
    },
}

pub(crate) fn to_domain(m: import_run::Model) -> Result<ImportRun, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "import_runs",
        detail,
    };
    Ok(ImportRun {
        id: ImportRunId(m.id),
        tenant_id: TenantId(m.tenant_id),
        trigger: m.trigger.parse().map_err(corrupt)?,
        mode: m
            .mode
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(corrupt)?,
        status: m.status.parse().map_err(corrupt)?,
        reason: m
            .reason
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(corrupt)?,
        upstream_code: m.upstream_code,
        upstream_message: m.upstream_message,
        scheduled_for: m.scheduled_for,
        holder: m.holder,
        started_at: m.started_at,
        finished_at: m.finished_at,
        counts: ImportCounts {
            users_added: m.users_added,
            users_updated: m.users_updated,
            users_removed: m.users_removed,
            users_restored: m.users_restored,
            licenses: m.licenses,
            skus: m.skus,
            pages: m.pages,
            retries: m.retries,
        },
        warnings: match m.warnings.as_deref() {
            None | Some("") => Vec::new(),
            Some(text) => serde_json::from_str(text)
                .map_err(|e| corrupt(format!("warnings of run {}: {e}", m.id)))?,
        },
        remediation: m.remediation,
        observed_on: m.observed_on.unwrap_or_else(|| m.started_at.date_naive()),
    })
}

/// The stored form of a run's warnings: `NULL` for none, else a JSON list.
fn warnings_json(warnings: &[ImportWarning]) -> Result<Option<String>, StoreError> {
    if warnings.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(warnings)
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            table: "import_runs",
            detail: format!("warnings not serializable: {e}"),
        })
}

/// Creates tenant rows for tenants found upstream, or refreshes their Partner Center name,
/// domain and customer id. `refresh_profile = false` only creates missing rows.
pub async fn upsert_discovered_tenants(
    store: &Store,
    tenants: &[Tenant],
    refresh_profile: bool,
) -> Result<(), StoreError> {
    if tenants.is_empty() {
        return Ok(());
    }
    let txn = store.begin_write().await?;
    for chunk in tenants.chunks(200) {
        let mut on_conflict = OnConflict::column(tenant::Column::Id);
        if refresh_profile {
            on_conflict.update_columns([
                tenant::Column::CustomerId,
                tenant::Column::Name,
                tenant::Column::DefaultDomain,
                tenant::Column::UpdatedAt,
            ]);
        } else {
            on_conflict.do_nothing();
        }
        tenant::Entity::insert_many(chunk.iter().map(super::tenants::to_active))
            .on_conflict(on_conflict)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Claims `new.tenant_id` for a new run and records the run as `RUNNING`, in one transaction.
pub async fn start_run(
    store: &Store,
    new: &NewRun,
) -> Result<Result<ImportRun, StartRefused>, StoreError> {
    let now = Utc::now();
    let observed_on = new.observed_on.unwrap_or_else(|| now.date_naive());
    let run_id = Uuid::new_v4();
    let tenant_id = new.tenant_id.uuid();
    let txn = store.begin_write().await?;
    tenant_import_state::Entity::insert(tenant_import_state::ActiveModel {
        tenant_id: Set(tenant_id),
        delta_link: Set(None),
        delta_link_at: Set(None),
        lease_holder: Set(None),
        lease_run_id: Set(None),
        lease_expires_at: Set(None),
        updated_at: Set(now),
        initial_delta_next: Set(false),
        last_observed_on: Set(None),
    })
    .on_conflict(
        OnConflict::column(tenant_import_state::Column::TenantId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let last = tenant_import_state::Entity::find_by_id(tenant_id)
        .one(&txn)
        .await?
        .and_then(|s| s.last_observed_on);
    if let Some(last) = last.filter(|last| *last > observed_on) {
        return Ok(Err(StartRefused::ObservedBefore { last }));
    }
    if let Some(slot) = new.scheduled_for {
        let taken = import_run::Entity::find()
            .filter(import_run::Column::TenantId.eq(tenant_id))
            .filter(import_run::Column::ScheduledFor.eq(slot))
            .count(&txn)
            .await?;
        if taken > 0 {
            return Ok(Err(StartRefused::SlotTaken));
        }
    }
    // The WHERE is re-checked under the row lock, so of two replicas only one gets the lease.
    let claimed = tenant_import_state::Entity::update_many()
        .col_expr(
            tenant_import_state::Column::LeaseHolder,
            Expr::value(new.holder.clone()),
        )
        .col_expr(tenant_import_state::Column::LeaseRunId, Expr::value(run_id))
        .col_expr(
            tenant_import_state::Column::LeaseExpiresAt,
            Expr::value(now + new.lease),
        )
        .col_expr(tenant_import_state::Column::UpdatedAt, Expr::value(now))
        .filter(tenant_import_state::Column::TenantId.eq(tenant_id))
        .filter(
            Condition::any()
                .add(tenant_import_state::Column::LeaseExpiresAt.is_null())
                .add(tenant_import_state::Column::LeaseExpiresAt.lt(now)),
        )
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed == 0 {
        let holder = tenant_import_state::Entity::find_by_id(tenant_id)
            .one(&txn)
            .await?
            .and_then(|s| s.lease_run_id);
        return Ok(Err(StartRefused::Busy {
            run_id: holder.map(ImportRunId),
        }));
    }
    let row = import_run::ActiveModel {
        id: Set(run_id),
        tenant_id: Set(tenant_id),
        trigger: Set(new.trigger.as_str().to_owned()),
        mode: Set(None),
        status: Set(RunStatus::Running.as_str().to_owned()),
        reason: Set(None),
        upstream_code: Set(None),
        upstream_message: Set(None),
        remediation: Set(None),
        scheduled_for: Set(new.scheduled_for),
        holder: Set(new.holder.clone()),
        started_at: Set(now),
        finished_at: Set(None),
        duration_ms: Set(None),
        users_added: Set(0),
        users_updated: Set(0),
        users_removed: Set(0),
        users_restored: Set(0),
        licenses: Set(0),
        skus: Set(0),
        pages: Set(0),
        retries: Set(0),
        warnings: Set(None),
        observed_on: Set(Some(observed_on)),
    };
    match import_run::Entity::insert(row)
        .exec_without_returning(&txn)
        .await
    {
        Ok(_) => {}
        // Another replica inserted the same slot between our check and our insert.
        Err(err) => {
            return match StoreError::from(err) {
                StoreError::Conflict(_) => Ok(Err(StartRefused::SlotTaken)),
                other => Err(other),
            };
        }
    }
    txn.commit().await?;
    let run = import_run::Entity::find_by_id(run_id)
        .one(store.db())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("import run {run_id}")))?;
    Ok(Ok(to_domain(run)?))
}

/// Extends the lease of `run_id`; `false` when the run no longer holds it.
pub async fn renew_lease(
    store: &Store,
    tenant_id: TenantId,
    run_id: ImportRunId,
    lease: chrono::Duration,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    let renewed = tenant_import_state::Entity::update_many()
        .col_expr(
            tenant_import_state::Column::LeaseExpiresAt,
            Expr::value(now + lease),
        )
        .filter(tenant_import_state::Column::TenantId.eq(tenant_id.uuid()))
        .filter(tenant_import_state::Column::LeaseRunId.eq(run_id.uuid()))
        .exec(store.db())
        .await?
        .rows_affected;
    Ok(renewed == 1)
}

/// Releases the lease of `run_id` (no-op when another run holds it).
pub(crate) async fn release_lease<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    run_id: ImportRunId,
) -> Result<(), StoreError> {
    tenant_import_state::Entity::update_many()
        .col_expr(
            tenant_import_state::Column::LeaseHolder,
            Expr::value(None::<String>),
        )
        .col_expr(
            tenant_import_state::Column::LeaseRunId,
            Expr::value(None::<Uuid>),
        )
        .col_expr(
            tenant_import_state::Column::LeaseExpiresAt,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(tenant_import_state::Column::TenantId.eq(tenant_id.uuid()))
        .filter(tenant_import_state::Column::LeaseRunId.eq(run_id.uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// How a run ended, for [`finish_run`].
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// `Succeeded` or `Failed`.
    pub status: RunStatus,
    /// How users were read, if it got that far.
    pub mode: Option<ImportMode>,
    /// Why it failed.
    pub reason: Option<FailureReason>,
    /// Upstream error code.
    pub upstream_code: Option<String>,
    /// Upstream error message (no secrets).
    pub upstream_message: Option<String>,
    /// What an operator can do; the reason's general text when `None`.
    pub remediation: Option<String>,
    /// What a successful run worked around.
    pub warnings: Vec<ImportWarning>,
    /// Counts.
    pub counts: ImportCounts,
}

/// Records the end of a run and releases its lease. Runs on `db`, so a commit can include it.
pub(crate) async fn finish_run_on<C: ConnectionTrait>(
    db: &C,
    run: &ImportRun,
    end: &RunEnd,
) -> Result<(), StoreError> {
    let now = Utc::now();
    let c = &end.counts;
    import_run::Entity::update_many()
        .col_expr(import_run::Column::Status, Expr::value(end.status.as_str()))
        .col_expr(
            import_run::Column::Mode,
            Expr::value(end.mode.map(|m| m.as_str().to_owned())),
        )
        .col_expr(
            import_run::Column::Reason,
            Expr::value(end.reason.map(|r| r.code().to_owned())),
        )
        .col_expr(
            import_run::Column::UpstreamCode,
            Expr::value(end.upstream_code.clone()),
        )
        .col_expr(
            import_run::Column::UpstreamMessage,
            Expr::value(end.upstream_message.clone()),
        )
        .col_expr(
            import_run::Column::Remediation,
            Expr::value(
                end.remediation
                    .clone()
                    .or_else(|| end.reason.map(|r| r.remediation().to_owned())),
            ),
        )
        .col_expr(
            import_run::Column::Warnings,
            Expr::value(warnings_json(&end.warnings)?),
        )
        .col_expr(import_run::Column::FinishedAt, Expr::value(now))
        .col_expr(
            import_run::Column::DurationMs,
            Expr::value((now - run.started_at).num_milliseconds()),
        )
        .col_expr(import_run::Column::UsersAdded, Expr::value(c.users_added))
        .col_expr(
            import_run::Column::UsersUpdated,
            Expr::value(c.users_updated),
        )
        .col_expr(
            import_run::Column::UsersRemoved,
            Expr::value(c.users_removed),
        )
        .col_expr(
            import_run::Column::UsersRestored,
            Expr::value(c.users_restored),
        )
        .col_expr(import_run::Column::Licenses, Expr::value(c.licenses))
        .col_expr(import_run::Column::Skus, Expr::value(c.skus))
        .col_expr(import_run::Column::Pages, Expr::value(c.pages))
        .col_expr(import_run::Column::Retries, Expr::value(c.retries))
        .filter(import_run::Column::Id.eq(run.id.uuid()))
        .exec(db)
        .await?;
    release_lease(db, run.tenant_id, run.id).await
}

/// Records the end of a run that changed no tenant data (a failure) and releases its lease.
pub async fn finish_run(store: &Store, run: &ImportRun, end: &RunEnd) -> Result<(), StoreError> {
    let txn = store.begin_write().await?;
    finish_run_on(&txn, run, end).await?;
    txn.commit().await?;
    Ok(())
}

/// Marks `RUNNING` runs whose process is gone (their lease expired or was taken over) as
/// `FAILED` with `INTERRUPTED`. Returns how many.
pub async fn interrupt_abandoned_runs(store: &Store) -> Result<u64, StoreError> {
    let now = Utc::now();
    let running = import_run::Entity::find()
        .filter(import_run::Column::Status.eq(RunStatus::Running.as_str()))
        .all(store.db())
        .await?;
    let mut interrupted = 0;
    for run in running {
        let state = tenant_import_state::Entity::find_by_id(run.tenant_id)
            .one(store.db())
            .await?;
        let alive = state.is_some_and(|s| {
            s.lease_run_id == Some(run.id) && s.lease_expires_at.is_some_and(|t| t >= now)
        });
        if alive {
            continue;
        }
        let run = to_domain(run)?;
        finish_run(
            store,
            &run,
            &RunEnd {
                status: RunStatus::Failed,
                mode: run.mode,
                reason: Some(FailureReason::Interrupted),
                upstream_code: None,
                upstream_message: Some(format!(
                    "the process {} stopped before the run finished",
                    run.holder
                )),
                remediation: None,
                warnings: Vec::new(),
                counts: run.counts,
            },
        )
        .await?;
        interrupted += 1;
    }
    Ok(interrupted)
}

/// One run by id.
pub async fn find_run(store: &Store, id: ImportRunId) -> Result<Option<ImportRun>, StoreError> {
    import_run::Entity::find_by_id(id.uuid())
        .one(store.db())
        .await?
        .map(to_domain)
        .transpose()
}

/// Runs of `tenant_id`, newest first, after the run `after` (exclusive), at most `limit`.
pub async fn list_runs(
    store: &Store,
    tenant_id: TenantId,
    after: Option<(DateTime<Utc>, ImportRunId)>,
    limit: u64,
) -> Result<Vec<ImportRun>, StoreError> {
    let mut query = import_run::Entity::find()
        .filter(import_run::Column::TenantId.eq(tenant_id.uuid()))
        .order_by_desc(import_run::Column::StartedAt)
        .order_by_desc(import_run::Column::Id)
        .limit(limit);
    if let Some((started, id)) = after {
        query = query.filter(
            Condition::any()
                .add(import_run::Column::StartedAt.lt(started))
                .add(
                    Condition::all()
                        .add(import_run::Column::StartedAt.eq(started))
                        .add(import_run::Column::Id.lt(id.uuid())),
                ),
        );
    }
    query
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// What a tenant's next run starts from: its saved delta link and its stored user count.
#[derive(Debug, Clone, Default)]
pub struct ImportBasis {
    /// The delta link saved by the last successful run.
    pub delta_link: Option<String>,
    /// Users present (not soft-deleted).
    pub present_users: u64,
    /// The last run could not take a delta link (`$deltatoken=latest` refused): start with an
    /// initial delta round, which ends in one.
    pub initial_delta_next: bool,
}

/// The first and the last day `tenant_id`'s succeeded imports observed, in one statement;
/// `None` before its first.
pub(crate) async fn observed_span<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
) -> Result<Option<(NaiveDate, NaiveDate)>, StoreError> {
    let span: Option<(Option<NaiveDate>, Option<NaiveDate>)> = import_run::Entity::find()
        .select_only()
        .column_as(Expr::col(import_run::Column::ObservedOn).min(), "first")
        .column_as(Expr::col(import_run::Column::ObservedOn).max(), "last")
        .filter(import_run::Column::TenantId.eq(tenant_id.uuid()))
        .filter(import_run::Column::Status.eq(RunStatus::Succeeded.as_str()))
        .into_tuple()
        .one(db)
        .await?;
    Ok(match span {
        Some((Some(first), Some(last))) => Some((first, last)),
        _ => None,
    })
}

/// The date each tenant's last committed import observed, for the tenants imported at least once.
pub async fn last_observed_dates(
    store: &Store,
) -> Result<std::collections::HashMap<TenantId, NaiveDate>, StoreError> {
    Ok(tenant_import_state::Entity::find()
        .filter(tenant_import_state::Column::LastObservedOn.is_not_null())
        .all(store.db())
        .await?
        .into_iter()
        .filter_map(|s| s.last_observed_on.map(|d| (TenantId(s.tenant_id), d)))
        .collect())
}

/// The basis of the next run of `tenant_id`.
pub async fn import_basis(store: &Store, tenant_id: TenantId) -> Result<ImportBasis, StoreError> {
    let state = tenant_import_state::Entity::find_by_id(tenant_id.uuid())
        .one(store.db())
        .await?;
    let initial_delta_next = state.as_ref().is_some_and(|s| s.initial_delta_next);
    let delta_link = state.and_then(|s| s.delta_link);
    let present_users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user::Column::DeletedAt.is_null())
        .count(store.db())
        .await?;
    Ok(ImportBasis {
        delta_link,
        present_users,
        initial_delta_next,
    })
}

/// The stored refresh token for `client_id`, if it was rotated from the configured token whose
/// fingerprint is `configured_fingerprint` (a new configured token wins over older rotations).
/// A row still in plaintext (written before tokens were encrypted) leaves none behind: it is
/// encrypted with the current key, or deleted when a newer token is configured. Fails with
/// [`StoreError::Secret`] when neither key of `keys` opens the row.
pub async fn find_refresh_token(
    store: &Store,
    keys: &Keyring,
    client_id: &str,
    configured_fingerprint: &str,
) -> Result<Option<SecretString>, StoreError> {
    let Some(row) = partner_credential::Entity::find_by_id(client_id.to_owned())
        .one(store.db())
        .await?
    else {
        return Ok(None);
    };
    let current = row.configured_fingerprint == configured_fingerprint;
    if !row.refresh_token.is_empty() {
        if !current {
            partner_credential::Entity::delete_by_id(client_id.to_owned())
                .exec(store.db())
                .await?;
            return Ok(None);
        }
        let token = SecretString::from(row.refresh_token);
        upsert_sealed(
            store,
            keys,
            client_id,
            configured_fingerprint,
            &token,
            row.rotated_at,
        )
        .await?;
        return Ok(Some(token));
    }
    if !current {
        return Ok(None);
    }
    match (row.token_ciphertext, row.token_nonce, row.key_id) {
        (Some(ciphertext), Some(nonce), Some(key_id)) => {
            let sealed = Sealed {
                ciphertext,
                nonce,
                key_id,
            };
            Ok(Some(keys.open(&sealed, client_id)?))
        }
        _ => Err(StoreError::Corrupt {
            table: "partner_credentials",
            detail: format!("the row of client id {client_id} holds no token"),
        }),
    }
}

/// Keeps the newest rotated refresh token for the next run, encrypted with the current key.
pub async fn save_refresh_token(
    store: &Store,
    keys: &Keyring,
    client_id: &str,
    configured_fingerprint: &str,
    refresh_token: &SecretString,
) -> Result<(), StoreError> {
    upsert_sealed(
        store,
        keys,
        client_id,
        configured_fingerprint,
        refresh_token,
        Utc::now(),
    )
    .await
}

async fn upsert_sealed(
    store: &Store,
    keys: &Keyring,
    client_id: &str,
    configured_fingerprint: &str,
    refresh_token: &SecretString,
    rotated_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let sealed = keys.seal(refresh_token.expose_secret(), client_id)?;
    let txn = store.db().begin().await?;
    partner_credential::Entity::insert(partner_credential::ActiveModel {
        client_id: Set(client_id.to_owned()),
        refresh_token: Set(String::new()),
        configured_fingerprint: Set(configured_fingerprint.to_owned()),
        rotated_at: Set(rotated_at),
        token_ciphertext: Set(Some(sealed.ciphertext)),
        token_nonce: Set(Some(sealed.nonce)),
        key_id: Set(Some(sealed.key_id)),
    })
    .on_conflict(
        OnConflict::column(partner_credential::Column::ClientId)
            .update_columns([
                partner_credential::Column::RefreshToken,
                partner_credential::Column::ConfiguredFingerprint,
                partner_credential::Column::RotatedAt,
                partner_credential::Column::TokenCiphertext,
                partner_credential::Column::TokenNonce,
                partner_credential::Column::KeyId,
            ])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Saves (or clears) the delta link of a tenant, whether its next run must start with an
/// initial delta round, and the date this run observed; part of a run's commit.
pub(crate) async fn save_delta_link<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    delta_link: Option<&str>,
    initial_delta_next: bool,
    observed_on: NaiveDate,
) -> Result<(), StoreError> {
    let now = Utc::now();
    tenant_import_state::Entity::update_many()
        .col_expr(
            tenant_import_state::Column::DeltaLink,
            Expr::value(delta_link.map(str::to_owned)),
        )
        .col_expr(
            tenant_import_state::Column::DeltaLinkAt,
            Expr::value(delta_link.map(|_| now)),
        )
        .col_expr(
            tenant_import_state::Column::InitialDeltaNext,
            Expr::value(initial_delta_next),
        )
        .col_expr(
            tenant_import_state::Column::LastObservedOn,
            Expr::value(observed_on),
        )
        .col_expr(tenant_import_state::Column::UpdatedAt, Expr::value(now))
        .filter(tenant_import_state::Column::TenantId.eq(tenant_id.uuid()))
        .exec(db)
        .await?;
    Ok(())
}
