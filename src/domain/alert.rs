//! Alerts: which signals a budget evaluation raises (its forecast over each threshold, its
//! actual amount over the budget), when a raised signal is a new crossing, and when a tenant's
//! waste total has grown enough to tell someone. Pure: the store keeps which signals were
//! raised, so an alert is raised once per crossing, and again only after the signal fell back.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use super::budget::{BudgetAssessment, BudgetStatus};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// A budget's forecast to month end passed one of its thresholds.
    ForecastOverThreshold,
    /// A budget's actual amount passed the budget.
    BudgetExceeded,
    /// A tenant's monthly waste total grew by more than the set amount.
    WasteGrowth,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: [AlertKind; 3] = [
        AlertKind::ForecastOverThreshold,
        AlertKind::BudgetExceeded,
        AlertKind::WasteGrowth,
    ];

    /// The stored and GraphQL name.
    pub fn code(self) -> &'static str {
        match self {
            AlertKind::ForecastOverThreshold => "FORECAST_OVER_THRESHOLD",
            AlertKind::BudgetExceeded => "BUDGET_EXCEEDED",
            AlertKind::WasteGrowth => "WASTE_GROWTH",
        }
    }

    /// The kind named `code`.
    pub fn parse(code: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The event type of its webhook messages (`type` of the Standard Webhooks payload).
    pub fn event_type(self) -> &'static str {
        match self {
            AlertKind::ForecastOverThreshold => "budget.forecast_over_threshold",
            AlertKind::BudgetExceeded => "budget.exceeded",
            AlertKind::WasteGrowth => "waste.grew",
        }
    }
}

/// One signal of a budget evaluation and whether it is raised now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSignal {
    /// Names the signal among the tenant's, stable across evaluations:
    /// `budget:<group>:<month>:forecast:<threshold>` or `budget:<group>:<month>:over`.
    pub key: String,
    /// What raising it means.
    pub kind: AlertKind,
    /// The threshold passed, for [`AlertKind::ForecastOverThreshold`].
    pub threshold: Option<Decimal>,
    /// Whether the evaluation raises it.
    pub raised: bool,
}

/// Prefix of every budget signal's key.
pub const BUDGET_SIGNAL_PREFIX: &str = "budget:";

/// Key of a tenant's waste total signal.
pub const WASTE_SIGNAL: &str = "waste";

/// The signals of `assessment`: one per threshold (raised while the forecast passes it) and
/// one for the budget itself (raised while the actual amount passes it).
pub fn budget_signals(assessment: &BudgetAssessment) -> Vec<BudgetSignal> {
    let base = format!(
        "{BUDGET_SIGNAL_PREFIX}{}:{}",
        assessment.cost_group, assessment.month
    );
    let mut out: Vec<BudgetSignal> = assessment
        .thresholds
        .iter()
        .map(|&t| BudgetSignal {
            key: format!("{base}:forecast:{}", t.normalize()),
            kind: AlertKind::ForecastOverThreshold,
            threshold: Some(t),
            raised: assessment.forecast_over.contains(&t),
        })
        .collect();
    out.push(BudgetSignal {
        key: format!("{base}:over"),
        kind: AlertKind::BudgetExceeded,
        threshold: None,
        raised: assessment.status == BudgetStatus::Over,
    });
    out
}

/// What changes between the signals raised before (`before`, by key) and `now`: the signals
/// newly raised (an alert each), and the keys to keep as raised from now on.
pub fn crossings<'a>(
    before: &BTreeSet<String>,
    now: &'a [BudgetSignal],
) -> (Vec<&'a BudgetSignal>, BTreeSet<String>) {
    let raised: BTreeSet<String> = now
        .iter()
        .filter(|s| s.raised)
        .map(|s| s.key.clone())
        .collect();
    let new = now
        .iter()
        .filter(|s| s.raised && !before.contains(&s.key))
        .collect();
    (new, raised)
}

/// What a waste total does to its signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WasteStep {
    /// The growth to alert about, when the total grew by more than the step since the
    /// baseline.
    pub alert: Option<Decimal>,
    /// The baseline from now on: the total at the last alert, or the lowest since.
    pub baseline: Decimal,
}

