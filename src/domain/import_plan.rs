//! The plan of an import commit, one chunk of upstream records at a time: from the records and
//! the stored rows of the users they name, which users to insert, update, restore and
//! soft-delete, which license and license assignment rows to replace, and what the chunk adds
//! to the run's counts.
//! Pure: the store reads before and writes after (`store::import_commit`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::ids::{SkuId, TenantId, UserId};
use super::import_run::ImportCounts;
use super::imported_user::{ImportedUser, ImportedUserError, UserChange, differs};
use super::license_assignment::{LicenseAssignment, same_assignments};
use super::user::{AssignedLicense, User};

/// The stored rows of the users a chunk names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredUsers {
    /// The users stored, present or deleted upstream, by id.
    pub users: HashMap<UserId, User>,
    /// Their licenses, by user; users without licenses are absent.
    pub licenses: HashMap<UserId, Vec<AssignedLicense>>,
    /// Their license assignments, by user; users without assignments are absent.
    pub assignments: HashMap<UserId, Vec<LicenseAssignment>>,
}

/// What to write for one chunk. Users are in id order, licenses by user then SKU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkPlan {
    /// Users not stored yet.
    pub insert: Vec<User>,
    /// Present stored users whose imported values changed.
    pub update: Vec<User>,
    /// Users deleted upstream before and listed again, present once more.
    pub restore: Vec<User>,
    /// Present stored users gone upstream.
    pub soft_delete: Vec<UserId>,
    /// Users whose stored license rows go (replaced by `insert_licenses`, or gone with the user).
    pub clear_licenses: Vec<UserId>,
    /// License rows to insert.
    pub insert_licenses: Vec<AssignedLicense>,
    /// Users whose stored license assignment rows go (replaced by `insert_assignments`, or
    /// gone with the user).
    pub clear_assignments: Vec<UserId>,
    /// License assignment rows to insert, by user then in upstream order.
    pub insert_assignments: Vec<LicenseAssignment>,
    /// What the chunk adds to the run's user counts (`users_*`; the other counts stay 0).
    pub counts: ImportCounts,
}

/// Why an import can't be committed; nothing of it is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportPlanError {
    /// A record can't be applied to the stored user.
    #[error(transparent)]
    User(#[from] ImportedUserError),
    /// A user holds a SKU the tenant's subscribed SKUs don't list.
    #[error("user {user} holds SKU {sku} which subscribedSkus does not list")]
    UnsubscribedSku {
        /// The user.
        user: UserId,
        /// The SKU.
        sku: SkuId,
    },
    /// A user's licenses list one SKU twice.
    #[error("user {user} lists SKU {sku} twice in assignedLicenses")]
    RepeatedSku {
        /// The user.
        user: UserId,
        /// The SKU.
        sku: SkuId,
    },
}

/// Plans one run's commit chunk by chunk, carrying what the run has seen from one chunk to the
/// next: the users listed as present (after a full import, the others are soft-deleted) and
/// the users counted already (a user repeated by a delta counts once).
#[derive(Debug)]
pub struct ImportPlanner {
    tenant_id: TenantId,
    seen_at: DateTime<Utc>,
    skus: HashSet<SkuId>,
    listed: HashSet<UserId>,
    counted: HashSet<UserId>,
}

/// A chunk's changes gathered before they become a [`ChunkPlan`]; later records of a user win.
#[derive(Default)]
struct Gathered {
    users: HashMap<UserId, User>,
    licenses: HashMap<UserId, Vec<AssignedLicense>>,
    assignments: HashMap<UserId, Vec<LicenseAssignment>>,
    removed: HashSet<UserId>,
    counts: ImportCounts,
}

/// The ids of the users `changes` name, in order, repeats kept (records without an id are left
/// out): the users whose stored rows a chunk's plan needs.
pub fn users_named(changes: &[UserChange]) -> Vec<UserId> {
    changes
        .iter()
        .filter_map(|c| match c {
            UserChange::Present(u) => u.id,
            UserChange::Removed(id) => Some(*id),
        })
        .collect()
}

