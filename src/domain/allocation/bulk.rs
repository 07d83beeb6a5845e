//! Many allocation changes at once, as a spreadsheet or a tool sends them: overrides (users by
//! UPN or id, cost groups by code or id) and cost groups (by code). Each plan checks every row
//! against the tenant as it stands, names every rejected row with its reason, and says what
//! applying the rows would change; the store applies a plan without rejections in one
//! transaction. Pure.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::overrides::{Override, OverrideError, Share};
use crate::domain::CostGroup;
use crate::domain::cost_group::{
    CostGroupError, check_tree, parse_code, parse_description, parse_name,
};
use crate::domain::ids::{CostGroupId, TenantId, UserId};

/// Most rows one bulk change may hold.
pub const MAX_BULK_ROWS: usize = 50_000;

/// A row that is not applied, and why. `line` is the row's line in the file (the header is
/// line 1), or the item's position from 1 in a mutation's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// Where the row is.
    pub line: usize,
    /// What is wrong with it, naming the column and the value.
    pub reason: String,
}

/// How a row names a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// By id.
    Id(UserId),
    /// By user principal name, compared ignoring case.
    Upn(String),
}

impl UserRef {
    /// A GUID is an id; anything else a UPN.
    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        match raw.parse::<UserId>() {
            Ok(id) => UserRef::Id(id),
            Err(_) => UserRef::Upn(raw.to_owned()),
        }
    }
}

/// How a row names a cost group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    /// None: the row removes the user's override.
    Clear,
    /// By id.
    Id(CostGroupId),
    /// By code, compared ignoring case.
    Code(String),
}

/// One row of an overrides change: a user, and one cost group with its percent. A user with
/// several rows is split across their groups.
#[derive(Debug, Clone)]
pub struct OverrideRow {
    /// Where the row is (see [`RejectedRow::line`]).
    pub line: usize,
    /// The user.
    pub user: UserRef,
    /// The cost group, or [`GroupRef::Clear`].
    pub group: GroupRef,
    /// The percent as written (`60`, `33.33`, `33,33`); empty for a user's only row is 100.
    pub percent: String,
}

/// The present users the rows name, as the store found them.
#[derive(Debug, Default)]
pub struct UserDirectory {
    /// UPN of each user found.
    pub upn_of: HashMap<UserId, String>,
    /// User of each UPN found, the UPN in lower case.
    pub by_upn: HashMap<String, UserId>,
}

impl UserDirectory {
    fn find(&self, user: &UserRef) -> Option<UserId> {
        match user {
            UserRef::Id(id) => self.upn_of.contains_key(id).then_some(*id),
            UserRef::Upn(upn) => self.by_upn.get(&upn.to_lowercase()).copied(),
        }
    }
}

/// One user's override before and after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideChange {
    /// The rows that name the user.
    pub lines: Vec<usize>,
    /// The user.
    pub user_id: UserId,
    /// Their UPN.
    pub user_principal_name: String,
    /// The override they have now.
    pub before: Option<Override>,
    /// The override they would have; `None` removes it.
    pub after: Option<Override>,
}

/// What an overrides change would do.
#[derive(Debug, Clone, Default)]
pub struct OverridePlan {
    /// Rows given.
    pub rows: usize,
    /// Users whose override would change.
    pub changes: Vec<OverrideChange>,
    /// Users named whose override is already as given.
    pub unchanged: usize,
    /// Every rejected row, in line order.
    pub rejected: Vec<RejectedRow>,
}

/// A percent as people write it: `60`, `33.33`, or with a decimal comma, `33,33`.
fn parse_percent(raw: &str) -> Result<Decimal, String> {
    let text = raw.trim();
    let text = if text.contains('.') {
        text.to_owned()
    } else {
        text.replace(',', ".")
    };
    text.parse::<Decimal>()
        .map_err(|_| format!("percent must be a number such as 60 or 33.33, got {raw:?}"))
}

