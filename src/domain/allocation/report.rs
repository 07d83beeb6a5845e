//! The cost report: licenses and monthly cost per cost group, `Unallocated` and `Unassigned`,
//! reconciled exactly in decimals and in presented minor units. Pure; must not import SeaORM,
//! async-graphql, actix or reqwest.
//!
//! # Rounding
//! Amounts are exact `Decimal`s; only the presented amounts (`cost_minor`, whole minor units of
//! the currency: cents for EUR, yen for JPY, fils for BHD) are rounded, by largest remainder in
//! two steps, so that no minor unit is lost or invented:
//! 1. the grand total of all assigned licenses is rounded half away from zero; the SKUs' exact
//!    totals are floored and the missing units go, one each, to the SKUs with the largest
//!    fractional remainders (ties to the lower SKU id). Each SKU's presented total is therefore
//!    its exact total rounded down or up, and they add up to the rounded grand total.
//! 2. each SKU's presented total is split the same way over the buckets (cost groups in the
//!    order given, then `Unallocated`; ties to the earlier bucket).
//!
//! A bucket's presented total is the sum of its SKU amounts, so the presented amounts of cost
//! groups plus `Unallocated` add up exactly to the presented total, per SKU and overall, and every
//! presented amount is within one minor unit of its exact amount. `Unassigned` is rounded the
//! same way on its own. Roll-ups over a subtree add presented amounts of the groups in it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use thiserror::Error;

use crate::domain::commerce::BillingSet;
use crate::domain::cost_group::CostGroup;
use crate::domain::ids::{CostGroupId, SkuId, UserId};
use crate::domain::subscription::Subscription;
use crate::domain::user::AssignedLicense;

use super::engine::{AllocationSource, UserAllocation};
use super::overrides::Share;
use super::price::{Currency, Price, PriceError, prices_in_force};

/// Licenses and cost of one SKU in one line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuCost {
    /// The SKU.
    pub sku_id: SkuId,
    /// Licenses, fractional when users are split across groups.
    pub licenses: Decimal,
    /// Monthly unit price in force; `None` when the SKU has no price (free or `Company` SKUs),
    /// and then the cost is 0.
    pub unit_price: Option<Decimal>,
    /// Exact monthly cost.
    pub cost: Decimal,
    /// Monthly cost as presented, in whole minor units of the currency (see the module notes).
    pub cost_minor: i64,
}

/// One line of the report: a cost group, `Unallocated`, `Unassigned` or the total.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CostLine {
    /// Users with a share here (a split user counts once in each of their groups).
    pub users: u64,
    /// Per SKU, by SKU id; only SKUs with licenses here.
    pub skus: Vec<SkuCost>,
    /// Exact monthly cost.
    pub cost: Decimal,
    /// Monthly cost as presented, in minor units; the sum of the SKUs' `cost_minor`.
    pub cost_minor: i64,
}

impl CostLine {
    /// The line of one SKU, if it has licenses here.
    pub fn sku(&self, sku_id: SkuId) -> Option<&SkuCost> {
        self.skus.iter().find(|s| s.sku_id == sku_id)
    }

    fn add(&mut self, other: &CostLine) {
        let mut merged: BTreeMap<SkuId, SkuCost> =
            self.skus.drain(..).map(|s| (s.sku_id, s)).collect();
        for s in &other.skus {
            merged
                .entry(s.sku_id)
                .and_modify(|m| {
                    m.licenses += s.licenses;
                    m.cost += s.cost;
                    m.cost_minor += s.cost_minor;
                })
                .or_insert_with(|| s.clone());
        }
        self.skus = merged.into_values().collect();
        self.cost += other.cost;
        self.cost_minor += other.cost_minor;
    }
}

/// One cost group's line, alone and with its descendants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCost {
    /// The group.
    pub group_id: CostGroupId,
    /// Its parent.
    pub parent_id: Option<CostGroupId>,
    /// Users and licenses placed in the group itself.
    pub own: CostLine,
    /// The group and all its descendants (`includeDescendants`); a user split over several
    /// groups of the subtree counts once.
    pub subtree: CostLine,
}

/// A tenant's monthly license costs on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostReport {
    /// The date whose prices were used.
    pub as_of: NaiveDate,
    /// The one currency of the prices in force; `None` when no SKU has a price.
    pub currency: Option<Currency>,
    /// Every cost group, in the order given.
    pub groups: Vec<GroupCost>,
    /// Assigned licenses of users no rule or override places.
    pub unallocated: CostLine,
    /// Purchased but unassigned licenses of user-assignable SKUs (`users` is 0).
    pub unassigned: CostLine,
    /// All assigned licenses: the sum of every group's `own` line and `unallocated`.
    pub assigned: CostLine,
}

/// Inputs that cannot be reported on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReportError {
    /// The prices in force are in more than one currency.
    #[error(transparent)]
    Price(#[from] PriceError),
    /// An allocation names a group missing from the tree.
    #[error("licenses are allocated to cost group {cost_group}, which is not in the report")]
    UnknownCostGroup {
        /// The group.
        cost_group: CostGroupId,
    },
    /// Amounts beyond what the report can hold exactly (far beyond any real tenant: unit prices
    /// are capped at `MAX_UNIT_PRICE`).
    #[error("license costs are too large to report exactly")]
    Overflow,
}

