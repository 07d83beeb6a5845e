//! The commit of one tenant's import: everything a run fetched becomes visible in one write
//! transaction, or nothing does. Users stream in chunks from the run's spool, so a tenant of any
//! size is written without holding it in memory; only the ids seen are kept (for soft deletes).
//! Each chunk is read (the stored rows of its users), planned by
//! [`crate::domain::import_plan`] (pure: what to insert, update, restore, soft-delete) and
//! written. The tenant's kept counts ([`super::aggregates`]) are recounted before the commit.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, Iterable, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::allocation::ImportEvaluation;
use super::connect::Store;
use super::entities::{
    service_plan, subscription, tenant, user, user_license, user_license_assignment,
};
use super::error::StoreError;
use super::history::licenses::HeldFrom;
use super::import_runs::{self, RunEnd};
use super::raw_sql::placeholder;
use super::{aggregates, commerce, history, license_assignments, licenses, subscriptions, users};
use crate::domain::import_plan::{ChunkPlan, ImportPlanner, StoredUsers, users_named};
use crate::domain::{
    AssignedLicense, CommerceSubscription, ImportCounts, ImportMode, ImportRun, ImportWarning,
    ImportWarningCode, LicenseAssignment, RunStatus, ServicePlan, SkuId, Subscription, TenantId,
    User, UserChange, UserId,
};

/// Rows per multi-row INSERT (users have 29 columns: 29,000 parameters, under SQLite's 32,766
/// and PostgreSQL's 65,535).
const ROWS_PER_INSERT: usize = 1000;
/// Changes read from the spool per round of statements. New users of a chunk are inserted in id
/// order, so bigger chunks write b-tree pages with better locality (1,000: 4.6 s, 5,000: 3.5 s for
/// 100,000 new users on SQLite) at about 1.5 KB of memory per user in the chunk.
pub const CHANGES_PER_CHUNK: usize = 5000;

/// Supplies a run's user records in order, a chunk at a time.
pub trait ChangeSource: Send {
    /// The next chunk of at most `max` records, `None` at the end; `Err` names what broke.
    fn next_chunk(&mut self, max: usize) -> Result<Option<Vec<UserChange>>, String>;
}

/// What a run commits besides its users.
#[derive(Debug)]
pub struct ImportCommit<'a> {
    /// The run (its row is finished in the same transaction).
    pub run: &'a ImportRun,
    /// Full (users not listed are gone) or delta (only changes).
    pub mode: ImportMode,
    /// The tenant's subscribed SKUs, complete.
    pub subscriptions: &'a [Subscription],
    /// SKUs the run's records hold licenses of that no `subscribedSkus` answer listed: their
    /// licenses are kept under placeholder subscriptions marked unknown.
    pub unknown_skus: &'a [SkuId],
    /// Their service plans, complete.
    pub service_plans: &'a [ServicePlan],
    /// The delta link to continue from next time, if any.
    pub delta_link: Option<&'a str>,
    /// When the data was read.
    pub seen_at: DateTime<Utc>,
    /// Counts gathered while fetching (pages, retries).
    pub fetched: ImportCounts,
    /// What the run worked around, recorded on it.
    pub warnings: &'a [ImportWarning],
    /// The customer's commerce subscriptions, replacing the stored ones; `None` keeps them.
    pub commerce: Option<&'a [CommerceSubscription]>,
    /// The tenant's sign-in activity as read, replacing the stored one; `None` keeps it.
    pub sign_ins: Option<&'a crate::domain::optimization::SignInImport>,
}

