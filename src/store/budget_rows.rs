//! Budgets as their rows hold them: what both the budget writers and the alert evaluation
//! read. A leaf: it imports no other store module but the entities.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::entities::cost_group_budget::Model;
use super::error::StoreError;
use crate::domain::CostGroupId;
use crate::domain::allocation::Currency;
use crate::domain::budget::{Budget, BudgetPeriod};
use crate::domain::chargeback::Month;

fn corrupt(m: &Model, detail: String) -> StoreError {
    StoreError::Corrupt {
        table: "cost_group_budgets",
        detail: format!(
            "budget of cost group {} for {}: {detail}",
            m.cost_group_id, m.from_month
        ),
    }
}

/// The budget a row holds.
pub(crate) fn budget_of_row(m: &Model) -> Result<Budget, StoreError> {
    let month = Month::parse(&m.from_month).map_err(|e| corrupt(m, e.to_string()))?;
    let thresholds: Vec<String> =
        serde_json::from_str(&m.thresholds).map_err(|e| corrupt(m, e.to_string()))?;
    let thresholds = thresholds
        .iter()
        .map(|t| Decimal::from_str(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(m, e.to_string()))?;
    Ok(Budget {
        cost_group: CostGroupId(m.cost_group_id),
        period: if m.single_month {
            BudgetPeriod::Month(month)
        } else {
            BudgetPeriod::From(month)
        },
        amount: Decimal::from_str(&m.amount).map_err(|e| corrupt(m, e.to_string()))?,
        currency: Currency::parse(&m.currency).map_err(|e| corrupt(m, e.to_string()))?,
        thresholds,
    })
}

/// The budgets the rows hold.
pub(crate) fn budgets_of_rows(rows: &[Model]) -> Result<Vec<Budget>, StoreError> {
    rows.iter().map(budget_of_row).collect()
}
