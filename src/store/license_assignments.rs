//! Finders for how users' licenses are assigned (`user_license_assignments`).

use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::connect::Store;
use super::entities::user;
use super::entities::user_license_assignment::{Column, Entity, Model};
use super::error::StoreError;
use super::licenses::disabled_plans_of;
use crate::domain::{
    AssignedBy, GroupId, LicenseAssignment, LicenseAssignmentState, SkuId, TenantId, UserId,
};

const TABLE: &str = "user_license_assignments";

pub(crate) fn to_domain(m: Model) -> Result<LicenseAssignment, StoreError> {
    Ok(LicenseAssignment {
        user_id: UserId(m.user_id),
        tenant_id: TenantId(m.tenant_id),
        detail: LicenseAssignmentState {
            sku_id: SkuId(m.sku_id),
            assigned_by: m
                .assigned_by_group
                .map_or(AssignedBy::Direct, |g| AssignedBy::Group(GroupId(g))),
            state: m.state,
            error: m.error,
            disabled_plans: disabled_plans_of(TABLE, m.user_id, m.disabled_plans)?,
            last_updated: m.last_updated,
        },
    })
}

/// The license assignments of each of `users`, by user, each user's in upstream order.
pub async fn list_license_assignments_of_users(
    store: &Store,
    users: &[UserId],
) -> Result<Vec<LicenseAssignment>, StoreError> {
    // The primary key leads with the tenant: name the users' tenants so it serves the lookup.
    let tenants = Query::select()
        .column(user::Column::TenantId)
        .from(user::Entity)
        .and_where(user::Column::Id.is_in(users.iter().map(|u| u.uuid())))
        .to_owned();
    Entity::find()
        .filter(Column::TenantId.in_subquery(tenants))
        .filter(Column::UserId.is_in(users.iter().map(|u| u.uuid())))
        .order_by_asc(Column::TenantId)
        .order_by_asc(Column::UserId)
        .order_by_asc(Column::Position)
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}