/// Why a commit was refused or failed. Nothing was written either way.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The upstream data breaks an invariant (named in the message).
    #[error("{0}")]
    Invalid(String),
    /// The spool could not be read.
    #[error("spool: {0}")]
    Spool(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for CommitError {
    fn from(err: sea_orm::DbErr) -> Self {
        CommitError::Store(err.into())
    }
}

/// Applies one run to the store atomically and marks the run `SUCCEEDED`.
#[tracing::instrument(skip_all, fields(tenant_id = %commit.run.tenant_id, run_id = %commit.run.id))]
pub async fn commit_import(
    store: &Store,
    commit: &ImportCommit<'_>,
    source: &mut dyn ChangeSource,
) -> Result<ImportCounts, CommitError> {
    let listed: HashSet<SkuId> = commit.subscriptions.iter().map(|s| s.sku_id).collect();
    let unknown: Vec<SkuId> = commit
        .unknown_skus
        .iter()
        .copied()
        .filter(|sku| !listed.contains(sku))
        .collect();
    let counts = ImportCounts {
        skus: commit.subscriptions.len() as i64,
        pages: commit.fetched.pages,
        retries: commit.fetched.retries,
        ..ImportCounts::default()
    };
    let txn = store.begin_write().await?;
    // The tenant's lock first, as allocation changes take it: the commit writes the tenant's
    // row and its budget alerts, and taking the lock late could deadlock with a change.
    super::transaction::lock_tenant(
        &txn,
        store.backend(),
        &crate::domain::TenantScope::All,
        commit.run.tenant_id,
    )
    .await?;
    // On SQLite, a larger page cache while the commit writes: a big tenant's indexes stay in
    // memory instead of being spilled to the WAL and read back (benches/README.md). Put back
    // before the commit, and on failure before the rollback returns the connection to the pool.
    store.set_import_cache(&txn, true).await?;
    let written = async {
        let (counts, warnings, evaluation) =
            write_import(&txn, commit, source, counts, &listed, unknown).await?;
        finish_commit(&txn, commit, counts, warnings, evaluation).await?;
        Ok::<_, CommitError>(counts)
    }
    .await;
    let restored = store.set_import_cache(&txn, false).await;
    let finished = async {
        let counts = written?;
        restored?;
        txn.commit().await?;
        Ok::<_, CommitError>(counts)
    }
    .await;
    // The commit's pages stay cached past its end unless given back (benches/README.md, the
    // importer's peak memory): a rolled-back commit's too, once the rollback has run.
    if let Err(err) = store.release_cache_memory().await {
        tracing::warn!(error = %err, "the import's page cache was not given back");
    }
    finished
}

/// Everything a commit writes before its run is finished: SKUs, commerce subscriptions, the
/// users chunk by chunk (with the allocation of those that change), soft deletes and SKU
/// history. Returns the counts, the warnings and the allocation to finish.
async fn write_import(
    txn: &DatabaseTransaction,
    commit: &ImportCommit<'_>,
    source: &mut dyn ChangeSource,
    mut counts: ImportCounts,
    listed: &HashSet<SkuId>,
    unknown: Vec<SkuId>,
) -> Result<(ImportCounts, Vec<ImportWarning>, ImportEvaluation), CommitError> {
    let tenant_id = commit.run.tenant_id;
    subscriptions::upsert_subscriptions(txn, commit.subscriptions).await?;
    // Before the licenses that point at them.
    subscriptions::insert_placeholders(txn, tenant_id, &unknown, commit.seen_at).await?;
    commerce::apply_billing_overrides(txn, tenant_id).await?;
    if let Some(list) = commit.commerce {
        commerce::replace_commerce_subscriptions(txn, tenant_id, list, commit.seen_at).await?;
        history::commerce_quantities::record(txn, tenant_id, list, commit.run.observed_on).await?;
    }
    if let Some(read) = commit.sign_ins {
        super::sign_ins::replace_sign_ins(txn, tenant_id, read, commit.seen_at).await?;
    }
    // A tenant with no present users (a first import) has nobody to soft-delete or mark seen.
    let had_users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user::Column::DeletedAt.is_null())
        .limit(1)
        .one(txn)
        .await?
        .is_some();
    let mut evaluation =
        ImportEvaluation::begin(txn, tenant_id, had_users, commit.run.observed_on).await?;
    let skus: HashSet<SkuId> = listed.iter().chain(&unknown).copied().collect();
    let mut planner = ImportPlanner::new(tenant_id, commit.seen_at, skus);
    while let Some(chunk) = source
        .next_chunk(CHANGES_PER_CHUNK)
        .map_err(CommitError::Spool)?
    {
        let (stored, held) = read_stored_users(txn, tenant_id, &users_named(&chunk)).await?;
        let plan = planner
            .plan_chunk(chunk, &stored)
            .map_err(|e| CommitError::Invalid(e.to_string()))?;
        counts += plan.counts;
        let holdings = history::licenses::license_changes(
            &stored.licenses,
            &held,
            &plan,
            commit.run.observed_on,
        );
        history::licenses::archive(txn, holdings.ended).await?;
        let touched = evaluation
            .by_chunk()
            .then(|| plan.touched(&stored, commit.seen_at));
        if let Some(t) = &touched {
            evaluation
                .before_change(txn, &t.present_before, &t.licenses_before)
                .await?;
        }
        write_chunk(txn, commit, &plan, &holdings.held_from).await?;
        if let Some(t) = &touched {
            evaluation
                .after_change(
                    txn,
                    tenant_id,
                    &t.after,
                    &t.licenses_after,
                    commit.run.observed_on,
                )
                .await?;
        }
    }
    if had_users {
        counts.users_removed +=
            finish_users(txn, commit, planner.listed(), &mut evaluation).await?;
    }
    let held = replace_skus(txn, commit, listed).await?;
    history::sku_counts::record(txn, tenant_id, commit.run.observed_on).await?;
    let mut warnings = commit.warnings.to_vec();
    if !held.is_empty() {
        warnings.push(ImportWarning::unknown_skus(&held));
    }
    counts.licenses = user_license::Entity::find()
        .filter(user_license::Column::TenantId.eq(tenant_id.uuid()))
        .count(txn)
        .await? as i64;
    // The counts the tenant list reads follow the rows they count, in this transaction.
    aggregates::refresh(txn, tenant_id).await?;
    Ok((counts, warnings, evaluation))
}

