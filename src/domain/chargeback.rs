//! The monthly chargeback: each license's days in a month, priced by day and sent to the cost
//! groups its user was allocated to that day, with `Unallocated` and `Unassigned`, reconciled to
//! the minor unit. Pure; must not import SeaORM, async-graphql, actix or reqwest.
//!
//! A (user, SKU) holding costs, for each day of the month it was held, the monthly price in force
//! that day divided by the month's days, split by the user's cost group shares in force that
//! day; without shares that day it goes to `Unallocated`. Idle seats (purchased minus assigned
//! of paid, user-assignable SKUs) cost the same per day, in `Unassigned`. Amounts are exact
//! decimals; the presented amounts (whole minor units) are rounded as the cost report's are
//! (see [`super::allocation::report`]): the month's total, then each SKU's total over the
//! lines by largest remainder, so lines add up to the total to the minor unit, per SKU and
//! overall.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::allocation::report::{ancestors_of, distribute, scaled, split_minor};
use super::allocation::{Currency, Price, PriceError, ReportError};
use super::cost_group::CostGroup;
use super::ids::{CostGroupId, SkuId};

/// A calendar month, e.g. `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// The month of `text`, written `YYYY-MM` (year 2000 to 9999).
    ///
    /// # Errors
    /// [`ChargebackError::InvalidMonth`] naming the text and the expected form.
    pub fn parse(text: &str) -> Result<Month, ChargebackError> {
        let invalid = || ChargebackError::InvalidMonth {
            month: super::error::clip(text),
        };
        let (year, month) = text.split_once('-').ok_or_else(invalid)?;
        if year.len() != 4
            || month.len() != 2
            || !(year.chars().chain(month.chars())).all(|c| c.is_ascii_digit())
        {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month: u32 = month.parse().map_err(|_| invalid())?;
        if year < 2000 {
            return Err(invalid());
        }
        NaiveDate::from_ymd_opt(year, month, 1)
            .map(|first| Month { first })
            .ok_or_else(invalid)
    }

    /// The month `date` falls in.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            first: date.with_day(1).unwrap_or(date),
        }
    }

    /// Its first day.
    pub fn first_day(&self) -> NaiveDate {
        self.first
    }

    /// The first day of the next month.
    pub fn end(&self) -> NaiveDate {
        self.first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX)
    }

    /// Its last day.
    pub fn last_day(&self) -> NaiveDate {
        self.end().pred_opt().unwrap_or(self.first)
    }

    /// Its number of days (28 to 31).
    pub fn days(&self) -> i64 {
        (self.end() - self.first).num_days()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

/// A chargeback that cannot be computed or asked for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChargebackError {
    /// A month not written `YYYY-MM`.
    #[error(
        "month must be a month written YYYY-MM (year 2000 or later), e.g. 2026-11, got {month:?}"
    )]
    InvalidMonth {
        /// The text, shortened.
        month: String,
    },
    /// The prices used in the month are in more than one currency, or amounts overflow.
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl From<PriceError> for ChargebackError {
    fn from(e: PriceError) -> Self {
        ChargebackError::Report(ReportError::Price(e))
    }
}

/// `count` licenses of one SKU held over the same days `[from, to)`; `None` for a start before
/// the billed days or an end after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldDays {
    /// The SKU.
    pub sku_id: SkuId,
    /// First day; `None` when it began before the billed days.
    pub from: Option<NaiveDate>,
    /// Day after the last; `None` when it lasts past the billed days.
    pub to: Option<NaiveDate>,
    /// How many licenses.
    pub count: u64,
}

/// `count` licenses of one SKU whose users held the same share of one cost group over the same
/// days `[from, to)` (the days both the license and the share were in force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocatedDays {
    /// The cost group.
    pub cost_group: CostGroupId,
    /// The SKU.
    pub sku_id: SkuId,
    /// Percentage of each license, above 0 and at most 100.
    pub percent: Decimal,
    /// First day; `None` when it began before the billed days.
    pub from: Option<NaiveDate>,
    /// Day after the last; `None` when it lasts past the billed days.
    pub to: Option<NaiveDate>,
    /// How many licenses.
    pub count: u64,
}

/// A count of `K` that is `count` over the days `[from, to)` (`None`: before, or past, the
/// days the changes were read for).
pub type CountSpan<K> = (K, Option<NaiveDate>, Option<NaiveDate>, u64);

/// Turns per-day changes of counts (key, day, change; day `None` for all the changes before
/// the days read) into the spans over which each key's count stays the same, leaving out
/// spans of zero.
///
/// # Errors
/// The key and day from which a count would be below zero (the changes are corrupt).
pub fn running_counts<K: Ord + Clone>(
    mut changes: Vec<(K, Option<NaiveDate>, i64)>,
) -> Result<Vec<CountSpan<K>>, (K, Option<NaiveDate>)> {
    changes.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut out = Vec::new();
    let mut count = 0_i64;
    for (i, (key, day, change)) in changes.iter().enumerate() {
        if i == 0 || changes[i - 1].0 != *key {
            count = 0;
        }
        count += change;
        let until = changes
            .get(i + 1)
            .filter(|next| next.0 == *key)
            .and_then(|next| next.1);
        match u64::try_from(count) {
            Ok(0) => {}
            Ok(n) => out.push((key.clone(), *day, until, n)),
            Err(_) => return Err((key.clone(), *day)),
        }
    }
    Ok(out)
}

