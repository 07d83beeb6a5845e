//! License prices: each tenant's monthly unit price per SKU, with its history.

use std::str::FromStr;

use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entities::license_price::{Column, Entity, Model};
use super::error::StoreError;
use crate::domain::allocation::{Currency, Price};
use crate::domain::{SkuId, TenantId};

pub(crate) fn to_domain(m: Model) -> Result<Price, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "license_prices",
        detail: format!("price {}: {detail}", m.id),
    };
    let amount = Decimal::from_str(&m.monthly_unit_price).map_err(|e| corrupt(e.to_string()))?;
    let currency = Currency::parse(&m.currency).map_err(|e| corrupt(e.to_string()))?;
    Price::new(SkuId(m.sku_id), amount, currency, m.effective_from)
        .map_err(|e| corrupt(e.to_string()))
}

/// Every price of each of `tenants`, the whole history, by tenant, SKU and date, on `conn`.
pub(crate) async fn list_prices_of_tenants_on(
    conn: &impl ConnectionTrait,
    tenants: &[TenantId],
) -> Result<Vec<(TenantId, Price)>, StoreError> {
    Entity::find()
        .filter(Column::TenantId.is_in(tenants.iter().map(|t| t.uuid())))
        .order_by_asc(Column::TenantId)
        .order_by_asc(Column::SkuId)
        .order_by_asc(Column::EffectiveFrom)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| Ok((TenantId(m.tenant_id), to_domain(m)?)))
        .collect()
}