/// After the users of a tenant that had present users: a full import soft-deletes those it did
/// not list (returns how many). The users no record named are still there upstream and were
/// seen by the run too: the tenant's `last_import_at` says so for all of them, without a write
/// to each (`users::LAST_SEEN_SQL`).
async fn finish_users(
    txn: &DatabaseTransaction,
    commit: &ImportCommit<'_>,
    listed: &HashSet<UserId>,
    evaluation: &mut ImportEvaluation,
) -> Result<i64, CommitError> {
    if commit.mode != ImportMode::Full {
        return Ok(0);
    }
    soft_delete_missing(txn, commit, listed, evaluation).await
}

/// Soft-deletes the users `ids` at `seen_at`, in force from `on`: each keeps as last seen the
/// import before this one (the tenant's `last_import_at` is this run's only once it commits).
async fn soft_delete(
    txn: &DatabaseTransaction,
    ids: impl IntoIterator<Item = Uuid>,
    seen_at: DateTime<Utc>,
    on: NaiveDate,
) -> Result<(), CommitError> {
    user::Entity::update_many()
        .col_expr(user::Column::DeletedAt, Expr::value(seen_at))
        .col_expr(user::Column::ValidFrom, Expr::value(on))
        .col_expr(user::Column::LastSeenAt, Expr::cust(users::LAST_SEEN_SQL))
        .filter(user::Column::Id.is_in(ids))
        .exec(txn)
        .await?;
    Ok(())
}

