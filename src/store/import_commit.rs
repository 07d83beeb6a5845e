//! The commit of one tenant's import: everything a run fetched becomes visible in one write
//! transaction, or nothing does. Users stream in chunks from the run's spool, so a tenant of any
//! size is written without holding it in memory; only the ids seen are kept (for soft deletes).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, Iterable, PaginatorTrait, QueryFilter,
    QuerySelect,
};
use uuid::Uuid;

use super::connect::Store;
use super::entities::{service_plan, subscription, tenant, user, user_license};
use super::error::StoreError;
use super::import_runs::{self, RunEnd};
use super::{licenses, subscriptions, users};
use crate::domain::{
    AssignedLicense, ImportCounts, ImportMode, ImportRun, RunStatus, ServicePlan, SkuId,
    Subscription, TenantId, User, UserChange, UserId, imported_user,
};

/// Rows per multi-row INSERT (users have 25 columns: 25,000 parameters, under SQLite's 32,766
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
    /// Their service plans, complete.
    pub service_plans: &'a [ServicePlan],
    /// The delta link to continue from next time, if any.
    pub delta_link: Option<&'a str>,
    /// When the data was read.
    pub seen_at: DateTime<Utc>,
    /// Counts gathered while fetching (pages, retries).
    pub fetched: ImportCounts,
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
    let tenant_id = commit.run.tenant_id;
    let seen_at = commit.seen_at;
    let skus: HashSet<SkuId> = commit.subscriptions.iter().map(|s| s.sku_id).collect();
    let mut counts = ImportCounts {
        skus: commit.subscriptions.len() as i64,
        pages: commit.fetched.pages,
        retries: commit.fetched.retries,
        ..ImportCounts::default()
    };
    let txn = store.begin_write().await?;

    subscriptions::upsert_subscriptions(&txn, commit.subscriptions).await?;
    // A tenant with no present users (a first import) has nobody to soft-delete or mark seen.
    let had_users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user::Column::DeletedAt.is_null())
        .limit(1)
        .one(&txn)
        .await?
        .is_some();

    let mut seen: HashSet<Uuid> = HashSet::new();
    let mut counted: HashSet<Uuid> = HashSet::new();
    while let Some(chunk) = source
        .next_chunk(CHANGES_PER_CHUNK)
        .map_err(CommitError::Spool)?
    {
        apply_chunk(
            &txn,
            tenant_id,
            seen_at,
            &skus,
            chunk,
            &mut seen,
            &mut counted,
            &mut counts,
        )
        .await?;
    }

    if had_users && commit.mode == ImportMode::Full {
        counts.users_removed += soft_delete_missing(&txn, tenant_id, seen_at, &seen).await?;
    }
    if had_users {
        // Users no record named are still there upstream: the run saw them too.
        user::Entity::update_many()
            .col_expr(user::Column::LastSeenAt, Expr::value(seen_at))
            .filter(user::Column::TenantId.eq(tenant_id.uuid()))
            .filter(user::Column::DeletedAt.is_null())
            .filter(user::Column::LastSeenAt.lt(seen_at))
            .exec(&txn)
            .await?;
    }

    let orphaned = user_license::Entity::find()
        .filter(user_license::Column::TenantId.eq(tenant_id.uuid()))
        .filter(user_license::Column::SkuId.is_not_in(skus.iter().map(|s| s.uuid())))
        .limit(1)
        .one(&txn)
        .await?;
    if let Some(license) = orphaned {
        return Err(CommitError::Invalid(format!(
            "user {} holds SKU {} which subscribedSkus no longer lists",
            license.user_id, license.sku_id
        )));
    }
    subscription::Entity::delete_many()
        .filter(subscription::Column::TenantId.eq(tenant_id.uuid()))
        .filter(subscription::Column::SkuId.is_not_in(skus.iter().map(|s| s.uuid())))
        .exec(&txn)
        .await?;
    service_plan::Entity::delete_many()
        .filter(service_plan::Column::TenantId.eq(tenant_id.uuid()))
        .exec(&txn)
        .await?;
    for chunk in commit.service_plans.chunks(ROWS_PER_INSERT) {
        service_plan::Entity::insert_many(chunk.iter().map(subscriptions::plan_to_active))
            .exec_without_returning(&txn)
            .await?;
    }
    counts.licenses = user_license::Entity::find()
        .filter(user_license::Column::TenantId.eq(tenant_id.uuid()))
        .count(&txn)
        .await? as i64;

    tenant::Entity::update_many()
        .col_expr(tenant::Column::LastImportAt, Expr::value(seen_at))
        .col_expr(tenant::Column::UpdatedAt, Expr::value(seen_at))
        .filter(tenant::Column::Id.eq(tenant_id.uuid()))
        .exec(&txn)
        .await?;
    // The allocation follows the data it is computed from, in the same transaction.
    super::allocation::reevaluate(&txn, tenant_id).await?;
    import_runs::save_delta_link(&txn, tenant_id, commit.delta_link).await?;
    import_runs::finish_run_on(
        &txn,
        commit.run,
        &RunEnd {
            status: RunStatus::Succeeded,
            mode: Some(commit.mode),
            reason: None,
            upstream_code: None,
            upstream_message: None,
            counts,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(counts)
}

#[expect(clippy::too_many_arguments, reason = "one chunk's whole working state")]
async fn apply_chunk(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    seen_at: DateTime<Utc>,
    skus: &HashSet<SkuId>,
    chunk: Vec<UserChange>,
    seen: &mut HashSet<Uuid>,
    counted: &mut HashSet<Uuid>,
    counts: &mut ImportCounts,
) -> Result<(), CommitError> {
    let ids: Vec<Uuid> = chunk
        .iter()
        .filter_map(|c| match c {
            UserChange::Present(u) => u.id.map(UserId::uuid),
            UserChange::Removed(id) => Some(id.uuid()),
        })
        .collect();
    let mut stored: HashMap<Uuid, User> = HashMap::with_capacity(ids.len());
    for model in user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(txn)
        .await?
    {
        if model.tenant_id != tenant_id.uuid() {
            return Err(CommitError::Invalid(format!(
                "user id {} already belongs to another tenant",
                model.id
            )));
        }
        stored.insert(model.id, users::to_domain(model)?);
    }
    let mut stored_licenses: HashMap<Uuid, Vec<AssignedLicense>> = HashMap::new();
    // Users never seen before have no licenses to read (a first import skips this).
    let known: Vec<Uuid> = stored.keys().copied().collect();
    let stored_rows = if known.is_empty() {
        Vec::new()
    } else {
        user_license::Entity::find()
            .filter(user_license::Column::UserId.is_in(known))
            .all(txn)
            .await?
    };
    for model in stored_rows {
        let license = licenses::to_domain(model)?;
        stored_licenses
            .entry(license.user_id.uuid())
            .or_default()
            .push(license);
    }

    // Later records of the same user win (delta rounds may repeat a user).
    let mut upserts: HashMap<Uuid, User> = HashMap::new();
    let mut new_licenses: HashMap<Uuid, Vec<AssignedLicense>> = HashMap::new();
    let mut removed: HashSet<Uuid> = HashSet::new();
    for change in chunk {
        match change {
            UserChange::Present(record) => {
                let base = upserts
                    .get(&record.id.map_or(Uuid::nil(), UserId::uuid))
                    .or_else(|| stored.get(&record.id.map_or(Uuid::nil(), UserId::uuid)));
                let user = record
                    .apply(tenant_id, base, seen_at)
                    .map_err(|e| CommitError::Invalid(e.to_string()))?;
                let id = user.id.uuid();
                let licenses = record.licenses_of(tenant_id);
                if let Some(list) = &licenses {
                    let mut skus_of_user = HashSet::new();
                    for l in list {
                        if !skus.contains(&l.sku_id) {
                            return Err(CommitError::Invalid(format!(
                                "user {id} holds SKU {} which subscribedSkus does not list",
                                l.sku_id
                            )));
                        }
                        if !skus_of_user.insert(l.sku_id) {
                            return Err(CommitError::Invalid(format!(
                                "user {id} lists SKU {} twice in assignedLicenses",
                                l.sku_id
                            )));
                        }
                    }
                }
                seen.insert(id);
                removed.remove(&id);
                if counted.insert(id) {
                    let old = stored.get(&id);
                    let licenses_changed = licenses.as_ref().is_some_and(|new| {
                        !same_licenses(new, stored_licenses.get(&id).map_or(&[], Vec::as_slice))
                    });
                    match old {
                        None => counts.users_added += 1,
                        Some(old) if old.deleted_at.is_some() => counts.users_restored += 1,
                        Some(old) if imported_user::differs(old, &user) || licenses_changed => {
                            counts.users_updated += 1
                        }
                        Some(_) => {}
                    }
                }
                if let Some(list) = licenses {
                    new_licenses.insert(id, list);
                } else if stored.get(&id).is_some_and(|u| u.deleted_at.is_some()) {
                    // A restored user whose record carried no licenses starts with none.
                    new_licenses.insert(id, Vec::new());
                }
                upserts.insert(id, user);
            }
            UserChange::Removed(id) => {
                let id = id.uuid();
                seen.remove(&id);
                upserts.remove(&id);
                new_licenses.remove(&id);
                if stored.get(&id).is_some_and(|u| u.deleted_at.is_none()) && counted.insert(id) {
                    counts.users_removed += 1;
                }
                removed.insert(id);
            }
        }
    }

    // Skip rewriting users and licenses that did not change.
    let changed_users: Vec<&User> = upserts
        .values()
        .filter(|u| match stored.get(&u.id.uuid()) {
            None => true,
            Some(old) => old.deleted_at.is_some() || imported_user::differs(old, u),
        })
        .collect();
    let (existing, mut new): (Vec<&User>, Vec<&User>) = changed_users
        .into_iter()
        .partition(|u| stored.contains_key(&u.id.uuid()));
    // In key order, consecutive rows land on the same b-tree pages.
    new.sort_unstable_by_key(|u| u.id);
    // New users are plain inserts; only rows that exist pay for the upsert's conflict handling.
    for rows in new.chunks(ROWS_PER_INSERT) {
        insert_new_users(txn, rows).await?;
    }
    let updates: Vec<_> = user::Column::iter()
        .filter(|c| !matches!(c, user::Column::Id | user::Column::TenantId))
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
    let relicensed: Vec<Uuid> = new_licenses
        .iter()
        .filter(|(id, list)| {
            !same_licenses(list, stored_licenses.get(id).map_or(&[], Vec::as_slice))
        })
        .map(|(id, _)| *id)
        .chain(removed.iter().copied())
        .collect();
    // Only users that had licenses have rows to delete.
    let to_clear: Vec<Uuid> = relicensed
        .iter()
        .copied()
        .filter(|id| stored_licenses.contains_key(id))
        .collect();
    for ids in to_clear.chunks(ROWS_PER_INSERT) {
        user_license::Entity::delete_many()
            .filter(user_license::Column::UserId.is_in(ids.iter().copied()))
            .exec(txn)
            .await?;
    }
    let mut inserts: Vec<&AssignedLicense> = relicensed
        .iter()
        .filter_map(|id| new_licenses.get(id))
        .flatten()
        .collect();
    inserts.sort_unstable_by_key(|l| (l.user_id, l.sku_id));
    for rows in inserts.chunks(ROWS_PER_INSERT) {
        insert_licenses(txn, rows).await?;
    }
    let gone: Vec<Uuid> = removed
        .into_iter()
        .filter(|id| stored.get(id).is_some_and(|u| u.deleted_at.is_none()))
        .collect();
    for ids in gone.chunks(ROWS_PER_INSERT) {
        user::Entity::update_many()
            .col_expr(user::Column::DeletedAt, Expr::value(seen_at))
            .filter(user::Column::Id.is_in(ids.iter().copied()))
            .exec(txn)
            .await?;
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
            match backend {
                sea_orm::DatabaseBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(r * columns.len() + c + 1).to_string());
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// Inserts license rows with one multi-row statement (see [`insert_new_users`]).
async fn insert_licenses(
    txn: &DatabaseTransaction,
    rows: &[&AssignedLicense],
) -> Result<(), CommitError> {
    use sea_orm::{ConnectionTrait, Statement, Value};
    const COLUMNS: [&str; 4] = ["user_id", "sku_id", "tenant_id", "disabled_plans"];
    let backend = txn.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * COLUMNS.len());
    for l in rows {
        let plans: Vec<Uuid> = l.disabled_plans.iter().map(|p| p.uuid()).collect();
        values.extend([
            Value::from(l.user_id.uuid()),
            Value::from(l.sku_id.uuid()),
            Value::from(l.tenant_id.uuid()),
            Value::from(serde_json::json!(plans)),
        ]);
    }
    let sql = insert_sql(backend, "user_licenses", &COLUMNS, rows.len());
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Inserts users that don't exist yet with one multi-row statement, binding values directly:
/// building SeaORM active models and query trees for every value cost more than SQLite's own
/// work on a first import (benches/import.sh).
async fn insert_new_users(txn: &DatabaseTransaction, rows: &[&User]) -> Result<(), CommitError> {
    use sea_orm::{ConnectionTrait, Statement, Value};
    let backend = txn.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * users::COLUMNS.len());
    for u in rows {
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
            Value::from(u.first_seen_at),
            Value::from(u.last_seen_at),
            Value::from(u.deleted_at),
        ]);
    }
    let sql = insert_sql(backend, "users", &users::COLUMNS, rows.len());
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

fn same_licenses(new: &[AssignedLicense], old: &[AssignedLicense]) -> bool {
    if new.len() != old.len() {
        return false;
    }
    let key = |l: &AssignedLicense| {
        let mut plans: Vec<Uuid> = l.disabled_plans.iter().map(|p| p.uuid()).collect();
        plans.sort_unstable();
        (l.sku_id, plans)
    };
    let mut a: Vec<_> = new.iter().map(key).collect();
    let mut b: Vec<_> = old.iter().map(key).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// Soft-deletes the tenant's present users a full import did not list, and drops their licenses.
async fn soft_delete_missing(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
    seen_at: DateTime<Utc>,
    seen: &HashSet<Uuid>,
) -> Result<i64, CommitError> {
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
        .filter(|id| !seen.contains(id))
        .collect();
    for ids in missing.chunks(ROWS_PER_INSERT) {
        user_license::Entity::delete_many()
            .filter(user_license::Column::UserId.is_in(ids.iter().copied()))
            .exec(txn)
            .await?;
        user::Entity::update_many()
            .col_expr(user::Column::DeletedAt, Expr::value(seen_at))
            .filter(user::Column::Id.is_in(ids.iter().copied()))
            .exec(txn)
            .await?;
    }
    Ok(missing.len() as i64)
}
