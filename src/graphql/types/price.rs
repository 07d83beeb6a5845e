//! `LicensePrice`: what one license of a SKU costs a tenant per month, from a date on.

use std::sync::Arc;

use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::date::Date;
use crate::store::allocation::PriceEntry;

/// The monthly unit price of a SKU for a tenant, in force from `effectiveFrom` until the next
/// price of the SKU.
pub struct LicensePriceObject(pub Arc<PriceEntry>);

#[Object(name = "LicensePrice")]
impl LicensePriceObject {
    /// The SKU id (GUID).
    async fn sku_id(&self) -> ID {
        ID(self.0.price.sku_id().to_string())
    }

    /// What one license costs per month, in `currency`: with the decimals it was set with, and
    /// at least the currency's minor units (`32.40` CHF, `1000` JPY).
    async fn monthly_unit_price(&self) -> Decimal {
        self.0
            .price
            .currency()
            .show(self.0.price.monthly_unit_price())
    }

    /// ISO 4217 code, e.g. `CHF`; one currency per tenant.
    async fn currency(&self) -> &'static str {
        self.0.price.currency().code()
    }

    /// First day the price applies.
    async fn effective_from(&self) -> Date {
        Date(self.0.price.effective_from())
    }

    /// When this price was set.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