/// Compares a tenant's waste `total` with the `baseline` kept (`None` the first time): growth
/// of more than `step` since the baseline is an alert and the new baseline; a fall lowers the
/// baseline, so growth is measured from the lowest total since the last alert; the first total
/// seen is the baseline without an alert.
pub fn waste_step(baseline: Option<Decimal>, total: Decimal, step: Decimal) -> WasteStep {
    match baseline {
        None => WasteStep {
            alert: None,
            baseline: total,
        },
        Some(base) if total - base > step => WasteStep {
            alert: Some(total - base),
            baseline: total,
        },
        Some(base) => WasteStep {
            alert: None,
            baseline: base.min(total),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::allocation::Currency;
    use crate::domain::budget::BudgetSource;
    use crate::domain::chargeback::Month;
    use crate::domain::ids::CostGroupId;
    use rust_decimal_macros::dec;

    fn assessment(actual: Decimal, forecast: Decimal, amount: Decimal) -> BudgetAssessment {
        let thresholds = vec![dec!(80), dec!(100)];
        let forecast_over = thresholds
            .iter()
            .copied()
            .filter(|t| forecast > amount * t / dec!(100))
            .collect();
        BudgetAssessment {
            cost_group: CostGroupId(uuid::Uuid::nil()),
            month: Month::parse("2026-11").unwrap(),
            source: BudgetSource::Set,
            set: None,
            amount,
            currency: Currency::parse("EUR").unwrap(),
            thresholds,
            actual,
            forecast,
            billed_days: 10,
            forecast_over,
            status: if actual > amount {
                BudgetStatus::Over
            } else {
                BudgetStatus::Under
            },
        }
    }

    #[test]
    fn a_signal_alerts_once_per_crossing_and_again_only_after_it_fell_back() {
        let mut raised = BTreeSet::new();
        let mut alerts = Vec::new();
        // Forecast 90 of 100: 80 % passed; then 110: 100 % passed too; stays; falls; passes again.
        for forecast in [dec!(50), dec!(90), dec!(110), dec!(120), dec!(50), dec!(85)] {
            let signals = budget_signals(&assessment(dec!(10), forecast, dec!(100)));
            let (new, now) = crossings(&raised, &signals);
            alerts.push(
                new.iter()
                    .map(|s| s.threshold.unwrap().to_string())
                    .collect::<Vec<_>>(),
            );
            raised = now;
        }
        let expected: Vec<Vec<String>> = vec![
            vec![],
            vec!["80".into()],
            vec!["100".into()],
            vec![],
            vec![],
            vec!["80".into()],
        ];
        assert_eq!(alerts, expected);
    }

    #[test]
    fn the_budget_itself_is_a_signal_raised_while_the_actual_amount_passes_it() {
        let signals = budget_signals(&assessment(dec!(101), dec!(150), dec!(100)));
        let over = signals.last().unwrap();
        assert_eq!(over.kind, AlertKind::BudgetExceeded);
        assert!(over.raised);
        assert!(over.key.ends_with(":2026-11:over"), "{}", over.key);
        assert_eq!(signals.len(), 3);
        // 80 and 80.00 are one threshold.
        assert!(
            signals[0].key.ends_with(":forecast:80"),
            "{}",
            signals[0].key
        );
    }

    #[test]
    fn waste_alerts_on_growth_beyond_the_step_measured_from_the_lowest_total_since() {
        let step = dec!(100);
        assert_eq!(waste_step(None, dec!(500), step).alert, None);
        assert_eq!(waste_step(Some(dec!(500)), dec!(600), step).alert, None);
        let grew = waste_step(Some(dec!(500)), dec!(600.01), step);
        assert_eq!(grew.alert, Some(dec!(100.01)));
        assert_eq!(grew.baseline, dec!(600.01));
        let fell = waste_step(Some(dec!(500)), dec!(300), step);
        assert_eq!((fell.alert, fell.baseline), (None, dec!(300)));
        assert_eq!(
            waste_step(Some(dec!(300)), dec!(450), step).alert,
            Some(dec!(150))
        );
    }

    #[test]
    fn kinds_round_trip_through_their_codes() {
        for kind in AlertKind::ALL {
            assert_eq!(AlertKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(AlertKind::parse("NOPE"), None);
    }
}
