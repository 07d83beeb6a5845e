//! Cost reports: `Tenant.costReport`, `CostGroup.cost` and the lines they are made of.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{CostGroupObject, SubscriptionObject, loaders};
use crate::domain::allocation::{CostLine, CostReport, Currency, SkuCost};
use crate::domain::{BillingSet, TenantId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::loaders::DatedReport;

/// Presents a line's amounts in the report's currency.
fn present(minor: i64, currency: Option<Currency>) -> Decimal {
    match currency {
        Some(c) => c.from_minor(minor),
        // No price in force: every amount is zero.
        None => Decimal::new(minor, 2),
    }
}

/// The monthly license cost of a tenant on a date, per cost group, plus `unallocated`
/// (licenses of users no rule or override places) and `unassigned` (purchased, not assigned).
/// The presented `cost` of the cost groups' own lines plus `unallocated` adds up exactly to
/// `assigned.cost`, per SKU and in total.
pub struct CostReportObject {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The report.
    pub dated: Arc<DatedReport>,
}

#[Object(name = "CostReport")]
impl CostReportObject {
    /// The date whose prices were used.
    async fn as_of(&self) -> super::Date {
        super::Date(self.dated.report.as_of)
    }

    /// ISO 4217 code of the tenant's prices; null when no SKU has a price.
    async fn currency(&self) -> Option<&'static str> {
        self.dated.report.currency.map(|c| c.code())
    }

    /// When the allocation this report reads was last evaluated (after the last import or
    /// allocation change).
    async fn evaluated_at(&self) -> DateTime<Utc> {
        self.dated.evaluated_at
    }

    /// Every cost group of the tenant, with its own cost and its subtree's.
    async fn cost_groups(&self) -> Vec<CostGroupCostObject> {
        (0..self.dated.report.groups.len())
            .map(|index| CostGroupCostObject {
                tenant_id: self.tenant_id,
                dated: self.dated.clone(),
                index,
            })
            .collect()
    }

    /// Assigned licenses of users no rule or override places.
    async fn unallocated(&self) -> CostLineObject {
        self.line(|r| &r.unallocated)
    }

    /// Purchased but unassigned licenses of user-assignable SKUs, with their cost: SKUs billed
    /// as `costReport(unassignedBilling:)` asks, `PARTNER` and `OTHER` by default.
    async fn unassigned(&self) -> CostLineObject {
        self.line(|r| &r.unassigned)
    }

    /// All assigned licenses: the cost groups' own lines plus `unallocated`.
    async fn assigned(&self) -> CostLineObject {
        self.line(|r| &r.assigned)
    }
}

impl CostReportObject {
    fn line(&self, pick: fn(&CostReport) -> &CostLine) -> CostLineObject {
        CostLineObject {
            tenant_id: self.tenant_id,
            dated: self.dated.clone(),
            pick: LinePick::Fixed(pick),
        }
    }
}

/// One cost group's line of a report.
pub struct CostGroupCostObject {
    tenant_id: TenantId,
    dated: Arc<DatedReport>,
    index: usize,
}

#[Object(name = "CostGroupCost")]
impl CostGroupCostObject {
    /// The cost group.
    async fn cost_group(&self, ctx: &Context<'_>) -> ApiResult<CostGroupObject> {
        let id = self.dated.report.groups[self.index].group_id;
        loaders(ctx)?
            .cost_group
            .load_one(id)
            .await?
            .map(CostGroupObject)
            .ok_or_else(|| ApiError::NotFound(format!("cost group {id}")))
    }

    /// Users and licenses placed in the group itself.
    async fn own(&self) -> CostLineObject {
        self.line(false)
    }

    /// The group and all its descendants; a user split over several groups of the subtree
    /// counts once.
    async fn with_descendants(&self) -> CostLineObject {
        self.line(true)
    }
}

impl CostGroupCostObject {
    fn line(&self, subtree: bool) -> CostLineObject {
        CostLineObject {
            tenant_id: self.tenant_id,
            dated: self.dated.clone(),
            pick: LinePick::Group {
                index: self.index,
                subtree,
            },
        }
    }
}

/// Which line of a report a [`CostLineObject`] shows.
#[derive(Clone, Copy)]
pub(crate) enum LinePick {
    /// `unallocated`, `unassigned` or `assigned`.
    Fixed(fn(&CostReport) -> &CostLine),
    /// A cost group's own line or its subtree's.
    Group {
        /// Position in the report's groups.
        index: usize,
        /// With descendants.
        subtree: bool,
    },
}

