//! Cost group budgets: `CostGroup.budget(month)` and the `CostGroupBudget` it answers.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use rust_decimal::Decimal;

use super::loaders;
use crate::domain::CostGroup;
use crate::domain::budget::{self, BudgetAssessment, BudgetPeriod};
use crate::domain::chargeback::Month;
use crate::graphql::error::{ApiError, ApiResult};

/// How a month stands against its budget.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "BudgetStatus")]
pub enum BudgetStatus {
    /// Neither the amount so far nor the forecast passes the budget or one of its thresholds.
    Under,
    /// The forecast to month end passes one of the thresholds (the amount so far does not
    /// pass the budget yet).
    AtRisk,
    /// The amount so far passes the budget.
    Over,
}

/// Where a budget's amount comes from.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "BudgetSource")]
pub enum BudgetSource {
    /// Set for the cost group itself.
    Set,
    /// The sum of its children's budgets, none being set for the group itself.
    RolledUp,
}

/// The months a budget was set for.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "BudgetPeriod")]
pub struct BudgetPeriodObject {
    /// The month, `YYYY-MM`.
    month: String,
    /// For that month only (`true`), or from it on until a budget from a later month.
    single_month: bool,
}

impl From<BudgetPeriod> for BudgetPeriodObject {
    fn from(p: BudgetPeriod) -> Self {
        BudgetPeriodObject {
            month: p.month().to_string(),
            single_month: p.single(),
        }
    }
}

/// `group`'s budget for `month` (`YYYY-MM`), or `None` when neither it nor a group under it
/// has one. `BAD_USER_INPUT` for a month not written `YYYY-MM`; `CONFLICT` when the budget and
/// the month's prices are in different currencies.
pub(crate) async fn budget_of(
    ctx: &Context<'_>,
    group: &CostGroup,
    month: &str,
) -> ApiResult<Option<BudgetObject>> {
    let month = Month::parse(month).map_err(|e| ApiError::BadUserInput(e.to_string()))?;
    let l = loaders(ctx)?;
    let budgets = l
        .budgets
        .load_one(group.tenant_id)
        .await?
        .unwrap_or_default();
    // No budget of the tenant is for this month: no group has one, set or rolled up, and the
    // month's chargeback need not be read.
    if !budgets
        .iter()
        .any(|b| budget::budget_for(&budgets, b.cost_group, month).is_some())
    {
        return Ok(None);
    }
    let Some(charge) = l.chargebacks.load_one((group.tenant_id, month)).await? else {
        return Ok(None);
    };
    budget::assess(group.id, &budgets, &charge.chargeback)
        .map(|found| found.map(BudgetObject))
        .map_err(|e| ApiError::Conflict(e.to_string()))
}

/// A cost group's budget for a month against the month's chargeback of the group and its
/// descendants so far.
pub struct BudgetObject(BudgetAssessment);

impl BudgetObject {
    fn money(&self, amount: Decimal) -> Decimal {
        self.0.currency.show(amount)
    }

    fn percent_of_amount(&self, value: Decimal) -> Decimal {
        (value * Decimal::ONE_HUNDRED / self.0.amount).round_dp(2)
    }
}

#[Object(name = "CostGroupBudget")]
impl BudgetObject {
    /// The cost group.
    async fn cost_group_id(&self) -> ID {
        ID(self.0.cost_group.to_string())
    }

    /// The month, `YYYY-MM`.
    async fn month(&self) -> String {
        self.0.month.to_string()
    }

    /// Set for the group, or rolled up from its children.
    async fn source(&self) -> BudgetSource {
        match self.0.source {
            budget::BudgetSource::Set => BudgetSource::Set,
            budget::BudgetSource::RolledUp => BudgetSource::RolledUp,
        }
    }

    /// The months the group's own budget was set for; null when rolled up.
    async fn period(&self) -> Option<BudgetPeriodObject> {
        self.0.set.as_ref().map(|b| b.period.into())
    }

    /// The budget for the month.
    async fn amount(&self) -> Decimal {
        self.money(self.0.amount)
    }

    /// ISO 4217 code of the budget.
    async fn currency(&self) -> &'static str {
        self.0.currency.code()
    }

    /// Percentages of the amount at which the forecast makes the budget `AT_RISK`, ascending
    /// (a rolled-up budget has every child's).
    async fn thresholds(&self) -> &[Decimal] {
        &self.0.thresholds
    }

    /// The chargeback of the group and its descendants in the month so far.
    async fn actual(&self) -> Decimal {
        self.money(self.0.actual)
    }

    /// `actual` carried on at its amount per billed day to the month's last day (`actual` for a
    /// month billed whole).
    async fn forecast(&self) -> Decimal {
        self.money(self.0.forecast)
    }

    /// The budget less `actual` (below 0 once over).
    async fn remaining(&self) -> Decimal {
        self.money(self.0.amount - self.0.actual)
    }

    /// `actual` in percent of the budget, two decimals.
    async fn actual_percent(&self) -> Decimal {
        self.percent_of_amount(self.0.actual)
    }

    /// `forecast` in percent of the budget, two decimals.
    async fn forecast_percent(&self) -> Decimal {
        self.percent_of_amount(self.0.forecast)
    }

    /// The thresholds the forecast passes.
    async fn forecast_over_thresholds(&self) -> &[Decimal] {
        &self.0.forecast_over
    }

    /// Days of the month billed so far (0 before the tenant's first import in it).
    async fn billed_days(&self) -> i64 {
        self.0.billed_days
    }

    /// Days in the month.
    async fn days_in_month(&self) -> i64 {
        self.0.month.days()
    }

    /// How the month stands: `OVER` once `actual` passes the budget, else `AT_RISK` when the
    /// forecast passes a threshold, else `UNDER`.
    async fn status(&self) -> BudgetStatus {
        match self.0.status {
            budget::BudgetStatus::Under => BudgetStatus::Under,
            budget::BudgetStatus::AtRisk => BudgetStatus::AtRisk,
            budget::BudgetStatus::Over => BudgetStatus::Over,
        }
    }
}