/// Whether `new` and `old` hold the same SKUs with the same disabled plans, in any order.
pub fn same_licenses(new: &[AssignedLicense], old: &[AssignedLicense]) -> bool {
    if new.len() != old.len() {
        return false;
    }
    let key = |l: &AssignedLicense| {
        let mut plans = l.disabled_plans.clone();
        plans.sort_unstable();
        (l.sku_id, plans)
    };
    let mut a: Vec<_> = new.iter().map(key).collect();
    let mut b: Vec<_> = old.iter().map(key).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// The rows of one per-user relation stored for `id` (none when absent).
fn rows_of<T>(rows: &HashMap<UserId, Vec<T>>, id: UserId) -> &[T] {
    rows.get(&id).map_or(&[], Vec::as_slice)
}

/// How a chunk replaces one per-user relation (licenses, license assignments): the users whose
/// stored rows go, in id order (those whose new rows differ from `stored`, and those `removed`,
/// if they had rows), and the rows to insert, by user in id order and each user's rows in the
/// order given.
fn replacement<T>(
    mut new: HashMap<UserId, Vec<T>>,
    removed: &HashSet<UserId>,
    stored: &HashMap<UserId, Vec<T>>,
    same: impl Fn(&[T], &[T]) -> bool,
) -> (Vec<UserId>, Vec<T>) {
    let mut replaced: Vec<UserId> = new
        .iter()
        .filter(|(id, rows)| !same(rows, rows_of(stored, **id)))
        .map(|(id, _)| *id)
        .chain(removed.iter().copied())
        .collect();
    replaced.sort_unstable();
    // Only users that had rows have rows to delete.
    let clear = replaced
        .iter()
        .copied()
        .filter(|id| stored.contains_key(id))
        .collect();
    let insert = replaced
        .iter()
        .filter_map(|id| new.remove(id))
        .flatten()
        .collect();
    (clear, insert)
}

impl StoredUsers {
    fn licenses_of(&self, id: UserId) -> &[AssignedLicense] {
        rows_of(&self.licenses, id)
    }

    fn assignments_of(&self, id: UserId) -> &[LicenseAssignment] {
        rows_of(&self.assignments, id)
    }

    fn is_present(&self, id: UserId) -> bool {
        self.users.get(&id).is_some_and(|u| u.deleted_at.is_none())
    }

    fn is_deleted(&self, id: UserId) -> bool {
        self.users.get(&id).is_some_and(|u| u.deleted_at.is_some())
    }
}

impl ImportPlanner {
    /// A planner for an import of `tenant_id` read at `seen_at`, whose subscribed SKUs are
    /// `skus`.
    pub fn new(tenant_id: TenantId, seen_at: DateTime<Utc>, skus: HashSet<SkuId>) -> Self {
        ImportPlanner {
            tenant_id,
            seen_at,
            skus,
            listed: HashSet::new(),
            counted: HashSet::new(),
        }
    }

    /// The users the run's chunks so far listed as present (and did not remove later).
    pub fn listed(&self) -> &HashSet<UserId> {
        &self.listed
    }

    /// The plan of one chunk, `stored` holding the stored rows of the users it names (see
    /// [`users_named`]), as the chunks before left them.
    pub fn plan_chunk(
        &mut self,
        changes: Vec<UserChange>,
        stored: &StoredUsers,
    ) -> Result<ChunkPlan, ImportPlanError> {
        let mut gathered = Gathered::default();
        for change in changes {
            match change {
                UserChange::Present(record) => self.present(&record, stored, &mut gathered)?,
                UserChange::Removed(id) => self.removed(id, stored, &mut gathered),
            }
        }
        Ok(gathered.into_plan(stored))
    }

    /// Gathers a record of a present user.
    fn present(
        &mut self,
        record: &ImportedUser,
        stored: &StoredUsers,
        gathered: &mut Gathered,
    ) -> Result<(), ImportPlanError> {
        let base = record
            .id
            .and_then(|id| gathered.users.get(&id).or_else(|| stored.users.get(&id)));
        let user = record.apply(self.tenant_id, base, self.seen_at)?;
        let id = user.id;
        let licenses = record.licenses_of(self.tenant_id);
        if let Some(list) = &licenses {
            self.check_licenses(id, list)?;
        }
        let assignments = record.license_assignments_of(self.tenant_id);
        self.listed.insert(id);
        gathered.removed.remove(&id);
        if self.counted.insert(id) {
            let licenses_changed = licenses
                .as_ref()
                .is_some_and(|new| !same_licenses(new, stored.licenses_of(id)));
            let assignments_changed = assignments
                .as_ref()
                .is_some_and(|new| !same_assignments(new, stored.assignments_of(id)));
            let counts = &mut gathered.counts;
            match stored.users.get(&id) {
                None => counts.users_added += 1,
                Some(old) if old.deleted_at.is_some() => counts.users_restored += 1,
                Some(old) if differs(old, &user) || licenses_changed || assignments_changed => {
                    counts.users_updated += 1
                }
                Some(_) => {}
            }
        }
        // A restored user whose record carried no licenses or assignments starts with none.
        let restored = stored.is_deleted(id);
        if let Some(list) = licenses.or_else(|| restored.then(Vec::new)) {
            gathered.licenses.insert(id, list);
        }
        if let Some(list) = assignments.or_else(|| restored.then(Vec::new)) {
            gathered.assignments.insert(id, list);
        }
        gathered.users.insert(id, user);
        Ok(())
    }

    /// Fails unless every license of `user` is of a subscribed SKU, each SKU once.
    fn check_licenses(
        &self,
        user: UserId,
        list: &[AssignedLicense],
    ) -> Result<(), ImportPlanError> {
        let mut skus_of_user = HashSet::new();
        for l in list {
            if !self.skus.contains(&l.sku_id) {
                return Err(ImportPlanError::UnsubscribedSku {
                    user,
                    sku: l.sku_id,
                });
            }
            if !skus_of_user.insert(l.sku_id) {
                return Err(ImportPlanError::RepeatedSku {
                    user,
                    sku: l.sku_id,
                });
            }
        }
        Ok(())
    }

    /// Gathers a record of a user gone upstream.
    fn removed(&mut self, id: UserId, stored: &StoredUsers, gathered: &mut Gathered) {
        self.listed.remove(&id);
        gathered.users.remove(&id);
        gathered.licenses.remove(&id);
        gathered.assignments.remove(&id);
        if stored.is_present(id) && self.counted.insert(id) {
            gathered.counts.users_removed += 1;
        }
        gathered.removed.insert(id);
    }
}

impl Gathered {
    /// What to write: users, licenses and assignments that did not change are left as they are.
    fn into_plan(self, stored: &StoredUsers) -> ChunkPlan {
        let mut plan = ChunkPlan {
            counts: self.counts,
            ..ChunkPlan::default()
        };
        for (id, user) in self.users {
            match stored.users.get(&id) {
                None => plan.insert.push(user),
                Some(old) if old.deleted_at.is_some() => plan.restore.push(user),
                Some(old) if differs(old, &user) => plan.update.push(user),
                Some(_) => {}
            }
        }
        // In key order, consecutive rows land on the same b-tree pages.
        for users in [&mut plan.insert, &mut plan.update, &mut plan.restore] {
            users.sort_unstable_by_key(|u| u.id);
        }
        (plan.clear_licenses, plan.insert_licenses) = replacement(
            self.licenses,
            &self.removed,
            &stored.licenses,
            same_licenses,
        );
        plan.insert_licenses
            .sort_unstable_by_key(|l| (l.user_id, l.sku_id));
        (plan.clear_assignments, plan.insert_assignments) = replacement(
            self.assignments,
            &self.removed,
            &stored.assignments,
            same_assignments,
        );
        plan.soft_delete = self
            .removed
            .into_iter()
            .filter(|id| stored.is_present(*id))
            .collect();
        plan.soft_delete.sort_unstable();
        plan
    }
}

/// The users a chunk's plan changes in a way their allocation can follow, as they were before
/// and as the plan writes them (see [`ChunkPlan::touched`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TouchedUsers {
    /// Those that were present before, as stored, by id.
    pub present_before: Vec<User>,
    /// The stored licenses of `present_before`.
    pub licenses_before: Vec<AssignedLicense>,
    /// Each user as written: added, changed, restored, with licenses replaced, or soft-deleted
    /// (`deleted_at` set), by id.
    pub after: Vec<User>,
    /// The licenses the present users of `after` hold once written.
    pub licenses_after: Vec<AssignedLicense>,
}

