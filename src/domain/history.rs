//! History as intervals of days `[from, to)`: what changed between the state in force and the
//! state an import (or a staff change) observed on a date, and the daily or monthly series a
//! stored list of intervals gives.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use super::ids::{ServicePlanId, SkuId, TenantId, UserId};

/// What to write so that the intervals in force become `current` from `on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalChanges<K, V> {
    /// Intervals in force that end on `on` (their `to` is set to `on`).
    pub close: Vec<K>,
    /// Intervals in force that began on `on` itself and are replaced or gone: removed, since
    /// the last observation of a day stands for the whole day.
    pub remove: Vec<K>,
    /// New intervals from `on`.
    pub open: Vec<(K, V)>,
}

impl<K, V> IntervalChanges<K, V> {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.close.is_empty() && self.remove.is_empty() && self.open.is_empty()
    }
}

/// Compares the intervals in force (`open`: key → start and value) with `current`, observed on
/// `on`: unchanged keys keep their interval, changed ones end and start again, keys gone end,
/// new keys start. An interval in force that starts after `on` (a later observation was already
/// recorded) is left alone, and so is its key: dates only move forward.
pub fn interval_changes<K: Ord + Clone, V: Eq + Clone>(
    open: &BTreeMap<K, (NaiveDate, V)>,
    current: &BTreeMap<K, V>,
    on: NaiveDate,
) -> IntervalChanges<K, V> {
    let mut changes = IntervalChanges {
        close: Vec::new(),
        remove: Vec::new(),
        open: Vec::new(),
    };
    for (key, (from, value)) in open {
        if *from > on || current.get(key) == Some(value) {
            continue;
        }
        if *from == on {
            changes.remove.push(key.clone());
        } else {
            changes.close.push(key.clone());
        }
    }
    for (key, value) in current {
        match open.get(key) {
            Some((from, _)) if *from > on => {}
            Some((_, stored)) if stored == value => {}
            _ => changes.open.push((key.clone(), value.clone())),
        }
    }
    changes
}

/// One license a user held over an interval of days: of one SKU, with the same disabled plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseHolding {
    /// The user.
    pub user_id: UserId,
    /// The user's tenant.
    pub tenant_id: TenantId,
    /// The SKU.
    pub sku_id: SkuId,
    /// Service plans switched off during the interval.
    pub disabled_plans: Vec<ServicePlanId>,
    /// First day; `None` when it began before history did.
    pub from: Option<NaiveDate>,
    /// Day after the last; `None` while held.
    pub to: Option<NaiveDate>,
}

/// SKU counts as one interval of history holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SkuCounts {
    /// Prepaid units enabled.
    pub enabled: i64,
    /// Prepaid units in warning.
    pub warning: i64,
    /// Prepaid units suspended.
    pub suspended: i64,
    /// Prepaid units locked out.
    pub locked_out: i64,
    /// Assigned (consumed) units.
    pub consumed: i64,
}

impl SkuCounts {
    /// Purchased: enabled plus warning.
    pub fn purchased(&self) -> i64 {
        self.enabled + self.warning
    }

    /// Unassigned: purchased minus assigned (negative when over-assigned).
    pub fn unassigned(&self) -> i64 {
        self.purchased() - self.consumed
    }
}

/// One stored interval of a SKU's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuInterval {
    /// First day.
    pub from: NaiveDate,
    /// Day after the last; `None` while in force.
    pub to: Option<NaiveDate>,
    /// The counts.
    pub counts: SkuCounts,
}

/// Points of a consumption series: by day, or by month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One point per day.
    Day,
    /// One point per calendar month: its last day's counts, and the least and most assigned.
    Month,
}

/// One point of a consumption series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumptionPoint {
    /// The day the counts are of (for a month, its last day in the range).
    pub date: NaiveDate,
    /// The counts that day.
    pub counts: SkuCounts,
    /// The least assigned on any day of the point (the day's own for `Day`).
    pub min_assigned: i64,
    /// The most assigned on any day of the point.
    pub max_assigned: i64,
}

