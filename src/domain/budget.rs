//! Budgets per cost group: an amount per month (for one month, or from a month on), compared
//! with the month's chargeback of the group's subtree, with a linear forecast to month end and
//! a status. A group without a budget of its own rolls up its children's. Pure: no I/O.

use std::collections::{BTreeSet, HashMap};

use rust_decimal::Decimal;
use thiserror::Error;

use super::allocation::Currency;
use super::chargeback::{Chargeback, Month};
use super::ids::CostGroupId;

/// Thresholds, in percent of the amount, when none are given: warn at 80 % and at 100 %.
pub const DEFAULT_THRESHOLDS: [Decimal; 2] = [
    Decimal::from_parts(80, 0, 0, false, 0),
    Decimal::ONE_HUNDRED,
];

/// Most thresholds one budget may have.
const MAX_THRESHOLDS: usize = 10;

/// Which months a budget is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetPeriod {
    /// That month only; it wins over a budget from an earlier month on.
    Month(Month),
    /// That month and every later one, until a budget from a later month on.
    From(Month),
}

impl BudgetPeriod {
    /// The first month it is for.
    pub fn month(&self) -> Month {
        match *self {
            BudgetPeriod::Month(m) | BudgetPeriod::From(m) => m,
        }
    }

    /// Whether it is for `month` only.
    pub fn single(&self) -> bool {
        matches!(self, BudgetPeriod::Month(_))
    }
}

/// A budget as set for a cost group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// The cost group (its subtree is measured).
    pub cost_group: CostGroupId,
    /// The months it is for.
    pub period: BudgetPeriod,
    /// The amount per month, at most the currency's minor units.
    pub amount: Decimal,
    /// Its currency.
    pub currency: Currency,
    /// Percentages of the amount that make the budget `AT_RISK` when the forecast passes one,
    /// ascending, each above 0 and at most 1000 with at most two decimals.
    pub thresholds: Vec<Decimal>,
}

/// A budget that cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BudgetError {
    /// The amount is not above 0 or has more decimals than the currency's minor units.
    #[error(
        "amount must be above 0 with at most {minor_units} decimals (the minor units of \
         {currency}), got {amount}"
    )]
    Amount {
        /// The amount given.
        amount: Decimal,
        /// The currency's code.
        currency: &'static str,
        /// Its minor units.
        minor_units: u32,
    },
    /// A threshold out of (0, 1000], with more than two decimals, or given twice.
    #[error(
        "thresholds must be percentages above 0 and at most 1000, with at most two decimals, \
         each once and at most {MAX_THRESHOLDS}, got {thresholds:?}"
    )]
    Thresholds {
        /// The thresholds given.
        thresholds: Vec<String>,
    },
}

impl Budget {
    /// A budget of `amount` in `currency` for `period`, warning at `thresholds` (80 % and
    /// 100 % when `None`), sorted.
    ///
    /// # Errors
    /// [`BudgetError`] naming the amount or thresholds that are not valid.
    pub fn new(
        cost_group: CostGroupId,
        period: BudgetPeriod,
        amount: Decimal,
        currency: Currency,
        thresholds: Option<Vec<Decimal>>,
    ) -> Result<Budget, BudgetError> {
        if amount <= Decimal::ZERO || amount.normalize().scale() > currency.minor_units() {
            return Err(BudgetError::Amount {
                amount,
                currency: currency.code(),
                minor_units: currency.minor_units(),
            });
        }
        let given = thresholds.unwrap_or_else(|| DEFAULT_THRESHOLDS.to_vec());
        let valid = |t: &Decimal| {
            *t > Decimal::ZERO && *t <= Decimal::from(1000) && t.normalize().scale() <= 2
        };
        let set: BTreeSet<Decimal> = given.iter().map(|t| t.normalize()).collect();
        if given.len() > MAX_THRESHOLDS || set.len() != given.len() || !given.iter().all(valid) {
            return Err(BudgetError::Thresholds {
                thresholds: given.iter().map(Decimal::to_string).collect(),
            });
        }
        Ok(Budget {
            cost_group,
            period,
            amount,
            currency,
            thresholds: set.into_iter().collect(),
        })
    }
}

/// The budget of `group` for `month` among `budgets`: a budget for that month only, else the
/// one from the latest month on or before it.
pub fn budget_for(budgets: &[Budget], group: CostGroupId, month: Month) -> Option<&Budget> {
    let of_group = budgets.iter().filter(|b| b.cost_group == group);
    of_group
        .clone()
        .find(|b| b.period == BudgetPeriod::Month(month))
        .or_else(|| {
            of_group
                .filter(|b| !b.period.single() && b.period.month() <= month)
                .max_by_key(|b| b.period.month())
        })
}