/// What a cost report needs of an evaluation: licenses per cost group and SKU and users per cost
/// group. It does not depend on prices or dates, so it is stored with the evaluation and a report
/// is built from it without reading every user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    /// Licenses per (cost group, SKU); `None` is `Unallocated`. Fractional for split users.
    pub cells: BTreeMap<(Option<CostGroupId>, SkuId), Decimal>,
    /// Users with a share in each cost group (a user split over two groups counts in both).
    pub group_users: BTreeMap<CostGroupId, u64>,
    /// Users with no allocation, or with licenses and no allocation.
    pub unallocated_users: u64,
    /// Users placed in at least one cost group, each counted once.
    pub placed_users: u64,
    /// The cost groups of each user placed in more than one, so that a subtree counts them once.
    pub splits: Vec<Vec<CostGroupId>>,
}

impl Tally {
    /// Adds `other` (a tally of other users) to this one.
    pub fn add(&mut self, other: &Tally) {
        for (&key, &licenses) in &other.cells {
            *self.cells.entry(key).or_default() += licenses;
        }
        for (&g, &n) in &other.group_users {
            *self.group_users.entry(g).or_default() += n;
        }
        self.unallocated_users += other.unallocated_users;
        self.placed_users += other.placed_users;
        self.splits.extend(other.splits.iter().cloned());
    }

    /// Takes `other` (a tally of some of this tally's users, as they were counted) out of this
    /// one; entries that drop to zero are removed, so `t.add(o); t.subtract(o)` gives `t` back.
    pub fn subtract(&mut self, other: &Tally) {
        for (key, &licenses) in &other.cells {
            if let Some(v) = self.cells.get_mut(key) {
                *v -= licenses;
                if v.is_zero() {
                    self.cells.remove(key);
                }
            }
        }
        for (g, &n) in &other.group_users {
            if let Some(v) = self.group_users.get_mut(g) {
                *v = v.saturating_sub(n);
                if *v == 0 {
                    self.group_users.remove(g);
                }
            }
        }
        self.unallocated_users = self
            .unallocated_users
            .saturating_sub(other.unallocated_users);
        self.placed_users = self.placed_users.saturating_sub(other.placed_users);
        for split in &other.splits {
            if let Some(i) = self.splits.iter().position(|s| s == split) {
                self.splits.swap_remove(i);
            }
        }
    }
}

/// Tallies `allocations` (from [`super::evaluate`]; stale ones are ignored) and `licenses` (the
/// assigned licenses of present users): each license goes to its user's cost groups by their
/// shares, or to `Unallocated` when the user has no allocation.
pub fn tally(allocations: &[UserAllocation], licenses: &[AssignedLicense]) -> Tally {
    let mut out = Tally::default();
    let mut placed: HashMap<UserId, &[Share]> = HashMap::new();
    let mut unallocated_users: HashSet<UserId> = HashSet::new();
    for a in allocations.iter().filter(|a| !a.stale) {
        if a.source == AllocationSource::Unallocated || a.shares.is_empty() {
            unallocated_users.insert(a.user_id);
            continue;
        }
        for share in &a.shares {
            *out.group_users.entry(share.cost_group).or_default() += 1;
        }
        if a.shares.len() > 1 {
            let mut split: Vec<CostGroupId> = a.shares.iter().map(|s| s.cost_group).collect();
            split.sort_unstable();
            out.splits.push(split);
        }
        placed.insert(a.user_id, &a.shares);
    }
    for license in licenses {
        match placed.get(&license.user_id) {
            Some(shares) => {
                for share in *shares {
                    *out.cells
                        .entry((Some(share.cost_group), license.sku_id))
                        .or_default() += share.fraction();
                }
            }
            None => {
                unallocated_users.insert(license.user_id);
                *out.cells.entry((None, license.sku_id)).or_default() += Decimal::ONE;
            }
        }
    }
    out.unallocated_users = unallocated_users.len() as u64;
    out.placed_users = placed.len() as u64;
    out
}

/// The cost report of one tenant on `as_of`, from `allocations` and `licenses` as in [`tally`];
/// see [`report_from_tally`] for the rest.
///
/// # Errors
/// As [`report_from_tally`].
pub fn cost_report(
    allocations: &[UserAllocation],
    licenses: &[AssignedLicense],
    subscriptions: &[Subscription],
    prices: &[Price],
    groups: &[CostGroup],
    as_of: NaiveDate,
) -> Result<CostReport, ReportError> {
    report_from_tally(
        &tally(allocations, licenses),
        subscriptions,
        prices,
        groups,
        as_of,
        BillingSet::PAID,
    )
}

