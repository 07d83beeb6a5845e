//! Overrides: users placed in cost groups by hand, with their shares.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::entities::allocation_override_share::{Column, Entity, Model};
use super::error::StoreError;
use crate::domain::allocation::{Override, Share};
use crate::domain::{CostGroupId, TenantId, UserId};

fn corrupt(user: Uuid, detail: String) -> StoreError {
    StoreError::Corrupt {
        table: "allocation_override_shares",
        detail: format!("override of user {user}: {detail}"),
    }
}

/// Groups share rows (ordered by user) into overrides.
fn to_domain(rows: Vec<Model>) -> Result<Vec<Override>, StoreError> {
    let mut by_user: BTreeMap<Uuid, Vec<Share>> = BTreeMap::new();
    for row in rows {
        let percent =
            Decimal::from_str(&row.percent).map_err(|e| corrupt(row.user_id, e.to_string()))?;
        by_user.entry(row.user_id).or_default().push(Share {
            cost_group: CostGroupId(row.cost_group_id),
            percent,
        });
    }
    by_user
        .into_iter()
        .map(|(user, shares)| {
            Override::new(UserId(user), shares).map_err(|e| corrupt(user, e.to_string()))
        })
        .collect()
}

/// Every override of one tenant, by user, on `conn` (the store or a transaction).
pub(crate) async fn list_overrides_of_tenant_on(
    conn: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<Override>, StoreError> {
    let rows = Entity::find()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .order_by_asc(Column::UserId)
        .order_by_asc(Column::CostGroupId)
        .all(conn)
        .await?;
    to_domain(rows)
}

/// The overrides of those of `users` that have one, on `conn`.
pub(crate) async fn list_overrides_of_users_on(
    conn: &impl ConnectionTrait,
    users: &[UserId],
) -> Result<Vec<Override>, StoreError> {
    let rows = Entity::find()
        .filter(Column::UserId.is_in(users.iter().map(|u| u.uuid())))
        .order_by_asc(Column::UserId)
        .order_by_asc(Column::CostGroupId)
        .all(conn)
        .await?;
    to_domain(rows)
}
