//! Mutations of cost group budgets: `setCostGroupBudget` and `removeCostGroupBudget`.

use async_graphql::{Context, ID, InputObject, Object};
use rust_decimal::Decimal;

use super::{Target, actor, authorize};
use crate::domain::allocation::Currency;
use crate::domain::budget::{Budget, BudgetPeriod};
use crate::domain::chargeback::Month;
use crate::domain::{Action, CostGroupId};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::ids::parse_id;
use crate::graphql::types::{CostGroupObject, loaders};
use crate::store;

/// A budget for a cost group: for one `month`, or from `fromMonth` on (give one of the two).
#[derive(InputObject)]
pub(crate) struct SetCostGroupBudgetInput {
    /// The cost group (GUID); its subtree's chargeback is measured against the budget.
    pub cost_group_id: ID,
    /// That month only (`YYYY-MM`); it wins over a budget from an earlier month on.
    pub month: Option<String>,
    /// That month (`YYYY-MM`) and every later one, until a budget from a later month on.
    pub from_month: Option<String>,
    /// The amount per month: above 0, at most the currency's minor units.
    pub amount: Decimal,
    /// ISO 4217 code; the month's prices must be in it for the budget to be compared.
    pub currency: String,
    /// Percentages of the amount (above 0, at most 1000, two decimals) at which the forecast
    /// makes the budget `AT_RISK`; 80 and 100 when not given.
    pub thresholds: Option<Vec<Decimal>>,
}

/// The period of `month` or `fromMonth`, exactly one of them given.
fn period(path: &str, month: Option<&str>, from_month: Option<&str>) -> ApiResult<BudgetPeriod> {
    let parse = |name: &str, text: &str| {
        Month::parse(text).map_err(|e| ApiError::BadUserInput(format!("{path}{name}: {e}")))
    };
    match (month, from_month) {
        (Some(m), None) => Ok(BudgetPeriod::Month(parse("month", m)?)),
        (None, Some(m)) => Ok(BudgetPeriod::From(parse("fromMonth", m)?)),
        _ => Err(ApiError::BadUserInput(format!(
            "{path}month or {path}fromMonth: give exactly one of the two"
        ))),
    }
}

/// Mutations of cost group budgets.
#[derive(Default)]
pub struct BudgetMutation;

#[Object]
impl BudgetMutation {
    /// Sets a cost group's budget for one month or from a month on, replacing one set for the
    /// same period; answers the group (ask `budget(month)` of it). Audited; needs `allocator`
    /// or `partner_admin`. `BAD_USER_INPUT` naming the field for a bad month, amount,
    /// currency or threshold; `NOT_FOUND` for an unknown cost group.
    async fn set_cost_group_budget(
        &self,
        ctx: &Context<'_>,
        input: SetCostGroupBudgetInput,
    ) -> ApiResult<CostGroupObject> {
        let group: CostGroupId = parse_id("input.costGroupId", &input.cost_group_id)?;
        let period = period(
            "input.",
            input.month.as_deref(),
            input.from_month.as_deref(),
        )?;
        let currency = Currency::parse(&input.currency)
            .map_err(|e| ApiError::BadUserInput(format!("input.currency: {e}")))?;
        let budget = Budget::new(group, period, input.amount, currency, input.thresholds)
            .map_err(|e| ApiError::BadUserInput(format!("input: {e}")))?;
        authorize(ctx, Action::Allocate, Target::CostGroup(group)).await?;
        let l = loaders(ctx)?;
        store::allocation::set_budget(&l.store, &l.scope, &actor(ctx), &budget).await?;
        found(ctx, group).await
    }

    /// Removes the budget set for a cost group for `month` or from `fromMonth` (exactly one);
    /// answers the group. Audited; needs `allocator` or `partner_admin`. `NOT_FOUND` for an
    /// unknown cost group or when no budget was set for that period.
    async fn remove_cost_group_budget(
        &self,
        ctx: &Context<'_>,
        cost_group_id: ID,
        month: Option<String>,
        from_month: Option<String>,
    ) -> ApiResult<CostGroupObject> {
        let group: CostGroupId = parse_id("costGroupId", &cost_group_id)?;
        let period = period("", month.as_deref(), from_month.as_deref())?;
        authorize(ctx, Action::Allocate, Target::CostGroup(group)).await?;
        let l = loaders(ctx)?;
        store::allocation::remove_budget(&l.store, &l.scope, &actor(ctx), group, period).await?;
        found(ctx, group).await
    }
}

/// The cost group `id` as stored now.
async fn found(ctx: &Context<'_>, id: CostGroupId) -> ApiResult<CostGroupObject> {
    loaders(ctx)?
        .cost_group
        .load_one(id)
        .await?
        .map(CostGroupObject)
        .ok_or_else(|| ApiError::NotFound(format!("cost group {id}")))
}
