//! How each license of a user is assigned (Graph's `licenseAssignmentStates`): directly or by a
//! licensing group, in which state, and why it failed. A user holds a SKU once
//! (`assignedLicenses`) but may be assigned it several times: directly and by any number of
//! groups. A failed group assignment grants nothing, so its SKU may be missing from the user's
//! licenses altogether.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{GroupId, ServicePlanId, SkuId, TenantId, UserId};

/// What `assignedBy` says for a license assigned to the user directly.
pub const DIRECT: &str = "DIRECT";

/// Who assigned a license: an administrator directly, or a licensing group to its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AssignedBy {
    /// Assigned to the user directly (`assignedByGroup` null).
    Direct,
    /// Inherited from membership of this group.
    Group(GroupId),
}

impl AssignedBy {
    /// The group, `None` for a direct assignment.
    pub fn group(self) -> Option<GroupId> {
        match self {
            AssignedBy::Direct => None,
            AssignedBy::Group(group) => Some(group),
        }
    }
}

/// `DIRECT`, or the group's id.
impl fmt::Display for AssignedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssignedBy::Direct => f.write_str(DIRECT),
            AssignedBy::Group(group) => group.fmt(f),
        }
    }
}

/// One entry of a user's `licenseAssignmentStates`: one SKU assigned once, directly or by one
/// group. `state` and `error` are kept as Graph sent them, including values Graph adds later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseAssignmentState {
    /// The SKU assigned.
    pub sku_id: SkuId,
    /// Directly or by which group.
    pub assigned_by: AssignedBy,
    /// `Active`, `ActiveWithError`, `Disabled` or `Error` (documented values).
    pub state: String,
    /// Why the assignment failed (`CountViolation`, `MutuallyExclusiveViolation`,
    /// `DependencyViolation`, `ProhibitedInUsageLocationViolation`, `UniquenessViolation`,
    /// `Other`); `None` when Graph sent `None` or null.
    pub error: Option<String>,
    /// Service plans this assignment leaves switched off.
    pub disabled_plans: Vec<ServicePlanId>,
    /// When Graph last processed the assignment (`lastUpdatedDateTime`), when sent.
    pub last_updated: Option<DateTime<Utc>>,
}

impl LicenseAssignmentState {
    /// Whether the assignment is in error: state `Error` or `ActiveWithError`, or an error
    /// named. What the `licenseError` user filter looks for.
    pub fn is_in_error(&self) -> bool {
        self.error.is_some()
            || ["Error", "ActiveWithError"]
                .iter()
                .any(|s| self.state.eq_ignore_ascii_case(s))
    }

    /// The entry with its disabled plans in a fixed order, for comparisons that ignore order.
    fn normalized(&self) -> LicenseAssignmentState {
        let mut plans = self.disabled_plans.clone();
        plans.sort_unstable();
        LicenseAssignmentState {
            disabled_plans: plans,
            ..self.clone()
        }
    }
}

/// Reads Graph's `error`: the string `None` (what Graph sends for a working assignment) and
/// null or an empty string mean no error; anything else is kept as sent.
pub fn error_of(sent: Option<String>) -> Option<String> {
    sent.filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("None"))
}

/// A license assignment of a stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseAssignment {
    /// The user.
    pub user_id: UserId,
    /// The user's tenant.
    pub tenant_id: TenantId,
    /// The assignment as Graph reported it.
    pub detail: LicenseAssignmentState,
}

/// Whether `new` and `old` hold the same assignments, in any order (plans in any order too).
pub fn same_assignments(new: &[LicenseAssignment], old: &[LicenseAssignment]) -> bool {
    if new.len() != old.len() {
        return false;
    }
    let key = |a: &LicenseAssignmentState| {
        let a = a.normalized();
        (
            a.sku_id,
            a.assigned_by,
            a.state,
            a.error,
            a.disabled_plans,
            a.last_updated,
        )
    };
    let mut a: Vec<_> = new.iter().map(|n| key(&n.detail)).collect();
    let mut b: Vec<_> = old.iter().map(|o| key(&o.detail)).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn entry(state: &str, error: Option<&str>) -> LicenseAssignmentState {
        LicenseAssignmentState {
            sku_id: SkuId(Uuid::from_u128(1)),
            assigned_by: AssignedBy::Direct,
            state: state.to_owned(),
            error: error.map(str::to_owned),
            disabled_plans: Vec::new(),
            last_updated: None,
        }
    }

    #[test]
    fn an_assignment_is_in_error_by_its_state_or_a_named_error() {
        let cases = [
            ("Active", None, false),
            ("Disabled", None, false),
            ("Error", None, true),
            ("ActiveWithError", None, true),
            ("activewitherror", None, true),
            ("Active", Some("DependencyViolation"), true),
            ("SomethingNew", None, false),
            ("SomethingNew", Some("SomethingNewToo"), true),
        ];
        for (state, error, in_error) in cases {
            assert_eq!(
                entry(state, error).is_in_error(),
                in_error,
                "{state} {error:?}"
            );
        }
    }

    #[test]
    fn graphs_none_and_null_mean_no_error_and_other_values_are_kept() {
        assert_eq!(error_of(Some("None".to_owned())), None);
        assert_eq!(error_of(None), None);
        assert_eq!(error_of(Some(String::new())), None);
        assert_eq!(
            error_of(Some("CountViolation".to_owned())).as_deref(),
            Some("CountViolation")
        );
        assert_eq!(
            error_of(Some("BrandNewViolation".to_owned())).as_deref(),
            Some("BrandNewViolation")
        );
    }

    #[test]
    fn assigned_by_reads_direct_or_the_group_id() {
        let group = GroupId(Uuid::from_u128(0xabc));
        assert_eq!(AssignedBy::Direct.to_string(), "DIRECT");
        assert_eq!(AssignedBy::Group(group).to_string(), group.to_string());
        assert_eq!(AssignedBy::Group(group).group(), Some(group));
        assert_eq!(AssignedBy::Direct.group(), None);
    }

    #[test]
    fn same_assignments_ignores_order_but_not_state_or_source() {
        let stored = |detail: LicenseAssignmentState| LicenseAssignment {
            user_id: UserId(Uuid::from_u128(7)),
            tenant_id: TenantId(Uuid::from_u128(8)),
            detail,
        };
        let plan = |n| ServicePlanId(Uuid::from_u128(n));
        let mut by_group = entry("Active", None);
        by_group.assigned_by = AssignedBy::Group(GroupId(Uuid::from_u128(3)));
        by_group.disabled_plans = vec![plan(1), plan(2)];
        let mut reordered = by_group.clone();
        reordered.disabled_plans.reverse();
        let direct = entry("Active", None);
        assert!(same_assignments(
            &[stored(direct.clone()), stored(by_group.clone())],
            &[stored(reordered), stored(direct.clone())]
        ));
        assert!(!same_assignments(
            &[stored(direct.clone())],
            &[stored(entry("Error", Some("CountViolation")))]
        ));
        assert!(!same_assignments(
            &[stored(direct.clone())],
            &[stored(by_group)]
        ));
        assert!(!same_assignments(&[stored(direct)], &[]));
    }
}
