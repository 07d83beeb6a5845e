//! The write behind the price mutation: each tenant's monthly unit price per SKU, with its
//! history. One price per tenant, SKU and `effective_from` day; setting it again replaces that
//! day's entry. Prices are read back through `reads`.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::reads::{PriceEntry, price_entry_of_row};
use super::write::TenantWrite;
use crate::domain::allocation::Price;
use crate::domain::audit::AuditChange;
use crate::domain::{TenantId, TenantScope};
use crate::store::connect::Store;
use crate::store::entities::license_price::{self, Column, Entity, Model};
use crate::store::entities::subscription;
use crate::store::error::StoreError;
use crate::store::transaction::stored_now;

/// The audit log's view of a price.
fn audit_json(m: &Model) -> serde_json::Value {
    serde_json::json!({
        "skuId": m.sku_id.to_string(),
        "effectiveFrom": m.effective_from.to_string(),
        "monthlyUnitPrice": m.monthly_unit_price,
        "currency": m.currency,
    })
}

/// Sets the price of a SKU of `tenant_id` from `price.effective_from()` on, replacing the entry
/// of that SKU and day if there is one (other days are kept as history), in one write
/// transaction that records the change as `actor`. `NotFound` when the tenant is unknown or out
/// of `scope`, or has no subscription of the SKU; `Conflict` when the currency differs from the
/// tenant's other prices (a cost report is in one currency per tenant).
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, sku_id = %price.sku_id()))]
pub async fn set_price(
    store: &Store,
    scope: &TenantScope,
    tenant_id: TenantId,
    actor: String,
    price: Price,
) -> Result<PriceEntry, StoreError> {
    use sea_orm::ActiveValue::Set;
    let sku = price.sku_id();
    let day = price.effective_from();
    let mut write = TenantWrite::begin(store, scope, tenant_id).await?;
    let txn = write.txn();
    if subscription::Entity::find()
        .filter(subscription::Column::TenantId.eq(tenant_id.uuid()))
        .filter(subscription::Column::SkuId.eq(sku.uuid()))
        .one(txn)
        .await?
        .is_none()
    {
        return Err(StoreError::NotFound(format!(
            "input.skuId: a subscription of SKU {sku} in tenant {tenant_id}"
        )));
    }
    let stored = Entity::find()
        .filter(Column::TenantId.eq(tenant_id.uuid()))
        .all(txn)
        .await?;
    let (same, others): (Vec<Model>, Vec<Model>) = stored
        .into_iter()
        .partition(|m| m.sku_id == sku.uuid() && m.effective_from == day);
    let currency = price.currency().code();
    if let Some(other) = others.iter().find(|m| m.currency != currency) {
        return Err(StoreError::Conflict(format!(
            "input.currency must be {}, the currency of the tenant's other prices (a cost report \
             is in one currency per tenant), got {currency}",
            other.currency
        )));
    }
    let until = others
        .iter()
        .filter(|m| m.sku_id == sku.uuid() && m.effective_from > day)
        .map(|m| m.effective_from)
        .min();
    crate::store::closed_months::refuse_price_in_closed_month(txn, tenant_id, sku, day, until)
        .await?;
    let before = same.into_iter().next();
    let row = license_price::ActiveModel {
        id: Set(before.as_ref().map_or_else(Uuid::new_v4, |m| m.id)),
        tenant_id: Set(tenant_id.uuid()),
        sku_id: Set(sku.uuid()),
        effective_from: Set(day),
        // Kept with the scale it was given (`32.40`), which the API shows back.
        monthly_unit_price: Set(price.monthly_unit_price().to_string()),
        currency: Set(currency.to_owned()),
        created_at: Set(stored_now()),
    };
    let after = match before {
        Some(_) => row.update(txn).await?,
        None => row.insert(txn).await?,
    };
    // A price moves nobody: the report prices the stored allocation when it is read.
    write.audit(AuditChange {
        tenant_id,
        actor,
        action: "setLicensePrice".to_owned(),
        subject_type: "licensePrice".to_owned(),
        subject_id: format!("{sku}@{day}"),
        before: before.as_ref().map(audit_json),
        after: Some(audit_json(&after)),
        effective_from: Some(day),
    });
    write.commit().await?;
    price_entry_of_row(after)
}