/// `lines` as text, each once (a mutation's item gives several rows on one line).
fn lines_text(lines: &[usize]) -> String {
    let mut lines = lines.to_vec();
    lines.dedup();
    lines
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A user's resolved rows: (line, group or `None` to clear, percent as written).
type UserRows = Vec<(usize, Option<CostGroupId>, String)>;

/// Checks `rows` against the tenant's present users (`users`, those the rows name), its cost
/// groups and its current overrides, and plans the change.
pub fn plan_overrides(
    rows: &[OverrideRow],
    users: &UserDirectory,
    groups: &[CostGroup],
    current: &HashMap<UserId, Override>,
) -> OverridePlan {
    let by_code: HashMap<String, CostGroupId> = groups
        .iter()
        .filter_map(|g| g.code.as_ref().map(|c| (c.to_lowercase(), g.id)))
        .collect();
    let ids: HashSet<CostGroupId> = groups.iter().map(|g| g.id).collect();
    let mut rejected = Vec::new();
    let mut order: Vec<UserId> = Vec::new();
    let mut by_user: HashMap<UserId, UserRows> = HashMap::new();
    // Users with a row rejected: their other rows are not judged as a whole.
    let mut broken: HashSet<UserId> = HashSet::new();
    for row in rows {
        let user = users.find(&row.user);
        let group = match &row.group {
            GroupRef::Clear => Ok(None),
            GroupRef::Id(id) if ids.contains(id) => Ok(Some(*id)),
            GroupRef::Id(id) => Err(format!("cost group {id} is not a group of the tenant")),
            GroupRef::Code(code) => by_code
                .get(&code.to_lowercase())
                .map(|id| Some(*id))
                .ok_or_else(|| format!("no cost group of the tenant has code {code:?}")),
        };
        let Some(user) = user else {
            let named = match &row.user {
                UserRef::Id(id) => id.to_string(),
                UserRef::Upn(upn) => format!("{upn:?}"),
            };
            rejected.push(RejectedRow {
                line: row.line,
                reason: format!("user: {named} is not a present user of the tenant"),
            });
            continue;
        };
        match group {
            Ok(group) => {
                if !by_user.contains_key(&user) {
                    order.push(user);
                }
                by_user
                    .entry(user)
                    .or_default()
                    .push((row.line, group, row.percent.clone()));
            }
            Err(reason) => {
                broken.insert(user);
                rejected.push(RejectedRow {
                    line: row.line,
                    reason: format!("cost group: {reason}"),
                });
            }
        }
    }
    let mut plan = OverridePlan {
        rows: rows.len(),
        ..OverridePlan::default()
    };
    for user in order {
        if broken.contains(&user) {
            continue;
        }
        let user_rows = &by_user[&user];
        let mut lines: Vec<usize> = user_rows.iter().map(|(line, _, _)| *line).collect();
        lines.dedup();
        match override_of(user, user_rows) {
            Ok(after) => {
                let before = current.get(&user).cloned();
                if same_override(before.as_ref(), after.as_ref()) {
                    plan.unchanged += 1;
                } else {
                    plan.changes.push(OverrideChange {
                        lines,
                        user_id: user,
                        user_principal_name: users.upn_of[&user].clone(),
                        before,
                        after,
                    });
                }
            }
            Err(mut rows_rejected) => rejected.append(&mut rows_rejected),
        }
    }
    rejected.sort_by_key(|r| r.line);
    rejected.dedup();
    plan.rejected = rejected;
    plan
}

/// The override a user's rows give (`None`: removed), or their rejected rows.
fn override_of(user: UserId, rows: &UserRows) -> Result<Option<Override>, Vec<RejectedRow>> {
    let lines: Vec<usize> = rows.iter().map(|(line, _, _)| *line).collect();
    let reject = |line: usize, reason: String| vec![RejectedRow { line, reason }];
    if rows.iter().any(|(_, group, _)| group.is_none()) {
        if rows.len() == 1 {
            return Ok(None);
        }
        return Err(rows
            .iter()
            .map(|(line, _, _)| RejectedRow {
                line: *line,
                reason: format!(
                    "a row without a cost group removes the user's override and must be their \
                     only row; lines {} name the same user",
                    lines_text(&lines)
                ),
            })
            .collect());
    }
    let mut shares = Vec::with_capacity(rows.len());
    for (line, group, percent) in rows {
        let percent = if percent.trim().is_empty() {
            if rows.len() > 1 {
                return Err(reject(
                    *line,
                    format!(
                        "percent is needed when a user has several rows (lines {})",
                        lines_text(&lines)
                    ),
                ));
            }
            Decimal::ONE_HUNDRED
        } else {
            parse_percent(percent).map_err(|reason| reject(*line, reason))?
        };
        shares.push(Share {
            cost_group: group.expect("rows without a group returned above"),
            percent,
        });
    }
    Override::new(user, shares).map(Some).map_err(|e| match e {
        OverrideError::NotPositive { index, percent } => reject(
            lines[index],
            format!("percent must be above 0, got {percent}"),
        ),
        OverrideError::TooPrecise { index, percent } => reject(
            lines[index],
            format!("percent must have at most 2 decimal places, got {percent}"),
        ),
        OverrideError::DuplicateGroup { index, .. } => reject(
            lines[index],
            format!(
                "the user has this cost group on another row too (lines {}); merge the rows",
                lines_text(&lines)
            ),
        ),
        OverrideError::SumNot100 { sum } => lines
            .iter()
            .map(|line| RejectedRow {
                line: *line,
                reason: format!(
                    "the user's percents (lines {}) sum to {sum}, not 100",
                    lines_text(&lines)
                ),
            })
            .collect(),
        OverrideError::NoShares => reject(lines[0], e.to_string()),
    })
}

/// Whether two overrides split the same way, whatever the order of their shares.
fn same_override(a: Option<&Override>, b: Option<&Override>) -> bool {
    let key = |o: &Override| {
        let mut shares: Vec<(CostGroupId, Decimal)> = o
            .shares()
            .iter()
            .map(|s| (s.cost_group, s.percent.normalize()))
            .collect();
        shares.sort();
        shares
    };
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => key(a) == key(b),
        _ => false,
    }
}