/// After the users are written: keeps the tenant's subscriptions to the `listed` SKUs and to
/// the SKUs not listed that licenses still hold (placeholders, marked unknown: the run's
/// records named them, or users the run did not see hold them since an earlier run), drops
/// the others, and replaces the service plans with the run's. Returns the SKUs kept as
/// unknown, each with the number of users holding it, in SKU order.
async fn replace_skus(
    txn: &DatabaseTransaction,
    commit: &ImportCommit<'_>,
    listed: &HashSet<SkuId>,
) -> Result<Vec<(SkuId, u64)>, CommitError> {
    let tenant_id = commit.run.tenant_id;
    let held: Vec<(Uuid, i64)> = user_license::Entity::find()
        .select_only()
        .column(user_license::Column::SkuId)
        .column_as(Expr::col(user_license::Column::UserId).count(), "holders")
        .filter(user_license::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user_license::Column::SkuId.is_not_in(listed.iter().map(|s| s.uuid())))
        .group_by(user_license::Column::SkuId)
        .order_by_asc(user_license::Column::SkuId)
        .into_tuple()
        .all(txn)
        .await?;
    let held: Vec<(SkuId, u64)> = held
        .into_iter()
        .map(|(sku, users)| (SkuId(sku), u64::try_from(users).unwrap_or(0)))
        .collect();
    let unknown: Vec<SkuId> = held.iter().map(|(sku, _)| *sku).collect();
    subscriptions::mark_unknown(txn, tenant_id, &unknown, commit.seen_at).await?;
    let kept = listed.iter().chain(&unknown).map(|s| s.uuid());
    subscription::Entity::delete_many()
        .filter(subscription::Column::TenantId.eq(tenant_id.uuid()))
        .filter(subscription::Column::SkuId.is_not_in(kept))
        .exec(txn)
        .await?;
    service_plan::Entity::delete_many()
        .filter(service_plan::Column::TenantId.eq(tenant_id.uuid()))
        .exec(txn)
        .await?;
    for chunk in commit.service_plans.chunks(ROWS_PER_INSERT) {
        service_plan::Entity::insert_many(chunk.iter().map(subscriptions::plan_to_active))
            .exec_without_returning(txn)
            .await?;
    }
    Ok(held)
}

/// Stamps the tenant's import time, finishes its allocation's `evaluation`, keeps the delta
/// link and marks the run `SUCCEEDED` with `counts` and `warnings` (the caller commits).
async fn finish_commit(
    txn: &DatabaseTransaction,
    commit: &ImportCommit<'_>,
    counts: ImportCounts,
    warnings: Vec<ImportWarning>,
    evaluation: ImportEvaluation,
) -> Result<(), CommitError> {
    let tenant_id = commit.run.tenant_id;
    tenant::Entity::update_many()
        .col_expr(tenant::Column::LastImportAt, Expr::value(commit.seen_at))
        .col_expr(tenant::Column::UpdatedAt, Expr::value(commit.seen_at))
        .filter(tenant::Column::Id.eq(tenant_id.uuid()))
        .exec(txn)
        .await?;
    // The allocation follows the data it is computed from, in the same transaction.
    evaluation
        .finish(txn, tenant_id, commit.run.observed_on)
        .await?;
    // The license day counts follow the holdings and shares, from the first day changed.
    let changed_from = Ord::min(commit.run.observed_on, history::today());
    history::license_deltas::refresh(txn, tenant_id, Some(changed_from)).await?;
    let initial_delta_next = commit
        .warnings
        .iter()
        .any(|w| w.code == ImportWarningCode::DeltaLatestRefused);
    import_runs::save_delta_link(
        txn,
        tenant_id,
        commit.delta_link,
        initial_delta_next,
        commit.run.observed_on,
    )
    .await?;
    import_runs::finish_run_on(
        txn,
        commit.run,
        &RunEnd {
            status: RunStatus::Succeeded,
            mode: Some(commit.mode),
            reason: None,
            upstream_code: None,
            upstream_message: None,
            remediation: None,
            warnings,
            counts,
        },
    )
    .await?;
    // A budget the import moves across a threshold is an alert of this same commit.
    super::alerts::evaluate_budgets(txn, tenant_id, super::history::today()).await?;
    Ok(())
}