/// Where a group's amount for a month comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetSource {
    /// Set for the group itself.
    Set,
    /// The sum of its children's budgets (set or rolled up), none being set for the group.
    RolledUp,
}

/// How a month stands against its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetStatus {
    /// Neither the actual amount nor the forecast passes the budget or a threshold.
    Under,
    /// The forecast to month end passes a threshold.
    AtRisk,
    /// The actual amount already passes the budget.
    Over,
}

/// A group's budget for a month against its subtree's chargeback so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetAssessment {
    /// The group.
    pub cost_group: CostGroupId,
    /// The month.
    pub month: Month,
    /// Set for the group, or rolled up from its children.
    pub source: BudgetSource,
    /// The budget set (`None` when rolled up).
    pub set: Option<Budget>,
    /// The amount for the month.
    pub amount: Decimal,
    /// Its currency.
    pub currency: Currency,
    /// The thresholds in percent (a rolled-up budget takes every child's).
    pub thresholds: Vec<Decimal>,
    /// The subtree's chargeback for the month so far.
    pub actual: Decimal,
    /// `actual` carried on at its daily rate to month end (`actual` for a month billed whole).
    pub forecast: Decimal,
    /// Days of the month billed so far.
    pub billed_days: i64,
    /// The thresholds the forecast passes.
    pub forecast_over: Vec<Decimal>,
    /// How the month stands.
    pub status: BudgetStatus,
}

/// A budget that cannot be compared with its month.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AssessmentError {
    /// The budget's currency is not the currency of the month's prices.
    #[error(
        "the budget of cost group {cost_group} is in {budget}, the month's prices are in \
         {prices}: set the budget in {prices}"
    )]
    Currency {
        /// The group.
        cost_group: CostGroupId,
        /// The budget's currency.
        budget: &'static str,
        /// The prices' currency.
        prices: &'static str,
    },
}

/// A group's amount for a month: its own budget's, or the sum of its children's.
struct MonthAmount {
    source: BudgetSource,
    amount: Decimal,
    currency: Currency,
    thresholds: BTreeSet<Decimal>,
}

/// The amount, currency and thresholds of `group` for `month`: its own budget, else the sum of
/// its children's (each their own or rolled up); `None` when no group of its subtree has one.
fn amount_of(
    group: CostGroupId,
    month: Month,
    budgets: &[Budget],
    children: &HashMap<CostGroupId, Vec<CostGroupId>>,
    depth: usize,
) -> Result<Option<MonthAmount>, AssessmentError> {
    if let Some(b) = budget_for(budgets, group, month) {
        return Ok(Some(MonthAmount {
            source: BudgetSource::Set,
            amount: b.amount,
            currency: b.currency,
            thresholds: b.thresholds.iter().copied().collect(),
        }));
    }
    // A tree is at most a few levels deep; the bound only guards against a cycle in bad data.
    if depth > 64 {
        return Ok(None);
    }
    let mut total: Option<MonthAmount> = None;
    for &child in children.get(&group).map_or(&[][..], Vec::as_slice) {
        let Some(part) = amount_of(child, month, budgets, children, depth + 1)? else {
            continue;
        };
        match total.as_mut() {
            None => {
                total = Some(MonthAmount {
                    source: BudgetSource::RolledUp,
                    ..part
                });
            }
            Some(sum) => {
                if sum.currency != part.currency {
                    return Err(AssessmentError::Currency {
                        cost_group: child,
                        budget: part.currency.code(),
                        prices: sum.currency.code(),
                    });
                }
                sum.amount += part.amount;
                sum.thresholds.extend(part.thresholds);
            }
        }
    }
    Ok(total)
}

