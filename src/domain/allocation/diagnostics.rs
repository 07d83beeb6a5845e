//! Rule diagnostics: what each rule of a tenant matches and places, which earlier rules share
//! its users, and the most common attribute values of the users no rule places. Counted while
//! the engine evaluates (see [`super::Evaluator::allocate_diagnosed`]), additive so that an
//! evaluation of some users can take their old counts out and add the new ones.
//! Pure; must not import SeaORM, async-graphql, actix or reqwest.

use std::collections::{BTreeMap, HashMap};

use crate::domain::ids::AllocationRuleId;
use crate::domain::user::User;

use super::engine::{AllocationSource, UserAllocation};
use super::rule::{Attribute, slot_value_of};

/// The non-empty values of `user`'s hint attributes.
fn hint_values(user: &User) -> impl Iterator<Item = (Attribute, &str)> {
    HINT_ATTRIBUTES.iter().filter_map(|&attribute| {
        slot_value_of(user, attribute)
            .filter(|v| !v.is_empty())
            .map(|v| (attribute, v))
    })
}

/// The attributes whose values among unallocated users are counted as hints, in the order
/// hints list them.
pub const HINT_ATTRIBUTES: [Attribute; 7] = [
    Attribute::Department,
    Attribute::CompanyName,
    Attribute::OfficeLocation,
    Attribute::UpnDomain,
    Attribute::Country,
    Attribute::City,
    Attribute::JobTitle,
];

/// Most values a hint lists per attribute.
pub const HINTS_PER_ATTRIBUTE: usize = 5;

/// The counts behind a tenant's rule diagnostics, over its present users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiagnosticsTally {
    /// Users all of a rule's conditions hold for, overridden ones included; rules matching
    /// nobody are absent.
    pub matched: BTreeMap<AllocationRuleId, u64>,
    /// Users a rule places (the first matching rule of a user without an override).
    pub placed: BTreeMap<AllocationRuleId, u64>,
    /// Users matched by both a rule (first) and an earlier rule (second) in evaluation order.
    pub overlaps: BTreeMap<(AllocationRuleId, AllocationRuleId), u64>,
    /// Users neither an override nor a rule places.
    pub unallocated_users: u64,
    /// How many unallocated users have each (non-empty) value of each of [`HINT_ATTRIBUTES`].
    pub unallocated_values: BTreeMap<(Attribute, String), u64>,
}

fn merge<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>, add: bool) {
    for (key, n) in from {
        let entry = into.entry(key.clone()).or_default();
        *entry = if add {
            *entry + n
        } else {
            entry.saturating_sub(*n)
        };
        if *entry == 0 {
            into.remove(key);
        }
    }
}

impl DiagnosticsTally {
    /// Adds the counts of `other` (users evaluated apart).
    pub fn add(&mut self, other: &DiagnosticsTally) {
        self.combine(other, true);
    }

    /// Takes out the counts of `other` (users about to be evaluated again).
    pub fn subtract(&mut self, other: &DiagnosticsTally) {
        self.combine(other, false);
    }

    fn combine(&mut self, other: &DiagnosticsTally, add: bool) {
        merge(&mut self.matched, &other.matched, add);
        merge(&mut self.placed, &other.placed, add);
        merge(&mut self.overlaps, &other.overlaps, add);
        merge(&mut self.unallocated_values, &other.unallocated_values, add);
        self.unallocated_users = if add {
            self.unallocated_users + other.unallocated_users
        } else {
            self.unallocated_users
                .saturating_sub(other.unallocated_users)
        };
    }

    /// The placements of `allocations` of present `users` alone: users placed by a rule, and
    /// unallocated users with their hint values; no matches or overlaps. What changes in a
    /// tenant's tally when only overrides change.
    pub fn of_placements(users: &[User], allocations: &[UserAllocation]) -> DiagnosticsTally {
        let present: HashMap<_, &User> = users
            .iter()
            .filter(|u| u.deleted_at.is_none())
            .map(|u| (u.id, u))
            .collect();
        let mut out = DiagnosticsTally::default();
        for a in allocations.iter().filter(|a| !a.stale) {
            let Some(user) = present.get(&a.user_id) else {
                continue;
            };
            match a.source {
                AllocationSource::Rule(rule) => *out.placed.entry(rule).or_default() += 1,
                AllocationSource::Unallocated => {
                    out.unallocated_users += 1;
                    for (attribute, value) in hint_values(user) {
                        *out.unallocated_values
                            .entry((attribute, value.to_owned()))
                            .or_default() += 1;
                    }
                }
                AllocationSource::Override => {}
            }
        }
        out
    }

