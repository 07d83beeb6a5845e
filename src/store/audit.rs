//! The audit log of allocation changes: written inside the change's transaction, read newest
//! first, removed in batches once past its retention.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::connect::Store;
use super::entities::audit_log::{self, Column, Entity, Model};
use super::error::StoreError;
use super::retention::Pruned;
use crate::domain::audit::{AuditChange, AuditEntry};
use crate::domain::{TenantId, TenantScope};

/// Records `change` on `conn`, which must be the transaction that makes the change.
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    change: AuditChange,
) -> Result<(), StoreError> {
    use sea_orm::ActiveValue::{NotSet, Set};
    audit_log::ActiveModel {
        id: NotSet,
        tenant_id: Set(change.tenant_id.uuid()),
        at: Set(super::transaction::stored_now()),
        actor: Set(clip(&change.actor, 200)),
        action: Set(change.action),
        subject_type: Set(change.subject_type),
        subject_id: Set(change.subject_id),
        before: Set(change.before),
        after: Set(change.after),
        effective_from: Set(change.effective_from),
    }
    .insert(conn)
    .await?;
    Ok(())
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn to_domain(m: Model) -> AuditEntry {
    AuditEntry {
        id: m.id,
        at: m.at,
        change: AuditChange {
            tenant_id: TenantId(m.tenant_id),
            actor: m.actor,
            action: m.action,
            subject_type: m.subject_type,
            subject_id: m.subject_id,
            before: m.before,
            after: m.after,
            effective_from: m.effective_from,
        },
    }
}

/// One page of a tenant's audit log, newest first: up to `limit` entries older than `before_id`.
/// Empty for a tenant out of `scope`.
pub async fn list_audit_entries(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<AuditEntry>, StoreError> {
    if !scope.allows(tenant_id) {
        return Ok(Vec::new());
    }
    let mut query = Entity::find()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .order_by_desc(Column::Id)
        .limit(limit);
    if let Some(id) = before_id {
        query = query.filter(Column::Id.lt(id));
    }
    Ok(query
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// The changes of `tenants` that take effect after `today`, by tenant, effective day, then as
/// recorded. One statement whatever the number of tenants.
pub async fn list_scheduled_changes(
    store: &Store,
    tenants: &[TenantId],
    today: chrono::NaiveDate,
) -> Result<Vec<AuditEntry>, StoreError> {
    Ok(Entity::find()
        .filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .filter(Column::EffectiveFrom.gt(today))
        .order_by_asc(Column::TenantId)
        .order_by_asc(Column::EffectiveFrom)
        .order_by_asc(Column::Id)
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// Removes the audit log entries recorded before `cutoff`, of every tenant, at most `batch` per
/// statement (the oldest first, found through the index on `at`), so that no statement holds
/// its locks for long; stops after a statement that removed fewer than `batch`.
#[tracing::instrument(skip_all, fields(%cutoff, batch))]
pub async fn prune_audit_entries(
    store: &Store,
    cutoff: DateTime<Utc>,
    batch: u64,
) -> Result<Pruned, StoreError> {
    let batch = batch.max(1);
    let mut pruned = Pruned::default();
    pruned
        .in_batches(batch, || async move {
            let oldest = Query::select()
                .column(Column::Id)
                .from(Entity)
                .and_where(Column::At.lt(cutoff))
                .order_by(Column::At, Order::Asc)
                .limit(batch)
                .to_owned();
            Ok(Entity::delete_many()
                .filter(Column::Id.in_subquery(oldest))
                .exec(store.db())
                .await?
                .rows_affected)
        })
        .await?;
    Ok(pruned)
}