impl ChunkPlan {
    /// The users this plan adds, changes, restores or soft-deletes (at `seen_at`) or whose
    /// licenses it replaces, before and after, given the `stored` rows it was planned from.
    pub fn touched(&self, stored: &StoredUsers, seen_at: DateTime<Utc>) -> TouchedUsers {
        let replaced: HashSet<UserId> = self
            .clear_licenses
            .iter()
            .copied()
            .chain(self.insert_licenses.iter().map(|l| l.user_id))
            .collect();
        let mut after: HashMap<UserId, User> = self
            .insert
            .iter()
            .chain(&self.update)
            .chain(&self.restore)
            .map(|u| (u.id, u.clone()))
            .collect();
        for id in &self.soft_delete {
            if let Some(user) = stored.users.get(id) {
                let mut gone = user.clone();
                gone.deleted_at = Some(seen_at);
                after.insert(*id, gone);
            }
        }
        for id in &replaced {
            if let Some(user) = stored.users.get(id).filter(|_| !after.contains_key(id)) {
                after.insert(*id, user.clone());
            }
        }
        let mut after: Vec<User> = after.into_values().collect();
        after.sort_unstable_by_key(|u| u.id);
        let mut out = TouchedUsers::default();
        for user in &after {
            if let Some(before) = stored
                .users
                .get(&user.id)
                .filter(|_| stored.is_present(user.id))
            {
                out.present_before.push(before.clone());
                out.licenses_before
                    .extend_from_slice(stored.licenses_of(user.id));
            }
            if user.deleted_at.is_none() && !replaced.contains(&user.id) {
                out.licenses_after
                    .extend_from_slice(stored.licenses_of(user.id));
            }
        }
        // Rows to insert are all of users in `after` (added, or with licenses replaced).
        out.licenses_after.extend_from_slice(&self.insert_licenses);
        out.after = after;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::GroupId;
    use crate::domain::imported_user::{FieldSet, UserField};
    use crate::domain::license_assignment::{AssignedBy, LicenseAssignmentState};
    use uuid::Uuid;

    const A: u128 = 0xA;
    const B: u128 = 0xB;
    const TENANT: TenantId = TenantId(Uuid::from_u128(0x7));

    fn at(day: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000 + day * 86_400, 0).unwrap()
    }

