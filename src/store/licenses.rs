//! Finders for licenses assigned to users.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::connect::Store;
use super::entities::user_license::{Column, Entity, Model};
use super::error::StoreError;
use crate::domain::{AssignedLicense, ServicePlanId, SkuId, TenantId, UserId};

pub(crate) fn to_domain(m: Model) -> Result<AssignedLicense, StoreError> {
    let disabled: Vec<Uuid> =
        serde_json::from_value(m.disabled_plans).map_err(|e| StoreError::Corrupt {
            table: "user_licenses",
            detail: format!("disabled_plans of user {}: {e}", m.user_id),
        })?;
    Ok(AssignedLicense {
        user_id: UserId(m.user_id),
        tenant_id: TenantId(m.tenant_id),
        sku_id: SkuId(m.sku_id),
        disabled_plans: disabled.into_iter().map(ServicePlanId).collect(),
    })
}

/// The licenses of each of `users`, ordered by user then SKU.
pub async fn list_licenses_of_users(
    store: &Store,
    users: &[UserId],
) -> Result<Vec<AssignedLicense>, StoreError> {
    Entity::find()
        .filter(Column::UserId.is_in(users.iter().map(|u| u.uuid())))
        .order_by_asc(Column::UserId)
        .order_by_asc(Column::SkuId)
        .all(store.db())
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}