/// A SKU's idle seats (purchased minus assigned, when above 0) over days `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleSpan {
    /// The SKU.
    pub sku_id: SkuId,
    /// Seats purchased and not assigned.
    pub seats: i64,
    /// First day.
    pub from: NaiveDate,
    /// Day after the last; `None` while in force.
    pub to: Option<NaiveDate>,
}

/// One SKU of a chargeback line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargebackSku {
    /// The SKU.
    pub sku_id: SkuId,
    /// License-days (seat-days for `Unassigned`), fractional for split users.
    pub license_days: Decimal,
    /// Exact amount.
    pub amount: Decimal,
    /// Amount as presented, in whole minor units of the currency.
    pub amount_minor: i64,
    /// The part of `license_days` on days without a price in force for the SKU: they add
    /// nothing to the amount. 0 in months closed before it was recorded.
    #[serde(default)]
    pub unpriced_license_days: Decimal,
}

/// A line of the chargeback: per SKU (by SKU id) and in total.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargebackLine {
    /// Per SKU, by SKU id; only SKUs with days here.
    pub skus: Vec<ChargebackSku>,
}

impl ChargebackLine {
    /// License-days of every SKU.
    pub fn license_days(&self) -> Decimal {
        self.skus.iter().map(|s| s.license_days).sum()
    }

    /// Exact amount.
    pub fn amount(&self) -> Decimal {
        self.skus.iter().map(|s| s.amount).sum()
    }

    /// Presented amount in minor units: the sum of the SKUs'.
    pub fn amount_minor(&self) -> i64 {
        self.skus.iter().map(|s| s.amount_minor).sum()
    }

    fn add(&mut self, other: &ChargebackLine) {
        let mut merged: BTreeMap<SkuId, ChargebackSku> =
            self.skus.drain(..).map(|s| (s.sku_id, s)).collect();
        for s in &other.skus {
            merged
                .entry(s.sku_id)
                .and_modify(|m| {
                    m.license_days += s.license_days;
                    m.amount += s.amount;
                    m.amount_minor += s.amount_minor;
                    m.unpriced_license_days += s.unpriced_license_days;
                })
                .or_insert_with(|| s.clone());
        }
        self.skus = merged.into_values().collect();
    }
}

/// One cost group's lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupCharge {
    /// The group.
    pub group_id: CostGroupId,
    /// Its parent when the chargeback was computed.
    pub parent_id: Option<CostGroupId>,
    /// Licenses of users placed in the group itself.
    pub own: ChargebackLine,
    /// The group and its descendants.
    #[serde(skip)]
    pub subtree: ChargebackLine,
}

/// One tenant's month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chargeback {
    /// The month.
    pub month: Month,
    /// The one currency of the prices used; `None` when no day had a price.
    pub currency: Option<Currency>,
    /// The days billed, first and last: the month's days from the tenant's first import on and
    /// up to the day it was computed; `None` when no day was.
    pub days: Option<(NaiveDate, NaiveDate)>,
    /// Every cost group, in the order given.
    pub groups: Vec<GroupCharge>,
    /// Licenses of users without a cost group that day.
    pub unallocated: ChargebackLine,
    /// Idle seats of paid, user-assignable SKUs.
    pub unassigned: ChargebackLine,
    /// Everything: the cost groups' own lines, `unallocated` and `unassigned`.
    pub total: ChargebackLine,
}

impl Chargeback {
    /// A chargeback from its stored lines (own lines only): subtrees and the total are summed
    /// again from them.
    pub fn from_lines(
        month: Month,
        currency: Option<Currency>,
        days: Option<(NaiveDate, NaiveDate)>,
        mut groups: Vec<GroupCharge>,
        unallocated: ChargebackLine,
        unassigned: ChargebackLine,
    ) -> Chargeback {
        let parents: Vec<Option<CostGroupId>> = groups.iter().map(|g| g.parent_id).collect();
        let index: HashMap<CostGroupId, usize> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.group_id, i))
            .collect();
        let mut subtree = vec![ChargebackLine::default(); groups.len()];
        for (i, g) in groups.iter().enumerate() {
            for a in ancestors_of(i, &parents, &index) {
                subtree[a].add(&g.own);
            }
        }
        for (g, s) in groups.iter_mut().zip(subtree) {
            g.subtree = s;
        }
        let mut total = ChargebackLine::default();
        for g in &groups {
            total.add(&g.own);
        }
        total.add(&unallocated);
        total.add(&unassigned);
        Chargeback {
            month,
            currency,
            days,
            groups,
            unallocated,
            unassigned,
            total,
        }
    }
}

/// Where a license-day goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Bucket {
    Group(CostGroupId),
    Unallocated,
    Unassigned,
}

