//! `LicenseSubscription` (a tenant's subscribed SKU) and `ServicePlan`. The type is not named
//! `Subscription`: federation composition would take that for the subscription root.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use super::tenant::user_list;
use super::{
    CommerceSubscriptionObject, Date, LicensePriceObject, SkuBilling, UserConnection, loaders,
};
use crate::domain::allocation::price_on;
use crate::domain::{ServicePlan, Subscription, UserFilter, UserSort};
use crate::graphql::error::ApiResult;
use crate::store::users::UserParent;

/// State of a subscribed SKU (Graph `capabilityStatus`).
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "CapabilityStatus", remote = "crate::domain::CapabilityStatus")]
pub enum CapabilityStatusValue {
    /// Active.
    Enabled,
    /// Expired, in the grace period, still usable.
    Warning,
    /// Suspended; not assignable, can be reactivated.
    Suspended,
    /// Deleted.
    Deleted,
    /// Cancelled by the customer; locked out.
    LockedOut,
    /// A value this version does not know; see `capabilityStatusRaw`.
    Unknown,
}

/// One subscribed SKU of a tenant, with its license counts.
pub struct SubscriptionObject(pub Arc<Subscription>);

#[Object(name = "LicenseSubscription")]
impl SubscriptionObject {
    /// Graph's id: `<tenantId>_<skuId>`.
    async fn id(&self) -> ID {
        ID(self.0.graph_id())
    }

    /// The tenant.
    async fn tenant_id(&self) -> ID {
        ID(self.0.tenant_id.to_string())
    }

    /// The SKU id (the same in every tenant).
    async fn sku_id(&self) -> ID {
        ID(self.0.sku_id.to_string())
    }

    /// Microsoft's part number, e.g. `SPE_E3`.
    async fn sku_part_number(&self) -> &str {
        &self.0.sku_part_number
    }

    /// True for a placeholder: users hold licenses of this SKU, but subscribedSkus does not
    /// list it (an import reads it once more before keeping a placeholder): bought between two
    /// reads and still missing, or orphaned. Its counts are 0 (nothing is known to be
    /// purchased or assigned) and its capability status `UNKNOWN`; its part number is
    /// `UNKNOWN` and its billing `OTHER`, unless an earlier import listed the SKU (they stay as
    /// they were) or staff set the billing. Runs record an `UNKNOWN_SKU` warning while it
    /// lasts; the next import that finds the SKU listed fills in its data.
    async fn unknown(&self) -> bool {
        self.0.unknown
    }

    /// How the SKU is paid for: detected from the partner's commerce subscriptions and the
    /// free SKU list at each import, unless staff set it with `setSkuBilling`.
    async fn billing(&self) -> SkuBilling {
        self.0.billing.into()
    }

    /// This partner's commerce subscriptions behind the SKU (each with its `quantity`); the
    /// SKU's assigned and unassigned licenses are not split among them.
    async fn commerce_subscriptions(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<CommerceSubscriptionObject>> {
        let all = loaders(ctx)?
            .commerce
            .load_one(self.0.tenant_id)
            .await?
            .unwrap_or_default();
        Ok(all
            .into_iter()
            .filter(|c| c.sku_id == Some(self.0.sku_id))
            .map(CommerceSubscriptionObject)
            .collect())
    }

    /// Purchased licenses: prepaid enabled plus warning units (Partner Center's definition).
    async fn purchased(&self) -> i64 {
        self.0.purchased()
    }

    /// Units of active subscriptions.
    async fn enabled(&self) -> i64 {
        self.0.prepaid.enabled
    }

    /// Units expired but in their grace period (still usable).
    async fn warning(&self) -> i64 {
        self.0.prepaid.warning
    }

    /// Units of suspended subscriptions (not assignable).
    async fn suspended(&self) -> i64 {
        self.0.prepaid.suspended
    }

    /// Units of cancelled subscriptions (not assignable).
    async fn locked_out(&self) -> i64 {
        self.0.prepaid.locked_out
    }

    /// Licenses assigned to users (`consumedUnits`).
    async fn assigned(&self) -> i64 {
        self.0.assigned()
    }

    /// Purchased minus assigned. Negative when more licenses are assigned than purchased.
    async fn unassigned(&self) -> i64 {
        self.0.unassigned()
    }

    /// True when more licenses are assigned than purchased (`unassigned` is negative).
    async fn over_assigned(&self) -> bool {
        self.0.unassigned() < 0
    }

    /// State of the SKU.
    async fn capability_status(&self) -> CapabilityStatusValue {
        self.0.status().into()
    }

    /// `capabilityStatus` exactly as Graph sent it.
    async fn capability_status_raw(&self) -> &str {
        &self.0.capability_status
    }

    /// `User` (assignable) or `Company` (tenant-level).
    async fn applies_to(&self) -> &str {
        &self.0.applies_to
    }

    /// Directory subscription ids aggregated in this SKU.
    async fn subscription_ids(&self) -> &[String] {
        &self.0.subscription_ids
    }

    /// When this SKU was last imported.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The SKU's service plans, by name.
    async fn service_plans(&self, ctx: &Context<'_>) -> ApiResult<Vec<ServicePlanObject>> {
        let plans = loaders(ctx)?
            .plans
            .load_one((self.0.tenant_id, self.0.sku_id))
            .await?
            .unwrap_or_default();
        Ok(plans.into_iter().map(ServicePlanObject).collect())
    }

    /// The price in force on `asOf` (default: today, UTC): the latest set with `effectiveFrom`
    /// on or before that day. Null when the SKU has no price yet.
    async fn price(
        &self,
        ctx: &Context<'_>,
        as_of: Option<Date>,
    ) -> ApiResult<Option<LicensePriceObject>> {
        let day = as_of.map_or_else(|| Utc::now().date_naive(), |d| d.0);
        let entries = loaders(ctx)?
            .prices
            .load_one(self.0.tenant_id)
            .await?
            .unwrap_or_default();
        let prices: Vec<_> = entries.iter().map(|e| e.price.clone()).collect();
        let Some(in_force) = price_on(&prices, self.0.sku_id, day) else {
            return Ok(None);
        };
        Ok(entries
            .into_iter()
            .find(|e| &e.price == in_force)
            .map(LicensePriceObject))
    }

    /// Users holding a license of this SKU, a page at a time (deleted users left out).
    async fn assigned_users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        user_list(
            ctx,
            UserParent::Sku(self.0.tenant_id, self.0.sku_id),
            UserFilter::default(),
            UserSort::default(),
            first,
            after,
        )
        .await
    }
}

/// A service plan of a SKU.
pub struct ServicePlanObject(pub Arc<ServicePlan>);

#[Object(name = "ServicePlan")]
impl ServicePlanObject {
    /// Service plan id (GUID).
    async fn id(&self) -> ID {
        ID(self.0.service_plan_id.to_string())
    }

    /// e.g. `EXCHANGE_S_ENTERPRISE`.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// `Success`, `Disabled`, `Error`, `PendingInput`, `PendingActivation` or
    /// `PendingProvisioning`.
    async fn provisioning_status(&self) -> &str {
        &self.0.provisioning_status
    }

    /// `User` or `Company`.
    async fn applies_to(&self) -> &str {
        &self.0.applies_to
    }
}
