//! Finders and writes for cost groups. Writes check the tree rules of
//! [`crate::domain::cost_group`] inside their transaction.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::connect::Store;
use super::entities::cost_group::{self, Column, Entity, Model};
use super::entities::tenant;
use super::error::StoreError;
use crate::domain::cost_group::{CostGroupError, check_tree};
use crate::domain::{CostGroup, CostGroupId, TenantId, TenantScope};

fn to_domain(m: Model) -> CostGroup {
    CostGroup {
        id: CostGroupId(m.id),
        tenant_id: TenantId(m.tenant_id),
        parent_id: m.parent_id.map(CostGroupId),
        name: m.name,
        code: m.code,
        description: m.description,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

pub(crate) fn to_active(g: &CostGroup) -> cost_group::ActiveModel {
    use sea_orm::ActiveValue::Set;
    cost_group::ActiveModel {
        id: Set(g.id.uuid()),
        tenant_id: Set(g.tenant_id.uuid()),
        parent_id: Set(g.parent_id.map(CostGroupId::uuid)),
        name: Set(g.name.clone()),
        code: Set(g.code.clone()),
        description: Set(g.description.clone()),
        created_at: Set(g.created_at),
        updated_at: Set(g.updated_at),
    }
}

/// Every cost group of each of `tenants`, by name.
pub async fn list_cost_groups_of_tenants(
    store: &Store,
    tenants: &[TenantId],
) -> Result<Vec<CostGroup>, StoreError> {
    let rows = Entity::find()
        .filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id)
        .all(store.db())
        .await?;
    Ok(rows.into_iter().map(to_domain).collect())
}

/// The cost groups among `ids` that exist in a tenant of `scope`.
pub async fn find_cost_groups(
    store: &Store,
    scope: &TenantScope,
    ids: &[CostGroupId],
) -> Result<Vec<CostGroup>, StoreError> {
    let mut query = Entity::find().filter(Column::Id.is_in(ids.iter().map(|id| id.uuid())));
    if let TenantScope::Only(tenants) = scope {
        query = query.filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())));
    }
    Ok(query
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// The children of each of `parents`, by name.
pub async fn list_children(
    store: &Store,
    parents: &[CostGroupId],
) -> Result<Vec<CostGroup>, StoreError> {
    let rows = Entity::find()
        .filter(Column::ParentId.is_in(parents.iter().map(|id| id.uuid())))
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id)
        .all(store.db())
        .await?;
    Ok(rows.into_iter().map(to_domain).collect())
}

/// A cost group to create; its values are already checked by the `parse_*` functions of
/// [`crate::domain::cost_group`].
#[derive(Debug, Clone)]
pub struct NewCostGroup {
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Its parent, a group of the same tenant; `None` for a root.
    pub parent_id: Option<CostGroupId>,
    /// Trimmed name.
    pub name: String,
    /// Trimmed code.
    pub code: Option<String>,
    /// Trimmed description.
    pub description: Option<String>,
}

/// Changes to a cost group; `None` leaves a value as it is. Values are already checked.
#[derive(Debug, Clone, Default)]
pub struct CostGroupChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new code, or `Some(None)` to remove it.
    pub code: Option<Option<String>>,
    /// A new description, or `Some(None)` to remove it.
    pub description: Option<Option<String>>,
    /// A new parent, or `Some(None)` to make the group a root.
    pub parent_id: Option<Option<CostGroupId>>,
}

/// Fails with `NotFound` unless `tenant_id` exists and is in `scope`. On PostgreSQL the
/// tenant row is locked for the rest of the transaction, so writers to one tenant's cost groups
/// take turns (SQLite's write transactions already do).
pub(crate) async fn lock_tenant(
    txn: &DatabaseTransaction,
    backend: DatabaseBackend,
    scope: &TenantScope,
    tenant_id: TenantId,
) -> Result<(), StoreError> {
    let not_found = || StoreError::NotFound(format!("tenant {tenant_id}"));
    if !scope.allows(tenant_id) {
        return Err(not_found());
    }
    let mut query = tenant::Entity::find_by_id(tenant_id.uuid());
    if backend == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(txn).await?.map(|_| ()).ok_or_else(not_found)
}

/// Every cost group of one tenant, inside `txn`.
async fn list_in_txn(
    txn: &DatabaseTransaction,
    tenant_id: TenantId,
) -> Result<Vec<CostGroup>, StoreError> {
    let rows = Entity::find()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .order_by_asc(Column::Id)
        .all(txn)
        .await?;
    Ok(rows.into_iter().map(to_domain).collect())
}

/// The tenant of cost group `id`, when the group exists in a tenant of `scope`.
pub(crate) async fn tenant_of(
    txn: &DatabaseTransaction,
    scope: &TenantScope,
    id: CostGroupId,
) -> Result<TenantId, StoreError> {
    let mut query = Entity::find_by_id(id.uuid());
    if let TenantScope::Only(tenants) = scope {
        query = query.filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())));
    }
    query
        .one(txn)
        .await?
        .map(|m| TenantId(m.tenant_id))
        .ok_or_else(|| StoreError::NotFound(format!("cost group {id}")))
}

/// Fails with `NotFound` unless `parent` is one of `groups` (the tenant's groups).
fn check_parent(groups: &[CostGroup], parent: Option<CostGroupId>) -> Result<(), StoreError> {
    match parent {
        Some(p) if !groups.iter().any(|g| g.id == p) => {
            Err(StoreError::NotFound(format!("parent cost group {p}")))
        }
        _ => Ok(()),
    }
}

