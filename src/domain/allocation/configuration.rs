//! A tenant's allocation configuration (cost group tree, rules and overrides) as in force from
//! one day, and a
//! change to it as a fact "from its effective day on": the difference between the configuration
//! before and after one mutation, applied to every configuration version from that day on.
//! Pure; must not import SeaORM, async-graphql, actix or reqwest.

use std::collections::HashMap;

use super::overrides::Override;
use super::rule::AllocationRuleEntry;
use crate::domain::{AllocationRuleId, CostGroup, CostGroupId, UserId};

/// The cost groups, rules (with when each was created and changed) and overrides in force from
/// one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Configuration {
    /// Every cost group (the tree: parent, name, code, description), by id.
    pub groups: Vec<CostGroup>,
    /// Every rule, enabled or not.
    pub rules: Vec<AllocationRuleEntry>,
    /// Every override, one per user.
    pub overrides: Vec<Override>,
}

/// What of a cost group a configuration change carries (not when it was changed).
fn group_values(
    g: &CostGroup,
) -> (
    &Option<CostGroupId>,
    &String,
    &Option<String>,
    &Option<String>,
) {
    (&g.parent_id, &g.name, &g.code, &g.description)
}

/// What one mutation changed in a configuration: rules and overrides set or removed, and the
/// rules' order when it changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigurationChange {
    /// Rules created or changed (target, conditions, enabled), as they are after the change.
    pub rules_set: Vec<AllocationRuleEntry>,
    /// Rules deleted.
    pub rules_removed: Vec<AllocationRuleId>,
    /// The rules' order after the change, first first, when a rule kept changed its priority.
    pub order: Option<Vec<AllocationRuleId>>,
    /// Overrides set, as they are after the change.
    pub overrides_set: Vec<Override>,
    /// Users whose override was removed.
    pub overrides_removed: Vec<UserId>,
    /// Cost groups created or changed (parent, name, code, description), as after the change.
    pub groups_set: Vec<CostGroup>,
    /// Cost groups deleted.
    pub groups_removed: Vec<CostGroupId>,
}

impl ConfigurationChange {
    /// What turned `before` into `after`.
    pub fn between(before: &Configuration, after: &Configuration) -> Self {
        let old: HashMap<AllocationRuleId, &AllocationRuleEntry> =
            before.rules.iter().map(|e| (e.rule.id, e)).collect();
        let new: HashMap<AllocationRuleId, &AllocationRuleEntry> =
            after.rules.iter().map(|e| (e.rule.id, e)).collect();
        let rules_set = after
            .rules
            .iter()
            .filter(|e| {
                old.get(&e.rule.id).is_none_or(|b| {
                    (&b.rule.targets, &b.rule.enabled, &b.rule.conditions)
                        != (&e.rule.targets, &e.rule.enabled, &e.rule.conditions)
                })
            })
            .cloned()
            .collect();
        let rules_removed = before
            .rules
            .iter()
            .filter(|e| !new.contains_key(&e.rule.id))
            .map(|e| e.rule.id)
            .collect();
        let reordered = after.rules.iter().any(|e| {
            old.get(&e.rule.id)
                .is_some_and(|b| b.rule.priority != e.rule.priority)
        });
        let order = reordered.then(|| ordered(&after.rules));
        let old_overrides: HashMap<UserId, &Override> =
            before.overrides.iter().map(|o| (o.user_id(), o)).collect();
        let new_users: Vec<UserId> = after.overrides.iter().map(Override::user_id).collect();
        let old_groups: HashMap<CostGroupId, &CostGroup> =
            before.groups.iter().map(|g| (g.id, g)).collect();
        let new_groups: HashMap<CostGroupId, &CostGroup> =
            after.groups.iter().map(|g| (g.id, g)).collect();
        ConfigurationChange {
            groups_set: after
                .groups
                .iter()
                .filter(|g| {
                    old_groups
                        .get(&g.id)
                        .is_none_or(|b| group_values(b) != group_values(g))
                })
                .cloned()
                .collect(),
            groups_removed: before
                .groups
                .iter()
                .filter(|g| !new_groups.contains_key(&g.id))
                .map(|g| g.id)
                .collect(),
            rules_set,
            rules_removed,
            order,
            overrides_set: after
                .overrides
                .iter()
                .filter(|o| old_overrides.get(&o.user_id()) != Some(o))
                .cloned()
                .collect(),
            overrides_removed: before
                .overrides
                .iter()
                .map(Override::user_id)
                .filter(|u| !new_users.contains(u))
                .collect(),
        }
    }

