//! What a bulk change did or would do (`setUserAllocations`, `createCostGroups` and the CSV
//! uploads, which answer the same values as JSON).

use std::collections::HashMap;

use async_graphql::{Enum, ID, SimpleObject};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::allocation::Override;
use crate::domain::allocation::bulk::{
    CostGroupChange, CostGroupPlan, OverrideChange, OverridePlan, RejectedRow,
};
use crate::domain::{CostGroup, CostGroupId};
use crate::store::allocation::BulkOutcome;

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A row that was not applied, and why.
#[derive(SimpleObject, Serialize)]
#[graphql(name = "RejectedRow")]
#[serde(rename_all = "camelCase")]
pub struct RejectedRowValue {
    /// The row's line in the CSV file (the header is line 1), or the item's position from 1 in
    /// the mutation's list.
    pub line: i32,
    /// What is wrong with it, naming the column and the value.
    pub reason: String,
}

fn rejected(rows: &[RejectedRow]) -> Vec<RejectedRowValue> {
    rows.iter()
        .map(|r| RejectedRowValue {
            line: count(r.line),
            reason: r.reason.clone(),
        })
        .collect()
}

/// One share of an override, its group named by id and code.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkShare {
    /// The cost group.
    pub cost_group_id: ID,
    /// Its code, when it has one.
    pub cost_group_code: Option<String>,
    /// The percentage of the user's licenses.
    pub percent: Decimal,
}

/// One user's override before and after a bulk change.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAllocationChange {
    /// The rows (or item) naming the user.
    pub lines: Vec<i32>,
    /// The user.
    pub user_id: ID,
    /// Their UPN.
    pub user_principal_name: String,
    /// Their override before; null when they had none (rules placed them).
    pub before: Option<Vec<BulkShare>>,
    /// Their override after; null when it is removed (rules place them again).
    pub after: Option<Vec<BulkShare>>,
}

/// What `setUserAllocations` (or an overrides CSV upload) did or, for a dry run or with
/// rejected rows, would do.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetUserAllocationsResult {
    /// Whether only a dry run was asked for.
    pub dry_run: bool,
    /// Whether the changes were written: all rows in one transaction, or none when a row is
    /// rejected or it is a dry run.
    pub applied: bool,
    /// Rows (or share entries) given.
    pub rows: i32,
    /// Users whose override changes.
    pub changed: i32,
    /// Users whose override is already as given.
    pub unchanged: i32,
    /// Each changed user, before and after.
    pub changes: Vec<UserAllocationChange>,
    /// Every rejected row, by line.
    pub rejected: Vec<RejectedRowValue>,
}

fn shares(o: Option<&Override>, codes: &HashMap<CostGroupId, String>) -> Option<Vec<BulkShare>> {
    o.map(|o| {
        o.shares()
            .iter()
            .map(|s| BulkShare {
                cost_group_id: ID(s.cost_group.to_string()),
                cost_group_code: codes.get(&s.cost_group).cloned(),
                percent: s.percent,
            })
            .collect()
    })
}

fn user_change(c: &OverrideChange, codes: &HashMap<CostGroupId, String>) -> UserAllocationChange {
    UserAllocationChange {
        lines: c.lines.iter().map(|l| count(*l)).collect(),
        user_id: ID(c.user_id.to_string()),
        user_principal_name: c.user_principal_name.clone(),
        before: shares(c.before.as_ref(), codes),
        after: shares(c.after.as_ref(), codes),
    }
}

impl SetUserAllocationsResult {
    /// The answer to a bulk overrides change.
    pub fn of(outcome: &BulkOutcome<OverridePlan>, dry_run: bool) -> Self {
        let plan = &outcome.plan;
        SetUserAllocationsResult {
            dry_run,
            applied: outcome.applied,
            rows: count(plan.rows),
            changed: count(plan.changes.len()),
            unchanged: count(plan.unchanged),
            changes: plan
                .changes
                .iter()
                .map(|c| user_change(c, &outcome.codes))
                .collect(),
            rejected: rejected(&plan.rejected),
        }
    }
}

/// Whether a row creates a cost group or changes one.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BulkChangeKind {
    /// No group of the tenant had the row's code: it is created.
    Create,
    /// The group with the row's code changes to the row's values.
    Update,
}

/// A cost group's values in a bulk change.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostGroupValues {
    /// The group (for one to be created, the id it gets when the change is applied).
    pub id: ID,
    /// Its code.
    pub code: Option<String>,
    /// Its name.
    pub name: String,
    /// Its parent; null for a root.
    pub parent_id: Option<ID>,
    /// Its parent's code, when the parent has one.
    pub parent_code: Option<String>,
    /// Its description.
    pub description: Option<String>,
}

fn values(g: &CostGroup, codes: &HashMap<CostGroupId, String>) -> CostGroupValues {
    CostGroupValues {
        id: ID(g.id.to_string()),
        code: g.code.clone(),
        name: g.name.clone(),
        parent_id: g.parent_id.map(|p| ID(p.to_string())),
        parent_code: g.parent_id.and_then(|p| codes.get(&p).cloned()),
        description: g.description.clone(),
    }
}

/// One row's cost group before and after a bulk change.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostGroupRowChange {
    /// The row's line (or the item's position from 1).
    pub line: i32,
    /// Created or updated.
    pub kind: BulkChangeKind,
    /// The group before; null when it is created.
    pub before: Option<CostGroupValues>,
    /// The group after.
    pub after: CostGroupValues,
}

fn group_change(c: &CostGroupChange, codes: &HashMap<CostGroupId, String>) -> CostGroupRowChange {
    CostGroupRowChange {
        line: count(c.line),
        kind: if c.before.is_some() {
            BulkChangeKind::Update
        } else {
            BulkChangeKind::Create
        },
        before: c.before.as_ref().map(|g| values(g, codes)),
        after: values(&c.after, codes),
    }
}

/// What `createCostGroups` (or a cost groups CSV upload) did or, for a dry run or with
/// rejected rows, would do.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCostGroupsResult {
    /// Whether only a dry run was asked for.
    pub dry_run: bool,
    /// Whether the changes were written: all rows in one transaction, or none when a row is
    /// rejected or it is a dry run.
    pub applied: bool,
    /// Rows given.
    pub rows: i32,
    /// Groups created.
    pub created: i32,
    /// Groups changed.
    pub updated: i32,
    /// Rows whose group is already as given.
    pub unchanged: i32,
    /// Each group created or changed, parents before their children.
    pub changes: Vec<CostGroupRowChange>,
    /// Every rejected row, by line.
    pub rejected: Vec<RejectedRowValue>,
}

impl CreateCostGroupsResult {
    /// The answer to a bulk cost groups change.
    pub fn of(outcome: &BulkOutcome<CostGroupPlan>, dry_run: bool) -> Self {
        let plan = &outcome.plan;
        let created = plan.changes.iter().filter(|c| c.before.is_none()).count();
        CreateCostGroupsResult {
            dry_run,
            applied: outcome.applied,
            rows: count(plan.rows),
            created: count(created),
            updated: count(plan.changes.len() - created),
            unchanged: count(plan.unchanged),
            changes: plan
                .changes
                .iter()
                .map(|c| group_change(c, &outcome.codes))
                .collect(),
            rejected: rejected(&plan.rejected),
        }
    }
}
