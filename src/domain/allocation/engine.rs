//! The allocation engine: users, their licenses, rules and overrides in, one allocation per user
//! out, with the reason. Pure and synchronous; must not import SeaORM, async-graphql, actix,
//! reqwest or tokio.

use std::collections::{HashMap, HashSet};

use crate::domain::ids::{AllocationRuleId, CostGroupId, SkuId, UserId};
use crate::domain::user::{AssignedLicense, User};

use super::diagnostics::{Counter, DiagnosticsTally};
use super::overrides::{Override, Share};
use super::rule::{CompiledRule, Condition, UserFacts};

/// Everything one tenant's evaluation reads.
#[derive(Debug, Clone, Copy)]
pub struct AllocationInput<'a> {
    /// The tenant's users, present and soft-deleted.
    pub users: &'a [User],
    /// Their assigned licenses (for `hasLicenseOfSku`).
    pub licenses: &'a [AssignedLicense],
    /// The tenant's rules, compiled, in any order; disabled ones are skipped.
    pub rules: &'a [CompiledRule],
    /// The tenant's overrides; of two for one user the first counts.
    pub overrides: &'a [Override],
    /// The cost groups that exist. Rules targeting, and overrides naming, any other group are
    /// ignored (the store does not let that happen; the engine stays safe if it does).
    pub cost_groups: &'a [CostGroupId],
}

/// Why a user is where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllocationSource {
    /// Set by hand; overrides win over rules.
    Override,
    /// The first enabled rule, by priority then id, whose conditions all hold.
    Rule(AllocationRuleId),
    /// No override and no matching rule.
    Unallocated,
}

/// Where one user's license cost goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAllocation {
    /// The user.
    pub user_id: UserId,
    /// The cost groups and percentages, summing to exactly 100; empty when unallocated.
    pub shares: Vec<Share>,
    /// Why.
    pub source: AllocationSource,
    /// An override kept for a user deleted upstream (or unknown): reported, not costed.
    pub stale: bool,
}

impl UserAllocation {
    /// A user placed nowhere: no override and no matching rule.
    pub fn unallocated(user_id: UserId) -> Self {
        UserAllocation {
            user_id,
            shares: Vec::new(),
            source: AllocationSource::Unallocated,
            stale: false,
        }
    }

    /// The cost groups and percentages, by group, percentages normalized (`50.0` is `50`): two
    /// allocations that place a user alike have equal placements.
    pub fn placement(&self) -> Vec<(CostGroupId, rust_decimal::Decimal)> {
        let mut shares: Vec<_> = self
            .shares
            .iter()
            .map(|s| (s.cost_group, s.percent.normalize()))
            .collect();
        shares.sort();
        shares
    }
}

/// Allocates every present user of the input, in input order, then reports each override of a
/// deleted or unknown user as a `stale` allocation (in override order). Deleted users get no
/// allocation otherwise: they hold no licenses.
///
/// An override wins; otherwise the first enabled rule by `(priority, id)` whose conditions all
/// hold places the user in its targets (100 % in its one target, or split by its targets'
/// percentages); otherwise the user is unallocated.
pub fn evaluate(input: &AllocationInput<'_>) -> Vec<UserAllocation> {
    let mut evaluator = Evaluator::new(input.rules, input.overrides, input.cost_groups);
    if evaluator.follows_managers() {
        let links: Vec<(UserId, Option<UserId>)> =
            input.users.iter().map(|u| (u.id, u.manager_id)).collect();
        evaluator.set_managers(&links);
    }
    let mut out = evaluator.allocate(input.users, input.licenses);
    let known: HashSet<UserId> = input.users.iter().map(|u| u.id).collect();
    out.extend(evaluator.stale_overrides(|user| known.contains(&user)));
    out
}