    /// The diagnostics of `rules`, the rules evaluated in evaluation order (enabled, targeting
    /// an existing group, by priority then id), one per rule in that order.
    pub fn diagnose(&self, rules: &[AllocationRuleId]) -> Vec<RuleDiagnostics> {
        let position: HashMap<AllocationRuleId, usize> =
            rules.iter().enumerate().map(|(i, r)| (*r, i)).collect();
        let mut overlaps: Vec<Vec<(AllocationRuleId, u64)>> = vec![Vec::new(); rules.len()];
        for (&(rule, earlier), &users) in &self.overlaps {
            if let (Some(&i), Some(_)) = (position.get(&rule), position.get(&earlier)) {
                overlaps[i].push((earlier, users));
            }
        }
        rules
            .iter()
            .zip(overlaps)
            .map(|(&rule, mut overlaps)| {
                overlaps.sort_by_key(|(earlier, _)| position.get(earlier).copied());
                let matched = self.matched.get(&rule).copied().unwrap_or(0);
                let placed = self.placed.get(&rule).copied().unwrap_or(0);
                let verdict = if matched == 0 {
                    RuleVerdict::Unreachable
                } else if placed == 0 {
                    RuleVerdict::Shadowed
                } else if !overlaps.is_empty() {
                    RuleVerdict::Overlapping
                } else {
                    RuleVerdict::Effective
                };
                RuleDiagnostics {
                    rule,
                    matched,
                    placed,
                    verdict,
                    overlaps,
                }
            })
            .collect()
    }

    /// The most common values of each of [`HINT_ATTRIBUTES`] among unallocated users, at most
    /// `per_attribute` each, most users first then by value; attributes no unallocated user
    /// has a value of are left out.
    pub fn hints(&self, per_attribute: usize) -> Vec<Hint> {
        HINT_ATTRIBUTES
            .iter()
            .filter_map(|&attribute| {
                let mut values: Vec<(String, u64)> = self
                    .unallocated_values
                    .range((attribute, String::new())..)
                    .take_while(|((a, _), _)| *a == attribute)
                    .map(|((_, v), n)| (v.clone(), *n))
                    .collect();
                values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                values.truncate(per_attribute);
                (!values.is_empty()).then_some(Hint { attribute, values })
            })
            .collect()
    }
}

/// What one rule does, judged over the tenant's present users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDiagnostics {
    /// The rule.
    pub rule: AllocationRuleId,
    /// Users all its conditions hold for (overridden ones included).
    pub matched: u64,
    /// Users it places: the first matching rule of a user without an override.
    pub placed: u64,
    /// The verdict.
    pub verdict: RuleVerdict,
    /// Earlier rules that match some of the same users, with how many, in evaluation order.
    pub overlaps: Vec<(AllocationRuleId, u64)>,
}

/// A rule's verdict, the first that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleVerdict {
    /// It matches nobody.
    Unreachable,
    /// It matches users, but every one is taken by an earlier rule or an override.
    Shadowed,
    /// It places users, and shares some of its users with earlier rules.
    Overlapping,
    /// It places users no earlier rule matches.
    Effective,
}

/// The most common values of one attribute among unallocated users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The attribute.
    pub attribute: Attribute,
    /// Values with the number of unallocated users having them, most first.
    pub values: Vec<(String, u64)>,
}

/// Counts of one evaluation call, by rule position, merged into a [`DiagnosticsTally`] at the
/// end: cheaper per user than keying by rule id.
pub(crate) struct Counter {
    matched: Vec<u64>,
    placed: Vec<u64>,
    overlaps: HashMap<(u32, u32), u64>,
    unallocated_users: u64,
    values: Vec<HashMap<String, u64>>,
    /// Positions of the rules the current user matches, in order.
    pub(crate) hits: Vec<u32>,
}

impl Counter {
    /// A counter for `rules` rules.
    pub(crate) fn new(rules: usize) -> Self {
        Counter {
            matched: vec![0; rules],
            placed: vec![0; rules],
            overlaps: HashMap::new(),
            unallocated_users: 0,
            values: vec![HashMap::new(); HINT_ATTRIBUTES.len()],
            hits: Vec::new(),
        }
    }

    /// Counts the current user's `hits`: each rule matched, each pair of them overlapping.
    pub(crate) fn count_hits(&mut self) {
        for (k, &i) in self.hits.iter().enumerate() {
            self.matched[i as usize] += 1;
            for &earlier in &self.hits[..k] {
                *self.overlaps.entry((i, earlier)).or_default() += 1;
            }
        }
    }

