//! Finders for cost groups.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::connect::Store;
use super::entities::cost_group::{self, Column, Entity, Model};
use super::error::StoreError;
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
