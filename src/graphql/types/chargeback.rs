//! The monthly chargeback: `Tenant.chargeback(month)` and the lines it is made of.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{CostGroupObject, SubscriptionObject, loaders};
use crate::domain::allocation::Currency;
use crate::domain::chargeback::{Chargeback, ChargebackLine, ChargebackSku, Month};
use crate::domain::{Principal, TenantId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::heavy::HeavyWork;
use crate::store::chargeback::{MonthCharge, find_chargeback};

/// Reads `month` (`YYYY-MM`) of `tenant_id`, off the HTTP workers: `None` for a tenant unknown
/// or out of the caller's scope. `BAD_USER_INPUT` for a month not written `YYYY-MM`.
pub(crate) async fn chargeback_of(
    ctx: &Context<'_>,
    tenant_id: TenantId,
    month: &str,
) -> ApiResult<Option<ChargebackObject>> {
    let month = Month::parse(month).map_err(|e| ApiError::BadUserInput(e.to_string()))?;
    let heavy = ctx
        .data::<Arc<HeavyWork>>()
        .map_err(|_| ApiError::Internal("request carries no heavy work runner".to_owned()))?;
    let principal = ctx
        .data::<Principal>()
        .map_err(|_| ApiError::Internal("request carries no principal".to_owned()))?;
    let l = loaders(ctx)?;
    let (store, scope) = (l.store.clone(), l.scope.clone());
    let today = Utc::now().date_naive();
    // Reading a large tenant's month is the heaviest read of the API: it runs on the heavy
    // runtime, a bounded number at once per principal.
    let found = heavy
        .run(&principal.name, async move {
            Ok(find_chargeback(&store, &scope, tenant_id, month, today).await?)
        })
        .await?;
    Ok(found.map(|m| ChargebackObject::new(tenant_id, m)))
}

/// Presents minor units of the chargeback's currency (cents when no day had a price).
fn present(c: &Chargeback, minor: i64) -> Decimal {
    c.currency.map_or(Decimal::new(minor, 2), |currency| {
        currency.from_minor(minor)
    })
}

/// One tenant's month, prorated by day: each license's days priced by the price in force that
/// day, sent to the cost groups its user was allocated to that day.
pub struct ChargebackObject {
    tenant_id: TenantId,
    month: Arc<MonthCharge>,
}

impl ChargebackObject {
    /// The object of a computed or closed month.
    pub(crate) fn new(tenant_id: TenantId, month: MonthCharge) -> Self {
        ChargebackObject {
            tenant_id,
            month: Arc::new(month),
        }
    }

    fn line(&self, pick: LinePick) -> ChargebackLineObject {
        ChargebackLineObject {
            tenant_id: self.tenant_id,
            month: self.month.clone(),
            pick,
        }
    }
}

#[Object(name = "Chargeback")]
impl ChargebackObject {
    /// The month, `YYYY-MM`.
    async fn month(&self) -> String {
        self.month.chargeback.month.to_string()
    }

    /// ISO 4217 code of the prices used; null when no day billed had a price.
    async fn currency(&self) -> Option<&'static str> {
        self.month.chargeback.currency.map(|c| c.code())
    }

    /// The first day billed: the month's first day, or the tenant's first import when later;
    /// null when no day of the month is billed (a month before the first import, or one that
    /// has not begun).
    async fn first_day(&self) -> Option<super::Date> {
        self.month.chargeback.days.map(|d| super::Date(d.0))
    }

    /// The last day billed: the month's last day, or today (UTC) for the current month.
    async fn last_day(&self) -> Option<super::Date> {
        self.month.chargeback.days.map(|d| super::Date(d.1))
    }

    /// Whether the month is closed: its lines are served as stored when it was closed.
    async fn closed(&self) -> bool {
        self.month.closed.is_some()
    }

    /// When the month was closed; null while open.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.month.closed.as_ref().map(|c| c.at)
    }

    /// Who closed the month (as the audit log records them); null while open.
    async fn closed_by(&self) -> Option<&str> {
        self.month.closed.as_ref().map(|c| c.by.as_str())
    }

    /// Every cost group of the tenant (as the tree was when computed or closed), by name.
    async fn cost_groups(&self) -> Vec<ChargebackGroupObject> {
        (0..self.month.chargeback.groups.len())
            .map(|index| ChargebackGroupObject {
                tenant_id: self.tenant_id,
                month: self.month.clone(),
                index,
            })
            .collect()
    }

    /// Licenses of users without a cost group on the days they held them.
    async fn unallocated(&self) -> ChargebackLineObject {
        self.line(LinePick::Unallocated)
    }

    /// Idle seats (purchased, not assigned) of paid, user-assignable SKUs, by day.
    async fn unassigned(&self) -> ChargebackLineObject {
        self.line(LinePick::Unassigned)
    }

    /// The whole month: the cost groups' own lines, `unallocated` and `unassigned`.
    async fn total(&self) -> ChargebackLineObject {
        self.line(LinePick::Total)
    }
}