/// The cost report of one tenant on `as_of`, from a [`Tally`] of its evaluation.
///
/// `Unassigned` lists, per user-assignable SKU of `subscriptions` whose billing is in
/// `unassigned` (by default the paid ones: idle free seats cost nobody anything), purchased
/// (prepaid enabled + warning) minus assigned when positive; `Company` SKUs are left out. SKUs without a price in
/// force are listed with a cost of 0. `groups` is the tenant's tree (by `parent_id`); a parent
/// missing from it or a cycle ends a roll-up.
///
/// # Errors
/// [`ReportError::Price`] when the prices in force for the SKUs in the report are in more than
/// one currency; [`ReportError::UnknownCostGroup`] when the tally names a group not in
/// `groups`; [`ReportError::Overflow`] for amounts beyond `Decimal`'s range.
pub fn report_from_tally(
    tally: &Tally,
    subscriptions: &[Subscription],
    prices: &[Price],
    groups: &[CostGroup],
    as_of: NaiveDate,
    unassigned: BillingSet,
) -> Result<CostReport, ReportError> {
    let bucket_of: HashMap<CostGroupId, usize> =
        groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
    let unallocated = groups.len();
    let buckets = groups.len() + 1;
    let bucket = |group: Option<CostGroupId>| match group {
        None => Ok(unallocated),
        Some(g) => bucket_of
            .get(&g)
            .copied()
            .ok_or(ReportError::UnknownCostGroup { cost_group: g }),
    };

    let mut users = vec![0u64; buckets];
    for (&g, &count) in &tally.group_users {
        users[bucket(Some(g))?] = count;
    }
    users[unallocated] = tally.unallocated_users;

    // Licenses per SKU and bucket.
    let mut cells: BTreeMap<SkuId, Vec<Decimal>> = BTreeMap::new();
    for (&(group, sku_id), &licenses) in &tally.cells {
        let row = cells
            .entry(sku_id)
            .or_insert_with(|| vec![Decimal::ZERO; buckets]);
        row[bucket(group)?] += licenses;
    }

    let unassigned_counts: BTreeMap<SkuId, i64> = subscriptions
        .iter()
        .filter(|s| s.is_user_assignable() && unassigned.contains(s.billing) && s.unassigned() > 0)
        .map(|s| (s.sku_id, s.unassigned()))
        .collect();

    let skus = cells.keys().chain(unassigned_counts.keys()).copied();
    let (currency, unit_prices) = prices_in_force(prices, skus, as_of)?;
    let scale = Decimal::from(10i64.pow(currency.map_or(2, |c| c.minor_units())));

    // Exact costs, per SKU and bucket.
    let mut exact: BTreeMap<SkuId, Vec<Decimal>> = BTreeMap::new();
    for (&sku_id, row) in &cells {
        let unit = unit_prices.get(&sku_id).copied().unwrap_or_default();
        let costs = row
            .iter()
            .map(|l| l.checked_mul(unit).ok_or(ReportError::Overflow))
            .collect::<Result<Vec<_>, _>>()?;
        exact.insert(sku_id, costs);
    }

    // Step 1: the rounded grand total over the SKUs; step 2: each SKU's total over the buckets.
    let sku_totals: Vec<Decimal> = exact.values().map(|row| row.iter().sum()).collect();
    let sku_minor = split_minor(&sku_totals, scale)?;
    let mut lines: Vec<CostLine> = vec![CostLine::default(); buckets];
    let mut assigned = CostLine::default();
    for (((&sku_id, costs), total_minor), total) in exact.iter().zip(&sku_minor).zip(&sku_totals) {
        let minor = distribute(*total_minor, &scaled(costs, scale)?);
        let unit_price = unit_prices.get(&sku_id).copied();
        let row = &cells[&sku_id];
        for (bucket, line) in lines.iter_mut().enumerate() {
            if row[bucket] == Decimal::ZERO {
                continue;
            }
            line.skus.push(SkuCost {
                sku_id,
                licenses: row[bucket],
                unit_price,
                cost: costs[bucket],
                cost_minor: minor[bucket],
            });
            line.cost += costs[bucket];
            line.cost_minor += minor[bucket];
        }
        assigned.skus.push(SkuCost {
            sku_id,
            licenses: row.iter().sum(),
            unit_price,
            cost: *total,
            cost_minor: *total_minor,
        });
        assigned.cost += *total;
        assigned.cost_minor += *total_minor;
    }
    for (line, count) in lines.iter_mut().zip(&users) {
        line.users = *count;
    }
    assigned.users = tally.placed_users + users[unallocated];

    let unassigned = unassigned_line(&unassigned_counts, &unit_prices, scale)?;

    // Roll-ups: each group's own line is added to itself and every ancestor.
    let parents: Vec<Option<CostGroupId>> = groups.iter().map(|g| g.parent_id).collect();
    let ancestors: Vec<Vec<usize>> = (0..groups.len())
        .map(|i| ancestors_of(i, &parents, &bucket_of))
        .collect();
    let mut subtree: Vec<CostLine> = vec![CostLine::default(); groups.len()];
    for (i, chain) in ancestors.iter().enumerate() {
        for &a in chain {
            subtree[a].add(&lines[i]);
            subtree[a].users += lines[i].users;
        }
    }
    // That summed users per group; a split user must count once per subtree, not once per
    // group of it that the subtree holds.
    for split in &tally.splits {
        let mut seen: Vec<usize> = Vec::new();
        for &g in split {
            for &a in &ancestors[bucket(Some(g))?] {
                if seen.contains(&a) {
                    subtree[a].users -= 1;
                } else {
                    seen.push(a);
                }
            }
        }
    }

    let unallocated_line = lines.pop().unwrap_or_default();
    let groups = groups
        .iter()
        .zip(lines)
        .zip(subtree)
        .map(|((g, own), subtree)| GroupCost {
            group_id: g.id,
            parent_id: g.parent_id,
            own,
            subtree,
        })
        .collect();
    Ok(CostReport {
        as_of,
        currency,
        groups,
        unallocated: unallocated_line,
        unassigned,
        assigned,
    })
}