    /// Counts a user placed by the rule at `position`.
    pub(crate) fn count_placed(&mut self, position: u32) {
        self.placed[position as usize] += 1;
    }

    /// Counts an unallocated user and their hint attribute values.
    pub(crate) fn count_unallocated(&mut self, user: &User) {
        self.unallocated_users += 1;
        for (attribute, counts) in HINT_ATTRIBUTES.iter().zip(&mut self.values) {
            let Some(value) = slot_value_of(user, *attribute).filter(|v| !v.is_empty()) else {
                continue;
            };
            // Looked up by `&str` first: most values repeat, and need no new String.
            match counts.get_mut(value) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(value.to_owned(), 1);
                }
            }
        }
    }

    /// Adds the counts to `tally`, naming rules by `ids` (by position).
    pub(crate) fn add_to(self, tally: &mut DiagnosticsTally, ids: &[AllocationRuleId]) {
        let mut part = DiagnosticsTally {
            unallocated_users: self.unallocated_users,
            ..DiagnosticsTally::default()
        };
        let nonzero = |counts: Vec<u64>| {
            ids.iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(id, n)| (*id, n))
                .collect::<BTreeMap<_, _>>()
        };
        part.matched = nonzero(self.matched);
        part.placed = nonzero(self.placed);
        part.overlaps = self
            .overlaps
            .into_iter()
            .map(|((i, j), n)| ((ids[i as usize], ids[j as usize]), n))
            .collect();
        part.unallocated_values = HINT_ATTRIBUTES
            .iter()
            .zip(self.values)
            .flat_map(|(a, counts)| counts.into_iter().map(move |(v, n)| ((*a, v), n)))
            .collect();
        tally.add(&part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::allocation::test_support::guid;

    fn id(n: u128) -> AllocationRuleId {
        AllocationRuleId(guid(n))
    }

    #[test]
    fn verdicts_follow_the_counts() {
        let mut t = DiagnosticsTally::default();
        t.matched.extend([(id(1), 5), (id(2), 3), (id(3), 4)]);
        t.placed.extend([(id(1), 5), (id(3), 1)]);
        t.overlaps.extend([
            ((id(2), id(1)), 3),
            ((id(3), id(1)), 2),
            ((id(3), id(2)), 1),
        ]);
        let d = t.diagnose(&[id(1), id(2), id(3), id(4)]);
        let verdicts: Vec<RuleVerdict> = d.iter().map(|d| d.verdict).collect();
        assert_eq!(
            verdicts,
            [
                RuleVerdict::Effective,
                RuleVerdict::Shadowed,
                RuleVerdict::Overlapping,
                RuleVerdict::Unreachable
            ]
        );
        assert_eq!(d[2].overlaps, [(id(1), 2), (id(2), 1)]);
        assert_eq!((d[3].matched, d[3].placed), (0, 0));
    }

    #[test]
    fn adding_then_subtracting_leaves_the_tally_as_it_was() {
        let mut base = DiagnosticsTally::default();
        base.matched.insert(id(1), 4);
        base.unallocated_users = 2;
        base.unallocated_values
            .insert((Attribute::Department, "Sales".into()), 2);
        let mut part = DiagnosticsTally::default();
        part.matched.extend([(id(1), 1), (id(2), 1)]);
        part.overlaps.insert((id(2), id(1)), 1);
        part.unallocated_users = 1;
        part.unallocated_values
            .insert((Attribute::Country, "CH".into()), 1);
        let mut t = base.clone();
        t.add(&part);
        assert_eq!(t.matched[&id(1)], 5);
        t.subtract(&part);
        assert_eq!(t, base);
    }

    #[test]
    fn hints_list_the_most_common_values_first() {
        let mut t = DiagnosticsTally::default();
        for (a, v, n) in [
            (Attribute::Department, "Sales", 3),
            (Attribute::Department, "IT", 7),
            (Attribute::Department, "HR", 3),
            (Attribute::Country, "CH", 1),
        ] {
            t.unallocated_values.insert((a, v.into()), n);
        }
        let hints = t.hints(2);
        assert_eq!(
            hints,
            [
                Hint {
                    attribute: Attribute::Department,
                    values: vec![("IT".into(), 7), ("HR".into(), 3)],
                },
                Hint {
                    attribute: Attribute::Country,
                    values: vec![("CH".into(), 1)],
                },
            ]
        );
    }
}