    fn id(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    /// A full record of user `n` named `name` holding `skus`.
    fn listed(n: u128, name: &str, skus: &[u128]) -> ImportedUser {
        ImportedUser {
            id: Some(id(n)),
            present: FieldSet::ALL,
            display_name: Some(name.to_owned()),
            user_principal_name: Some(format!("user{n}@example.com")),
            department: Some("Sales".to_owned()),
            licenses: skus
                .iter()
                .map(|s| (SkuId(Uuid::from_u128(*s)), Vec::new()))
                .collect(),
            ..ImportedUser::default()
        }
    }

    fn present(n: u128, name: &str, skus: &[u128]) -> UserChange {
        UserChange::Present(Box::new(listed(n, name, skus)))
    }

    /// User `n` as an earlier import stored it (`deleted`: gone upstream since, without
    /// licenses).
    fn stored(users: &[(u128, &str, &[u128], bool)]) -> StoredUsers {
        let mut out = StoredUsers::default();
        for &(n, name, skus, deleted) in users {
            let record = listed(n, name, skus);
            let mut user = record.apply(TENANT, None, at(0)).unwrap();
            if deleted {
                user.deleted_at = Some(at(0));
            } else if !skus.is_empty() {
                out.licenses
                    .insert(user.id, record.licenses_of(TENANT).unwrap());
            }
            if !deleted && !record.license_assignments.is_empty() {
                out.assignments
                    .insert(user.id, record.license_assignments_of(TENANT).unwrap());
            }
            out.users.insert(user.id, user);
        }
        out
    }

    /// A plan in short: what it writes (users by number, licenses as user/SKU) and counts,
    /// e.g. `insert 1; license+ 1/a; added 1`.
    fn summary(plan: &ChunkPlan) -> String {
        let n = |u: &UserId| format!("{:x}", u.uuid().as_u128());
        let users = |users: &[User]| users.iter().map(|u| n(&u.id)).collect::<Vec<_>>();
        let ids = |ids: &[UserId]| ids.iter().map(n).collect::<Vec<_>>();
        let c = plan.counts;
        let parts = [
            ("insert", users(&plan.insert)),
            ("update", users(&plan.update)),
            ("restore", users(&plan.restore)),
            ("soft-delete", ids(&plan.soft_delete)),
            ("license-", ids(&plan.clear_licenses)),
            (
                "license+",
                plan.insert_licenses
                    .iter()
                    .map(|l| format!("{}/{:x}", n(&l.user_id), l.sku_id.uuid().as_u128()))
                    .collect(),
            ),
            ("assignment-", ids(&plan.clear_assignments)),
            (
                "assignment+",
                plan.insert_assignments
                    .iter()
                    .map(|a| {
                        let d = &a.detail;
                        format!(
                            "{}/{:x}/{}",
                            n(&a.user_id),
                            d.sku_id.uuid().as_u128(),
                            d.error.as_deref().unwrap_or(&d.state)
                        )
                    })
                    .collect(),
            ),
            ("added", vec![c.users_added.to_string()]),
            ("updated", vec![c.users_updated.to_string()]),
            ("restored", vec![c.users_restored.to_string()]),
            ("removed", vec![c.users_removed.to_string()]),
        ];
        parts
            .into_iter()
            .filter(|(_, values)| !values.is_empty() && values != &["0"])
            .map(|(name, values)| format!("{name} {}", values.join(",")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn planner() -> ImportPlanner {
        let skus = [A, B].map(|s| SkuId(Uuid::from_u128(s)));
        ImportPlanner::new(TENANT, at(1), skus.into_iter().collect())
    }

    #[test]
    fn each_kind_of_change_is_planned_as_its_own_write() {
        let no: &[u128] = &[];
        let cases: Vec<(&str, StoredUsers, Vec<UserChange>, &str)> = vec![
            (
                "a new user is inserted with its licenses",
                stored(&[]),
                vec![present(1, "Ann", &[A])],
                "insert 1; license+ 1/a; added 1",
            ),
            (
                "a changed user is updated, its licenses left alone",
                stored(&[(1, "Ann", &[A], false)]),
                vec![present(1, "Anna", &[A])],
                "update 1; updated 1",
            ),
            (
                "an unchanged user writes nothing",
                stored(&[(1, "Ann", &[A], false)]),
                vec![present(1, "Ann", &[A])],
                "",
            ),
            (
                "a user gone upstream is soft-deleted and loses its licenses",
                stored(&[(1, "Ann", &[A], false), (2, "Bob", no, false)]),
                vec![UserChange::Removed(id(1)), UserChange::Removed(id(2))],
                "soft-delete 1,2; license- 1; removed 2",
            ),
            (
                "a user gone before or never seen is not removed again",
                stored(&[(1, "Ann", no, true)]),
                vec![UserChange::Removed(id(1)), UserChange::Removed(id(9))],
                "",
            ),
            (
                "a deleted user listed again is restored with its licenses",
                stored(&[(1, "Ann", no, true)]),
                vec![present(1, "Ann", &[A])],
                "restore 1; license+ 1/a; restored 1",
            ),
            (
                "a license added replaces the user's license rows",
                stored(&[(1, "Ann", &[A], false)]),
                vec![present(1, "Ann", &[B, A])],
                "license- 1; license+ 1/a,1/b; updated 1",
            ),
            (
                "a license removed replaces the user's license rows",
                stored(&[(1, "Ann", &[A, B], false)]),
                vec![present(1, "Ann", &[A])],
                "license- 1; license+ 1/a; updated 1",
            ),
            (
                "the last license removed clears the rows",
                stored(&[(1, "Ann", &[A], false)]),
                vec![present(1, "Ann", no)],
                "license- 1; updated 1",
            ),
            (
                "later records of a user win and count once",
                stored(&[]),
                vec![present(2, "Bob", &[A]), present(2, "Bobby", &[B])],
                "insert 2; license+ 2/b; added 1",
            ),
            (
                "users are written in id order",
                stored(&[(5, "Eve", no, false), (4, "Dan", no, false)]),
                vec![
                    present(3, "Cy", no),
                    present(5, "Eva", no),
                    present(1, "Ann", no),
                    present(4, "Daniel", no),
                ],
                "insert 1,3; update 4,5; added 2; updated 2",
            ),
        ];
        for (name, stored, changes, expected) in cases {
            let plan = planner().plan_chunk(changes, &stored).unwrap();
            assert_eq!(summary(&plan), expected, "{name}");
        }
    }

    #[test]
    fn a_delta_record_without_licenses_keeps_the_stored_ones() {
        let stored = stored(&[(1, "Ann", &[A], false)]);
        let mut record = listed(1, "", &[]);
        record.present = FieldSet::default();
        record.present.insert(UserField::Department);
        record.department = Some("Legal".to_owned());
        let plan = planner()
            .plan_chunk(vec![UserChange::Present(Box::new(record))], &stored)
            .unwrap();
        assert_eq!(summary(&plan), "update 1; updated 1");
        assert_eq!(plan.update[0].display_name, "Ann");
        assert_eq!(plan.update[0].department.as_deref(), Some("Legal"));
        assert_eq!(plan.update[0].last_seen_at, at(1));
        assert_eq!(plan.update[0].first_seen_at, at(0));
    }

    #[test]
    fn a_user_counted_in_one_chunk_is_not_counted_in_the_next() {
        let mut planner = planner();
        let first = planner
            .plan_chunk(vec![present(1, "Ann", &[A])], &stored(&[]))
            .unwrap();
        assert_eq!(first.counts.users_added, 1);
        // The next chunk reads the row the first one wrote.
        let second = planner
            .plan_chunk(
                vec![present(1, "Anna", &[A])],
                &stored(&[(1, "Ann", &[A], false)]),
            )
            .unwrap();
        assert_eq!(second.counts, ImportCounts::default());
        assert_eq!(second.update.len(), 1, "written all the same");
        assert_eq!(planner.listed(), &HashSet::from([id(1)]));
        planner
            .plan_chunk(vec![UserChange::Removed(id(1))], &stored(&[]))
            .unwrap();
        assert!(planner.listed().is_empty(), "removed after being listed");
    }

    #[test]
    fn a_license_of_an_unsubscribed_or_repeated_sku_refuses_the_chunk() {
        let err = planner()
            .plan_chunk(vec![present(1, "Ann", &[A, 0xC])], &stored(&[]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "user {} holds SKU {} which subscribedSkus does not list",
                id(1),
                Uuid::from_u128(0xC)
            )
        );
        let err = planner()
            .plan_chunk(vec![present(1, "Ann", &[B, B])], &stored(&[]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "user {} lists SKU {} twice in assignedLicenses",
                id(1),
                Uuid::from_u128(B)
            )
        );
    }

    #[test]
    fn a_record_that_cant_be_applied_refuses_the_chunk() {
        let mut record = listed(2, "Bob", &[]);
        record.user_principal_name = None;
        let err = planner()
            .plan_chunk(
                vec![
                    present(1, "Ann", &[]),
                    UserChange::Present(Box::new(record)),
                ],
                &stored(&[]),
            )
            .unwrap_err();
        assert_eq!(
            err,
            ImportPlanError::User(ImportedUserError::MissingUserPrincipalName(id(2)))
        );
    }

    /// User `n` holding `skus` directly (`Active`), plus an Exchange group assignment (SKU
    /// `B`) that failed with `CountViolation` when `failed`.
    fn assigned(n: u128, name: &str, skus: &[u128], failed: bool) -> ImportedUser {
        let entry =
            |sku: u128, by: AssignedBy, state: &str, error: Option<&str>| LicenseAssignmentState {
                sku_id: SkuId(Uuid::from_u128(sku)),
                assigned_by: by,
                state: state.to_owned(),
                error: error.map(str::to_owned),
                disabled_plans: Vec::new(),
                last_updated: Some(at(0)),
            };
        let mut record = listed(n, name, skus);
        record.license_assignments = skus
            .iter()
            .map(|s| entry(*s, AssignedBy::Direct, "Active", None))
            .collect();
        if failed {
            let group = AssignedBy::Group(GroupId(Uuid::from_u128(0x6)));
            record
                .license_assignments
                .push(entry(B, group, "Error", Some("CountViolation")));
        }
        record
    }

    #[test]
    fn license_assignments_are_replaced_per_user_when_they_change() {
        let with = |records: Vec<ImportedUser>| {
            let mut out = StoredUsers::default();
            for record in records {
                let user = record.apply(TENANT, None, at(0)).unwrap();
                out.licenses
                    .insert(user.id, record.licenses_of(TENANT).unwrap());
                out.assignments
                    .insert(user.id, record.license_assignments_of(TENANT).unwrap());
                out.users.insert(user.id, user);
            }
            out
        };
        let change = |record: ImportedUser| UserChange::Present(Box::new(record));
        let mut states_only = assigned(1, "Ann", &[A], false);
        states_only.present = FieldSet::default();
        states_only.present.insert(UserField::Department);
        states_only.department = Some("Legal".to_owned());
        let cases: Vec<(&str, StoredUsers, Vec<UserChange>, &str)> = vec![
            (
                "a new user's assignments are inserted, the failed one too",
                StoredUsers::default(),
                vec![change(assigned(1, "Ann", &[A], true))],
                "insert 1; license+ 1/a; assignment+ 1/a/Active,1/b/CountViolation; added 1",
            ),
            (
                "unchanged assignments write nothing",
                with(vec![assigned(1, "Ann", &[A], true)]),
                vec![change(assigned(1, "Ann", &[A], true))],
                "",
            ),
            (
                "an assignment that fails replaces the rows, the licenses stay",
                with(vec![assigned(1, "Ann", &[A], false)]),
                vec![change(assigned(1, "Ann", &[A], true))],
                "assignment- 1; assignment+ 1/a/Active,1/b/CountViolation; updated 1",
            ),
            (
                "a delta record without licenseAssignmentStates keeps the stored ones",
                with(vec![assigned(1, "Ann", &[A], true)]),
                vec![change(states_only)],
                "update 1; updated 1",
            ),
            (
                "a user gone upstream loses its assignments with its licenses",
                with(vec![assigned(1, "Ann", &[A], true)]),
                vec![UserChange::Removed(id(1))],
                "soft-delete 1; license- 1; assignment- 1; removed 1",
            ),
        ];
        for (name, stored, changes, expected) in cases {
            let plan = planner().plan_chunk(changes, &stored).unwrap();
            assert_eq!(summary(&plan), expected, "{name}");
        }
    }

    #[test]
    fn same_licenses_ignores_order() {
        let license = |sku: u128, plans: &[u128]| AssignedLicense {
            user_id: id(1),
            tenant_id: TENANT,
            sku_id: SkuId(Uuid::from_u128(sku)),
            disabled_plans: plans
                .iter()
                .map(|p| crate::domain::ServicePlanId(Uuid::from_u128(*p)))
                .collect(),
        };
        assert!(same_licenses(
            &[license(A, &[1, 2]), license(B, &[])],
            &[license(B, &[]), license(A, &[2, 1])]
        ));
        assert!(!same_licenses(&[license(A, &[1])], &[license(A, &[])]));
        assert!(!same_licenses(&[license(A, &[])], &[]));
    }
}