/// One row of a cost groups change: a group by its code, created when the tenant has no group
/// with that code, else updated to the row's values.
#[derive(Debug, Clone)]
pub struct CostGroupRow {
    /// Where the row is (see [`RejectedRow::line`]).
    pub line: usize,
    /// The group's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its parent's code (a group of the tenant or of the file); empty for a root.
    pub parent_code: String,
    /// Its description; empty for none.
    pub description: String,
}

/// One group before and after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostGroupChange {
    /// The row.
    pub line: usize,
    /// The group as it is; `None` when the row creates it.
    pub before: Option<CostGroup>,
    /// The group as it would be.
    pub after: CostGroup,
}

/// What a cost groups change would do.
#[derive(Debug, Clone, Default)]
pub struct CostGroupPlan {
    /// Rows given.
    pub rows: usize,
    /// Groups created or changed, parents before their children.
    pub changes: Vec<CostGroupChange>,
    /// Rows whose group is already as given.
    pub unchanged: usize,
    /// Every rejected row, in line order.
    pub rejected: Vec<RejectedRow>,
}

/// A row's checked values.
struct CheckedGroupRow {
    line: usize,
    code: String,
    name: String,
    parent_code: Option<String>,
    description: Option<String>,
}

fn check_group_row(row: &CostGroupRow) -> Result<CheckedGroupRow, RejectedRow> {
    let reject = |field: &str, e: CostGroupError| RejectedRow {
        line: row.line,
        reason: format!("{field}: {e}"),
    };
    let parent_code = match row.parent_code.trim() {
        "" => None,
        raw => Some(parse_code(raw).map_err(|e| reject("parent_code", e))?),
    };
    Ok(CheckedGroupRow {
        line: row.line,
        code: parse_code(&row.code).map_err(|e| reject("code", e))?,
        name: parse_name(&row.name).map_err(|e| reject("name", e))?,
        parent_code,
        description: parse_description(&row.description).map_err(|e| reject("description", e))?,
    })
}

