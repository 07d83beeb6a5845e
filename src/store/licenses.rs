//! Finders for licenses assigned to users.

use sea_orm::{EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::connect::Store;
use super::entities::user_license::{Column, Entity, Model};
use super::error::StoreError;
use super::id_lists::uuid_among;
use crate::domain::{AssignedLicense, ServicePlanId, SkuId, TenantId, UserId};

/// Reads the `disabled_plans` JSON array of a row of `table` (a user's license or assignment).
pub(crate) fn disabled_plans_of(
    table: &'static str,
    user: Uuid,
    json: serde_json::Value,
) -> Result<Vec<ServicePlanId>, StoreError> {
    let plans: Vec<Uuid> = serde_json::from_value(json).map_err(|e| StoreError::Corrupt {
        table,
        detail: format!("disabled_plans of user {user}: {e}"),
    })?;
    Ok(plans.into_iter().map(ServicePlanId).collect())
}

pub(crate) fn to_domain(m: Model) -> Result<AssignedLicense, StoreError> {
    Ok(AssignedLicense {
        user_id: UserId(m.user_id),
        tenant_id: TenantId(m.tenant_id),
        sku_id: SkuId(m.sku_id),
        disabled_plans: disabled_plans_of("user_licenses", m.user_id, m.disabled_plans)?,
    })
}

/// The licenses of each of `users`, ordered by user then SKU.
pub async fn list_licenses_of_users(
    store: &Store,
    users: &[UserId],
) -> Result<Vec<AssignedLicense>, StoreError> {
    Entity::find()
        .filter(uuid_among(
            store.backend(),
            Column::UserId,
            users.iter().map(|u| u.uuid()),
        ))
        .order_by_asc(Column::UserId)
        .order_by_asc(Column::SkuId)
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}