/// The group itself, then its parent, grandparent, ...; stops at a parent missing from the tree
/// or at a cycle.
pub(crate) fn ancestors_of(
    start: usize,
    parents: &[Option<CostGroupId>],
    bucket_of: &HashMap<CostGroupId, usize>,
) -> Vec<usize> {
    let mut chain = vec![start];
    let mut cur = start;
    while let Some(&parent) = parents[cur].and_then(|p| bucket_of.get(&p)) {
        if chain.contains(&parent) {
            break;
        }
        chain.push(parent);
        cur = parent;
    }
    chain
}

fn unassigned_line(
    counts: &BTreeMap<SkuId, i64>,
    unit_prices: &HashMap<SkuId, Decimal>,
    scale: Decimal,
) -> Result<CostLine, ReportError> {
    let mut line = CostLine::default();
    let mut costs = Vec::with_capacity(counts.len());
    for (&sku_id, &count) in counts {
        let unit_price = unit_prices.get(&sku_id).copied();
        let cost = Decimal::from(count)
            .checked_mul(unit_price.unwrap_or_default())
            .ok_or(ReportError::Overflow)?;
        costs.push(cost);
        line.skus.push(SkuCost {
            sku_id,
            licenses: Decimal::from(count),
            unit_price,
            cost,
            cost_minor: 0,
        });
        line.cost += cost;
    }
    let minor = split_minor(&costs, scale)?;
    for (sku, m) in line.skus.iter_mut().zip(minor) {
        sku.cost_minor = m;
        line.cost_minor += m;
    }
    Ok(line)
}

/// Rounds the sum of `amounts` to minor units (half away from zero) and splits it over them by
/// largest remainder.
pub(crate) fn split_minor(amounts: &[Decimal], scale: Decimal) -> Result<Vec<i64>, ReportError> {
    let scaled_amounts = scaled(amounts, scale)?;
    let mut total = Decimal::ZERO;
    for s in &scaled_amounts {
        total = total.checked_add(*s).ok_or(ReportError::Overflow)?;
    }
    let target = total
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        .to_i64();
    match (target, amounts.is_empty()) {
        (_, true) => Ok(Vec::new()),
        (Some(target), false) => Ok(distribute(target, &scaled_amounts)),
        (None, false) => Err(ReportError::Overflow),
    }
}

/// `amounts` counted in minor units (times `scale`, 10 to the currency's minor units).
pub(crate) fn scaled(amounts: &[Decimal], scale: Decimal) -> Result<Vec<Decimal>, ReportError> {
    amounts
        .iter()
        .map(|a| a.checked_mul(scale).ok_or(ReportError::Overflow))
        .collect()
}