/// Reads the stored rows of `ids` (users a chunk names), their licenses and license
/// assignments, inside `txn`.
/// `Invalid` when one of them is a user of another tenant.
async fn read_stored_users(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    ids: &[UserId],
) -> Result<(StoredUsers, HeldFrom), CommitError> {
    let mut stored = StoredUsers::default();
    let mut held = HeldFrom::new();
    for model in user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().map(|u| u.uuid())))
        .all(txn)
        .await?
    {
        if model.tenant_id != tenant_id.uuid() {
            return Err(CommitError::Invalid(format!(
                "user id {} already belongs to another tenant",
                model.id
            )));
        }
        let user = users::to_domain(model)?;
        stored.users.insert(user.id, user);
    }
    // Users never seen before have no licenses to read (a first import skips this).
    if stored.users.is_empty() {
        return Ok((stored, held));
    }
    for model in user_license::Entity::find()
        .filter(user_license::Column::UserId.is_in(stored.users.keys().map(|u| u.uuid())))
        .all(txn)
        .await?
    {
        held.insert(
            (UserId(model.user_id), SkuId(model.sku_id)),
            model.held_from,
        );
        let license = licenses::to_domain(model)?;
        stored
            .licenses
            .entry(license.user_id)
            .or_default()
            .push(license);
    }
    for model in user_license_assignment::Entity::find()
        .filter(user_license_assignment::Column::TenantId.eq(tenant_id.uuid()))
        .filter(
            user_license_assignment::Column::UserId.is_in(stored.users.keys().map(|u| u.uuid())),
        )
        .order_by_asc(user_license_assignment::Column::Position)
        .all(txn)
        .await?
    {
        let assignment = license_assignments::to_domain(model)?;
        stored
            .assignments
            .entry(assignment.user_id)
            .or_default()
            .push(assignment);
    }
    Ok((stored, held))
}