/// One cost group's lines of a chargeback.
pub struct ChargebackGroupObject {
    tenant_id: TenantId,
    month: Arc<MonthCharge>,
    index: usize,
}

#[Object(name = "ChargebackCostGroup")]
impl ChargebackGroupObject {
    /// The cost group's id (GUID).
    async fn cost_group_id(&self) -> ID {
        ID(self.month.chargeback.groups[self.index]
            .group_id
            .to_string())
    }

    /// The group's parent in the month's tree (the one in force on its last billed day, see
    /// `updateCostGroup(input.effectiveFrom)`); null at the top, and for a group deleted
    /// before that day.
    async fn parent_id(&self) -> Option<ID> {
        self.month.chargeback.groups[self.index]
            .parent_id
            .map(|p| ID(p.to_string()))
    }

    /// The cost group; null when it was deleted after the month was closed.
    async fn cost_group(&self, ctx: &Context<'_>) -> ApiResult<Option<CostGroupObject>> {
        let id = self.month.chargeback.groups[self.index].group_id;
        Ok(loaders(ctx)?
            .cost_group
            .load_one(id)
            .await?
            .map(CostGroupObject))
    }

    /// Licenses of users placed in the group itself.
    async fn own(&self) -> ChargebackLineObject {
        ChargebackLineObject {
            tenant_id: self.tenant_id,
            month: self.month.clone(),
            pick: LinePick::Group {
                index: self.index,
                subtree: false,
            },
        }
    }

    /// The group and all its descendants.
    async fn with_descendants(&self) -> ChargebackLineObject {
        ChargebackLineObject {
            tenant_id: self.tenant_id,
            month: self.month.clone(),
            pick: LinePick::Group {
                index: self.index,
                subtree: true,
            },
        }
    }
}

/// Which line of a chargeback a [`ChargebackLineObject`] shows.
#[derive(Clone, Copy)]
enum LinePick {
    Unallocated,
    Unassigned,
    Total,
    Group { index: usize, subtree: bool },
}

/// License-days and amounts, per SKU and in total.
pub struct ChargebackLineObject {
    tenant_id: TenantId,
    month: Arc<MonthCharge>,
    pick: LinePick,
}

impl ChargebackLineObject {
    fn get(&self) -> &ChargebackLine {
        let c = &self.month.chargeback;
        match self.pick {
            LinePick::Unallocated => &c.unallocated,
            LinePick::Unassigned => &c.unassigned,
            LinePick::Total => &c.total,
            LinePick::Group { index, subtree } => {
                let g = &c.groups[index];
                if subtree { &g.subtree } else { &g.own }
            }
        }
    }
}

#[Object(name = "ChargebackLine")]
impl ChargebackLineObject {
    /// License-days (seat-days for `unassigned`): each license counts once for each day
    /// held, fractional where users are split.
    async fn license_days(&self) -> Decimal {
        self.get().license_days().normalize()
    }

    /// Amount in the currency's minor unit precision, rounding remainders distributed so that
    /// the cost groups' own lines, `unallocated` and `unassigned` add up exactly to `total`.
    async fn amount(&self) -> Decimal {
        present(&self.month.chargeback, self.get().amount_minor())
    }

    /// Amount before rounding (at least the currency's minor units).
    async fn exact_amount(&self) -> Decimal {
        Currency::show_in(self.month.chargeback.currency, self.get().amount())
    }

    /// Per SKU, by SKU id; only SKUs with days here.
    async fn skus(&self) -> Vec<ChargebackSkuObject> {
        self.get()
            .skus
            .iter()
            .map(|s| ChargebackSkuObject {
                tenant_id: self.tenant_id,
                month: self.month.clone(),
                sku: s.clone(),
            })
            .collect()
    }
}

/// One SKU's license-days and amount in a chargeback line.
pub struct ChargebackSkuObject {
    tenant_id: TenantId,
    month: Arc<MonthCharge>,
    sku: ChargebackSku,
}

#[Object(name = "ChargebackSku")]
impl ChargebackSkuObject {
    /// The SKU (GUID).
    async fn sku_id(&self) -> ID {
        ID(self.sku.sku_id.to_string())
    }

    /// The tenant's subscription of the SKU; null when the tenant no longer subscribes to it.
    async fn subscription(&self, ctx: &Context<'_>) -> ApiResult<Option<SubscriptionObject>> {
        Ok(loaders(ctx)?
            .subscription
            .load_one((self.tenant_id, self.sku.sku_id))
            .await?
            .map(SubscriptionObject))
    }

    /// License-days of the SKU here.
    async fn license_days(&self) -> Decimal {
        self.sku.license_days.normalize()
    }

    /// Amount in minor unit precision (see `ChargebackLine.amount`).
    async fn amount(&self) -> Decimal {
        present(&self.month.chargeback, self.sku.amount_minor)
    }

    /// Amount before rounding (at least the currency's minor units).
    async fn exact_amount(&self) -> Decimal {
        Currency::show_in(self.month.chargeback.currency, self.sku.amount)
    }
}