/// Whole numbers, one per `amount` and each its floor or ceiling, adding up to `target`: the
/// floors, plus one for each of the amounts with the largest fractional remainders (ties to the
/// earlier one) until `target` is reached. When `target` is out of the floors' reach (it is not
/// for the report's inputs), units are added or taken round-robin in the same order.
pub(crate) fn distribute(target: i64, amounts: &[Decimal]) -> Vec<i64> {
    if amounts.is_empty() {
        return Vec::new();
    }
    let floors: Vec<Decimal> = amounts.iter().map(|a| a.floor()).collect();
    let mut out: Vec<i64> = floors.iter().map(|f| f.to_i64().unwrap_or(0)).collect();
    let mut order: Vec<usize> = (0..amounts.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = amounts[a] - floors[a];
        let rb = amounts[b] - floors[b];
        rb.cmp(&ra).then(a.cmp(&b))
    });
    let mut missing = target - out.iter().sum::<i64>();
    let mut next = order.iter().cycle();
    while missing > 0 {
        if let Some(&i) = next.next() {
            out[i] += 1;
        }
        missing -= 1;
    }
    let mut back = order.iter().rev().cycle();
    while missing < 0 {
        if let Some(&i) = back.next() {
            out[i] -= 1;
        }
        missing += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::allocation::engine::{AllocationInput, evaluate};
    use crate::domain::allocation::overrides::{Override, Share};
    use crate::domain::allocation::rule::{AllocationRule, Attribute, Condition, Operator};
    use crate::domain::allocation::test_support::{guid, tenant, user};
    use crate::domain::commerce::SkuBilling;
    use crate::domain::ids::AllocationRuleId;
    use crate::domain::subscription::PrepaidUnits;
    use crate::domain::user::User;
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    impl CostReport {
        /// The line of `group_id`, alone or with its descendants; `None` for a group not in the report.
        fn cost_of(&self, group_id: CostGroupId, include_descendants: bool) -> Option<&CostLine> {
            self.groups
                .iter()
                .find(|g| g.group_id == group_id)
                .map(|g| {
                    if include_descendants {
                        &g.subtree
                    } else {
                        &g.own
                    }
                })
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
    }

    fn gid(n: u128) -> CostGroupId {
        CostGroupId(guid(0x6000 + n))
    }

    fn sku(n: u128) -> SkuId {
        SkuId(guid(0xE000 + n))
    }

    fn group(n: u128, parent: Option<u128>) -> CostGroup {
        CostGroup {
            id: gid(n),
            tenant_id: tenant(),
            parent_id: parent.map(gid),
            name: format!("Group {n}"),
            code: None,
            description: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn license(user: u128, sku_n: u128) -> AssignedLicense {
        AssignedLicense {
            user_id: UserId(guid(user)),
            tenant_id: tenant(),
            sku_id: sku(sku_n),
            disabled_plans: vec![],
        }
    }

    fn price(sku_n: u128, amount: Decimal, code: &str) -> Price {
        Price::new(
            sku(sku_n),
            amount,
            Currency::parse(code).unwrap(),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        )
        .unwrap()
    }

    fn subscription(
        sku_n: u128,
        enabled: i64,
        warning: i64,
        consumed: i64,
        applies_to: &str,
    ) -> Subscription {
        Subscription {
            tenant_id: tenant(),
            sku_id: sku(sku_n),
            sku_part_number: format!("SKU{sku_n}"),
            capability_status: "Enabled".into(),
            applies_to: applies_to.into(),
            prepaid: PrepaidUnits {
                enabled,
                warning,
                suspended: 0,
                locked_out: 0,
            },
            consumed_units: consumed,
            subscription_ids: vec![],
            billing: crate::domain::SkuBilling::Partner,
            unknown: false,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn allocation(user: u128, shares: &[(u128, Decimal)]) -> UserAllocation {
        UserAllocation {
            user_id: UserId(guid(user)),
            shares: shares
                .iter()
                .map(|&(g, percent)| Share {
                    cost_group: gid(g),
                    percent,
                })
                .collect(),
            source: if shares.is_empty() {
                AllocationSource::Unallocated
            } else {
                AllocationSource::Override
            },
            stale: false,
        }
    }

    #[test]
    fn distribute_gives_missing_units_to_the_largest_remainders() {
        let amounts = [dec!(333.3333), dec!(333.3333), dec!(333.3334)];
        assert_eq!(distribute(1000, &amounts), vec![333, 333, 334]);
        let amounts = [dec!(0.5), dec!(0.5), dec!(0.5), dec!(0.5)];
        assert_eq!(distribute(2, &amounts), vec![1, 1, 0, 0]);
        assert_eq!(distribute(0, &[]), Vec::<i64>::new());
    }

    #[test]
    fn a_three_way_split_reconciles_to_the_cent() {
        // One user at 10.00 split 33.33 / 33.33 / 33.34: 3.333, 3.333, 3.334 → 3.33, 3.33, 3.34.
        let groups = [group(1, None), group(2, None), group(3, None)];
        let allocations = [allocation(
            1,
            &[(1, dec!(33.33)), (2, dec!(33.33)), (3, dec!(33.34))],
        )];
        let report = cost_report(
            &allocations,
            &[license(1, 1)],
            &[],
            &[price(1, dec!(10), "EUR")],
            &groups,
            day(),
        )
        .unwrap();
        let minor: Vec<i64> = report.groups.iter().map(|g| g.own.cost_minor).collect();
        assert_eq!(minor, vec![333, 333, 334]);
        let exact: Vec<Decimal> = report.groups.iter().map(|g| g.own.cost).collect();
        assert_eq!(exact, vec![dec!(3.333), dec!(3.333), dec!(3.334)]);
        assert_eq!(report.groups[0].own.skus[0].licenses, dec!(0.3333));
        assert_eq!(report.assigned.cost_minor, 1000);
        assert_eq!(report.currency.map(|c| c.code()), Some("EUR"));
    }

    #[test]
    fn thirds_of_a_cent_are_not_lost() {
        // Three users each split in thirds over three groups at 0.01: exact 0.0033.. each.
        let groups = [group(1, None), group(2, None), group(3, None)];
        let thirds = [(1, dec!(33.33)), (2, dec!(33.33)), (3, dec!(33.34))];
        let allocations: Vec<UserAllocation> = (1..=3).map(|u| allocation(u, &thirds)).collect();
        let licenses: Vec<AssignedLicense> = (1..=3).map(|u| license(u, 1)).collect();
        let report = cost_report(
            &allocations,
            &licenses,
            &[],
            &[price(1, dec!(0.01), "EUR")],
            &groups,
            day(),
        )
        .unwrap();
        let sum: i64 = report.groups.iter().map(|g| g.own.cost_minor).sum();
        assert_eq!(sum, 3);
        assert_eq!(report.assigned.cost_minor, 3);
    }

    #[test]
    fn unallocated_and_unassigned_are_reported_apart() {
        let groups = [group(1, None)];
        let allocations = [allocation(1, &[(1, dec!(100))]), allocation(2, &[])];
        let licenses = [license(1, 1), license(2, 1), license(2, 2), license(3, 1)];
        let subscriptions = [
            subscription(1, 8, 2, 3, "User"),
            subscription(2, 1, 0, 1, "User"),
            subscription(3, 5, 0, 0, "Company"),
        ];
        let prices = [price(1, dec!(12.5), "CHF"), price(2, dec!(3), "CHF")];
        let report = cost_report(
            &allocations,
            &licenses,
            &subscriptions,
            &prices,
            &groups,
            day(),
        )
        .unwrap();
        let g = report.cost_of(gid(1), false).unwrap();
        assert_eq!((g.users, g.cost, g.cost_minor), (1, dec!(12.5), 1250));
        // User 2 is unallocated; user 3 holds a license but has no allocation at all.
        let u = &report.unallocated;
        assert_eq!(u.users, 2);
        assert_eq!(u.sku(sku(1)).unwrap().licenses, dec!(2));
        assert_eq!(u.cost, dec!(28));
        // SKU 1: 10 purchased, 3 assigned → 7 unassigned; the Company SKU is left out.
        assert_eq!(report.unassigned.skus.len(), 1);
        assert_eq!(report.unassigned.skus[0].licenses, dec!(7));
        assert_eq!(report.unassigned.cost_minor, 8750);
        assert_eq!(report.assigned.cost, dec!(40.5));
        assert_eq!(report.assigned.users, 3);
    }

    #[test]
    fn idle_seats_of_free_and_trial_skus_are_left_out_unless_asked_for() {
        let mut free = subscription(2, 10_000, 0, 12, "User");
        free.billing = SkuBilling::Free;
        let mut trial = subscription(3, 25, 0, 5, "User");
        trial.billing = SkuBilling::Trial;
        let mut other = subscription(4, 4, 0, 1, "User");
        other.billing = SkuBilling::Other;
        let subscriptions = [subscription(1, 10, 0, 3, "User"), free, trial, other];
        let prices = [price(1, dec!(10), "CHF"), price(4, dec!(1), "CHF")];
        let unassigned = |set: BillingSet| {
            let report =
                report_from_tally(&Tally::default(), &subscriptions, &prices, &[], day(), set)
                    .unwrap();
            report
                .unassigned
                .skus
                .iter()
                .map(|s| (s.sku_id, s.licenses))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            unassigned(BillingSet::PAID),
            [(sku(1), dec!(7)), (sku(4), dec!(3))]
        );
        assert_eq!(
            unassigned(SkuBilling::ALL.into_iter().collect()),
            [
                (sku(1), dec!(7)),
                (sku(2), dec!(9988)),
                (sku(3), dec!(20)),
                (sku(4), dec!(3))
            ]
        );
    }

    #[test]
    fn skus_without_a_price_cost_nothing_and_say_so() {
        let report = cost_report(
            &[allocation(1, &[(1, dec!(100))])],
            &[license(1, 9)],
            &[],
            &[],
            &[group(1, None)],
            day(),
        )
        .unwrap();
        let s = report.cost_of(gid(1), false).unwrap().sku(sku(9)).unwrap();
        assert_eq!((s.unit_price, s.cost, s.cost_minor), (None, dec!(0), 0));
        assert_eq!(report.currency, None);
    }

    #[test]
    fn currencies_without_minor_units_present_whole_amounts() {
        let groups = [group(1, None), group(2, None)];
        let allocations = [allocation(1, &[(1, dec!(50)), (2, dec!(50))])];
        let report = cost_report(
            &allocations,
            &[license(1, 1)],
            &[],
            &[price(1, dec!(1001), "JPY")],
            &groups,
            day(),
        )
        .unwrap();
        let minor: Vec<i64> = report.groups.iter().map(|g| g.own.cost_minor).collect();
        assert_eq!(minor, vec![501, 500]);
    }

    #[test]
    fn mixed_currencies_are_refused() {
        let err = cost_report(
            &[],
            &[license(1, 1), license(1, 2)],
            &[],
            &[price(1, dec!(1), "EUR"), price(2, dec!(1), "USD")],
            &[],
            day(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("prices in force must share one currency")
        );
    }

    #[test]
    fn an_allocation_to_a_group_outside_the_tree_is_refused() {
        let err = cost_report(
            &[allocation(1, &[(5, dec!(100))])],
            &[],
            &[],
            &[],
            &[group(1, None)],
            day(),
        )
        .unwrap_err();
        assert!(matches!(err, ReportError::UnknownCostGroup { .. }));
    }

    #[test]
    fn stale_allocations_are_not_costed() {
        let mut stale = allocation(1, &[(1, dec!(100))]);
        stale.stale = true;
        let report = cost_report(&[stale], &[], &[], &[], &[group(1, None)], day()).unwrap();
        assert_eq!(report.groups[0].own.users, 0);
    }

    #[test]
    fn descendants_roll_up_and_split_users_count_once() {
        // 1 ─┬─ 2 ── 4
        //    └─ 3
        let groups = [
            group(1, None),
            group(2, Some(1)),
            group(3, Some(1)),
            group(4, Some(2)),
        ];
        let allocations = [
            allocation(1, &[(2, dec!(50)), (3, dec!(50))]),
            allocation(2, &[(4, dec!(100))]),
            allocation(3, &[(1, dec!(100))]),
        ];
        let licenses = [license(1, 1), license(2, 1), license(3, 1)];
        let report = cost_report(
            &allocations,
            &licenses,
            &[],
            &[price(1, dec!(10), "EUR")],
            &groups,
            day(),
        )
        .unwrap();
        let top = report.cost_of(gid(1), true).unwrap();
        assert_eq!((top.users, top.cost, top.cost_minor), (3, dec!(30), 3000));
        assert_eq!(report.cost_of(gid(1), false).unwrap().users, 1);
        let two = report.cost_of(gid(2), true).unwrap();
        assert_eq!((two.users, two.cost), (2, dec!(15)));
        assert_eq!(two.sku(sku(1)).unwrap().licenses, dec!(1.5));
        assert_eq!(report.cost_of(gid(4), true).unwrap().cost, dec!(10));
    }

    #[test]
    fn a_cycle_in_the_group_tree_does_not_hang_the_roll_up() {
        let groups = [group(1, Some(2)), group(2, Some(1))];
        let report = cost_report(
            &[allocation(1, &[(1, dec!(100))])],
            &[license(1, 1)],
            &[],
            &[price(1, dec!(1), "EUR")],
            &groups,
            day(),
        )
        .unwrap();
        assert_eq!(report.cost_of(gid(2), true).unwrap().cost, dec!(1));
    }

    // ---- reconciliation property ------------------------------------------------------------

    const SPLITS: &[&[Decimal]] = &[
        &[dec!(100)],
        &[dec!(50), dec!(50)],
        &[dec!(33.33), dec!(33.33), dec!(33.34)],
        &[dec!(0.01), dec!(99.99)],
        &[dec!(12.5), dec!(37.25), dec!(50.25)],
        &[
            dec!(14.29),
            dec!(14.29),
            dec!(14.29),
            dec!(14.29),
            dec!(14.28),
            dec!(14.28),
            dec!(14.28),
        ],
    ];

    /// Split `split` of [`SPLITS`] over the groups from `first_group` on (of seven, wrapping).
    fn split_of(split: usize, first_group: u128) -> Vec<Share> {
        SPLITS[split]
            .iter()
            .enumerate()
            .map(|(k, p)| Share {
                cost_group: gid((first_group + k as u128) % 7),
                percent: *p,
            })
            .collect()
    }

    #[derive(Debug, Clone)]
    struct Case {
        users: Vec<User>,
        licenses: Vec<AssignedLicense>,
        rules: Vec<AllocationRule>,
        overrides: Vec<Override>,
        prices: Vec<Price>,
        subscriptions: Vec<Subscription>,
        currency: &'static str,
    }

    fn arb_report_case() -> impl Strategy<Value = Case> {
        let user_specs = prop::collection::vec((0usize..4, prop::bool::weighted(0.05)), 1..40);
        let license_specs = prop::collection::vec((0usize..40, 0u128..5), 0..80);
        // Rules split too: each takes one of SPLITS over consecutive groups.
        let rule_specs =
            prop::collection::vec((0usize..4, 0usize..SPLITS.len(), 0u128..7, -2i32..3), 0..5);
        let override_specs =
            prop::collection::vec((0usize..40, 0usize..SPLITS.len(), 0u128..7), 0..12);
        let price_specs = prop::collection::vec(prop::option::of((0i64..100_000_000, 0u32..=6)), 5);
        let currency = prop::sample::select(vec!["EUR", "JPY", "BHD", "CHF"]);
        (
            user_specs,
            license_specs,
            rule_specs,
            override_specs,
            price_specs,
            currency,
        )
            .prop_map(
                |(user_specs, license_specs, rule_specs, override_specs, price_specs, currency)| {
                    let depts = ["Sales", "IT", "HR", "Ops"];
                    let users: Vec<User> = user_specs
                        .iter()
                        .enumerate()
                        .map(|(i, &(d, deleted))| {
                            let mut u = user(i as u128);
                            u.department = Some(depts[d].to_string());
                            if deleted {
                                u.deleted_at = Some(DateTime::<Utc>::UNIX_EPOCH);
                            }
                            u
                        })
                        .collect();
                    let licenses = license_specs
                        .iter()
                        .filter(|(u, _)| users.get(*u).is_some_and(|u| u.deleted_at.is_none()))
                        .map(|&(u, s)| license(u as u128, s))
                        .collect();
                    let rules = rule_specs
                        .iter()
                        .enumerate()
                        .map(|(i, &(d, split, first_group, priority))| AllocationRule {
                            id: AllocationRuleId(guid(0x5000 + i as u128)),
                            tenant_id: tenant(),
                            targets: split_of(split, first_group),
                            priority,
                            enabled: true,
                            conditions: vec![Condition {
                                attribute: Attribute::Department,
                                operator: Operator::Equals,
                                values: vec![depts[d].to_lowercase()],
                                case_sensitive: false,
                            }],
                        })
                        .collect();
                    let overrides = override_specs
                        .iter()
                        .map(|&(u, split, first_group)| {
                            Override::new(UserId(guid(u as u128)), split_of(split, first_group))
                                .unwrap()
                        })
                        .collect();
                    let prices = price_specs
                        .iter()
                        .enumerate()
                        .filter_map(|(s, p)| {
                            p.map(|(mantissa, scale)| {
                                price(s as u128, Decimal::new(mantissa, scale), currency)
                            })
                        })
                        .collect();
                    let subscriptions = (0..5)
                        .map(|s| {
                            subscription(
                                s,
                                10 + s as i64,
                                1,
                                3,
                                if s == 4 { "Company" } else { "User" },
                            )
                        })
                        .collect();
                    Case {
                        users,
                        licenses,
                        rules,
                        overrides,
                        prices,
                        subscriptions,
                        currency,
                    }
                },
            )
    }

    fn tree() -> Vec<CostGroup> {
        vec![
            group(0, None),
            group(1, Some(0)),
            group(2, Some(0)),
            group(3, Some(1)),
            group(4, None),
            group(5, Some(4)),
            group(6, Some(5)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn the_report_reconciles_exactly_in_decimals_and_in_minor_units(case in arb_report_case()) {
            let groups = tree();
            let ids: Vec<CostGroupId> = groups.iter().map(|g| g.id).collect();
            let compiled: Vec<_> = case.rules.iter().map(|r| r.compile().unwrap()).collect();
            let allocations = evaluate(&AllocationInput {
                users: &case.users,
                licenses: &case.licenses,
                rules: &compiled,
                overrides: &case.overrides,
                cost_groups: &ids,
            });
            let report = cost_report(
                &allocations,
                &case.licenses,
                &case.subscriptions,
                &case.prices,
                &groups,
                day(),
            )
            .unwrap();

            // Exact total of all assigned licenses, computed directly.
            let unit = |s: SkuId| {
                price_on_test(&case.prices, s).unwrap_or_default()
            };
            let mut by_sku: BTreeMap<SkuId, Decimal> = BTreeMap::new();
            for l in &case.licenses {
                *by_sku.entry(l.sku_id).or_default() += unit(l.sku_id);
            }
            let exact_total: Decimal = by_sku.values().sum();
            let scale = Decimal::from(10i64.pow(Currency::parse(case.currency).unwrap().minor_units()));
            let rounded_total = (exact_total * scale)
                .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
                .to_i64()
                .unwrap();

            let lines: Vec<&CostLine> = report
                .groups
                .iter()
                .map(|g| &g.own)
                .chain(std::iter::once(&report.unallocated))
                .collect();
            let cost: Decimal = lines.iter().map(|l| l.cost).sum();
            let minor: i64 = lines.iter().map(|l| l.cost_minor).sum();
            prop_assert_eq!(cost, exact_total);
            prop_assert_eq!(report.assigned.cost, exact_total);
            prop_assert_eq!(minor, rounded_total);
            prop_assert_eq!(report.assigned.cost_minor, rounded_total);

            let mut sku_minor_sum = 0;
            for (&s, &exact) in &by_sku {
                let total = report.assigned.sku(s).unwrap();
                prop_assert_eq!(total.cost, exact);
                prop_assert!((Decimal::from(total.cost_minor) - exact * scale).abs() < Decimal::ONE);
                let cells: Vec<&SkuCost> = lines.iter().filter_map(|l| l.sku(s)).collect();
                prop_assert_eq!(cells.iter().map(|c| c.cost).sum::<Decimal>(), exact);
                prop_assert_eq!(cells.iter().map(|c| c.cost_minor).sum::<i64>(), total.cost_minor);
                for c in &cells {
                    prop_assert!((Decimal::from(c.cost_minor) - c.cost * scale).abs() < Decimal::ONE);
                }
                let count = case.licenses.iter().filter(|l| l.sku_id == s).count();
                prop_assert_eq!(cells.iter().map(|c| c.licenses).sum::<Decimal>(), Decimal::from(count));
                sku_minor_sum += total.cost_minor;
            }
            prop_assert_eq!(sku_minor_sum, rounded_total);

            // Roll-ups of the roots cover every group exactly once.
            let roots: Decimal = [0, 4].iter().map(|&r| report.cost_of(gid(r), true).unwrap().cost).sum();
            let roots_minor: i64 = [0, 4].iter().map(|&r| report.cost_of(gid(r), true).unwrap().cost_minor).sum();
            prop_assert_eq!(roots + report.unallocated.cost, exact_total);
            prop_assert_eq!(roots_minor + report.unallocated.cost_minor, rounded_total);
        }
    }

    fn price_on_test(prices: &[Price], s: SkuId) -> Option<Decimal> {
        super::super::price::price_on(prices, s, day()).map(Price::monthly_unit_price)
    }

    #[test]
    fn a_tally_changed_user_by_user_equals_a_tally_of_everyone() {
        let licenses: Vec<AssignedLicense> = (1..=6)
            .flat_map(|u| (1..=u % 3 + 1).map(move |k| license(u, k)))
            .collect();
        let before = [
            allocation(1, &[(1, dec!(100))]),
            allocation(2, &[(1, dec!(50)), (2, dec!(50))]),
            allocation(3, &[]),
            allocation(4, &[(2, dec!(100))]),
            allocation(5, &[(3, dec!(33.33)), (1, dec!(66.67))]),
            allocation(6, &[]),
        ];
        let mut changed = before.clone();
        changed[1] = allocation(2, &[(3, dec!(100))]);
        changed[2] = allocation(3, &[(2, dec!(10)), (1, dec!(90))]);
        changed[4] = allocation(5, &[]);
        let mut incremental = tally(&before, &licenses);
        let users = [UserId(guid(2)), UserId(guid(3)), UserId(guid(5))];
        let of = |a: &[UserAllocation]| -> (Vec<UserAllocation>, Vec<AssignedLicense>) {
            (
                a.iter()
                    .filter(|x| users.contains(&x.user_id))
                    .cloned()
                    .collect(),
                licenses
                    .iter()
                    .filter(|l| users.contains(&l.user_id))
                    .cloned()
                    .collect(),
            )
        };
        let (old, own) = of(&before);
        incremental.subtract(&tally(&old, &own));
        let (new, own) = of(&changed);
        incremental.add(&tally(&new, &own));
        let mut full = tally(&changed, &licenses);
        incremental.splits.sort();
        full.splits.sort();
        assert_eq!(incremental, full);
    }
}