/// License-days and their price, exactly.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    license_days: Decimal,
    /// Σ monthly unit price × license-days; divided by the month's days at the end.
    priced: Decimal,
    /// License-days without a price in force.
    unpriced: Decimal,
}

/// Weights (license-days a day) summed by line, SKU and days `[from, to)`: most licenses share
/// them, so each is priced once.
#[derive(Default)]
struct Alike(HashMap<(Bucket, SkuId, NaiveDate, NaiveDate), Decimal>);

impl Alike {
    fn add(&mut self, bucket: Bucket, sku: SkuId, from: NaiveDate, to: NaiveDate, weight: Decimal) {
        *self.0.entry((bucket, sku, from, to)).or_default() += weight;
    }
}

/// A month's chargeback computed from the licenses held and their allocated days, grouped by
/// alike days: add each once (in any number of calls), the idle seats once, then
/// [`Accumulator::finish`]. Holds one cell per line and SKU, not the users.
#[derive(Debug)]
pub struct Accumulator {
    month: Month,
    /// Billed days `[start, end)`; empty when `start >= end`.
    start: NaiveDate,
    end: NaiveDate,
    /// Per SKU, its prices by first day (the last of one day counts).
    prices: HashMap<SkuId, Vec<(NaiveDate, Decimal, Currency)>>,
    cells: BTreeMap<(Bucket, SkuId), Cell>,
    currencies: BTreeMap<Currency, BTreeSet<SkuId>>,
    overflow: bool,
}

impl Accumulator {
    /// A chargeback of `month` billing its days from `first_observed` (the tenant's first
    /// import; `None`: never imported, nothing billed) through `last_day` (the day it is
    /// computed on; later days have not happened), priced by `prices`.
    pub fn new(
        month: Month,
        first_observed: Option<NaiveDate>,
        last_day: NaiveDate,
        prices: &[Price],
    ) -> Accumulator {
        let start = first_observed.map_or(month.end(), |f| f.max(month.first_day()));
        let end = last_day
            .succ_opt()
            .unwrap_or(last_day)
            .min(month.end())
            .max(start);
        let mut by_sku: HashMap<SkuId, Vec<(NaiveDate, Decimal, Currency)>> = HashMap::new();
        // Stable sort keeps the later of two prices of one day last, as `price_on` chooses it.
        let mut sorted: Vec<&Price> = prices.iter().collect();
        sorted.sort_by_key(|p| p.effective_from());
        for p in sorted {
            let list = by_sku.entry(p.sku_id()).or_default();
            if list.last().is_some_and(|l| l.0 == p.effective_from()) {
                list.pop();
            }
            list.push((p.effective_from(), p.monthly_unit_price(), p.currency()));
        }
        Accumulator {
            month,
            start,
            end,
            prices: by_sku,
            cells: BTreeMap::new(),
            currencies: BTreeMap::new(),
            overflow: false,
        }
    }