/// Checks `rows` against the tenant's cost groups (`groups`) and plans the change; a created
/// group takes its id from `new_id` and `now` as its creation time.
pub fn plan_cost_groups(
    tenant_id: TenantId,
    rows: &[CostGroupRow],
    groups: &[CostGroup],
    mut new_id: impl FnMut() -> CostGroupId,
    now: DateTime<Utc>,
) -> CostGroupPlan {
    let mut rejected = Vec::new();
    let mut checked: Vec<CheckedGroupRow> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in rows {
        match check_group_row(row) {
            Ok(c) => match seen.get(&c.code.to_lowercase()) {
                Some(first) => rejected.push(RejectedRow {
                    line: c.line,
                    reason: format!("code: {:?} is on line {first} too", c.code),
                }),
                None => {
                    seen.insert(c.code.to_lowercase(), c.line);
                    checked.push(c);
                }
            },
            Err(r) => rejected.push(r),
        }
    }
    // Codes of rejected rows: a row naming one as its parent cannot be judged.
    let rejected_codes: HashSet<String> = rows
        .iter()
        .filter(|r| rejected.iter().any(|x| x.line == r.line))
        .map(|r| r.code.trim().to_lowercase())
        .collect();
    let existing: HashMap<String, &CostGroup> = groups
        .iter()
        .filter_map(|g| g.code.as_ref().map(|c| (c.to_lowercase(), g)))
        .collect();
    // Every row's group id: the existing group's, or a new one.
    let id_of: HashMap<String, CostGroupId> = checked
        .iter()
        .map(|c| {
            let key = c.code.to_lowercase();
            let id = existing.get(&key).map_or_else(&mut new_id, |g| g.id);
            (key, id)
        })
        .collect();
    let mut candidates: Vec<CostGroupChange> = Vec::new();
    let mut unchanged = 0;
    for c in checked {
        let parent_id = match &c.parent_code {
            None => None,
            Some(code) => {
                let key = code.to_lowercase();
                match id_of
                    .get(&key)
                    .copied()
                    .or_else(|| existing.get(&key).map(|g| g.id))
                {
                    Some(id) => Some(id),
                    None => {
                        let reason = if rejected_codes.contains(&key) {
                            format!("parent_code: the row of {code:?} is rejected")
                        } else {
                            format!(
                                "parent_code: no cost group of the tenant or the file has code \
                                 {code:?}"
                            )
                        };
                        rejected.push(RejectedRow {
                            line: c.line,
                            reason,
                        });
                        continue;
                    }
                }
            }
        };
        let before = existing.get(&c.code.to_lowercase()).map(|g| (*g).clone());
        let after = CostGroup {
            id: id_of[&c.code.to_lowercase()],
            tenant_id,
            parent_id,
            name: c.name,
            code: Some(c.code),
            description: c.description,
            created_at: before.as_ref().map_or(now, |b| b.created_at),
            updated_at: now,
        };
        let same = before.as_ref().is_some_and(|b| {
            b.parent_id == after.parent_id
                && b.name == after.name
                && b.code == after.code
                && b.description == after.description
        });
        if same {
            unchanged += 1;
        } else {
            candidates.push(CostGroupChange {
                line: c.line,
                before,
                after,
            });
        }
    }
    // The tree after the change: drop the rows the tree rules refuse, one at a time, and the
    // rows that depended on them, until it holds.
    loop {
        let tree = tree_after(groups, &candidates);
        let Err(e) = check_tree(&tree) else {
            break;
        };
        let named = match &e {
            CostGroupError::Cycle { name }
            | CostGroupError::TooDeep { name, .. }
            | CostGroupError::DuplicateSiblingName { name } => Some(name.to_lowercase()),
            CostGroupError::DuplicateCode { code } => Some(code.to_lowercase()),
            _ => None,
        };
        let at = candidates
            .iter()
            .position(|c| {
                named.as_deref().is_some_and(|n| {
                    c.after.name.to_lowercase() == n
                        || c.after.code.as_deref().map(str::to_lowercase).as_deref() == Some(n)
                })
            })
            // A clash the rows cannot be matched to: the first row takes the blame.
            .unwrap_or(0);
        if candidates.is_empty() {
            break;
        }
        let bad = candidates.remove(at);
        rejected.push(RejectedRow {
            line: bad.line,
            reason: e.to_string(),
        });
        if bad.before.is_none() {
            // The group will not exist: rows placing groups under it go too.
            let mut gone = vec![bad.after.id];
            while let Some(parent) = gone.pop() {
                while let Some(i) = candidates
                    .iter()
                    .position(|c| c.after.parent_id == Some(parent))
                {
                    let child = candidates.remove(i);
                    rejected.push(RejectedRow {
                        line: child.line,
                        reason: format!(
                            "parent_code: the row of {:?} (line {}) is rejected",
                            bad.after.code.as_deref().unwrap_or_default(),
                            bad.line
                        ),
                    });
                    if child.before.is_none() {
                        gone.push(child.after.id);
                    }
                }
            }
        }
    }
    rejected.sort_by_key(|r| r.line);
    CostGroupPlan {
        rows: rows.len(),
        changes: parents_first(candidates),
        unchanged,
        rejected,
    }
}

/// The tenant's groups with `changes` applied.
fn tree_after(groups: &[CostGroup], changes: &[CostGroupChange]) -> Vec<CostGroup> {
    let changed: HashMap<CostGroupId, &CostGroup> =
        changes.iter().map(|c| (c.after.id, &c.after)).collect();
    let mut tree: Vec<CostGroup> = groups
        .iter()
        .map(|g| {
            changed
                .get(&g.id)
                .map_or_else(|| g.clone(), |c| (*c).clone())
        })
        .collect();
    // New groups first: of two clashing groups, check_tree names the earlier one.
    let mut created: Vec<CostGroup> = changes
        .iter()
        .filter(|c| c.before.is_none())
        .map(|c| c.after.clone())
        .collect();
    created.append(&mut tree);
    created
}

