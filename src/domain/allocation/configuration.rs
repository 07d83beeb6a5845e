//! A tenant's allocation configuration (rules and overrides) as in force from one day, and a
//! change to it as a fact "from its effective day on": the difference between the configuration
//! before and after one mutation, applied to every configuration version from that day on.
//! Pure; must not import SeaORM, async-graphql, actix or reqwest.

use std::collections::HashMap;

use super::overrides::Override;
use super::rule::AllocationRuleEntry;
use crate::domain::{AllocationRuleId, UserId};

/// The rules (with when each was created and changed) and overrides in force from one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Configuration {
    /// Every rule, enabled or not.
    pub rules: Vec<AllocationRuleEntry>,
    /// Every override, one per user.
    pub overrides: Vec<Override>,
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
                    (&b.rule.target, &b.rule.enabled, &b.rule.conditions)
                        != (&e.rule.target, &e.rule.enabled, &e.rule.conditions)
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
        ConfigurationChange {
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
                target: CostGroupId(Uuid::from_u128(100 + n)),
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
            overrides: Vec::new(),
        };
        let change = ConfigurationChange::between(&before, &after);
        let mut later = Configuration {
            rules: vec![rule(2, 0, "Finance")],
            overrides: Vec::new(),
        };
        later.apply(&change);
        assert_eq!(ids(&later), vec![2, 1]);
        assert_eq!(later.rules[1].rule.priority, 1);
    }

    #[test]
    fn a_changed_rule_keeps_the_priority_of_each_version() {
        let before = Configuration {
            rules: vec![rule(1, 0, "Sales")],
            overrides: Vec::new(),
        };
        let after = Configuration {
            rules: vec![rule(1, 0, "Finance")],
            overrides: Vec::new(),
        };
        let change = ConfigurationChange::between(&before, &after);
        assert!(change.order.is_none());
        let mut later = Configuration {
            rules: vec![rule(2, 0, "Legal"), rule(1, 1, "Sales")],
            overrides: Vec::new(),
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
        };
        let after = Configuration {
            rules: vec![rule(3, 0, "C"), rule(1, 1, "A")],
            overrides: Vec::new(),
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
            rules: Vec::new(),
            overrides: vec![Override::pin(user, CostGroupId(Uuid::from_u128(5)))],
        };
        let change = ConfigurationChange::between(&before, &after);
        let mut later = Configuration {
            rules: Vec::new(),
            overrides: vec![Override::pin(user, CostGroupId(Uuid::from_u128(6)))],
        };
        later.apply(&change);
        assert_eq!(later.overrides, after.overrides);
    }
}