    /// Whether the change changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &ConfigurationChange::default()
    }
}

/// The ids of `rules` by `(priority, id)`.
fn ordered(rules: &[AllocationRuleEntry]) -> Vec<AllocationRuleId> {
    let mut sorted: Vec<&AllocationRuleEntry> = rules.iter().collect();
    sorted.sort_by_key(|e| (e.rule.priority, e.rule.id));
    sorted.into_iter().map(|e| e.rule.id).collect()
}

impl Configuration {
    /// Applies `change` to this version: removed rules and overrides go; a rule set replaces the
    /// one of its id (keeping this version's priority) or is added after this version's rules; a
    /// new order ranks the rules it lists first, in its order, then the others as they were.
    pub fn apply(&mut self, change: &ConfigurationChange) {
        self.rules
            .retain(|e| !change.rules_removed.contains(&e.rule.id));
        for set in &change.rules_set {
            match self.rules.iter_mut().find(|e| e.rule.id == set.rule.id) {
                Some(kept) => {
                    let priority = kept.rule.priority;
                    *kept = set.clone();
                    kept.rule.priority = priority;
                }
                None => {
                    let mut added = set.clone();
                    added.rule.priority = self
                        .rules
                        .iter()
                        .map(|e| e.rule.priority)
                        .max()
                        .map_or(0, |p| p.saturating_add(1));
                    self.rules.push(added);
                }
            }
        }
        if let Some(order) = &change.order {
            let mut ids: Vec<AllocationRuleId> = order
                .iter()
                .filter(|id| self.rules.iter().any(|e| e.rule.id == **id))
                .copied()
                .collect();
            ids.extend(
                ordered(&self.rules)
                    .into_iter()
                    .filter(|id| !order.contains(id)),
            );
            for (priority, id) in (0..).zip(&ids) {
                if let Some(e) = self.rules.iter_mut().find(|e| e.rule.id == *id) {
                    e.rule.priority = priority;
                }
            }
        }
        self.overrides.retain(|o| {
            !change.overrides_removed.contains(&o.user_id())
                && !change
                    .overrides_set
                    .iter()
                    .any(|s| s.user_id() == o.user_id())
        });
        self.overrides.extend(change.overrides_set.iter().cloned());
        self.overrides.sort_by_key(Override::user_id);
        self.rules.sort_by_key(|e| (e.rule.priority, e.rule.id));
        self.groups.retain(|g| {
            !change.groups_removed.contains(&g.id)
                && !change.groups_set.iter().any(|s| s.id == g.id)
        });
        self.groups.extend(change.groups_set.iter().cloned());
        self.groups.sort_by_key(|g| g.id);
    }