/// `changes` ordered so that a created group comes after its created parent.
fn parents_first(mut changes: Vec<CostGroupChange>) -> Vec<CostGroupChange> {
    let mut ordered = Vec::with_capacity(changes.len());
    let mut placed: HashSet<CostGroupId> = HashSet::new();
    let created: HashSet<CostGroupId> = changes
        .iter()
        .filter(|c| c.before.is_none())
        .map(|c| c.after.id)
        .collect();
    while !changes.is_empty() {
        let before = changes.len();
        changes.retain(|c| {
            let ready = c
                .after
                .parent_id
                .is_none_or(|p| !created.contains(&p) || placed.contains(&p));
            if ready {
                placed.insert(c.after.id);
                ordered.push(c.clone());
            }
            !ready
        });
        if changes.len() == before {
            // A cycle: check_tree refused it already; keep the rest in file order.
            ordered.append(&mut changes);
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::allocation::test_support::guid;
    use rust_decimal_macros::dec;

    fn group(n: u128, parent: Option<u128>, name: &str, code: &str) -> CostGroup {
        CostGroup {
            id: CostGroupId(guid(n)),
            tenant_id: TenantId(guid(1000)),
            parent_id: parent.map(|p| CostGroupId(guid(p))),
            name: name.to_owned(),
            code: Some(code.to_owned()),
            description: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn directory() -> UserDirectory {
        let mut d = UserDirectory::default();
        for (n, upn) in [
            (1, "Ann@Contoso.ch"),
            (2, "bob@contoso.ch"),
            (3, "cy@contoso.ch"),
        ] {
            d.upn_of.insert(UserId(guid(n)), upn.to_owned());
            d.by_upn.insert(upn.to_lowercase(), UserId(guid(n)));
        }
        d
    }

    fn row(line: usize, user: &str, code: &str, percent: &str) -> OverrideRow {
        OverrideRow {
            line,
            user: UserRef::parse(user),
            group: if code.is_empty() {
                GroupRef::Clear
            } else {
                GroupRef::Code(code.to_owned())
            },
            percent: percent.to_owned(),
        }
    }

    fn groups() -> Vec<CostGroup> {
        vec![
            group(10, None, "Sales", "S"),
            group(11, None, "Finance", "F"),
        ]
    }

    #[test]
    fn rows_split_pin_and_clear_users_and_an_override_already_so_is_unchanged() {
        let ann = UserId(guid(1));
        let cy = UserId(guid(3));
        let current = HashMap::from([
            (cy, Override::pin(cy, CostGroupId(guid(11)))),
            (
                UserId(guid(2)),
                Override::pin(UserId(guid(2)), CostGroupId(guid(10))),
            ),
        ]);
        let plan = plan_overrides(
            &[
                row(2, "ann@contoso.ch", "s", "60"),
                row(3, &guid(1).to_string(), "F", "40,0"),
                row(4, "bob@contoso.ch", "S", ""),
                row(5, "cy@contoso.ch", "", ""),
            ],
            &directory(),
            &groups(),
            &current,
        );
        assert_eq!(plan.rejected, vec![]);
        assert_eq!((plan.rows, plan.unchanged), (4, 1));
        assert_eq!(plan.changes.len(), 2);
        let split = &plan.changes[0];
        assert_eq!((split.user_id, split.lines.clone()), (ann, vec![2, 3]));
        assert_eq!(split.user_principal_name, "Ann@Contoso.ch");
        let shares = split.after.as_ref().unwrap().shares();
        assert_eq!(
            shares.iter().map(|s| s.percent).collect::<Vec<_>>(),
            vec![dec!(60), dec!(40.0)]
        );
        assert_eq!(
            (plan.changes[1].user_id, &plan.changes[1].after),
            (cy, &None)
        );
    }

    #[test]
    fn every_bad_row_is_rejected_with_its_line_and_reason() {
        let plan = plan_overrides(
            &[
                row(2, "nobody@contoso.ch", "S", ""),
                row(3, "ann@contoso.ch", "NOPE", ""),
                row(4, "bob@contoso.ch", "S", "50"),
                row(5, "bob@contoso.ch", "F", "40"),
                row(6, "cy@contoso.ch", "S", "abc"),
            ],
            &directory(),
            &groups(),
            &HashMap::new(),
        );
        let lines: Vec<usize> = plan.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
        assert!(
            plan.rejected[0]
                .reason
                .contains("\"nobody@contoso.ch\" is not a present user")
        );
        assert!(plan.rejected[1].reason.contains("code \"NOPE\""));
        assert!(plan.rejected[2].reason.contains("sum to 90, not 100"));
        assert!(plan.rejected[4].reason.contains("\"abc\""));
        assert!(plan.changes.is_empty());
    }

    #[test]
    fn a_clearing_row_beside_another_row_of_the_user_and_a_missing_percent_are_refused() {
        let plan = plan_overrides(
            &[
                row(2, "ann@contoso.ch", "", ""),
                row(3, "ann@contoso.ch", "S", "100"),
                row(4, "bob@contoso.ch", "S", "50"),
                row(5, "bob@contoso.ch", "F", ""),
                row(6, "cy@contoso.ch", "S", "100.001"),
            ],
            &directory(),
            &groups(),
            &HashMap::new(),
        );
        let lines: Vec<usize> = plan.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 5, 6]);
        assert!(plan.rejected[0].reason.contains("must be their only row"));
        assert!(plan.rejected[2].reason.contains("percent is needed"));
        assert!(plan.rejected[3].reason.contains("2 decimal places"));
    }

    fn grow(line: usize, code: &str, name: &str, parent: &str) -> CostGroupRow {
        CostGroupRow {
            line,
            code: code.to_owned(),
            name: name.to_owned(),
            parent_code: parent.to_owned(),
            description: String::new(),
        }
    }

    fn ids() -> impl FnMut() -> CostGroupId {
        let mut n = 100;
        move || {
            n += 1;
            CostGroupId(guid(n))
        }
    }

    #[test]
    fn groups_are_created_under_parents_of_the_file_and_updated_by_code() {
        let now = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(1);
        let plan = plan_cost_groups(
            TenantId(guid(1000)),
            &[
                grow(2, "EMEA-S", "Sales EMEA", "EMEA"),
                grow(3, "EMEA", "EMEA", ""),
                grow(4, "s", "Sales", "EMEA"),
                grow(5, "F", "Finance", ""),
            ],
            &groups(),
            ids(),
            now,
        );
        assert_eq!(plan.rejected, vec![]);
        assert_eq!((plan.rows, plan.unchanged), (4, 1));
        let lines: Vec<usize> = plan.changes.iter().map(|c| c.line).collect();
        // The parent created on line 3 comes before the groups of lines 2 and 4 under it.
        assert_eq!(lines, vec![3, 4, 2]);
        let emea = plan.changes[0].after.id;
        assert_eq!(plan.changes[2].after.parent_id, Some(emea));
        let sales = &plan.changes[1];
        assert_eq!(sales.after.id, CostGroupId(guid(10)));
        assert_eq!(sales.after.parent_id, Some(emea));
        assert_eq!(sales.after.created_at, DateTime::<Utc>::UNIX_EPOCH);
    }

    #[test]
    fn bad_values_unknown_parents_duplicates_and_clashes_are_rejected_by_line() {
        let plan = plan_cost_groups(
            TenantId(guid(1000)),
            &[
                grow(2, "bad code!", "X", ""),
                grow(3, "A", "", ""),
                grow(4, "B", "B", "NOPE"),
                grow(5, "C", "Sales", ""),
                grow(6, "D", "D", ""),
                grow(7, "d", "D2", ""),
                grow(8, "E", "E", "bad code!"),
            ],
            &groups(),
            ids(),
            DateTime::<Utc>::UNIX_EPOCH,
        );
        let got: Vec<(usize, &str)> = plan
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.split(':').next().unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "code"),
                (3, "name"),
                (4, "parent_code"),
                (
                    5,
                    "a sibling cost group is already named \"Sales\" (names are unique among siblings, ignoring case)"
                ),
                (7, "code"),
                (8, "parent_code"),
            ]
        );
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].line, 6);
    }

    #[test]
    fn a_move_under_its_own_child_is_refused() {
        let plan = plan_cost_groups(
            TenantId(guid(1000)),
            &[grow(2, "K", "Kid", "S"), grow(3, "S", "Sales", "K")],
            &groups(),
            ids(),
            DateTime::<Utc>::UNIX_EPOCH,
        );
        assert_eq!(plan.rejected.len(), 2, "{:?}", plan.rejected);
        assert!(plan.rejected[0].reason.contains("under itself"));
        assert_eq!(
            plan.rejected[1].reason,
            "parent_code: the row of \"K\" (line 2) is rejected"
        );
        assert!(plan.changes.is_empty());
    }
}
