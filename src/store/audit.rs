//! The audit log of allocation changes: written inside the change's transaction, read newest
//! first.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::connect::Store;
use super::entities::audit_log::{self, Column, Entity, Model};
use super::error::StoreError;
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
        at: Set(super::cost_groups::stored_now()),
        actor: Set(clip(&change.actor, 200)),
        action: Set(change.action),
        subject_type: Set(change.subject_type),
        subject_id: Set(change.subject_id),
        before: Set(change.before),
        after: Set(change.after),
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