/// The series of one SKU's `intervals` (sorted or not, never overlapping) over the days
/// `from..=to`: a day without an interval (before the first import, or after the SKU was gone)
/// has no point, so a month point covers only the days that have one.
pub fn consumption_series(
    intervals: &[SkuInterval],
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> Vec<ConsumptionPoint> {
    let mut sorted: Vec<&SkuInterval> = intervals.iter().collect();
    sorted.sort_by_key(|i| i.from);
    let mut days: Vec<(NaiveDate, SkuCounts)> = Vec::new();
    for interval in sorted {
        let start = interval.from.max(from);
        let end = interval
            .to
            .map_or(to, |t| t.pred_opt().unwrap_or(t))
            .min(to);
        let mut day = start;
        while day <= end {
            days.push((day, interval.counts));
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
    }
    match granularity {
        Granularity::Day => days
            .into_iter()
            .map(|(date, counts)| ConsumptionPoint {
                date,
                counts,
                min_assigned: counts.consumed,
                max_assigned: counts.consumed,
            })
            .collect(),
        Granularity::Month => {
            let mut months: BTreeMap<(i32, u32), ConsumptionPoint> = BTreeMap::new();
            for (date, counts) in days {
                months
                    .entry((date.year(), date.month()))
                    .and_modify(|p| {
                        p.date = date;
                        p.counts = counts;
                        p.min_assigned = p.min_assigned.min(counts.consumed);
                        p.max_assigned = p.max_assigned.max(counts.consumed);
                    })
                    .or_insert(ConsumptionPoint {
                        date,
                        counts,
                        min_assigned: counts.consumed,
                        max_assigned: counts.consumed,
                    });
            }
            months.into_values().collect()
        }
    }
}

/// The days `from..=to` span, counting both ends (0 when `to` is before `from`).
pub fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days() + 1
}

/// The calendar months `from..=to` touch.
pub fn months_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut months = 0;
    let mut month = from.with_day(1).unwrap_or(from);
    while month <= to {
        months += 1;
        month = match month.checked_add_months(Months::new(1)) {
            Some(next) => next,
            None => break,
        };
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn counts(consumed: i64) -> SkuCounts {
        SkuCounts {
            enabled: 10,
            consumed,
            ..SkuCounts::default()
        }
    }

    #[test]
    fn unchanged_values_keep_their_interval_and_changes_end_and_start_one() {
        let open = BTreeMap::from([
            ("same", (d("2026-11-01"), 1)),
            ("changed", (d("2026-11-01"), 2)),
            ("gone", (d("2026-11-01"), 3)),
            ("today", (d("2026-11-10"), 4)),
        ]);
        let current = BTreeMap::from([("same", 1), ("changed", 5), ("new", 6), ("today", 7)]);
        let changes = interval_changes(&open, &current, d("2026-11-10"));
        assert_eq!(changes.close, ["changed", "gone"]);
        assert_eq!(changes.remove, ["today"]);
        assert_eq!(changes.open, [("changed", 5), ("new", 6), ("today", 7)]);
        assert!(
            interval_changes(
                &open,
                &open.iter().map(|(k, (_, v))| (*k, *v)).collect(),
                d("2026-11-12")
            )
            .is_empty()
        );
    }

    #[test]
    fn an_interval_that_starts_later_than_the_observation_is_left_alone() {
        let open = BTreeMap::from([("later", (d("2026-11-20"), 1))]);
        let current = BTreeMap::from([("later", 2)]);
        assert!(interval_changes(&open, &current, d("2026-11-10")).is_empty());
    }

    #[test]
    fn days_without_an_interval_have_no_point_and_the_last_one_lasts_to_the_end() {
        let intervals = [
            SkuInterval {
                from: d("2026-11-03"),
                to: Some(d("2026-11-05")),
                counts: counts(4),
            },
            SkuInterval {
                from: d("2026-11-05"),
                to: None,
                counts: counts(6),
            },
        ];
        let days = consumption_series(
            &intervals,
            d("2026-11-01"),
            d("2026-11-07"),
            Granularity::Day,
        );
        let consumed: Vec<(u32, i64)> = days
            .iter()
            .map(|p| (p.date.day(), p.counts.consumed))
            .collect();
        assert_eq!(consumed, [(3, 4), (4, 4), (5, 6), (6, 6), (7, 6)]);
        assert_eq!(days[0].counts.unassigned(), 6);
    }

    #[test]
    fn a_month_point_is_its_last_day_with_the_least_and_most_assigned() {
        let intervals = [
            SkuInterval {
                from: d("2026-10-20"),
                to: Some(d("2026-11-10")),
                counts: counts(4),
            },
            SkuInterval {
                from: d("2026-11-10"),
                to: Some(d("2026-11-20")),
                counts: counts(9),
            },
            SkuInterval {
                from: d("2026-11-20"),
                to: None,
                counts: counts(7),
            },
        ];
        let months = consumption_series(
            &intervals,
            d("2026-10-01"),
            d("2026-11-30"),
            Granularity::Month,
        );
        assert_eq!(months.len(), 2);
        assert_eq!(
            (months[0].date, months[0].counts.consumed),
            (d("2026-10-31"), 4)
        );
        assert_eq!((months[0].min_assigned, months[0].max_assigned), (4, 4));
        assert_eq!(
            (months[1].date, months[1].counts.consumed),
            (d("2026-11-30"), 7)
        );
        assert_eq!((months[1].min_assigned, months[1].max_assigned), (4, 9));
    }

    #[test]
    fn ranges_count_days_and_months_inclusively() {
        assert_eq!(days_between(d("2026-01-01"), d("2026-12-31")), 365);
        assert_eq!(days_between(d("2026-01-02"), d("2026-01-01")), 0);
        assert_eq!(months_between(d("2026-01-31"), d("2026-03-01")), 3);
    }
}