    /// The days billed, first and last; `None` when none is.
    pub fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
        (self.start < self.end).then(|| (self.start, self.end.pred_opt().unwrap_or(self.end)))
    }

    /// The days `[from, to)` clipped to the billed days; `None` when they share none.
    fn clip(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Option<(NaiveDate, NaiveDate)> {
        let a = from.map_or(self.start, |f| f.max(self.start));
        let b = to.map_or(self.end, |t| t.min(self.end));
        (a < b).then_some((a, b))
    }

    /// Adds `weight` license-days a day of `sku` over `[a, b)` to `bucket` (a share of one
    /// license, or several licenses), split where the price changes.
    fn charge(&mut self, bucket: Bucket, sku: SkuId, a: NaiveDate, b: NaiveDate, weight: Decimal) {
        let mut cuts = vec![a, b];
        let prices = self.prices.get(&sku);
        for &(from, _, _) in prices.into_iter().flatten() {
            if from > a && from < b {
                cuts.push(from);
            }
        }
        cuts.sort_unstable();
        let mut cell = self.cells.get(&(bucket, sku)).copied().unwrap_or_default();
        for w in cuts.windows(2) {
            let days = Decimal::from((w[1] - w[0]).num_days());
            let license_days = days * weight;
            cell.license_days += license_days;
            let price = prices.and_then(|list| list.iter().rev().find(|p| p.0 <= w[0]));
            if let Some(&(_, unit, currency)) = price {
                self.currencies.entry(currency).or_default().insert(sku);
                match unit
                    .checked_mul(license_days)
                    .and_then(|v| cell.priced.checked_add(v))
                {
                    Some(v) => cell.priced = v,
                    None => self.overflow = true,
                }
            } else {
                cell.unpriced += license_days;
            }
        }
        self.cells.insert((bucket, sku), cell);
    }

    /// Adds every license held in the month, each to `Unallocated` until [`Self::add_allocated`]
    /// moves its allocated days to their cost groups.
    pub fn add_held(&mut self, held: &[HeldDays]) {
        let mut alike = Alike::default();
        for h in held {
            if let Some((a, b)) = self.clip(h.from, h.to) {
                alike.add(Bucket::Unallocated, h.sku_id, a, b, Decimal::from(h.count));
            }
        }
        self.charge_all(alike);
    }

    /// Moves the allocated days of the licenses added by [`Self::add_held`] from `Unallocated`
    /// to their cost groups, each share its percent. A user's shares in force on a day sum to
    /// exactly 100 (the allocation engine's rule), so a license's days go whole to its groups
    /// and what stays in `Unallocated` are the days its user had no share.
    pub fn add_allocated(&mut self, allocated: &[AllocatedDays]) {
        let mut alike = Alike::default();
        for s in allocated {
            if let Some((a, b)) = self.clip(s.from, s.to) {
                let weight = s.percent * Decimal::from(s.count) / Decimal::ONE_HUNDRED;
                alike.add(Bucket::Group(s.cost_group), s.sku_id, a, b, weight);
                alike.add(Bucket::Unallocated, s.sku_id, a, b, -weight);
            }
        }
        self.charge_all(alike);
    }

    /// Charges each line, SKU and days of `alike` once, for its summed weight.
    fn charge_all(&mut self, alike: Alike) {
        for ((bucket, sku, a, b), weight) in alike.0 {
            self.charge(bucket, sku, a, b, weight);
        }
    }

    /// Adds the tenant's idle seats.
    pub fn add_idle(&mut self, idle: &[IdleSpan]) {
        for i in idle {
            if i.seats <= 0 {
                continue;
            }
            if let Some((a, b)) = self.clip(Some(i.from), i.to) {
                self.charge(Bucket::Unassigned, i.sku_id, a, b, Decimal::from(i.seats));
            }
        }
    }

    /// The chargeback, lines for each of `groups` (the tenant's tree, in this order).
    ///
    /// # Errors
    /// [`ChargebackError::Report`]: prices of more than one currency used in the month
    /// (`MixedCurrencies`, naming the SKUs), or amounts too large to hold exactly. A cost
    /// group of history missing from `groups` (deleted since) gets a line at the top of the
    /// tree, after them.
    pub fn finish(self, groups: &[CostGroup]) -> Result<Chargeback, ChargebackError> {
        if self.overflow {
            return Err(ReportError::Overflow.into());
        }
        if self.currencies.len() > 1 {
            let by_currency = self
                .currencies
                .into_iter()
                .map(|(c, skus)| (c, skus.into_iter().collect()))
                .collect();
            return Err(PriceError::MixedCurrencies { by_currency }.into());
        }
        let currency = self.currencies.keys().next().copied();
        let scale = Decimal::from(10i64.pow(currency.map_or(2, |c| c.minor_units())));
        // History outlives cost groups: a group deleted since keeps its line, at the top.
        let mut tree: Vec<(CostGroupId, Option<CostGroupId>)> =
            groups.iter().map(|g| (g.id, g.parent_id)).collect();
        let mut index: HashMap<CostGroupId, usize> =
            groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        for (bucket, _) in self.cells.keys() {
            if let Bucket::Group(g) = bucket
                && !index.contains_key(g)
            {
                index.insert(*g, tree.len());
                tree.push((*g, None));
            }
        }
        let unallocated = tree.len();
        let unassigned = tree.len() + 1;
        let lines = tree.len() + 2;
        let days_in_month = Decimal::from(self.month.days());
        // Per SKU: license-days and exact amounts per line.
        let mut rows: BTreeMap<SkuId, (Vec<Decimal>, Vec<Decimal>)> = BTreeMap::new();
        let mut unpriced: HashMap<(SkuId, usize), Decimal> = HashMap::new();
        for ((bucket, sku), cell) in &self.cells {
            let line = match bucket {
                Bucket::Group(g) => index[g],
                Bucket::Unallocated => unallocated,
                Bucket::Unassigned => unassigned,
            };
            let row = rows
                .entry(*sku)
                .or_insert_with(|| (vec![Decimal::ZERO; lines], vec![Decimal::ZERO; lines]));
            row.0[line] += cell.license_days;
            if !cell.unpriced.is_zero() {
                *unpriced.entry((*sku, line)).or_default() += cell.unpriced;
            }
            row.1[line] += cell
                .priced
                .checked_div(days_in_month)
                .ok_or(ReportError::Overflow)?;
        }
        let totals: Vec<Decimal> = rows.values().map(|(_, a)| a.iter().sum()).collect();
        let totals_minor = split_minor(&totals, scale)?;
        let mut out = vec![ChargebackLine::default(); lines];
        for ((sku, (days, amounts)), total_minor) in rows.iter().zip(totals_minor) {
            let minor = distribute(total_minor, &scaled(amounts, scale)?);
            let lines = out.iter_mut().enumerate();
            for ((i, line), ((d, a), m)) in lines.zip(days.iter().zip(amounts).zip(minor)) {
                if d.is_zero() {
                    continue;
                }
                line.skus.push(ChargebackSku {
                    sku_id: *sku,
                    license_days: d.normalize(),
                    amount: *a,
                    amount_minor: m,
                    unpriced_license_days: unpriced
                        .get(&(*sku, i))
                        .map_or(Decimal::ZERO, |u| u.normalize()),
                });
            }
        }
        let unassigned_line = out.pop().unwrap_or_default();
        let unallocated_line = out.pop().unwrap_or_default();
        let groups = tree
            .into_iter()
            .zip(out)
            .map(|((group_id, parent_id), own)| GroupCharge {
                group_id,
                parent_id,
                own,
                subtree: ChargebackLine::default(),
            })
            .collect();
        Ok(Chargeback::from_lines(
            self.month,
            currency,
            self.days(),
            groups,
            unallocated_line,
            unassigned_line,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;
    use crate::domain::allocation::price_on;
    use crate::domain::allocation::test_support::{guid, tenant};
    use chrono::Utc;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn running_counts_give_each_keys_spans_of_a_constant_count() {
        let changes = vec![
            ("b", Some(d("2026-11-05")), -1),
            ("a", Some(d("2026-11-10")), -2),
            ("a", None, 3),
            ("b", Some(d("2026-11-01")), 1),
            ("a", Some(d("2026-11-20")), -1),
            ("c", Some(d("2026-11-03")), 2),
        ];
        assert_eq!(
            running_counts(changes).unwrap(),
            vec![
                ("a", None, Some(d("2026-11-10")), 3),
                ("a", Some(d("2026-11-10")), Some(d("2026-11-20")), 1),
                ("b", Some(d("2026-11-01")), Some(d("2026-11-05")), 1),
                ("c", Some(d("2026-11-03")), None, 2),
            ]
        );
        assert_eq!(
            running_counts(vec![
                ("a", Some(d("2026-11-02")), 1),
                ("a", Some(d("2026-11-04")), -2)
            ]),
            Err(("a", Some(d("2026-11-04"))))
        );
    }

    fn groups(n: u128) -> Vec<CostGroup> {
        (0..n)
            .map(|i| CostGroup {
                id: CostGroupId(guid(100 + i)),
                tenant_id: tenant(),
                parent_id: (i > 0).then(|| CostGroupId(guid(100))),
                name: format!("G{i}"),
                code: None,
                description: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            })
            .collect()
    }

    fn sku(n: u128) -> SkuId {
        SkuId(guid(n))
    }

    fn user(n: u128) -> UserId {
        UserId(guid(1000 + n))
    }

    #[test]
    fn months_parse_only_as_yyyy_mm() {
        let m = Month::parse("2024-02").unwrap();
        assert_eq!((m.days(), m.to_string()), (29, "2024-02".to_owned()));
        assert_eq!(m.last_day(), d("2024-02-29"));
        assert_eq!(Month::parse("2026-12").unwrap().end(), d("2027-01-01"));
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-11",
            "2026/11",
            "",
            "x",
            "1999-01",
            "2026-11-01",
        ] {
            let err = Month::parse(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("month must be a month written YYYY-MM"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_user_who_moved_mid_month_is_billed_to_each_group_for_their_days() {
        let month = Month::parse("2026-11").unwrap();
        let prices = [Price::new(sku(1), dec!(30), eur(), d("2026-01-01")).unwrap()];
        let g = groups(3);
        let mut acc = Accumulator::new(month, Some(d("2026-10-01")), d("2026-12-31"), &prices);
        add_spans(
            &mut acc,
            &[HoldingSpan {
                user_id: user(1),
                sku_id: sku(1),
                from: None,
                to: Some(d("2026-11-21")),
            }],
            &[
                ShareSpan {
                    user_id: user(1),
                    cost_group: g[1].id,
                    percent: dec!(100),
                    from: None,
                    to: Some(d("2026-11-14")),
                },
                ShareSpan {
                    user_id: user(1),
                    cost_group: g[2].id,
                    percent: dec!(100),
                    from: Some(d("2026-11-14")),
                    to: None,
                },
            ],
        );
        let c = acc.finish(&g).unwrap();
        // 13 days in G1, 7 in G2 (removed on the 21st), at 1.00 a day.
        assert_eq!(c.groups[1].own.amount_minor(), 1300);
        assert_eq!(c.groups[2].own.amount_minor(), 700);
        assert_eq!(c.groups[0].subtree.amount_minor(), 2000);
        assert_eq!(c.groups[0].subtree.license_days(), dec!(20));
        assert_eq!(c.total.amount_minor(), 2000);
        assert_eq!(c.days, Some((d("2026-11-01"), d("2026-11-30"))));
    }

    #[test]
    fn days_without_a_price_are_counted_apart_and_cost_nothing() {
        let month = Month::parse("2026-11").unwrap();
        // SKU 1 priced from the 11th, SKU 2 never.
        let prices = [Price::new(sku(1), dec!(30), eur(), d("2026-11-11")).unwrap()];
        let mut acc = Accumulator::new(month, Some(d("2026-10-01")), d("2026-12-31"), &prices);
        let held = |s| HoldingSpan {
            user_id: user(1),
            sku_id: sku(s),
            from: None,
            to: None,
        };
        add_spans(&mut acc, &[held(1), held(2)], &[]);
        let c = acc.finish(&[]).unwrap();
        let one = c.total.skus.iter().find(|s| s.sku_id == sku(1)).unwrap();
        assert_eq!(
            (
                one.license_days,
                one.unpriced_license_days,
                one.amount_minor
            ),
            (dec!(30), dec!(10), 2000)
        );
        let two = c.total.skus.iter().find(|s| s.sku_id == sku(2)).unwrap();
        assert_eq!(
            (
                two.license_days,
                two.unpriced_license_days,
                two.amount_minor
            ),
            (dec!(30), dec!(30), 0)
        );
    }

    #[test]
    fn days_before_the_first_import_and_after_today_are_not_billed() {
        let month = Month::parse("2026-11").unwrap();
        let prices = [Price::new(sku(1), dec!(30), eur(), d("2026-01-01")).unwrap()];
        let mut acc = Accumulator::new(month, Some(d("2026-11-11")), d("2026-11-20"), &prices);
        add_spans(
            &mut acc,
            &[HoldingSpan {
                user_id: user(1),
                sku_id: sku(1),
                from: None,
                to: None,
            }],
            &[],
        );
        acc.add_idle(&[IdleSpan {
            sku_id: sku(1),
            seats: 2,
            from: d("2026-01-01"),
            to: None,
        }]);
        let c = acc.finish(&[]).unwrap();
        assert_eq!(c.days, Some((d("2026-11-11"), d("2026-11-20"))));
        assert_eq!(c.unallocated.license_days(), dec!(10));
        assert_eq!(c.unassigned.license_days(), dec!(20));
        assert_eq!(c.total.amount_minor(), 3000);
        let never = Accumulator::new(month, None, d("2026-12-31"), &prices);
        assert_eq!(never.days(), None);
    }

    #[test]
    fn prices_of_two_currencies_in_one_month_are_an_error() {
        let month = Month::parse("2026-11").unwrap();
        let usd = Currency::parse("USD").unwrap();
        let prices = [
            Price::new(sku(1), dec!(30), eur(), d("2026-01-01")).unwrap(),
            Price::new(sku(2), dec!(30), usd, d("2026-01-01")).unwrap(),
        ];
        let mut acc = Accumulator::new(month, Some(d("2026-01-01")), d("2026-12-31"), &prices);
        add_spans(
            &mut acc,
            &[
                HoldingSpan {
                    user_id: user(1),
                    sku_id: sku(1),
                    from: None,
                    to: None,
                },
                HoldingSpan {
                    user_id: user(1),
                    sku_id: sku(2),
                    from: None,
                    to: None,
                },
            ],
            &[],
        );
        let err = acc.finish(&[]).unwrap_err().to_string();
        assert!(
            err.starts_with("prices in force must share one currency"),
            "{err}"
        );
    }

    /// A license a user held over days `[from, to)`; `None`: unbounded.
    #[derive(Debug, Clone)]
    struct HoldingSpan {
        user_id: UserId,
        sku_id: SkuId,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    }

    /// A user's share of one cost group over days `[from, to)`; `None`: unbounded.
    #[derive(Debug, Clone)]
    struct ShareSpan {
        user_id: UserId,
        cost_group: CostGroupId,
        percent: Decimal,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    }

    /// Adds users' holdings and shares as the store's statements hand them over: each holding,
    /// and each holding's days in force with each share of its user.
    fn add_spans(acc: &mut Accumulator, holdings: &[HoldingSpan], shares: &[ShareSpan]) {
        let held: Vec<HeldDays> = holdings
            .iter()
            .map(|h| HeldDays {
                sku_id: h.sku_id,
                from: h.from,
                to: h.to,
                count: 1,
            })
            .collect();
        let later = |a: Option<NaiveDate>, b: Option<NaiveDate>| a.max(b);
        let earlier = |a: Option<NaiveDate>, b: Option<NaiveDate>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let allocated: Vec<AllocatedDays> = holdings
            .iter()
            .flat_map(|h| {
                shares
                    .iter()
                    .filter(move |s| s.user_id == h.user_id)
                    .map(move |s| (h, s))
            })
            .filter_map(|(h, s)| {
                let (from, to) = (later(h.from, s.from), earlier(h.to, s.to));
                from.zip(to)
                    .is_none_or(|(f, t)| f < t)
                    .then_some(AllocatedDays {
                        cost_group: s.cost_group,
                        sku_id: h.sku_id,
                        percent: s.percent,
                        from,
                        to,
                        count: 1,
                    })
            })
            .collect();
        acc.add_held(&held);
        acc.add_allocated(&allocated);
    }

    /// The chargeback computed naively: every day of the month, every holding, every share.
    fn reference(
        month: Month,
        first: NaiveDate,
        holdings: &[HoldingSpan],
        shares: &[ShareSpan],
        prices: &[Price],
        groups: &[CostGroup],
    ) -> (Vec<Decimal>, Decimal) {
        let mut own = vec![Decimal::ZERO; groups.len() + 1];
        let n = Decimal::from(month.days());
        let mut day = month.first_day().max(first);
        while day < month.end() {
            for h in holdings {
                if h.from.is_some_and(|f| f > day) || h.to.is_some_and(|t| t <= day) {
                    continue;
                }
                let unit = price_on(prices, h.sku_id, day)
                    .map_or(Decimal::ZERO, |p| p.monthly_unit_price());
                let mine: Vec<&ShareSpan> = shares
                    .iter()
                    .filter(|s| s.user_id == h.user_id)
                    .filter(|s| s.from.is_none_or(|f| f <= day) && s.to.is_none_or(|t| t > day))
                    .collect();
                if mine.is_empty() {
                    own[groups.len()] += unit / n;
                }
                for s in mine {
                    let i = groups.iter().position(|g| g.id == s.cost_group).unwrap();
                    own[i] += unit / n * s.percent / Decimal::ONE_HUNDRED;
                }
            }
            day = day.succ_opt().unwrap();
        }
        let total = own.iter().sum();
        (own, total)
    }

    /// Percentages of 2 decimals above 0 summing to exactly 100, from raw weights.
    fn percents_of(weights: &[u32]) -> Vec<Decimal> {
        let total: u32 = weights.iter().sum();
        let mut percents: Vec<Decimal> = weights
            .iter()
            .map(|w| (Decimal::from(*w * 10_000) / Decimal::from(total)).trunc() / dec!(100))
            .collect();
        let sum: Decimal = percents.iter().sum();
        percents[0] += dec!(100) - sum;
        percents
    }

    proptest! {
        #[test]
        fn split_rules_bill_the_month_to_the_cent(
            weights in prop::collection::vec(1u32..1000, 2..4),
            departments in prop::collection::vec(0usize..3, 1..9),
            raw_licenses in prop::collection::vec((0usize..9, 1u128..4), 0..16),
            cents in prop::collection::vec(1i64..5_000_000, 3),
            first in 1i64..28,
        ) {
            use crate::domain::allocation::{
                AllocationInput, AllocationRule, Attribute, Condition, Operator, Share, evaluate,
            };
            use crate::domain::ids::AllocationRuleId;
            let month = Month::parse("2026-02").unwrap();
            let g = groups(3);
            let ids: Vec<CostGroupId> = g.iter().map(|x| x.id).collect();
            // Users of department 0 go by a split rule over the groups; 1 to group 0; 2 nowhere.
            let percents = percents_of(&weights);
            let split = AllocationRule {
                id: AllocationRuleId(guid(1)),
                tenant_id: tenant(),
                targets: percents
                    .iter()
                    .zip(&ids)
                    .map(|(p, id)| Share { cost_group: *id, percent: *p })
                    .collect(),
                priority: 0,
                enabled: true,
                conditions: vec![Condition::new(Attribute::Department, Operator::Equals, vec!["d0".into()]).unwrap()],
            };
            let mut whole = split.clone();
            whole.id = AllocationRuleId(guid(2));
            whole.targets = vec![Share::whole(ids[0])];
            whole.conditions = vec![Condition::new(Attribute::Department, Operator::Equals, vec!["d1".into()]).unwrap()];
            let rules = [split.compile().unwrap(), whole.compile().unwrap()];
            let users: Vec<crate::domain::user::User> = departments
                .iter()
                .enumerate()
                .map(|(i, dep)| {
                    let mut u = crate::domain::allocation::test_support::user(1000 + i as u128);
                    u.department = Some(format!("d{dep}"));
                    u
                })
                .collect();
            let allocations = evaluate(&AllocationInput {
                users: &users,
                licenses: &[],
                rules: &rules,
                overrides: &[],
                cost_groups: &ids,
            });
            let shares: Vec<ShareSpan> = allocations
                .iter()
                .flat_map(|a| a.shares.iter().map(|s| ShareSpan {
                    user_id: a.user_id,
                    cost_group: s.cost_group,
                    percent: s.percent,
                    from: None,
                    to: None,
                }))
                .collect();
            let holdings: Vec<HoldingSpan> = raw_licenses
                .iter()
                .filter(|(u, _)| *u < users.len())
                .map(|&(u, s)| HoldingSpan { user_id: users[u].id, sku_id: sku(s), from: None, to: None })
                .collect();
            let prices: Vec<Price> = cents
                .iter()
                .enumerate()
                .map(|(s, c)| Price::new(sku(s as u128 + 1), Decimal::new(*c, 2), eur(), d("2026-01-01")).unwrap())
                .collect();
            let first = month.first_day() + chrono::Duration::days(first - 1);
            let mut acc = Accumulator::new(month, Some(first), d("2030-01-01"), &prices);
            add_spans(&mut acc, &holdings, &shares);
            let c = acc.finish(&g).unwrap();

            // Exactly: each license's days at its price, split by the user's shares.
            let billed = Decimal::from((month.end() - first).num_days());
            let per_license = |s: SkuId| price_on(&prices, s, first).map_or(Decimal::ZERO, Price::monthly_unit_price) * billed / Decimal::from(month.days());
            let total: Decimal = holdings.iter().map(|h| per_license(h.sku_id)).sum();
            let close = |x: Decimal, y: Decimal| (x - y).abs() < dec!(0.000000001);
            prop_assert!(close(c.total.amount(), total));
            for (line, id) in c.groups.iter().zip(&ids) {
                let expected: Decimal = holdings
                    .iter()
                    .flat_map(|h| shares.iter().filter(move |s| s.user_id == h.user_id && s.cost_group == *id).map(move |s| per_license(h.sku_id) * s.percent / dec!(100)))
                    .sum();
                prop_assert!(close(line.own.amount(), expected), "group {id}: {} vs {expected}", line.own.amount());
            }
            // Presented: the parts add up to the whole, which is the exact total rounded.
            let parts: i64 = c.groups.iter().map(|g| g.own.amount_minor()).sum::<i64>()
                + c.unallocated.amount_minor() + c.unassigned.amount_minor();
            prop_assert_eq!(parts, c.total.amount_minor());
            let rounded = (c.total.amount() * dec!(100)).round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            prop_assert_eq!(Decimal::from(c.total.amount_minor()), rounded, "total {} exactly {}", c.total.amount(), total);
        }
    }

    proptest! {
        #[test]
        fn amounts_match_a_day_by_day_reference_and_add_up_to_the_cent(
            raw_holdings in prop::collection::vec((0u128..6, 1u128..3, prop::option::of(0i64..33), prop::option::of(0i64..33)), 0..12),
            raw_shares in prop::collection::vec((0u128..6, 0u128..3, prop::option::of(0i64..33), prop::option::of(0i64..33), prop::bool::ANY), 0..12),
            raw_prices in prop::collection::vec((1u128..3, 0i64..2_000_000, -40i64..31), 1..5),
            first in 0i64..40,
        ) {
            let month = Month::parse("2026-02").unwrap();
            let day = |i: i64| month.first_day() + chrono::Duration::days(i - 1);
            let g = groups(3);
            let holdings: Vec<HoldingSpan> = raw_holdings
                .iter()
                .map(|&(u, s, from, len)| HoldingSpan {
                    user_id: user(u),
                    sku_id: sku(s),
                    from: from.map(day),
                    to: from.zip(len).map(|(f, l)| day(f + l + 1)),
                })
                .collect();
            // Each user's spans: either one whole share, or a 60/40 split, per interval.
            let mut shares = Vec::new();
            for &(u, gi, from, len, split) in &raw_shares {
                let (from, to) = (from.map(day), from.zip(len).map(|(f, l)| day(f + l + 1)));
                let overlaps = shares.iter().any(|s: &ShareSpan| s.user_id == user(u)
                    && s.from.is_none_or(|f| to.is_none_or(|t| f < t))
                    && s.to.is_none_or(|t| from.is_none_or(|f| f < t)));
                if overlaps {
                    continue;
                }
                if split {
                    shares.push(ShareSpan { user_id: user(u), cost_group: g[gi as usize].id, percent: dec!(60), from, to });
                    shares.push(ShareSpan { user_id: user(u), cost_group: g[((gi + 1) % 3) as usize].id, percent: dec!(40), from, to });
                } else {
                    shares.push(ShareSpan { user_id: user(u), cost_group: g[gi as usize].id, percent: dec!(100), from, to });
                }
            }
            let mut prices: Vec<Price> = Vec::new();
            for &(s, cents, from) in &raw_prices {
                let from = day(from);
                if prices.iter().any(|p| p.sku_id() == sku(s) && p.effective_from() == from) {
                    continue;
                }
                prices.push(Price::new(sku(s), Decimal::new(cents, 2), eur(), from).unwrap());
            }
            let first = day(first);
            let mut acc = Accumulator::new(month, Some(first), d("2030-01-01"), &prices);
            // In two chunks, as the store reads them.
            let (a, b): (Vec<HoldingSpan>, Vec<HoldingSpan>) = holdings.iter().cloned().partition(|h| h.user_id < user(3));
            let (sa, sb): (Vec<ShareSpan>, Vec<ShareSpan>) = shares.iter().cloned().partition(|s| s.user_id < user(3));
            add_spans(&mut acc, &a, &sa);
            add_spans(&mut acc, &b, &sb);
            let c = acc.finish(&g).unwrap();
            let (own, total) = reference(month, first, &holdings, &shares, &prices, &g);
            let close = |x: Decimal, y: Decimal| (x - y).abs() < dec!(0.000000001);
            for (i, line) in c.groups.iter().enumerate() {
                prop_assert!(close(line.own.amount(), own[i]), "group {i}: {} vs {}", line.own.amount(), own[i]);
            }
            prop_assert!(close(c.unallocated.amount(), own[3]));
            prop_assert!(close(c.total.amount(), total));
            // Presented: each within a cent of exact, and lines add up to the total.
            let sum: i64 = c.groups.iter().map(|g| g.own.amount_minor()).sum::<i64>()
                + c.unallocated.amount_minor() + c.unassigned.amount_minor();
            prop_assert_eq!(sum, c.total.amount_minor());
            let rounded = (c.total.amount() * dec!(100)).round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            prop_assert_eq!(Decimal::from(c.total.amount_minor()), rounded);
            for line in c.groups.iter().map(|g| &g.own).chain([&c.unallocated]) {
                for s in &line.skus {
                    prop_assert!((Decimal::from(s.amount_minor) - s.amount * dec!(100)).abs() < Decimal::ONE);
                }
            }
        }
    }
}