/// Creates a cost group in one write transaction. `NotFound` when the tenant is unknown or out
/// of `scope`, or the parent is not a group of the tenant; `CostGroup` when a tree rule breaks.
#[tracing::instrument(skip_all, fields(tenant_id = %new.tenant_id))]
pub async fn create_cost_group(
    store: &Store,
    scope: &TenantScope,
    new: NewCostGroup,
) -> Result<CostGroup, StoreError> {
    let txn = store.begin_write().await?;
    lock_tenant(&txn, store.backend(), scope, new.tenant_id).await?;
    let mut groups = list_in_txn(&txn, new.tenant_id).await?;
    check_parent(&groups, new.parent_id)?;
    let now = stored_now();
    let group = CostGroup {
        id: CostGroupId(Uuid::new_v4()),
        tenant_id: new.tenant_id,
        parent_id: new.parent_id,
        name: new.name,
        code: new.code,
        description: new.description,
        created_at: now,
        updated_at: now,
    };
    groups.insert(0, group.clone());
    check_tree(&groups)?;
    to_active(&group).insert(&txn).await?;
    txn.commit().await?;
    Ok(group)
}

/// Changes a cost group in one write transaction. `NotFound` when the group is unknown or out of
/// `scope`, or a new parent is not a group of its tenant; `CostGroup` when a tree rule breaks
/// (a move under itself or a descendant, depth, a clash).
#[tracing::instrument(skip_all, fields(cost_group_id = %id))]
pub async fn update_cost_group(
    store: &Store,
    scope: &TenantScope,
    id: CostGroupId,
    changes: CostGroupChanges,
) -> Result<CostGroup, StoreError> {
    let txn = store.begin_write().await?;
    let tenant_id = tenant_of(&txn, scope, id).await?;
    lock_tenant(&txn, store.backend(), scope, tenant_id).await?;
    let mut groups = list_in_txn(&txn, tenant_id).await?;
    let index = groups
        .iter()
        .position(|g| g.id == id)
        .ok_or_else(|| StoreError::NotFound(format!("cost group {id}")))?;
    if let Some(parent) = changes.parent_id {
        // Checked before the group leaves the list: a move under itself is a cycle, not unknown.
        check_parent(&groups, parent)?;
    }
    let mut group = groups.remove(index);
    if let Some(parent) = changes.parent_id {
        group.parent_id = parent;
    }
    if let Some(name) = changes.name {
        group.name = name;
    }
    if let Some(code) = changes.code {
        group.code = code;
    }
    if let Some(description) = changes.description {
        group.description = description;
    }
    group.updated_at = stored_now();
    groups.insert(0, group.clone());
    check_tree(&groups)?;
    to_active(&group).update(&txn).await?;
    txn.commit().await?;
    Ok(group)
}

/// Deletes a cost group in one write transaction and returns its id.
///
/// While children point at the group, the delete is refused (`CostGroup(HasChildren)`) unless
/// `reassign_to` names another group of the same tenant: then the children move under that group
/// (the tree rules are checked after the move) and the group is deleted. Once cost group members
/// and allocation rules exist, they are reassigned to `reassign_to` in the same way and in the
/// same transaction. `NotFound` when the group or `reassign_to` is unknown or of another tenant.
#[tracing::instrument(skip_all, fields(cost_group_id = %id))]
pub async fn delete_cost_group(
    store: &Store,
    scope: &TenantScope,
    id: CostGroupId,
    reassign_to: Option<CostGroupId>,
) -> Result<CostGroupId, StoreError> {
    let txn = store.begin_write().await?;
    let tenant_id = tenant_of(&txn, scope, id).await?;
    lock_tenant(&txn, store.backend(), scope, tenant_id).await?;
    let mut groups = list_in_txn(&txn, tenant_id).await?;
    let index = groups
        .iter()
        .position(|g| g.id == id)
        .ok_or_else(|| StoreError::NotFound(format!("cost group {id}")))?;
    let group = groups.remove(index);
    if reassign_to == Some(id) {
        return Err(CostGroupError::ReassignToSelf { name: group.name }.into());
    }
    if let Some(target) = reassign_to
        && !groups.iter().any(|g| g.id == target)
    {
        return Err(StoreError::NotFound(format!(
            "reassignTo cost group {target}"
        )));
    }
    let children = groups.iter().filter(|g| g.parent_id == Some(id)).count();
    if children > 0 {
        let Some(target) = reassign_to else {
            return Err(CostGroupError::HasChildren {
                name: group.name,
                children,
            }
            .into());
        };
        for g in &mut groups {
            if g.parent_id == Some(id) {
                g.parent_id = Some(target);
            }
        }
        // Moved children first, so an error names one of them.
        groups.sort_by_key(|g| g.parent_id != Some(target));
        check_tree(&groups)?;
        Entity::update_many()
            .col_expr(Column::ParentId, Expr::value(Some(target.uuid())))
            .col_expr(Column::UpdatedAt, Expr::value(stored_now()))
            .filter(Column::TenantId.eq(tenant_id.uuid()))
            .filter(Column::ParentId.eq(id.uuid()))
            .exec(&txn)
            .await?;
    }
    Entity::delete_many()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .filter(Column::Id.eq(id.uuid()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(id)
}

/// The current time at the precision both backends store (PostgreSQL keeps microseconds), so a
/// mutation returns exactly what a later read shows.
pub(crate) fn stored_now() -> chrono::DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}
