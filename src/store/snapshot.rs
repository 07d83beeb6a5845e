//! Writes a whole tenant (its row, SKUs, plans, users and licenses) in one transaction, so that
//! readers see the old tenant or the new one and never a mix.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, Iterable, QueryFilter};

use super::connect::Store;
use super::entities::{cost_group, service_plan, subscription, tenant, user, user_license};
use super::error::StoreError;
use super::{cost_groups, licenses, subscriptions, tenants, users};
use crate::domain::{AssignedLicense, CostGroup, ServicePlan, Subscription, Tenant, User};

/// Rows per multi-row INSERT: keeps every statement under SQLite's and PostgreSQL's limits on
/// bind parameters (users have 44 columns).
const ROWS_PER_INSERT: usize = 300;

/// Everything imported for one tenant.
#[derive(Debug, Clone)]
pub struct TenantSnapshot {
    /// The tenant row.
    pub tenant: Tenant,
    /// Its subscribed SKUs.
    pub subscriptions: Vec<Subscription>,
    /// The service plans of those SKUs.
    pub service_plans: Vec<ServicePlan>,
    /// Its present users.
    pub users: Vec<User>,
    /// Licenses assigned to those users; each names a SKU of `subscriptions`.
    pub licenses: Vec<AssignedLicense>,
}

/// Rows written by [`replace_tenant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotCounts {
    /// Users inserted or updated.
    pub users_written: u64,
    /// Users newly soft-deleted because they were missing from the snapshot.
    pub users_soft_deleted: u64,
    /// Licenses written.
    pub licenses_written: u64,
    /// Subscriptions written.
    pub subscriptions_written: u64,
}

/// Replaces the stored state of `snapshot.tenant` in one write transaction. Users missing from
/// the snapshot are soft-deleted (kept, with `deleted_at = seen_at`); returning users are
/// restored under the same id, keeping their `first_seen_at`. On error nothing is written.
#[tracing::instrument(skip_all, fields(tenant_id = %snapshot.tenant.id, users = snapshot.users.len()))]
pub async fn replace_tenant(
    store: &Store,
    snapshot: &TenantSnapshot,
    seen_at: DateTime<Utc>,
) -> Result<SnapshotCounts, StoreError> {
    let tenant_id = snapshot.tenant.id.uuid();
    let txn = store.begin_write().await?;

    tenant::Entity::insert(tenants::to_active(&snapshot.tenant))
        .on_conflict(
            OnConflict::column(tenant::Column::Id)
                .update_columns([
                    tenant::Column::CustomerId,
                    tenant::Column::Name,
                    tenant::Column::DefaultDomain,
                    tenant::Column::UpdatedAt,
                    tenant::Column::LastImportAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;

    // Licenses and plans are replaced wholesale; subscriptions are upserted so their rows (and
    // anything that will refer to them) survive, then the ones gone upstream are removed.
    user_license::Entity::delete_many()
        .filter(user_license::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await?;
    service_plan::Entity::delete_many()
        .filter(service_plan::Column::TenantId.eq(tenant_id))
        .exec(&txn)
        .await?;
    subscriptions::upsert_subscriptions(&txn, &snapshot.subscriptions).await?;
    subscription::Entity::delete_many()
        .filter(subscription::Column::TenantId.eq(tenant_id))
        .filter(
            subscription::Column::SkuId
                .is_not_in(snapshot.subscriptions.iter().map(|s| s.sku_id.uuid())),
        )
        .exec(&txn)
        .await?;
    for chunk in snapshot.service_plans.chunks(ROWS_PER_INSERT) {
        service_plan::Entity::insert_many(chunk.iter().map(subscriptions::plan_to_active))
            .exec_without_returning(&txn)
            .await?;
    }

    let user_updates: Vec<_> = user::Column::iter()
        .filter(|c| {
            !matches!(
                c,
                user::Column::Id | user::Column::TenantId | user::Column::FirstSeenAt
            )
        })
        .collect();
    let mut counts = SnapshotCounts {
        subscriptions_written: snapshot.subscriptions.len() as u64,
        ..SnapshotCounts::default()
    };
    for chunk in snapshot.users.chunks(ROWS_PER_INSERT) {
        let written = user::Entity::insert_many(chunk.iter().map(|u| {
            let mut row = users::to_active(u);
            // Kept on conflict (not among `user_updates`), so it is the first import that saw them.
            row.first_seen_at = sea_orm::ActiveValue::Set(seen_at);
            row.last_seen_at = sea_orm::ActiveValue::Set(seen_at);
            row.deleted_at = sea_orm::ActiveValue::Set(None);
            row
        }))
        .on_conflict(
            OnConflict::column(user::Column::Id)
                .update_columns(user_updates.clone())
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        counts.users_written += written;
    }
    counts.users_soft_deleted = user::Entity::update_many()
        .col_expr(user::Column::DeletedAt, Expr::value(seen_at))
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::DeletedAt.is_null())
        .filter(user::Column::LastSeenAt.lt(seen_at))
        .exec(&txn)
        .await?
        .rows_affected;
    for chunk in snapshot.licenses.chunks(ROWS_PER_INSERT) {
        counts.licenses_written +=
            user_license::Entity::insert_many(chunk.iter().map(licenses::to_active))
                .exec_without_returning(&txn)
                .await?;
    }
    super::evaluation::reevaluate(&txn, snapshot.tenant.id).await?;
    txn.commit().await?;
    Ok(counts)
}

/// Inserts cost groups, or updates them when their id exists. Parents must come before their
/// children.
pub async fn upsert_cost_groups(store: &Store, groups: &[CostGroup]) -> Result<(), StoreError> {
    let txn = store.begin_write().await?;
    for group in groups {
        cost_group::Entity::insert(cost_groups::to_active(group))
            .on_conflict(
                OnConflict::column(cost_group::Column::Id)
                    .update_columns([
                        cost_group::Column::ParentId,
                        cost_group::Column::Name,
                        cost_group::Column::Code,
                        cost_group::Column::Description,
                        cost_group::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}