    /// Takes back, in this later version, what a cancelled version (`cancelled`) changed from the
    /// version before it (`previous`): each cost group, rule and override that this version
    /// still has as `cancelled` had it (or still lacks, as `cancelled` did) becomes as in
    /// `previous`; what a later change touched since stays. Rules keep this version's order,
    /// a rule brought back goes last.
    pub fn revert(&mut self, cancelled: &Configuration, previous: &Configuration) {
        fn take_back<K: Eq + std::hash::Hash + Copy, T: Clone>(
            items: &mut Vec<T>,
            cancelled: &[T],
            previous: &[T],
            key: impl Fn(&T) -> K,
            same: impl Fn(&T, &T) -> bool,
        ) {
            let mut keys: Vec<K> = cancelled.iter().map(&key).collect();
            keys.extend(previous.iter().map(&key));
            let find = |list: &[T], k: K| list.iter().position(|x| key(x) == k);
            let mut done = std::collections::HashSet::new();
            for k in keys {
                if !done.insert(k) {
                    continue;
                }
                let was = find(cancelled, k).map(|i| &cancelled[i]);
                let before = find(previous, k).map(|i| &previous[i]);
                let now = find(items.as_slice(), k);
                let untouched = match (now.map(|i| &items[i]), was) {
                    (Some(n), Some(w)) => same(n, w),
                    (None, None) => true,
                    _ => false,
                };
                if !untouched {
                    continue;
                }
                match (now, before) {
                    (Some(i), Some(b)) => items[i] = b.clone(),
                    (Some(i), None) => {
                        items.remove(i);
                    }
                    (None, Some(b)) => items.push(b.clone()),
                    (None, None) => {}
                }
            }
        }
        let priorities: HashMap<AllocationRuleId, i32> = self
            .rules
            .iter()
            .map(|e| (e.rule.id, e.rule.priority))
            .collect();
        take_back(
            &mut self.rules,
            &cancelled.rules,
            &previous.rules,
            |e| e.rule.id,
            |a, b| {
                (&a.rule.targets, &a.rule.enabled, &a.rule.conditions)
                    == (&b.rule.targets, &b.rule.enabled, &b.rule.conditions)
            },
        );
        let mut next = priorities.values().max().map_or(0, |p| p.saturating_add(1));
        for e in &mut self.rules {
            match priorities.get(&e.rule.id) {
                Some(p) => e.rule.priority = *p,
                None => {
                    e.rule.priority = next;
                    next = next.saturating_add(1);
                }
            }
        }
        take_back(
            &mut self.overrides,
            &cancelled.overrides,
            &previous.overrides,
            Override::user_id,
            |a, b| a == b,
        );
        take_back(
            &mut self.groups,
            &cancelled.groups,
            &previous.groups,
            |g| g.id,
            |a, b| group_values(a) == group_values(b),
        );
        self.overrides.sort_by_key(Override::user_id);
        self.rules.sort_by_key(|e| (e.rule.priority, e.rule.id));
        self.groups.sort_by_key(|g| g.id);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::domain::allocation::{AllocationRule, Attribute, Condition, Operator};
    use crate::domain::{CostGroupId, TenantId};

    fn rule(n: u128, priority: i32, department: &str) -> AllocationRuleEntry {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        AllocationRuleEntry {
            rule: AllocationRule {
                id: AllocationRuleId(Uuid::from_u128(n)),
                tenant_id: TenantId(Uuid::from_u128(1)),
                targets: vec![crate::domain::allocation::Share::whole(CostGroupId(
                    Uuid::from_u128(100 + n),
                ))],
                priority,
                enabled: true,
                conditions: vec![Condition {
                    attribute: Attribute::Department,
                    operator: Operator::Equals,
                    values: vec![department.to_owned()],
                    case_sensitive: false,
                }],
            },
            created_at: at,
            updated_at: at,
        }
    }

    fn ids(c: &Configuration) -> Vec<u128> {
        c.rules.iter().map(|e| e.rule.id.uuid().as_u128()).collect()
    }

    #[test]
    fn a_rule_created_then_applied_to_a_later_version_goes_after_its_rules() {
        let before = Configuration::default();
        let after = Configuration {
            rules: vec![rule(1, 0, "Sales")],
            ..Configuration::default()
        };
        let change = ConfigurationChange::between(&before, &after);
        let mut later = Configuration {
            rules: vec![rule(2, 0, "Finance")],
            ..Configuration::default()
        };
        later.apply(&change);
        assert_eq!(ids(&later), vec![2, 1]);
        assert_eq!(later.rules[1].rule.priority, 1);
    }

    #[test]
    fn a_changed_rule_keeps_the_priority_of_each_version() {
        let before = Configuration {
            rules: vec![rule(1, 0, "Sales")],
            ..Configuration::default()
        };
        let after = Configuration {
            rules: vec![rule(1, 0, "Finance")],
            ..Configuration::default()
        };
        let change = ConfigurationChange::between(&before, &after);
        assert!(change.order.is_none());
        let mut later = Configuration {
            rules: vec![rule(2, 0, "Legal"), rule(1, 1, "Sales")],
            ..Configuration::default()
        };
        later.apply(&change);
        assert_eq!(ids(&later), vec![2, 1]);
        assert_eq!(later.rules[1].rule.conditions[0].values, vec!["Finance"]);
    }

    #[test]
    fn removals_and_orders_apply_to_the_rules_a_version_has() {
        let before = Configuration {
            rules: vec![rule(1, 0, "A"), rule(2, 1, "B"), rule(3, 2, "C")],
            overrides: vec![Override::pin(
                UserId(Uuid::from_u128(9)),
                CostGroupId(Uuid::nil()),
            )],
            ..Configuration::default()
        };
        let after = Configuration {
            rules: vec![rule(3, 0, "C"), rule(1, 1, "A")],
            ..Configuration::default()
        };
        let change = ConfigurationChange::between(&before, &after);
        assert_eq!(
            change.rules_removed,
            vec![AllocationRuleId(Uuid::from_u128(2))]
        );
        assert_eq!(change.overrides_removed, vec![UserId(Uuid::from_u128(9))]);
        let mut later = before.clone();
        later.rules.push(rule(4, 3, "D"));
        later.apply(&change);
        assert_eq!(ids(&later), vec![3, 1, 4]);
        assert!(later.overrides.is_empty());
        assert!(ConfigurationChange::between(&after, &after).is_empty());
    }

    #[test]
    fn an_override_set_replaces_the_users_override_in_every_version() {
        let user = UserId(Uuid::from_u128(9));
        let before = Configuration::default();
        let after = Configuration {
            overrides: vec![Override::pin(user, CostGroupId(Uuid::from_u128(5)))],
            ..Configuration::default()
        };
        let change = ConfigurationChange::between(&before, &after);
        let mut later = Configuration {
            overrides: vec![Override::pin(user, CostGroupId(Uuid::from_u128(6)))],
            ..Configuration::default()
        };
        later.apply(&change);
        assert_eq!(later.overrides, after.overrides);
    }

    fn group(n: u128, parent: Option<u128>, name: &str) -> CostGroup {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        CostGroup {
            id: CostGroupId(Uuid::from_u128(n)),
            tenant_id: TenantId(Uuid::from_u128(1)),
            parent_id: parent.map(|p| CostGroupId(Uuid::from_u128(p))),
            name: name.to_owned(),
            code: None,
            description: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_group_moved_from_a_day_moves_in_later_versions_that_keep_their_renames() {
        let before = Configuration {
            groups: vec![
                group(1, None, "A"),
                group(2, None, "B"),
                group(3, None, "C"),
            ],
            ..Configuration::default()
        };
        let mut after = before.clone();
        after.groups[2].parent_id = Some(CostGroupId(Uuid::from_u128(1)));
        after.groups[2].updated_at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let change = ConfigurationChange::between(&before, &after);
        assert_eq!(change.groups_set.len(), 1);
        assert!(ConfigurationChange::between(&after, &after).is_empty());
        let mut later = before.clone();
        later.groups.retain(|g| g.name != "B");
        later.apply(&change);
        assert_eq!(later.groups.len(), 2);
        assert_eq!(
            later.groups[1].parent_id,
            Some(CostGroupId(Uuid::from_u128(1)))
        );
        let removed = ConfigurationChange::between(&after, &Configuration::default());
        later.apply(&removed);
        assert!(later.groups.is_empty());
    }

    #[test]
    fn a_cancelled_version_is_taken_back_where_no_later_change_touched_it() {
        let previous = Configuration {
            groups: vec![group(1, None, "A"), group(2, None, "B")],
            rules: vec![rule(1, 0, "Sales")],
            ..Configuration::default()
        };
        // The cancelled day renamed A, moved B under A and added rule 2.
        let mut cancelled = previous.clone();
        cancelled.groups[0].name = "A2".to_owned();
        cancelled.groups[1].parent_id = Some(CostGroupId(Uuid::from_u128(1)));
        cancelled.rules.push(rule(2, 1, "Legal"));
        // A later day renamed A again and added rule 3.
        let mut later = cancelled.clone();
        later.groups[0].name = "A3".to_owned();
        later.rules.push(rule(3, 2, "Finance"));
        later.revert(&cancelled, &previous);
        assert_eq!(later.groups[0].name, "A3");
        assert_eq!(later.groups[1].parent_id, None);
        assert_eq!(ids(&later), vec![1, 3]);
    }
}