/// Writes one chunk's plan of `tenant_id` inside `txn`, `ROWS_PER_INSERT` rows per statement: new users,
/// changed and restored users, the licenses (each with its `held_from`) and license
/// assignments replaced, then the users gone (soft-deleted at `seen_at`).
async fn write_chunk(
    txn: &DatabaseTransaction,
    commit: &ImportCommit<'_>,
    plan: &ChunkPlan,
    held_from: &[Option<NaiveDate>],
) -> Result<(), CommitError> {
    let (tenant_id, seen_at, on) = (commit.run.tenant_id, commit.seen_at, commit.run.observed_on);
    // The versions the chunk replaces, before any of them is written.
    let existing: Vec<&User> = plan.update.iter().chain(&plan.restore).collect();
    let rewritten: Vec<Uuid> = existing.iter().map(|u| u.id.uuid()).collect();
    let versioned: Vec<Uuid> = rewritten
        .iter()
        .copied()
        .chain(plan.soft_delete.iter().map(|id| id.uuid()))
        .collect();
    history::user_versions::archive(txn, tenant_id, &versioned, on).await?;
    // New users are plain inserts; only rows that exist pay for the upsert's conflict handling.
    for rows in plan.insert.chunks(ROWS_PER_INSERT) {
        insert_new_users(txn, rows, on).await?;
    }
    // `valid_from` is stamped apart: the upsert's rows don't carry it.
    let updates: Vec<_> = user::Column::iter()
        .filter(|c| {
            !matches!(
                c,
                user::Column::Id | user::Column::TenantId | user::Column::ValidFrom
            )
        })
        .collect();
    for rows in existing.chunks(ROWS_PER_INSERT) {
        user::Entity::insert_many(rows.iter().map(|u| users::to_active(u)))
            .on_conflict(
                OnConflict::column(user::Column::Id)
                    .update_columns(updates.clone())
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    history::user_versions::stamp(txn, &rewritten, on).await?;
    for ids in plan.clear_licenses.chunks(ROWS_PER_INSERT) {
        user_license::Entity::delete_many()
            .filter(user_license::Column::UserId.is_in(ids.iter().map(|u| u.uuid())))
            .exec(txn)
            .await?;
    }
    for (rows, held_from) in plan
        .insert_licenses
        .chunks(ROWS_PER_INSERT)
        .zip(held_from.chunks(ROWS_PER_INSERT))
    {
        insert_licenses(txn, rows, held_from).await?;
    }
    for ids in plan.clear_assignments.chunks(ROWS_PER_INSERT) {
        delete_assignments(txn, tenant_id, ids.iter().map(|u| u.uuid())).await?;
    }
    let positions = positions(&plan.insert_assignments);
    for (rows, positions) in plan
        .insert_assignments
        .chunks(ROWS_PER_INSERT)
        .zip(positions.chunks(ROWS_PER_INSERT))
    {
        insert_assignments(txn, rows, positions).await?;
    }
    for ids in plan.soft_delete.chunks(ROWS_PER_INSERT) {
        soft_delete(txn, ids.iter().map(|u| u.uuid()), seen_at, on).await?;
    }
    Ok(())
}

/// Multi-row INSERT text for `rows` rows of `columns` columns, with the backend's placeholders.
fn insert_sql(
    backend: sea_orm::DatabaseBackend,
    table: &str,
    columns: &[&str],
    rows: usize,
) -> String {
    let mut sql = String::with_capacity(64 + rows * columns.len() * 6);
    sql.push_str("INSERT INTO ");
    sql.push_str(table);
    sql.push_str(" (");
    sql.push_str(&columns.join(", "));
    sql.push_str(") VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns.len() {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&placeholder(backend, r * columns.len() + c + 1));
        }
        sql.push(')');
    }
    sql
}

/// Inserts license rows with one multi-row statement (see [`insert_new_users`]).
async fn insert_licenses(
    txn: &DatabaseTransaction,
    rows: &[AssignedLicense],
    held_from: &[Option<NaiveDate>],
) -> Result<(), CommitError> {
    use sea_orm::{ConnectionTrait, Statement, Value};
    const COLUMNS: [&str; 5] = [
        "user_id",
        "sku_id",
        "tenant_id",
        "disabled_plans",
        "held_from",
    ];
    let backend = txn.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * COLUMNS.len());
    for (l, from) in rows.iter().zip(held_from) {
        let plans: Vec<Uuid> = l.disabled_plans.iter().map(|p| p.uuid()).collect();
        values.extend([
            Value::from(l.user_id.uuid()),
            Value::from(l.sku_id.uuid()),
            Value::from(l.tenant_id.uuid()),
            Value::from(serde_json::json!(plans)),
            Value::from(*from),
        ]);
    }
    let sql = insert_sql(backend, "user_licenses", &COLUMNS, rows.len());
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Each row's place among its user's rows, for rows grouped by user.
fn positions(rows: &[LicenseAssignment]) -> Vec<i32> {
    let mut previous = None;
    let mut next = 0;
    rows.iter()
        .map(|row| {
            if previous != Some(row.user_id) {
                previous = Some(row.user_id);
                next = 0;
            }
            next += 1;
            next - 1
        })
        .collect()
}

/// Inserts license assignment rows, at `positions`, with one multi-row statement (see
/// [`insert_new_users`]).
async fn insert_assignments(
    txn: &DatabaseTransaction,
    rows: &[LicenseAssignment],
    positions: &[i32],
) -> Result<(), CommitError> {
    use sea_orm::{ConnectionTrait, Statement, Value};
    const COLUMNS: [&str; 10] = [
        "user_id",
        "position",
        "tenant_id",
        "sku_id",
        "assigned_by_group",
        "state",
        "error",
        "in_error",
        "disabled_plans",
        "last_updated",
    ];
    let backend = txn.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * COLUMNS.len());
    for (a, position) in rows.iter().zip(positions) {
        let d = &a.detail;
        let plans: Vec<Uuid> = d.disabled_plans.iter().map(|p| p.uuid()).collect();
        values.extend([
            Value::from(a.user_id.uuid()),
            Value::from(*position),
            Value::from(a.tenant_id.uuid()),
            Value::from(d.sku_id.uuid()),
            Value::from(d.assigned_by.group().map(|g| g.uuid())),
            Value::from(d.state.clone()),
            Value::from(d.error.clone()),
            Value::from(d.is_in_error()),
            Value::from(serde_json::json!(plans)),
            Value::from(d.last_updated),
        ]);
    }
    let sql = insert_sql(backend, "user_license_assignments", &COLUMNS, rows.len());
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Deletes the license assignments of the users `ids` of `tenant_id`.
async fn delete_assignments(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<(), CommitError> {
    user_license_assignment::Entity::delete_many()
        .filter(user_license_assignment::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user_license_assignment::Column::UserId.is_in(ids))
        .exec(txn)
        .await?;
    Ok(())
}

/// Inserts users that don't exist yet, in force from `on`, with one multi-row statement,
/// binding values directly:
/// building SeaORM active models and query trees for every value cost more than SQLite's own
/// work on a first import (benches/import.sh).
async fn insert_new_users(
    txn: &DatabaseTransaction,
    rows: &[User],
    on: NaiveDate,
) -> Result<(), CommitError> {
    use sea_orm::{ConnectionTrait, Statement, Value};
    let backend = txn.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * users::COLUMNS.len());
    for u in rows {
        let (contact_id, contact_name, contact_mail) =
            users::contact_columns(u.manager_contact.as_ref());
        values.extend([
            Value::from(u.id.uuid()),
            Value::from(u.tenant_id.uuid()),
            Value::from(u.display_name.clone()),
            Value::from(u.given_name.clone()),
            Value::from(u.surname.clone()),
            Value::from(u.user_principal_name.clone()),
            Value::from(u.mail.clone()),
            Value::from(u.user_type.clone()),
            Value::from(u.account_enabled),
            Value::from(u.job_title.clone()),
            Value::from(u.department.clone()),
            Value::from(u.company_name.clone()),
            Value::from(u.office_location.clone()),
            Value::from(u.street_address.clone()),
            Value::from(u.city.clone()),
            Value::from(u.state.clone()),
            Value::from(u.postal_code.clone()),
            Value::from(u.country.clone()),
            Value::from(u.preferred_language.clone()),
            Value::from(u.usage_location.clone()),
            Value::from(users::extension_attributes_json(&u.extension_attributes)),
            Value::from(u.manager_id.map(UserId::uuid)),
            Value::from(contact_id),
            Value::from(contact_name),
            Value::from(contact_mail),
            Value::from(u.first_seen_at),
            Value::from(u.last_seen_at),
            Value::from(u.deleted_at),
            Value::from(Some(on)),
        ]);
    }
    let sql = insert_sql(backend, "users", &users::COLUMNS, rows.len());
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Soft-deletes the tenant's present users a full import did not list, and drops their licenses
/// and license assignments; their allocation follows when `evaluation` is kept by chunk.
async fn soft_delete_missing(
    txn: &DatabaseTransaction,
    commit: &ImportCommit<'_>,
    listed: &HashSet<UserId>,
    evaluation: &mut ImportEvaluation,
) -> Result<i64, CommitError> {
    let (tenant_id, seen_at) = (commit.run.tenant_id, commit.seen_at);
    let present: Vec<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user::Column::DeletedAt.is_null())
        .into_tuple()
        .all(txn)
        .await?;
    let missing: Vec<Uuid> = present
        .into_iter()
        .filter(|id| !listed.contains(&UserId(*id)))
        .collect();
    for ids in missing.chunks(ROWS_PER_INSERT) {
        let gone = if evaluation.by_chunk() {
            let (gone, licenses) = users_with_licenses(txn, ids).await?;
            evaluation.before_change(txn, &gone, &licenses).await?;
            gone
        } else {
            Vec::new()
        };
        history::licenses::end_holdings_of(txn, ids, commit.run.observed_on).await?;
        user_license::Entity::delete_many()
            .filter(user_license::Column::UserId.is_in(ids.iter().copied()))
            .exec(txn)
            .await?;
        delete_assignments(txn, tenant_id, ids.iter().copied()).await?;
        history::user_versions::archive(txn, tenant_id, ids, commit.run.observed_on).await?;
        soft_delete(txn, ids.iter().copied(), seen_at, commit.run.observed_on).await?;
        let gone: Vec<User> = gone
            .into_iter()
            .map(|mut u| {
                u.deleted_at = Some(seen_at);
                u
            })
            .collect();
        evaluation
            .after_change(txn, tenant_id, &gone, &[], commit.run.observed_on)
            .await?;
    }
    Ok(missing.len() as i64)
}

/// The stored users `ids` and their licenses.
async fn users_with_licenses(
    txn: &DatabaseTransaction,
    ids: &[Uuid],
) -> Result<(Vec<User>, Vec<AssignedLicense>), CommitError> {
    let found = users::select_users_on(
        txn,
        user::Entity::find().filter(user::Column::Id.is_in(ids.iter().copied())),
    )
    .await?;
    let licenses = user_license::Entity::find()
        .filter(user_license::Column::UserId.is_in(ids.iter().copied()))
        .all(txn)
        .await?
        .into_iter()
        .map(licenses::to_domain)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((found, licenses))
}
