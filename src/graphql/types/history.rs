//! History reads: `Tenant.consumptionHistory`, each SKU's counts day by day or month by month.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object};

use super::{Date, SkuBilling, SubscriptionObject, loaders};
use crate::domain::history::{self, ConsumptionPoint, Granularity, LicenseHolding};
use crate::domain::{BillingSet, TenantId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::store::history::sku_counts::SkuHistory;

/// Most days a `DAY` series may span (a leap year and a month).
pub const MAX_DAYS: i64 = 400;
/// Most calendar months a `MONTH` series may span (ten years).
pub const MAX_MONTHS: u32 = 120;

/// How finely a history series is cut.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::history::Granularity")]
pub enum HistoryGranularity {
    /// One point per day.
    Day,
    /// One point per calendar month: the counts of its last day, with its least and most
    /// assigned.
    Month,
}

/// One SKU's counts over a range of days, as the imports observed them.
pub struct SkuConsumptionHistoryObject {
    sku: Arc<Vec<SkuHistory>>,
    index: usize,
    points: Vec<ConsumptionPoint>,
}

#[Object(name = "SkuConsumptionHistory")]
impl SkuConsumptionHistoryObject {
    /// The SKU id.
    async fn sku_id(&self) -> ID {
        ID(self
            .sku
            .get(self.index)
            .map_or_else(String::new, |s| s.sku_id.to_string()))
    }

    /// The SKU's part number (as last seen in the range).
    async fn sku_part_number(&self) -> &str {
        self.sku
            .get(self.index)
            .map_or("", |s| s.part_number.as_str())
    }

    /// `User` or `Company` (as last seen in the range).
    async fn applies_to(&self) -> &str {
        self.sku
            .get(self.index)
            .map_or("", |s| s.applies_to.as_str())
    }

    /// How the SKU was billed (as last seen in the range).
    async fn billing(&self) -> Option<SkuBilling> {
        self.sku.get(self.index).map(|s| s.billing.into())
    }

    /// The points, oldest first. A day before the tenant's first import, or after the SKU was
    /// gone, has none; days between two imports carry what the earlier one observed.
    async fn points(&self) -> Vec<ConsumptionPointObject> {
        self.points
            .iter()
            .copied()
            .map(ConsumptionPointObject)
            .collect()
    }
}

/// A license one user held over an interval of days: of one SKU, with the same disabled plans.
pub struct LicenseHoldingObject(pub Arc<LicenseHolding>);

#[Object(name = "LicenseHolding")]
impl LicenseHoldingObject {
    /// The SKU id.
    async fn sku_id(&self) -> ID {
        ID(self.0.sku_id.to_string())
    }

    /// The SKU's subscription, while the tenant has it.
    async fn subscription(&self, ctx: &Context<'_>) -> ApiResult<Option<SubscriptionObject>> {
        Ok(loaders(ctx)?
            .subscription
            .load_one((self.0.tenant_id, self.0.sku_id))
            .await?
            .map(SubscriptionObject))
    }

    /// Service plans of the SKU switched off during the interval.
    async fn disabled_service_plan_ids(&self) -> Vec<ID> {
        self.0
            .disabled_plans
            .iter()
            .map(|p| ID(p.to_string()))
            .collect()
    }

    /// The first day it was held, as the import that saw it observed; null when it was held
    /// before history began.
    async fn valid_from(&self) -> Option<Date> {
        self.0.from.map(Date)
    }

    /// The day an import saw it gone or changed (the first day it was no longer held this way);
    /// null while held.
    async fn valid_to(&self) -> Option<Date> {
        self.0.to.map(Date)
    }
}

/// A SKU's counts on a day (or a month's last day).
pub struct ConsumptionPointObject(ConsumptionPoint);

#[Object(name = "ConsumptionPoint")]
impl ConsumptionPointObject {
    /// The day the counts are of; for a month, its last day in the range.
    async fn date(&self) -> Date {
        Date(self.0.date)
    }

    /// Purchased licenses (prepaid enabled + warning).
    async fn purchased(&self) -> i64 {
        self.0.counts.purchased()
    }

    /// Assigned licenses (consumed units).
    async fn assigned(&self) -> i64 {
        self.0.counts.consumed
    }

    /// Purchased minus assigned (negative when over-assigned).
    async fn unassigned(&self) -> i64 {
        self.0.counts.unassigned()
    }

    /// Suspended units (no longer usable, not counted as purchased).
    async fn suspended(&self) -> i64 {
        self.0.counts.suspended
    }

    /// The least assigned on any day of the point (for `DAY`, the day's own).
    async fn min_assigned(&self) -> i64 {
        self.0.min_assigned
    }

    /// The most assigned on any day of the point (for `DAY`, the day's own).
    async fn max_assigned(&self) -> i64 {
        self.0.max_assigned
    }
}

/// The series of `tenant_id`'s SKUs billed as in `billing` (their billing at the end of the
/// range) over `from..=to`, `to` cut at today; checks the range's size.
pub(crate) async fn consumption_history(
    ctx: &Context<'_>,
    tenant_id: TenantId,
    from: Date,
    to: Date,
    granularity: HistoryGranularity,
    billing: BillingSet,
) -> ApiResult<Vec<SkuConsumptionHistoryObject>> {
    let (from, to) = (from.0, to.0);
    if to < from {
        return Err(ApiError::BadUserInput(format!(
            "to ({to}) is before from ({from})"
        )));
    }
    let granularity: Granularity = granularity.into();
    match granularity {
        Granularity::Day if history::days_between(from, to) > MAX_DAYS => {
            return Err(ApiError::BadUserInput(format!(
                "a DAY series spans at most {MAX_DAYS} days ({from} to {to} is {}); use MONTH",
                history::days_between(from, to)
            )));
        }
        Granularity::Month if history::months_between(from, to) > MAX_MONTHS => {
            return Err(ApiError::BadUserInput(format!(
                "a MONTH series spans at most {MAX_MONTHS} months ({from} to {to} is {})",
                history::months_between(from, to)
            )));
        }
        _ => {}
    }
    let to = to.min(chrono::Utc::now().date_naive());
    if to < from {
        return Ok(Vec::new());
    }
    let skus = loaders(ctx)?
        .sku_history
        .load_one((tenant_id, from, to))
        .await?
        .unwrap_or_default();
    Ok((0..skus.len())
        .filter(|&i| billing.contains(skus[i].billing))
        .map(|index| SkuConsumptionHistoryObject {
            points: history::consumption_series(&skus[index].intervals, from, to, granularity),
            sku: skus.clone(),
            index,
        })
        .filter(|s| !s.points.is_empty())
        .collect())
}