/// `group`'s budget for `chargeback`'s month against the chargeback of its subtree (by the tree
/// the month is billed by); `None` when
/// neither the group nor any group under it has a budget for the month.
///
/// The forecast carries the amount per billed day on to the month's last day; a month with no
/// billed day forecasts 0. The status is `OVER` once the actual amount passes the budget,
/// else `AT_RISK` when the forecast passes a threshold, else `UNDER`.
///
/// # Errors
/// [`AssessmentError::Currency`] when the budget and the month's prices are in different
/// currencies (or children's budgets are).
pub fn assess(
    group: CostGroupId,
    budgets: &[Budget],
    chargeback: &Chargeback,
) -> Result<Option<BudgetAssessment>, AssessmentError> {
    let month = chargeback.month;
    // The tree the month is billed by (in force on its last billed day).
    let mut children: HashMap<CostGroupId, Vec<CostGroupId>> = HashMap::new();
    for g in &chargeback.groups {
        if let Some(parent) = g.parent_id {
            children.entry(parent).or_default().push(g.group_id);
        }
    }
    let Some(MonthAmount {
        source,
        amount,
        currency,
        thresholds,
    }) = amount_of(group, month, budgets, &children, 0)?
    else {
        return Ok(None);
    };
    if let Some(prices) = chargeback.currency
        && prices != currency
    {
        return Err(AssessmentError::Currency {
            cost_group: group,
            budget: currency.code(),
            prices: prices.code(),
        });
    }
    let actual = chargeback
        .groups
        .iter()
        .find(|g| g.group_id == group)
        .map_or(Decimal::ZERO, |g| {
            currency.from_minor(g.subtree.amount_minor())
        });
    let (billed_days, forecast) = match chargeback.days {
        Some((first, last)) => {
            let billed = (last - first).num_days() + 1;
            let remaining = (month.last_day() - last).num_days().max(0);
            let per_day = actual / Decimal::from(billed);
            let forecast = actual + per_day * Decimal::from(remaining);
            (billed, forecast.round_dp(currency.minor_units()))
        }
        None => (0, Decimal::ZERO),
    };
    let thresholds: Vec<Decimal> = thresholds.into_iter().collect();
    let forecast_over: Vec<Decimal> = thresholds
        .iter()
        .copied()
        .filter(|t| forecast > amount * t / Decimal::ONE_HUNDRED)
        .collect();
    let status = if actual > amount {
        BudgetStatus::Over
    } else if !forecast_over.is_empty() {
        BudgetStatus::AtRisk
    } else {
        BudgetStatus::Under
    };
    Ok(Some(BudgetAssessment {
        cost_group: group,
        month,
        source,
        set: budget_for(budgets, group, month).cloned(),
        amount,
        currency,
        thresholds,
        actual,
        forecast,
        billed_days,
        forecast_over,
        status,
    }))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use uuid::Uuid;

    use super::*;
    use crate::domain::SkuId;
    use crate::domain::chargeback::{ChargebackLine, ChargebackSku, GroupCharge};

    fn group(n: u128) -> CostGroupId {
        CostGroupId(Uuid::from_u128(n))
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn month() -> Month {
        Month::parse("2026-11").unwrap()
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn line(cents: i64) -> ChargebackLine {
        ChargebackLine {
            skus: vec![ChargebackSku {
                sku_id: SkuId(Uuid::from_u128(0xE3)),
                license_days: Decimal::from(10),
                amount: Decimal::new(cents, 2),
                amount_minor: cents,
                unpriced_license_days: Decimal::ZERO,
            }],
        }
    }

    /// Company (1) over Sales (2) and Ops (3); billed 2026-11-01 to `last`.
    fn chargeback(last: &str, sales_cents: i64, ops_cents: i64) -> Chargeback {
        let g = |id: u128, parent: Option<u128>, cents: i64| GroupCharge {
            group_id: group(id),
            parent_id: parent.map(group),
            own: line(cents),
            subtree: ChargebackLine::default(),
        };
        let first = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        Chargeback::from_lines(
            month(),
            Some(eur()),
            Some((first, last.parse().unwrap())),
            vec![
                g(1, None, 0),
                g(2, Some(1), sales_cents),
                g(3, Some(1), ops_cents),
            ],
            ChargebackLine::default(),
            ChargebackLine::default(),
        )
    }

    fn budget(g: u128, period: BudgetPeriod, amount: &str) -> Budget {
        Budget::new(group(g), period, d(amount), eur(), None).unwrap()
    }

    #[test]
    fn a_month_budget_wins_over_one_from_an_earlier_month_on() {
        let oct = Month::parse("2026-10").unwrap();
        let dec = Month::parse("2026-12").unwrap();
        let budgets = [
            budget(2, BudgetPeriod::From(oct), "100"),
            budget(2, BudgetPeriod::From(dec), "300"),
            budget(2, BudgetPeriod::Month(month()), "200"),
        ];
        assert_eq!(
            budget_for(&budgets, group(2), month()).unwrap().amount,
            d("200")
        );
        let sept = Month::parse("2026-09").unwrap();
        assert!(budget_for(&budgets, group(2), sept).is_none());
        let jan = Month::parse("2027-01").unwrap();
        assert_eq!(
            budget_for(&budgets, group(2), jan).unwrap().amount,
            d("300")
        );
        assert_eq!(
            budget_for(&budgets, group(2), oct).unwrap().amount,
            d("100")
        );
    }

    #[test]
    fn the_forecast_carries_the_daily_rate_to_month_end_and_sets_the_status() {
        // 10 of 30 days billed: 30.00 so far forecasts 90.00.
        let c = chargeback("2026-11-10", 3000, 0);
        let at = |amount: &str| {
            let budgets = [budget(2, BudgetPeriod::From(month()), amount)];
            assess(group(2), &budgets, &c).unwrap().unwrap()
        };
        let under = at("200");
        assert_eq!(
            (under.actual, under.forecast, under.billed_days),
            (d("30.00"), d("90.00"), 10)
        );
        assert_eq!(under.status, BudgetStatus::Under);
        // 90 passes 80 % of 100 (80), not 100 % of it.
        let risk = at("100");
        assert_eq!(risk.status, BudgetStatus::AtRisk);
        assert_eq!(risk.forecast_over, vec![d("80")]);
        // 90 passes 80 % of 85 and 100 % of it, while 30 so far is under it.
        let both = at("85");
        assert_eq!(both.forecast_over, vec![d("80"), d("100")]);
        assert_eq!(both.status, BudgetStatus::AtRisk);
        assert!(at("113").forecast_over.is_empty(), "80 % of 113 is 90.40");
        assert_eq!(at("29.99").status, BudgetStatus::Over);
        // A month billed to its last day forecasts what it cost.
        let whole = chargeback("2026-11-30", 3000, 0);
        let budgets = [budget(2, BudgetPeriod::Month(month()), "40")];
        let done = assess(group(2), &budgets, &whole).unwrap().unwrap();
        assert_eq!(
            (done.forecast, done.status),
            (d("30.00"), BudgetStatus::Under)
        );
    }

    #[test]
    fn a_parent_is_measured_by_its_subtree_and_without_a_budget_rolls_up_its_childrens() {
        let c = chargeback("2026-11-30", 3000, 1500);
        let mut budgets = vec![
            budget(2, BudgetPeriod::From(month()), "40"),
            Budget::new(
                group(3),
                BudgetPeriod::Month(month()),
                d("10"),
                eur(),
                Some(vec![d("50")]),
            )
            .unwrap(),
        ];
        let rolled = assess(group(1), &budgets, &c).unwrap().unwrap();
        assert_eq!(rolled.source, BudgetSource::RolledUp);
        assert_eq!((rolled.amount, rolled.actual), (d("50"), d("45.00")));
        assert_eq!(rolled.thresholds, vec![d("50"), d("80"), d("100")]);
        assert_eq!(rolled.status, BudgetStatus::AtRisk);
        assert!(rolled.set.is_none());
        budgets.push(budget(1, BudgetPeriod::Month(month()), "45"));
        let own = assess(group(1), &budgets, &c).unwrap().unwrap();
        assert_eq!((own.source, own.amount), (BudgetSource::Set, d("45")));
        assert_eq!(
            own.status,
            BudgetStatus::AtRisk,
            "45 of 45 passes 80 %, not over"
        );
        // A group with nothing under it and no budget has none.
        assert!(assess(group(3), &[], &c).unwrap().is_none());
    }

    #[test]
    fn bad_amounts_thresholds_and_currencies_are_refused_by_name() {
        let p = BudgetPeriod::From(month());
        let refused = Budget::new(group(1), p, d("10.005"), eur(), None).unwrap_err();
        assert!(
            refused.to_string().contains("at most 2 decimals"),
            "{refused}"
        );
        assert!(Budget::new(group(1), p, d("0"), eur(), None).is_err());
        let jpy = Currency::parse("JPY").unwrap();
        assert!(Budget::new(group(1), p, d("10.5"), jpy, None).is_err());
        for bad in [
            vec![d("0")],
            vec![d("80"), d("80.00")],
            vec![d("1000.01")],
            vec![d("80.001")],
        ] {
            let e = Budget::new(group(1), p, d("10"), eur(), Some(bad.clone())).unwrap_err();
            assert!(e.to_string().contains("thresholds"), "{bad:?}: {e}");
        }
        let chf = Budget::new(group(2), p, d("10"), Currency::parse("CHF").unwrap(), None).unwrap();
        let e = assess(group(2), &[chf], &chargeback("2026-11-10", 100, 0)).unwrap_err();
        assert!(e.to_string().contains("set the budget in EUR"), "{e}");
    }
}