/// Users, licenses and monthly cost, per SKU and in total.
pub struct CostLineObject {
    pub(crate) tenant_id: TenantId,
    pub(crate) dated: Arc<DatedReport>,
    pub(crate) pick: LinePick,
}

impl CostLineObject {
    fn get(&self) -> &CostLine {
        match self.pick {
            LinePick::Fixed(pick) => pick(&self.dated.report),
            LinePick::Group { index, subtree } => {
                let g = &self.dated.report.groups[index];
                if subtree { &g.subtree } else { &g.own }
            }
        }
    }
}

#[Object(name = "CostLine")]
impl CostLineObject {
    /// ISO 4217 code of the amounts; null when no SKU has a price.
    async fn currency(&self) -> Option<&'static str> {
        self.dated.report.currency.map(|c| c.code())
    }

    /// Users with a share here (a split user counts once in each of their groups).
    async fn users(&self) -> u64 {
        self.get().users
    }

    /// Licenses, fractional where users are split (without trailing zeros).
    async fn licenses(&self) -> Decimal {
        self.get()
            .skus
            .iter()
            .map(|s| s.licenses)
            .sum::<Decimal>()
            .normalize()
    }

    /// Monthly cost in the currency's minor unit precision (cents), rounding remainders
    /// distributed so that lines add up exactly.
    async fn cost(&self) -> Decimal {
        present(self.get().cost_minor, self.dated.report.currency)
    }

    /// Monthly cost before rounding (at least the currency's minor units).
    async fn exact_cost(&self) -> Decimal {
        Currency::show_in(self.dated.report.currency, self.get().cost)
    }

    /// Per SKU, by SKU id; only SKUs with licenses here.
    async fn skus(&self) -> Vec<SkuCostObject> {
        (0..self.get().skus.len())
            .map(|index| SkuCostObject {
                line: CostLineObject {
                    tenant_id: self.tenant_id,
                    dated: self.dated.clone(),
                    pick: self.pick,
                },
                index,
            })
            .collect()
    }
}

/// One SKU's licenses and cost in a line.
pub struct SkuCostObject {
    line: CostLineObject,
    index: usize,
}

impl SkuCostObject {
    fn get(&self) -> &SkuCost {
        &self.line.get().skus[self.index]
    }
}

#[Object(name = "SkuCost")]
impl SkuCostObject {
    /// The SKU (GUID).
    async fn sku_id(&self) -> ID {
        ID(self.get().sku_id.to_string())
    }

    /// The tenant's subscription of the SKU; null when the tenant no longer subscribes to it.
    async fn subscription(&self, ctx: &Context<'_>) -> ApiResult<Option<SubscriptionObject>> {
        Ok(loaders(ctx)?
            .subscription
            .load_one((self.line.tenant_id, self.get().sku_id))
            .await?
            .map(SubscriptionObject))
    }

    /// Licenses, fractional where users are split (without trailing zeros).
    async fn licenses(&self) -> Decimal {
        self.get().licenses.normalize()
    }

    /// Monthly unit price in force, as it was set (at least the currency's minor units);
    /// null when the SKU has no price (its cost is 0).
    async fn unit_price(&self) -> Option<Decimal> {
        let currency = self.line.dated.report.currency;
        self.get()
            .unit_price
            .map(|p| currency.map_or(p, |c| c.show(p)))
    }

    /// Monthly cost, presented in minor units of the currency (see `CostLine.cost`).
    async fn cost(&self) -> Decimal {
        present(self.get().cost_minor, self.line.dated.report.currency)
    }

    /// Monthly cost before rounding (at least the currency's minor units).
    async fn exact_cost(&self) -> Decimal {
        Currency::show_in(self.line.dated.report.currency, self.get().cost)
    }
}

/// The report of `tenant_id` on `as_of` (today in UTC when omitted), `Unassigned` counting the
/// idle seats of SKUs billed as in `unassigned`, through the request's loader so that every
/// field of a request asking for one date shares one computation.
pub(crate) async fn report_of(
    ctx: &Context<'_>,
    tenant_id: TenantId,
    as_of: Option<NaiveDate>,
    unassigned: BillingSet,
) -> ApiResult<Arc<DatedReport>> {
    let as_of = as_of.unwrap_or_else(|| Utc::now().date_naive());
    loaders(ctx)?
        .cost_report
        .load_one((tenant_id, as_of, unassigned))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("tenant {tenant_id}")))
}