/// A tenant's rules, overrides and manager chains, ready to allocate its users a chunk at a
/// time: [`evaluate`] in pieces, so that a caller need not hold every user at once. Allocating
/// each user once, in any chunks, then adding [`Evaluator::stale_overrides`] gives what
/// [`evaluate`] gives for all of them.
pub struct Evaluator<'a> {
    /// Enabled rules whose targets all exist, by `(priority, id)`.
    rules: Vec<&'a CompiledRule>,
    /// The first override of each user whose groups all exist.
    overrides: HashMap<UserId, &'a Override>,
    /// Every override, for the stale ones.
    all_overrides: &'a [Override],
    /// The rule-named managers each user reports to, directly or not (users reaching none are
    /// left out).
    reach: HashMap<UserId, Vec<UserId>>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator of `rules` and `overrides` against the tenant's `cost_groups`. When
    /// [`Evaluator::follows_managers`], give it the tenant's manager links with
    /// [`Evaluator::set_managers`] before allocating.
    pub fn new(
        rules: &'a [CompiledRule],
        overrides: &'a [Override],
        cost_groups: &[CostGroupId],
    ) -> Self {
        let groups: HashSet<CostGroupId> = cost_groups.iter().copied().collect();
        let mut enabled: Vec<&CompiledRule> = rules
            .iter()
            .filter(|r| {
                r.rule().enabled
                    && r.rule()
                        .targets
                        .iter()
                        .all(|s| groups.contains(&s.cost_group))
            })
            .collect();
        enabled.sort_by_key(|r| (r.rule().priority, r.rule().id));

        let mut valid: HashMap<UserId, &Override> = HashMap::with_capacity(overrides.len());
        for o in overrides {
            if o.shares().iter().all(|s| groups.contains(&s.cost_group)) {
                valid.entry(o.user_id()).or_insert(o);
            }
        }
        Evaluator {
            rules: enabled,
            overrides: valid,
            all_overrides: overrides,
            reach: HashMap::new(),
        }
    }

    /// Whether a rule names managers (`reportsTo`), so that allocating needs the manager chains.
    pub fn follows_managers(&self) -> bool {
        self.rules.iter().any(|r| r.managers().next().is_some())
    }

    /// Follows the manager chains of `users`: every user of the tenant (present and deleted
    /// upstream) with their manager's id.
    pub fn set_managers(&mut self, users: &[(UserId, Option<UserId>)]) {
        let named: HashSet<UserId> = self.rules.iter().flat_map(|r| r.managers()).collect();
        self.reach = if named.is_empty() {
            HashMap::new()
        } else {
            managers_reached(users, &named)
        };
    }

    /// Allocates every present user of `users` (in order; deleted ones only yield their
    /// override, as stale), holding `licenses` (licenses of other users are ignored).
    pub fn allocate(&self, users: &[User], licenses: &[AssignedLicense]) -> Vec<UserAllocation> {
        self.allocate_counting(users, licenses, None)
    }

    /// As [`Evaluator::allocate`], and adds the present users' rule diagnostics to
    /// `diagnostics`: every rule is tested for every present user (overridden ones included),
    /// not only up to the first that matches.
    pub fn allocate_diagnosed(
        &self,
        users: &[User],
        licenses: &[AssignedLicense],
        diagnostics: &mut DiagnosticsTally,
    ) -> Vec<UserAllocation> {
        let mut counter = Counter::new(self.rules.len());
        let out = self.allocate_counting(users, licenses, Some(&mut counter));
        counter.add_to(diagnostics, &self.rule_order());
        out
    }

    /// The rules evaluated, in evaluation order: enabled, targeting an existing group, by
    /// `(priority, id)`. Diagnostics are given for these.
    pub fn rule_order(&self) -> Vec<AllocationRuleId> {
        self.rules.iter().map(|r| r.rule().id).collect()
    }

    fn allocate_counting(
        &self,
        users: &[User],
        licenses: &[AssignedLicense],
        mut counter: Option<&mut Counter>,
    ) -> Vec<UserAllocation> {
        let skus = skus_of(users, licenses);
        let mut out = Vec::with_capacity(users.len());
        for (user, skus) in users.iter().zip(&skus) {
            let own = self.overrides.get(&user.id);
            if user.deleted_at.is_some() {
                if let Some(o) = own {
                    out.push(stale(o));
                }
                continue;
            }
            if let (Some(o), None) = (own, &counter) {
                out.push(overridden(user.id, o));
                continue;
            }
            let managers = self.reach.get(&user.id).map_or(&[][..], Vec::as_slice);
            let facts = UserFacts::new(user, skus, managers);
            let holds = |r: &CompiledRule| r.conditions().iter().all(|c| c.holds(&facts));
            let winner = match counter.as_deref_mut() {
                None => self.rules.iter().find(|r| holds(r)),
                Some(counter) => {
                    counter.hits.clear();
                    counter.hits.extend(
                        self.rules
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| holds(r))
                            .map(|(i, _)| i as u32),
                    );
                    counter.count_hits();
                    let first = counter.hits.first().copied();
                    match (own, first) {
                        (Some(_), _) => None,
                        (None, Some(i)) => {
                            counter.count_placed(i);
                            self.rules.get(i as usize)
                        }
                        (None, None) => {
                            counter.count_unallocated(user);
                            None
                        }
                    }
                }
            };
            if let Some(o) = own {
                out.push(overridden(user.id, o));
                continue;
            }
            out.push(match winner {
                Some(r) => UserAllocation {
                    user_id: user.id,
                    shares: r.rule().targets.clone(),
                    source: AllocationSource::Rule(r.rule().id),
                    stale: false,
                },
                None => UserAllocation::unallocated(user.id),
            });
        }
        out
    }

    /// Why `user` (present, holding `licenses`) is allocated as they are: the override when one
    /// applies, otherwise each rule tried in evaluation order with each condition's result, up
    /// to the first that matches (every rule when none does). Only `user`'s own values appear.
    pub fn explain(&self, user: &User, licenses: &[AssignedLicense]) -> Explanation {
        if self.overrides.contains_key(&user.id) {
            return Explanation {
                overridden: true,
                rules: Vec::new(),
            };
        }
        let skus: Vec<SkuId> = licenses
            .iter()
            .filter(|l| l.user_id == user.id)
            .map(|l| l.sku_id)
            .collect();
        let managers = self.reach.get(&user.id).map_or(&[][..], Vec::as_slice);
        let facts = UserFacts::new(user, &skus, managers);
        let mut rules = Vec::new();
        for r in &self.rules {
            let conditions: Vec<ConditionTrial> = r
                .rule()
                .conditions
                .iter()
                .zip(r.conditions())
                .map(|(condition, compiled)| ConditionTrial {
                    condition: condition.clone(),
                    user_values: compiled.user_values(&facts),
                    holds: compiled.holds(&facts),
                })
                .collect();
            let matched = conditions.iter().all(|c| c.holds);
            rules.push(RuleTrial {
                rule: r.rule().id,
                matched,
                conditions,
            });
            if matched {
                break;
            }
        }
        Explanation {
            overridden: false,
            rules,
        }
    }

    /// The overrides of users `known` says the tenant does not have, as stale allocations, one
    /// per user, in override order.
    pub fn stale_overrides(&self, known: impl Fn(UserId) -> bool) -> Vec<UserAllocation> {
        let mut reported: HashSet<UserId> = HashSet::new();
        self.all_overrides
            .iter()
            .filter(|o| !known(o.user_id()) && reported.insert(o.user_id()))
            .map(stale)
            .collect()
    }
}

/// Why a user is allocated as they are; see [`Evaluator::explain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// An override places the user; no rule is tried.
    pub overridden: bool,
    /// The rules tried, in evaluation order; the last is the winner when it `matched`.
    pub rules: Vec<RuleTrial>,
}

/// One rule tried for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTrial {
    /// The rule.
    pub rule: AllocationRuleId,
    /// Whether all its conditions hold.
    pub matched: bool,
    /// Each condition, in the rule's order.
    pub conditions: Vec<ConditionTrial>,
}

/// One condition tested on a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionTrial {
    /// The condition as written.
    pub condition: Condition,
    /// The user's own values it read (see `CompiledCondition::user_values`).
    pub user_values: Vec<String>,
    /// Whether it holds.
    pub holds: bool,
}

