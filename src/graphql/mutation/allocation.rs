//! Mutations of overrides (`setUserAllocation`, `clearUserAllocation`), license prices
//! (`setLicensePrice`) and scheduled changes (`cancelScheduledAllocationChanges`). Values are checked here before any transaction starts; the store checks
//! what needs the database (the user, the cost groups, the SKU, the tenant's currency).

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use rust_decimal::Decimal;

use super::{Target, actor, authorize};
use crate::domain::allocation::{Currency, Override, Price, Share};
use crate::domain::{Action, CostGroupId, SkuId, TenantId, UserId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::ids::parse_id;
use crate::graphql::loaders::Loaders;
use crate::graphql::types::audit::AuditEntryObject;
use crate::graphql::types::{Date, LicensePriceObject, UserObject, loaders};
use crate::graphql::types::{SkuBilling, SubscriptionObject};
use crate::store;
use crate::store::commerce;

/// A part of a user's license cost going to one cost group.
#[derive(InputObject)]
pub struct AllocationShareInput {
    /// The cost group, of the user's tenant (GUID).
    pub cost_group_id: ID,
    /// Percentage: above 0, at most 2 decimal places; a user's shares sum to exactly 100.
    pub percent: Decimal,
}

/// A monthly unit price of a SKU for a tenant, from a date on.
#[derive(InputObject)]
pub struct SetLicensePriceInput {
    /// The tenant (GUID).
    pub tenant_id: ID,
    /// A SKU the tenant subscribes to (GUID).
    pub sku_id: ID,
    /// What one license costs per month: 0 or more, at most 1000000000, at most 6 decimal
    /// places.
    pub monthly_unit_price: Decimal,
    /// ISO 4217 code, e.g. `CHF`; the same as the tenant's other prices.
    pub currency: String,
    /// First day the price applies (UTC), today when omitted; setting a price for the same SKU
    /// and day replaces it. `CONFLICT` naming the month when it would change a closed month.
    pub effective_from: Option<Date>,
}

/// The user as the response returns it, read after the change.
async fn user_after(l: &Loaders, user_id: UserId) -> ApiResult<UserObject> {
    l.user
        .load_one(user_id)
        .await?
        .map(UserObject::summary)
        .ok_or_else(|| ApiError::Internal(format!("user {user_id} missing after its change")))
}

/// Mutations of overrides and license prices.
#[derive(Default)]
pub struct AllocationMutation;

#[Object]
impl AllocationMutation {
    /// Pins a user to one cost group (one share of 100) or splits them across several, replacing
    /// any earlier override; an override wins over every rule and survives re-imports.
    /// `BAD_USER_INPUT` when the shares are empty, not above 0, have more than 2 decimal places,
    /// name a group twice or don't sum to exactly 100; `NOT_FOUND` when the user is not a
    /// present user of the tenant or a cost group is not one of the tenant's. The override
    /// holds from `effectiveFrom` on (UTC; today when omitted): an earlier day re-evaluates the
    /// user's allocation of the days from it on (`CONFLICT` naming a closed month among them),
    /// a later one schedules it (`Tenant.scheduledAllocationChanges`).
    async fn set_user_allocation(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        user_id: ID,
        shares: Vec<AllocationShareInput>,
        effective_from: Option<Date>,
    ) -> ApiResult<UserObject> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        let user_id: UserId = parse_id("userId", &user_id)?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant_id)).await?;
        let shares = shares
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(Share {
                    cost_group: parse_id::<CostGroupId>(
                        &format!("shares[{i}].costGroupId"),
                        &s.cost_group_id,
                    )?,
                    percent: s.percent,
                })
            })
            .collect::<ApiResult<Vec<Share>>>()?;
        let new = Override::new(user_id, shares)?;
        let l = loaders(ctx)?;
        store::allocation::set_override(
            &l.store,
            &l.scope,
            tenant_id,
            actor(ctx),
            new,
            effective_from.map(|d| d.0),
        )
        .await?;
        user_after(l, user_id).await
    }

    /// Removes a user's override (also of a user deleted upstream), so rules place them again.
    /// Idempotent: a user without an override is returned unchanged and nothing is recorded.
    /// `NOT_FOUND` when the user is not a user of the tenant. `effectiveFrom` as for
    /// `setUserAllocation`.
    async fn clear_user_allocation(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        user_id: ID,
        effective_from: Option<Date>,
    ) -> ApiResult<UserObject> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        let user_id: UserId = parse_id("userId", &user_id)?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant_id)).await?;
        let l = loaders(ctx)?;
        store::allocation::clear_override(
            &l.store,
            &l.scope,
            tenant_id,
            actor(ctx),
            user_id,
            effective_from.map(|d| d.0),
        )
        .await?;
        user_after(l, user_id).await
    }

    /// Cancels every allocation change scheduled for `effectiveFrom` (rules, overrides, cost
    /// groups, prices: the day's entries of `Tenant.scheduledAllocationChanges`) and returns
    /// their audit entries. A change scheduled for a later day stays, and so does what one
    /// changed again. To edit a scheduled change instead, make another for the same day: it
    /// applies on top. Audited as `cancelScheduledAllocationChanges`. `CONFLICT` when the day
    /// is today or earlier (in force already); `NOT_FOUND` when the tenant is unknown or
    /// nothing is scheduled for the day.
    async fn cancel_scheduled_allocation_changes(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        effective_from: Date,
    ) -> ApiResult<Vec<AuditEntryObject>> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant_id)).await?;
        let l = loaders(ctx)?;
        let cancelled = store::allocation::cancel_scheduled_changes(
            &l.store,
            &l.scope,
            &actor(ctx),
            tenant_id,
            effective_from.0,
        )
        .await?;
        Ok(cancelled.into_iter().map(AuditEntryObject).collect())
    }

    /// Sets the monthly unit price of a SKU from `effectiveFrom` on; earlier and later prices
    /// are kept as history. `BAD_USER_INPUT` for a negative, too precise or too high price or an
    /// unknown currency; `NOT_FOUND` when the tenant has no subscription of the SKU; `CONFLICT`
    /// when the currency differs from the tenant's other prices (a cost report is in one
    /// currency per tenant).
    async fn set_license_price(
        &self,
        ctx: &Context<'_>,
        input: SetLicensePriceInput,
    ) -> ApiResult<LicensePriceObject> {
        let tenant_id: TenantId = parse_id("input.tenantId", &input.tenant_id)?;
        let sku_id: SkuId = parse_id("input.skuId", &input.sku_id)?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant_id)).await?;
        let price = Currency::parse(&input.currency)
            .and_then(|currency| {
                Price::new(
                    sku_id,
                    input.monthly_unit_price,
                    currency,
                    input
                        .effective_from
                        .map_or_else(store::history::today, |d| d.0),
                )
            })
            .map_err(|e| ApiError::from(e).within("input"))?;
        let l = loaders(ctx)?;
        let entry =
            store::allocation::set_price(&l.store, &l.scope, tenant_id, actor(ctx), price).await?;
        Ok(LicensePriceObject(Arc::new(entry)))
    }

    /// Sets how a tenant's SKU is billed (`billing`), overriding what each import detects, or
    /// with `billing: null` goes back to the detected value; audited. `NOT_FOUND` when the
    /// tenant has no subscription of the SKU.
    async fn set_sku_billing(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        sku_id: ID,
        billing: Option<SkuBilling>,
    ) -> ApiResult<SubscriptionObject> {
        let tenant_id: TenantId = parse_id("tenantId", &tenant_id)?;
        let sku_id: SkuId = parse_id("skuId", &sku_id)?;
        authorize(ctx, Action::Allocate, Target::Tenant(tenant_id)).await?;
        let l = loaders(ctx)?;
        let sku = commerce::set_sku_billing(
            &l.store,
            &l.scope,
            tenant_id,
            sku_id,
            billing.map(Into::into),
            actor(ctx),
        )
        .await?;
        Ok(SubscriptionObject(Arc::new(sku)))
    }
}