/// The SKUs each of `users` holds, by position, from `licenses`.
fn skus_of(users: &[User], licenses: &[AssignedLicense]) -> Vec<Vec<SkuId>> {
    let index: HashMap<UserId, usize> = users
        .iter()
        .enumerate()
        .rev()
        .map(|(i, u)| (u.id, i))
        .collect();
    let mut skus: Vec<Vec<SkuId>> = vec![Vec::new(); users.len()];
    for license in licenses {
        if let Some(&i) = index.get(&license.user_id) {
            skus[i].push(license.sku_id);
        }
    }
    skus
}

/// The allocation of present `user`, placed by their override `o`.
fn overridden(user: UserId, o: &Override) -> UserAllocation {
    UserAllocation {
        user_id: user,
        shares: o.shares().to_vec(),
        source: AllocationSource::Override,
        stale: false,
    }
}

fn stale(o: &Override) -> UserAllocation {
    UserAllocation {
        user_id: o.user_id(),
        shares: o.shares().to_vec(),
        source: AllocationSource::Override,
        stale: true,
    }
}

/// For each user of `users` (id, manager id) that reaches any, the rule-named managers they
/// report to directly or through any chain of managers. Each user is visited once: a chain is
/// followed until a user already done, the top, or a cycle; everyone on a cycle reaches every
/// named user on it.
fn managers_reached(
    users: &[(UserId, Option<UserId>)],
    named: &HashSet<UserId>,
) -> HashMap<UserId, Vec<UserId>> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        New,
        OnPath(usize),
        Done,
    }
    let index: HashMap<UserId, usize> = users
        .iter()
        .enumerate()
        .rev()
        .map(|(i, u)| (u.0, i))
        .collect();
    let manager_of = |i: usize| users[i].1.and_then(|m| index.get(&m).copied());
    let mut state = vec![State::New; users.len()];
    let mut reach: Vec<Vec<UserId>> = vec![Vec::new(); users.len()];
    let mut path: Vec<usize> = Vec::new();

    for start in 0..users.len() {
        if state[start] != State::New {
            continue;
        }
        path.clear();
        let mut cur = Some(start);
        while let Some(i) = cur {
            match state[i] {
                State::Done => break,
                State::OnPath(pos) => {
                    // path[pos..] is a cycle: each member's managers are exactly its members.
                    let mut on_cycle: Vec<UserId> = path[pos..]
                        .iter()
                        .map(|&j| users[j].0)
                        .filter(|id| named.contains(id))
                        .collect();
                    on_cycle.sort();
                    on_cycle.dedup();
                    for &j in &path[pos..] {
                        reach[j] = on_cycle.clone();
                        state[j] = State::Done;
                    }
                    path.truncate(pos);
                    break;
                }
                State::New => {
                    state[i] = State::OnPath(path.len());
                    path.push(i);
                    cur = manager_of(i);
                }
            }
        }
        // Unwind: each user reaches its manager (when named) and whatever the manager reaches.
        while let Some(j) = path.pop() {
            let mut r = manager_of(j).map(|m| reach[m].clone()).unwrap_or_default();
            if let Some(m) = users[j].1
                && named.contains(&m)
                && !r.contains(&m)
            {
                r.push(m);
            }
            reach[j] = r;
            state[j] = State::Done;
        }
    }
    users
        .iter()
        .zip(reach)
        .filter(|(_, r)| !r.is_empty())
        .map(|(u, r)| (u.0, r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::allocation::diagnostics::RuleVerdict;
    use crate::domain::allocation::rule::{AllocationRule, Attribute, Condition, Operator};
    use crate::domain::allocation::test_support::{guid, tenant, user};
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    fn group(n: u128) -> CostGroupId {
        CostGroupId(guid(0x6000 + n))
    }

    fn rule(id: u128, priority: i32, target: u128, conditions: Vec<Condition>) -> AllocationRule {
        AllocationRule {
            id: AllocationRuleId(guid(0x5000 + id)),
            tenant_id: tenant(),
            targets: vec![Share::whole(group(target))],
            priority,
            enabled: true,
            conditions,
        }
    }

    fn cond(attribute: Attribute, operator: Operator, values: &[&str]) -> Condition {
        Condition::new(
            attribute,
            operator,
            values.iter().map(|v| v.to_string()).collect(),
        )
        .unwrap()
    }

    fn dept(value: &str) -> Condition {
        cond(Attribute::Department, Operator::Equals, &[value])
    }

    fn run(
        users: &[User],
        licenses: &[AssignedLicense],
        rules: &[AllocationRule],
        overrides: &[Override],
    ) -> Vec<UserAllocation> {
        let compiled: Vec<CompiledRule> = rules.iter().map(|r| r.compile().unwrap()).collect();
        let groups: Vec<CostGroupId> = (0..10).map(group).collect();
        evaluate(&AllocationInput {
            users,
            licenses,
            rules: &compiled,
            overrides,
            cost_groups: &groups,
        })
    }

    fn sources(allocations: &[UserAllocation]) -> Vec<AllocationSource> {
        allocations.iter().map(|a| a.source).collect()
    }

    fn rule_id(id: u128) -> AllocationSource {
        AllocationSource::Rule(AllocationRuleId(guid(0x5000 + id)))
    }

    fn with_dept(n: u128, department: &str) -> User {
        let mut u = user(n);
        u.department = Some(department.into());
        u
    }

    #[test]
    fn the_first_matching_rule_by_priority_wins() {
        let users = [with_dept(1, "Sales"), with_dept(2, "IT"), user(3)];
        let rules = [
            rule(1, 20, 1, vec![dept("sales")]),
            rule(2, 10, 2, vec![dept("SALES")]),
            rule(3, 30, 3, vec![dept("it")]),
        ];
        let out = run(&users, &[], &rules, &[]);
        assert_eq!(
            sources(&out),
            vec![rule_id(2), rule_id(3), AllocationSource::Unallocated]
        );
        assert_eq!(out[0].shares, vec![Share::whole(group(2))]);
        assert!(out[2].shares.is_empty());
    }

    #[test]
    fn equal_priorities_are_ordered_by_rule_id() {
        let users = [with_dept(1, "Sales")];
        let rules = [
            rule(9, 5, 1, vec![dept("sales")]),
            rule(4, 5, 2, vec![dept("sales")]),
        ];
        assert_eq!(sources(&run(&users, &[], &rules, &[])), vec![rule_id(4)]);
    }

    #[test]
    fn disabled_rules_never_match() {
        let users = [with_dept(1, "Sales")];
        let mut first = rule(1, 1, 1, vec![dept("sales")]);
        first.enabled = false;
        let rules = [first, rule(2, 2, 2, vec![dept("sales")])];
        assert_eq!(sources(&run(&users, &[], &rules, &[])), vec![rule_id(2)]);
    }

    #[test]
    fn every_condition_of_a_rule_must_hold() {
        let mut u = with_dept(1, "Sales");
        u.country = Some("Germany".into());
        let users = [u, with_dept(2, "Sales")];
        let both = vec![
            dept("sales"),
            cond(Attribute::Country, Operator::Equals, &["germany"]),
        ];
        let rules = [rule(1, 1, 1, both)];
        assert_eq!(
            sources(&run(&users, &[], &rules, &[])),
            vec![rule_id(1), AllocationSource::Unallocated]
        );
    }

    #[test]
    fn rules_targeting_unknown_groups_are_skipped() {
        let users = [with_dept(1, "Sales")];
        let rules = [
            rule(1, 1, 99, vec![dept("sales")]),
            rule(2, 2, 2, vec![dept("sales")]),
        ];
        assert_eq!(sources(&run(&users, &[], &rules, &[])), vec![rule_id(2)]);
    }

    #[test]
    fn a_split_rule_places_its_users_by_its_targets_and_is_skipped_when_one_target_is_gone() {
        let users = [with_dept(1, "Sales")];
        let mut split = rule(1, 1, 0, vec![dept("sales")]);
        split.targets = vec![
            Share {
                cost_group: group(3),
                percent: dec!(60),
            },
            Share {
                cost_group: group(4),
                percent: dec!(40),
            },
        ];
        let out = run(&users, &[], std::slice::from_ref(&split), &[]);
        assert_eq!(sources(&out), vec![rule_id(1)]);
        assert_eq!(out[0].shares, split.targets);

        split.targets[1].cost_group = group(99);
        let fallback = rule(2, 2, 2, vec![dept("sales")]);
        let out = run(&users, &[], &[split, fallback], &[]);
        assert_eq!(sources(&out), vec![rule_id(2)]);
    }

    #[test]
    fn overrides_beat_rules() {
        let users = [with_dept(1, "Sales")];
        let rules = [rule(1, 1, 1, vec![dept("sales")])];
        let split = Override::new(
            UserId(guid(1)),
            vec![
                Share {
                    cost_group: group(3),
                    percent: dec!(60),
                },
                Share {
                    cost_group: group(4),
                    percent: dec!(40),
                },
            ],
        )
        .unwrap();
        let out = run(&users, &[], &rules, std::slice::from_ref(&split));
        assert_eq!(sources(&out), vec![AllocationSource::Override]);
        assert_eq!(out[0].shares, split.shares());
        assert!(!out[0].stale);
    }

    #[test]
    fn overrides_of_deleted_or_unknown_users_are_reported_stale_and_deleted_users_are_not_allocated()
     {
        let mut gone = with_dept(1, "Sales");
        gone.deleted_at = Some(DateTime::<Utc>::UNIX_EPOCH);
        let mut gone_too = with_dept(2, "Sales");
        gone_too.deleted_at = Some(DateTime::<Utc>::UNIX_EPOCH);
        let users = [gone, gone_too, with_dept(3, "Sales")];
        let rules = [rule(1, 1, 1, vec![dept("sales")])];
        let overrides = [
            Override::pin(UserId(guid(1)), group(2)),
            Override::pin(UserId(guid(77)), group(2)),
        ];
        let out = run(&users, &[], &rules, &overrides);
        let summary: Vec<(UserId, AllocationSource, bool)> =
            out.iter().map(|a| (a.user_id, a.source, a.stale)).collect();
        assert_eq!(
            summary,
            vec![
                (UserId(guid(1)), AllocationSource::Override, true),
                (UserId(guid(3)), rule_id(1), false),
                (UserId(guid(77)), AllocationSource::Override, true),
            ]
        );
    }

    #[test]
    fn has_license_of_sku_reads_the_users_licenses() {
        let e5 = SkuId(guid(0xE5));
        let licenses = [AssignedLicense {
            user_id: UserId(guid(2)),
            tenant_id: tenant(),
            sku_id: e5,
            disabled_plans: vec![],
        }];
        let users = [user(1), user(2)];
        let text = e5.to_string();
        let rules = [rule(
            1,
            1,
            1,
            vec![cond(Attribute::HasLicenseOfSku, Operator::Equals, &[&text])],
        )];
        assert_eq!(
            sources(&run(&users, &licenses, &rules, &[])),
            vec![AllocationSource::Unallocated, rule_id(1)]
        );
    }

    fn managed(n: u128, manager: Option<u128>) -> User {
        let mut u = user(n);
        u.manager_id = manager.map(|m| UserId(guid(m)));
        u
    }

    fn reports_to(n: u128) -> Condition {
        let text = UserId(guid(n)).to_string();
        cond(Attribute::ReportsTo, Operator::Equals, &[&text])
    }

    #[test]
    fn reports_to_follows_a_chain_of_managers() {
        // 1 is the CEO; 2 reports to 1; 3 to 2; 4 to 3; 5 has no manager.
        let users = [
            managed(4, Some(3)),
            managed(1, None),
            managed(3, Some(2)),
            managed(2, Some(1)),
            managed(5, None),
        ];
        let rules = [rule(1, 1, 1, vec![reports_to(2)])];
        assert_eq!(
            sources(&run(&users, &[], &rules, &[])),
            vec![
                rule_id(1),
                AllocationSource::Unallocated,
                rule_id(1),
                AllocationSource::Unallocated,
                AllocationSource::Unallocated,
            ]
        );
    }

    #[test]
    fn reports_to_terminates_on_a_manager_cycle() {
        // 1 -> 2 -> 3 -> 1 is a cycle; 4 hangs off it; 5 reports to 4.
        let users = [
            managed(1, Some(2)),
            managed(2, Some(3)),
            managed(3, Some(1)),
            managed(4, Some(3)),
            managed(5, Some(4)),
            managed(6, Some(6)),
        ];
        let rules = [
            rule(1, 1, 1, vec![reports_to(1)]),
            rule(2, 2, 2, vec![reports_to(6)]),
        ];
        assert_eq!(
            sources(&run(&users, &[], &rules, &[])),
            vec![
                rule_id(1),
                rule_id(1),
                rule_id(1),
                rule_id(1),
                rule_id(1),
                rule_id(2)
            ]
        );
    }

    #[test]
    fn reports_to_a_manager_outside_the_input_counts_directly() {
        let users = [managed(1, Some(50)), managed(2, Some(1))];
        let rules = [rule(1, 1, 1, vec![reports_to(50)])];
        assert_eq!(
            sources(&run(&users, &[], &rules, &[])),
            vec![rule_id(1), rule_id(1)]
        );
    }

    // ---- properties -------------------------------------------------------------------------

    const DEPTS: &[&str] = &["Sales", "sales", "IT", "Straße", "STRASSE", "Ünits", ""];

    fn arb_user(n: u128) -> impl Strategy<Value = User> {
        (
            prop::option::of(prop::sample::select(DEPTS)),
            prop::option::of(prop::sample::select(DEPTS)),
            prop::option::of(0u128..14),
            prop::bool::weighted(0.1),
            prop::sample::select(&["contoso.com", "Fabrikam.COM", "x"][..]),
            prop::option::of(any::<bool>()),
        )
            .prop_map(move |(d, c, manager, deleted, domain, enabled)| {
                let mut u = user(n);
                u.account_enabled = enabled;
                u.department = d.map(str::to_string);
                u.city = c.map(str::to_string);
                u.manager_id = manager.map(|m| UserId(guid(m)));
                u.user_principal_name = format!("u{n}@{domain}");
                if deleted {
                    u.deleted_at = Some(DateTime::<Utc>::UNIX_EPOCH);
                }
                u
            })
    }

    fn arb_condition() -> impl Strategy<Value = Condition> {
        let text_attr = prop::sample::select(vec![
            Attribute::Department,
            Attribute::City,
            Attribute::UpnDomain,
        ]);
        let word = prop::sample::select(vec!["sales", "IT", "straße", "ünits", "com", "s"]);
        let text = (
            text_attr,
            prop::sample::select(vec![
                Operator::Equals,
                Operator::NotEquals,
                Operator::Contains,
                Operator::StartsWith,
                Operator::EndsWith,
                Operator::In,
                Operator::NotIn,
                Operator::Matches,
                Operator::IsEmpty,
            ]),
            word.clone(),
            word,
            any::<bool>(),
        )
            .prop_map(|(attribute, operator, a, b, case_sensitive)| {
                let values = match operator {
                    Operator::IsEmpty => vec![],
                    Operator::In | Operator::NotIn => vec![a.to_string(), b.to_string()],
                    Operator::Matches => vec![format!("^{a}")],
                    _ => vec![a.to_string()],
                };
                Condition {
                    attribute,
                    operator,
                    values,
                    case_sensitive,
                }
            });
        let guidish = (
            prop::sample::select(vec![
                Attribute::HasLicenseOfSku,
                Attribute::ReportsTo,
                Attribute::Manager,
            ]),
            prop::sample::select(vec![
                Operator::Equals,
                Operator::NotEquals,
                Operator::In,
                Operator::NotIn,
            ]),
            0u128..14,
            0u128..14,
        )
            .prop_map(|(attribute, operator, a, b)| {
                let one = |n: u128| guid(n).hyphenated().to_string();
                let values = if matches!(operator, Operator::In | Operator::NotIn) {
                    vec![one(a), one(b)]
                } else {
                    vec![one(a)]
                };
                Condition {
                    attribute,
                    operator,
                    values,
                    case_sensitive: false,
                }
            });
        let enabled = (
            prop::sample::select(vec![
                Operator::Equals,
                Operator::NotEquals,
                Operator::In,
                Operator::NotIn,
                Operator::IsEmpty,
            ]),
            prop::sample::select(vec!["true", "FALSE"]),
        )
            .prop_map(|(operator, v)| Condition {
                attribute: Attribute::AccountEnabled,
                operator,
                values: if operator == Operator::IsEmpty {
                    vec![]
                } else {
                    vec![v.to_string()]
                },
                case_sensitive: false,
            });
        prop_oneof![3 => text, 1 => guidish, 1 => enabled]
    }

    fn arb_rules() -> impl Strategy<Value = Vec<AllocationRule>> {
        prop::collection::vec(
            (
                0u128..8,
                -3i32..3,
                0u128..4,
                prop::bool::weighted(0.8),
                prop::collection::vec(arb_condition(), 1..3),
            ),
            0..8,
        )
        .prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (id, priority, target, enabled, conditions))| {
                    let mut r = rule(id * 100 + i as u128, priority, target, conditions);
                    r.enabled = enabled;
                    r
                })
                .collect()
        })
    }

    fn arb_override() -> impl Strategy<Value = Override> {
        (0u128..14, prop::collection::vec(1u32..100, 1..4)).prop_map(|(user, weights)| {
            let total: u32 = weights.iter().sum();
            let mut shares: Vec<Share> = weights
                .iter()
                .enumerate()
                .map(|(i, w)| Share {
                    cost_group: group(i as u128),
                    percent: (Decimal::from(*w * 10_000) / Decimal::from(total)).trunc()
                        / Decimal::ONE_HUNDRED,
                })
                .collect();
            let sum: Decimal = shares.iter().map(|s| s.percent).sum();
            shares[0].percent += Decimal::ONE_HUNDRED - sum;
            shares.retain(|s| s.percent > Decimal::ZERO);
            Override::new(UserId(guid(user)), shares).unwrap()
        })
    }

    fn arb_case() -> impl Strategy<
        Value = (
            Vec<User>,
            Vec<AssignedLicense>,
            Vec<AllocationRule>,
            Vec<Override>,
        ),
    > {
        let users = (0u128..12).map(arb_user).collect::<Vec<_>>();
        let licenses = prop::collection::vec((0u128..12, 0u128..12), 0..20).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(u, s)| AssignedLicense {
                    user_id: UserId(guid(u)),
                    tenant_id: tenant(),
                    sku_id: SkuId(guid(s)),
                    disabled_plans: vec![],
                })
                .collect::<Vec<_>>()
        });
        (
            users,
            licenses,
            arb_rules(),
            prop::collection::vec(arb_override(), 0..4),
        )
    }

    /// A deliberately plain re-statement of the rules, for comparison.
    fn naive_holds(c: &Condition, u: &User, users: &[User], licenses: &[AssignedLicense]) -> bool {
        match c.attribute {
            Attribute::HasLicenseOfSku => {
                let has = c.values.iter().any(|v| {
                    licenses
                        .iter()
                        .any(|l| l.user_id == u.id && l.sku_id.to_string() == *v)
                });
                has != matches!(c.operator, Operator::NotEquals | Operator::NotIn)
            }
            Attribute::Manager => {
                let is = c
                    .values
                    .iter()
                    .any(|v| u.manager_id.is_some_and(|m| m.to_string() == *v));
                is != matches!(c.operator, Operator::NotEquals | Operator::NotIn)
            }
            Attribute::ReportsTo => {
                let mut chain = Vec::new();
                let mut cur = u.manager_id;
                while let Some(m) = cur {
                    if chain.contains(&m) {
                        break;
                    }
                    chain.push(m);
                    cur = users.iter().find(|x| x.id == m).and_then(|x| x.manager_id);
                }
                let reports = c
                    .values
                    .iter()
                    .any(|v| chain.iter().any(|m| m.to_string() == *v));
                reports != matches!(c.operator, Operator::NotEquals | Operator::NotIn)
            }
            attribute => {
                let raw = match attribute {
                    Attribute::Department => u.department.clone(),
                    Attribute::City => u.city.clone(),
                    Attribute::AccountEnabled => u.account_enabled.map(|b| b.to_string()),
                    Attribute::UpnDomain => u
                        .user_principal_name
                        .split('@')
                        .next_back()
                        .filter(|_| u.user_principal_name.contains('@'))
                        .map(str::to_string),
                    _ => unreachable!("only generated attributes"),
                }
                .unwrap_or_default();
                let norm = |s: &str| {
                    if c.case_sensitive && c.attribute != Attribute::AccountEnabled {
                        s.to_string()
                    } else {
                        s.to_lowercase()
                    }
                };
                let value = norm(&raw);
                let first = c.values.first().map(|v| norm(v)).unwrap_or_default();
                match c.operator {
                    Operator::Equals => value == first,
                    Operator::NotEquals => value != first,
                    Operator::Contains => value.contains(&first),
                    Operator::StartsWith => value.starts_with(&first),
                    Operator::EndsWith => value.ends_with(&first),
                    Operator::In => c.values.iter().any(|v| norm(v) == value),
                    Operator::NotIn => c.values.iter().all(|v| norm(v) != value),
                    Operator::Matches => regex::RegexBuilder::new(&c.values[0])
                        .case_insensitive(!c.case_sensitive)
                        .build()
                        .unwrap()
                        .is_match(&raw),
                    Operator::IsEmpty => raw.is_empty(),
                }
            }
        }
    }

    fn naive_source(
        u: &User,
        users: &[User],
        licenses: &[AssignedLicense],
        rules: &[AllocationRule],
        overrides: &[Override],
    ) -> AllocationSource {
        if overrides.iter().any(|o| o.user_id() == u.id) {
            return AllocationSource::Override;
        }
        let mut ordered: Vec<&AllocationRule> = rules.iter().filter(|r| r.enabled).collect();
        ordered.sort_by(|a, b| a.priority.cmp(&b.priority).then(a.id.cmp(&b.id)));
        for r in ordered {
            if r.conditions
                .iter()
                .all(|c| naive_holds(c, u, users, licenses))
            {
                return AllocationSource::Rule(r.id);
            }
        }
        AllocationSource::Unallocated
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn shares_of_every_allocated_user_sum_to_exactly_100(
            (users, licenses, rules, overrides) in arb_case()
        ) {
            for a in run(&users, &licenses, &rules, &overrides) {
                let sum: Decimal = a.shares.iter().map(|s| s.percent).sum();
                match a.source {
                    AllocationSource::Unallocated => prop_assert!(a.shares.is_empty()),
                    _ => prop_assert_eq!(sum, Decimal::ONE_HUNDRED),
                }
            }
        }

        #[test]
        fn the_first_matching_enabled_rule_wins_as_in_a_naive_reference(
            (users, licenses, rules, overrides) in arb_case()
        ) {
            let out = run(&users, &licenses, &rules, &overrides);
            let present: Vec<&User> = users.iter().filter(|u| u.deleted_at.is_none()).collect();
            let allocated: Vec<&UserAllocation> = out.iter().filter(|a| !a.stale).collect();
            prop_assert_eq!(allocated.len(), present.len());
            for (u, a) in present.iter().zip(allocated) {
                prop_assert_eq!(a.user_id, u.id);
                prop_assert_eq!(a.source, naive_source(u, &users, &licenses, &rules, &overrides));
            }
        }

        #[test]
        fn overrides_always_win(
            (users, licenses, rules, overrides) in arb_case()
        ) {
            let out = run(&users, &licenses, &rules, &overrides);
            for o in &overrides {
                let first = overrides.iter().find(|x| x.user_id() == o.user_id());
                let a = out.iter().find(|a| a.user_id == o.user_id()).unwrap();
                prop_assert_eq!(a.source, AllocationSource::Override);
                prop_assert_eq!(&a.shares[..], first.unwrap().shares());
                let deleted = users
                    .iter()
                    .find(|u| u.id == o.user_id())
                    .is_none_or(|u| u.deleted_at.is_some());
                prop_assert_eq!(a.stale, deleted);
            }
        }
    }

    /// Diagnostics counted plainly: every enabled rule tested on every present user.
    fn naive_diagnostics(
        users: &[User],
        licenses: &[AssignedLicense],
        rules: &[AllocationRule],
        overrides: &[Override],
    ) -> DiagnosticsTally {
        use crate::domain::allocation::diagnostics::HINT_ATTRIBUTES;
        use crate::domain::allocation::rule::slot_value_of;
        let mut ordered: Vec<&AllocationRule> = rules.iter().filter(|r| r.enabled).collect();
        ordered.sort_by(|a, b| a.priority.cmp(&b.priority).then(a.id.cmp(&b.id)));
        let mut t = DiagnosticsTally::default();
        for u in users.iter().filter(|u| u.deleted_at.is_none()) {
            let hits: Vec<AllocationRuleId> = ordered
                .iter()
                .filter(|r| {
                    r.conditions
                        .iter()
                        .all(|c| naive_holds(c, u, users, licenses))
                })
                .map(|r| r.id)
                .collect();
            for (k, r) in hits.iter().enumerate() {
                *t.matched.entry(*r).or_default() += 1;
                for e in &hits[..k] {
                    *t.overlaps.entry((*r, *e)).or_default() += 1;
                }
            }
            if overrides.iter().any(|o| o.user_id() == u.id) {
                continue;
            }
            match hits.first() {
                Some(r) => *t.placed.entry(*r).or_default() += 1,
                None => {
                    t.unallocated_users += 1;
                    for a in HINT_ATTRIBUTES {
                        if let Some(v) = slot_value_of(u, a).filter(|v| !v.is_empty()) {
                            *t.unallocated_values.entry((a, v.to_string())).or_default() += 1;
                        }
                    }
                }
            }
        }
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn diagnosing_allocates_alike_and_counts_as_a_naive_reference_in_any_chunks(
            (users, licenses, rules, overrides) in arb_case(),
            chunk in 1usize..13,
        ) {
            let plain = run(&users, &licenses, &rules, &overrides);
            let compiled: Vec<CompiledRule> = rules.iter().map(|r| r.compile().unwrap()).collect();
            let groups: Vec<CostGroupId> = (0..10).map(group).collect();
            let mut evaluator = Evaluator::new(&compiled, &overrides, &groups);
            let links: Vec<(UserId, Option<UserId>)> =
                users.iter().map(|u| (u.id, u.manager_id)).collect();
            evaluator.set_managers(&links);
            let mut diagnostics = DiagnosticsTally::default();
            let mut pieces = Vec::new();
            for part in users.chunks(chunk) {
                pieces.extend(evaluator.allocate_diagnosed(part, &licenses, &mut diagnostics));
            }
            pieces.extend(evaluator.stale_overrides(|id| users.iter().any(|u| u.id == id)));
            prop_assert_eq!(&pieces, &plain);
            prop_assert_eq!(&diagnostics, &naive_diagnostics(&users, &licenses, &rules, &overrides));
            // Taking a chunk out and adding it again (an incremental evaluation) changes nothing.
            let mut part = DiagnosticsTally::default();
            evaluator.allocate_diagnosed(&users[..chunk.min(users.len())], &licenses, &mut part);
            let mut again = diagnostics.clone();
            again.subtract(&part);
            again.add(&part);
            prop_assert_eq!(&again, &diagnostics);
            // The placements alone are what an override change takes out and puts back.
            let mut rest = diagnostics.clone();
            rest.subtract(&DiagnosticsTally::of_placements(&users, &plain));
            prop_assert!(rest.placed.is_empty(), "{:?}", rest.placed);
            prop_assert_eq!(rest.unallocated_users, 0);
            prop_assert!(rest.unallocated_values.is_empty());
            prop_assert_eq!(rest.matched, diagnostics.matched);
        }

        #[test]
        fn an_explanation_ends_with_the_winner_and_agrees_with_the_allocation(
            (users, licenses, rules, overrides) in arb_case(),
        ) {
            let out = run(&users, &licenses, &rules, &overrides);
            let compiled: Vec<CompiledRule> = rules.iter().map(|r| r.compile().unwrap()).collect();
            let groups: Vec<CostGroupId> = (0..10).map(group).collect();
            let mut evaluator = Evaluator::new(&compiled, &overrides, &groups);
            let links: Vec<(UserId, Option<UserId>)> =
                users.iter().map(|u| (u.id, u.manager_id)).collect();
            evaluator.set_managers(&links);
            let order = evaluator.rule_order();
            for a in out.iter().filter(|a| !a.stale) {
                let u = users.iter().find(|u| u.id == a.user_id).unwrap();
                let e = evaluator.explain(u, &licenses);
                match a.source {
                    AllocationSource::Override => {
                        prop_assert!(e.overridden);
                        prop_assert!(e.rules.is_empty());
                    }
                    AllocationSource::Rule(id) => {
                        let last = e.rules.last().unwrap();
                        prop_assert_eq!(last.rule, id);
                        prop_assert!(last.matched);
                        let tried: Vec<_> = e.rules.iter().map(|t| t.rule).collect();
                        let position = order.iter().position(|r| *r == id).unwrap();
                        prop_assert_eq!(&tried[..], &order[..=position]);
                        prop_assert!(e.rules[..e.rules.len() - 1].iter().all(|t| !t.matched));
                    }
                    AllocationSource::Unallocated => {
                        prop_assert_eq!(e.rules.len(), order.len());
                        prop_assert!(e.rules.iter().all(|t| !t.matched));
                    }
                }
                for t in &e.rules {
                    prop_assert_eq!(t.matched, t.conditions.iter().all(|c| c.holds));
                }
            }
        }
    }

    #[test]
    fn an_unreachable_a_shadowed_and_an_overlapping_rule_are_told_apart() {
        let mut sales_de = with_dept(1, "Sales");
        sales_de.country = Some("DE".into());
        let users = [
            sales_de,
            with_dept(2, "Sales"),
            with_dept(3, "IT"),
            with_dept(4, "HR"),
            with_dept(5, "HR"),
        ];
        let rules = [
            rule(1, 1, 1, vec![dept("sales")]),
            // Only Sales users in DE: all taken by rule 1.
            rule(
                2,
                2,
                2,
                vec![
                    dept("sales"),
                    cond(Attribute::Country, Operator::Equals, &["de"]),
                ],
            ),
            rule(3, 3, 3, vec![dept("finance")]),
            // IT, and Sales (already rule 1's).
            rule(
                4,
                4,
                4,
                vec![cond(Attribute::Department, Operator::In, &["it", "sales"])],
            ),
        ];
        let compiled: Vec<CompiledRule> = rules.iter().map(|r| r.compile().unwrap()).collect();
        let groups: Vec<CostGroupId> = (0..10).map(group).collect();
        let evaluator = Evaluator::new(&compiled, &[], &groups);
        let mut t = DiagnosticsTally::default();
        evaluator.allocate_diagnosed(&users, &[], &mut t);
        let d = t.diagnose(&evaluator.rule_order());
        let summary: Vec<(RuleVerdict, u64, u64)> =
            d.iter().map(|d| (d.verdict, d.matched, d.placed)).collect();
        assert_eq!(
            summary,
            [
                (RuleVerdict::Effective, 2, 2),
                (RuleVerdict::Shadowed, 1, 0),
                (RuleVerdict::Unreachable, 0, 0),
                (RuleVerdict::Overlapping, 3, 1),
            ]
        );
        let r = |n: u128| AllocationRuleId(guid(0x5000 + n));
        assert_eq!(d[1].overlaps, [(r(1), 1)]);
        assert_eq!(d[3].overlaps, [(r(1), 2), (r(2), 1)]);
        assert_eq!(t.unallocated_users, 2);
        assert_eq!(t.hints(5)[0].values, [("HR".to_string(), 2)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn evaluating_in_chunks_gives_the_allocations_and_tally_of_one_evaluation(
            (users, licenses, rules, overrides) in arb_case(),
            chunk in 1usize..13,
        ) {
            use crate::domain::allocation::report::{Tally, tally};
            let whole = run(&users, &licenses, &rules, &overrides);
            let compiled: Vec<CompiledRule> = rules.iter().map(|r| r.compile().unwrap()).collect();
            let groups: Vec<CostGroupId> = (0..10).map(group).collect();
            let mut evaluator = Evaluator::new(&compiled, &overrides, &groups);
            let links: Vec<(UserId, Option<UserId>)> =
                users.iter().map(|u| (u.id, u.manager_id)).collect();
            evaluator.set_managers(&links);
            let mut pieces = Vec::new();
            let mut totals = Tally::default();
            for part in users.chunks(chunk) {
                let own: Vec<AssignedLicense> = licenses
                    .iter()
                    .filter(|l| part.iter().any(|u| u.id == l.user_id))
                    .cloned()
                    .collect();
                let allocated = evaluator.allocate(part, &own);
                totals.add(&tally(&allocated, &own));
                pieces.extend(allocated);
            }
            pieces.extend(evaluator.stale_overrides(|id| users.iter().any(|u| u.id == id)));
            prop_assert_eq!(&pieces, &whole);
            prop_assert_eq!(totals, tally(&whole, &licenses));
        }
    }

    // ---- speed ------------------------------------------------------------------------------

    /// Run with `cargo test --release --lib evaluate_is_fast -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing; run in release"]
    fn evaluate_is_fast_for_100_000_users_and_50_or_500_rules() {
        const DEPARTMENTS: [&str; 20] = [
            "Sales",
            "IT",
            "Finance",
            "HR",
            "Legal",
            "Ops",
            "R&D",
            "Support",
            "Marketing",
            "Admin",
            "Sales EMEA",
            "Sales APAC",
            "IT Ops",
            "Procurement",
            "Facilities",
            "Security",
            "QA",
            "Design",
            "Data",
            "Training",
        ];
        let users: Vec<User> = (0..100_000u128)
            .map(|n| {
                let mut u = user(n + 1);
                u.department = Some(DEPARTMENTS[(n % 20) as usize].to_string());
                u.country = Some(["Germany", "France", "Schweiz"][(n % 3) as usize].to_string());
                u.city = Some(format!("City {}", n % 97));
                u.extension_attributes[4] = Some(format!("CC-{}", n % 500));
                u.manager_id = (n > 0).then(|| UserId(guid(n / 10 + 1)));
                u
            })
            .collect();
        let licenses: Vec<AssignedLicense> = users
            .iter()
            .enumerate()
            .map(|(i, u)| AssignedLicense {
                user_id: u.id,
                tenant_id: tenant(),
                sku_id: SkuId(guid(0xE0 + (i % 4) as u128)),
                disabled_plans: vec![],
            })
            .collect();
        // 50 rules; most fail for most users, so each user is checked against many of them.
        for count in [50u128, 500] {
            time_rules(&users, &licenses, count);
        }
    }

    fn time_rules(users: &[User], licenses: &[AssignedLicense], count: u128) {
        let rules: Vec<AllocationRule> = (0..count)
            .map(|i| {
                let conditions = match i % 5 {
                    0 => vec![cond(
                        Attribute::ExtensionAttribute(5),
                        Operator::Equals,
                        &[&format!("cc-{}", i * 7)],
                    )],
                    1 => vec![
                        cond(Attribute::Department, Operator::StartsWith, &["nothing"]),
                        cond(Attribute::Country, Operator::In, &["germany", "france"]),
                    ],
                    2 => vec![cond(
                        Attribute::City,
                        Operator::Matches,
                        &[&format!("^city {}$", i + 100)],
                    )],
                    3 => vec![reports_to(1000 + i)],
                    _ => vec![cond(
                        Attribute::HasLicenseOfSku,
                        Operator::Equals,
                        &[&SkuId(guid(0xF0)).to_string()],
                    )],
                };
                rule(i, i as i32, i % 10, conditions)
            })
            .collect();
        let compiled: Vec<CompiledRule> = rules.iter().map(|r| r.compile().unwrap()).collect();
        let groups: Vec<CostGroupId> = (0..10).map(group).collect();
        let input = AllocationInput {
            users,
            licenses,
            rules: &compiled,
            overrides: &[],
            cost_groups: &groups,
        };
        let mut best = std::time::Duration::MAX;
        let mut out = Vec::new();
        for _ in 0..3 {
            let started = std::time::Instant::now();
            out = evaluate(&input);
            best = best.min(started.elapsed());
        }
        assert_eq!(out.len(), users.len());
        let placed = out
            .iter()
            .filter(|a| a.source != AllocationSource::Unallocated)
            .count();
        println!(
            "evaluate: {} users x {count} rules, best of 3: {best:?} ({placed} placed by a rule)",
            users.len()
        );
    }
}
