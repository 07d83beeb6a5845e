//! Day-to-day changes: hires, leavers, the user away for the day, department, license and
//! manager changes, replayed per user from the hire day; and the org tree they move in.

use super::users::DEPARTMENTS;
use super::{TAG_BOUNCE, TAG_EVENT, TAG_MGR_DAY, TAG_ORPHAN, TAG_PARENT, TAG_SHIFT, World, hash};

/// The per-user counters that day-to-day events advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct UserState {
    pub(crate) present: bool,
    pub(super) dept_shift: u64,
    pub(super) license_epoch: u32,
    manager_shift: u64,
}

/// Who a user reports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ManagerRef {
    /// The user with this index.
    User(u32),
    /// The tenant's organizational contact with this index.
    Contact(usize),
}

/// Facts about one (tenant, day) computed once per request.
#[derive(Debug, Clone)]
pub(crate) struct DayCtx {
    pub(crate) tenant: usize,
    pub(crate) day: u32,
    bounce: Option<u32>,
    /// The sure manager change of each day `1..=day` (index `day - 1`).
    manager_changes: Vec<Option<u32>>,
}

impl World {
    /// Users hired each day (about 1 %).
    fn hires_per_day(&self) -> u32 {
        if self.n() == 0 {
            0
        } else {
            (self.n() / 100).max(1)
        }
    }

    /// Number of user indices that exist by `day` (present or not).
    pub(crate) fn universe(&self, day: u32) -> u32 {
        self.n()
            .saturating_add(day.saturating_mul(self.hires_per_day()))
    }

    pub(super) fn hire_day(&self, index: u32) -> u32 {
        if index < self.n() {
            0
        } else {
            (index - self.n()) / self.hires_per_day().max(1) + 1
        }
    }

    /// Whether `index` leaves for good on `day` (never the CEO, index 0).
    fn leaves_on(&self, tenant: usize, index: u32, day: u32) -> bool {
        index != 0 && self.event(tenant, index, day) < 40
    }

    fn event(&self, tenant: usize, index: u32, day: u32) -> u64 {
        hash(&[
            self.seed,
            TAG_EVENT,
            tenant as u64,
            u64::from(index),
            u64::from(day),
        ]) % 10_000
    }

    /// Whether `index` has left for good by `day` (inclusive).
    fn left_by(&self, tenant: usize, index: u32, day: u32) -> bool {
        (self.hire_day(index) + 1..=day).any(|d| self.leaves_on(tenant, index, d))
    }

    /// The user who is away on `day` only and comes back on `day + 1` under the same id.
    fn bounce(&self, tenant: usize, day: u32) -> Option<u32> {
        if day == 0 || self.n() < 3 {
            return None;
        }
        // Candidates alternate in parity from day to day, so one user never bounces twice
        // in a row; candidates that leave for good by tomorrow are skipped.
        (0..16u64)
            .map(|k| {
                let r = hash(&[self.seed, TAG_BOUNCE, tenant as u64, u64::from(day), k]);
                let half = (self.n() - 1) / 2;
                let slot = (r % u64::from(half.max(1))) as u32;
                1 + ((slot * 2 + day % 2) % (self.n() - 1))
            })
            .find(|&c| !self.left_by(tenant, c, day + 1))
    }

    /// The member whose manager changes on `day` for sure.
    fn manager_change(&self, tenant: usize, day: u32) -> Option<u32> {
        if self.n() < 3 {
            return None;
        }
        let (lo, span) = if self.n() > 20 {
            (self.n() / 2, self.n() - self.n() / 2)
        } else {
            (1, self.n() - 1)
        };
        (0..16u64)
            .map(|k| {
                let r = hash(&[self.seed, TAG_MGR_DAY, tenant as u64, u64::from(day), k]);
                lo + (r % u64::from(span)) as u32
            })
            .find(|&c| !self.is_guest(tenant, c))
    }

    pub(crate) fn day_ctx(&self, tenant: usize, day: u32) -> DayCtx {
        DayCtx {
            tenant,
            day,
            bounce: self.bounce(tenant, day),
            manager_changes: (1..=day).map(|d| self.manager_change(tenant, d)).collect(),
        }
    }

    /// Replays the user's events from the hire day up to `ctx.day`.
    pub(crate) fn state(&self, ctx: &DayCtx, index: u32) -> UserState {
        let tenant = ctx.tenant;
        if index >= self.universe(ctx.day) {
            return UserState::default();
        }
        let mut state = UserState {
            present: true,
            license_epoch: self.hire_day(index),
            ..UserState::default()
        };
        for day in self.hire_day(index) + 1..=ctx.day {
            let r = self.event(tenant, index, day);
            let shift = hash(&[
                self.seed,
                TAG_SHIFT,
                tenant as u64,
                u64::from(index),
                u64::from(day),
            ]);
            if r < 40 && index != 0 {
                state.present = false;
                return state;
            } else if (40..110).contains(&r) {
                state.dept_shift += 1 + shift % (DEPARTMENTS.len() as u64 - 1);
            } else if (110..180).contains(&r) {
                state.license_epoch = day;
            } else if (180..220).contains(&r)
                || ctx.manager_changes.get(day as usize - 1) == Some(&Some(index))
            {
                // Each change moves the parent by 1..span-1 places, so it really changes
                // whenever there is more than one candidate.
                let (_, span) = Self::parent_range(index);
                state.manager_shift += if span > 1 { 1 + shift % (span - 1) } else { 0 };
            }
        }
        if ctx.bounce == Some(index) {
            state.present = false;
        }
        state
    }

    /// Candidates for the structural parent of `index`: `lo..lo + span`.
    fn parent_range(index: u32) -> (u32, u64) {
        let lo = index.saturating_sub(1) / 6;
        let hi = index.saturating_sub(1) / 3;
        (lo, u64::from(hi - lo + 1))
    }

    /// The structural parent in the org tree (before skipping guests and absent users).
    fn parent(&self, tenant: usize, index: u32, manager_shift: u64) -> Option<u32> {
        if index == 0 {
            return None;
        }
        let (lo, span) = Self::parent_range(index);
        let base = hash(&[self.seed, TAG_PARENT, tenant as u64, u64::from(index)]);
        Some(lo + ((base % span + manager_shift) % span) as u32)
    }

    /// The current manager: an organizational contact during the user's interim period, else
    /// the nearest present member up the tree.
    pub(crate) fn manager(
        &self,
        ctx: &DayCtx,
        index: u32,
        state: &UserState,
    ) -> Option<ManagerRef> {
        if self.is_guest(ctx.tenant, index) {
            return None;
        }
        if let Some(contact) = self.interim_contact(ctx.tenant, index, ctx.day) {
            return Some(contact);
        }
        self.member_manager(ctx, index, state).map(ManagerRef::User)
    }

    /// The nearest present member up the tree.
    fn member_manager(&self, ctx: &DayCtx, index: u32, state: &UserState) -> Option<u32> {
        let mut candidate = self.parent(ctx.tenant, index, state.manager_shift)?;
        let mut direct = true;
        loop {
            let cstate = self.state(ctx, candidate);
            let guest = self.is_guest(ctx.tenant, candidate);
            if cstate.present && !guest {
                return Some(candidate);
            }
            // Half of a leaver's direct reports are left without a manager for the time
            // being; the others (and everyone under a guest) report one level higher.
            if direct
                && !guest
                && hash(&[self.seed, TAG_ORPHAN, ctx.tenant as u64, u64::from(index)])
                    .is_multiple_of(2)
            {
                return None;
            }
            direct = false;
            candidate = self.parent(ctx.tenant, candidate, cstate.manager_shift)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use uuid::Uuid;

    use crate::simulator::{SimTenant, SimUser};

    use super::*;

    fn ids(tenant: &SimTenant) -> HashSet<Uuid> {
        tenant.users.iter().map(|u| u.id).collect()
    }

    #[test]
    fn managers_form_a_tree_of_current_members_several_levels_deep() {
        let world = World::new(1, 2, 400);
        for day in [0, 3] {
            let tenant = world.tenant(0, day);
            let by_id: HashMap<Uuid, &SimUser> = tenant.users.iter().map(|u| (u.id, u)).collect();
            let roots = tenant
                .users
                .iter()
                .filter(|u| u.manager_id.is_none())
                .count();
            assert!(roots >= 1);
            let mut deepest = 0;
            for user in &tenant.users {
                let mut depth = 0;
                let mut current = user;
                while let Some(manager) = current.manager_id {
                    let next = by_id.get(&manager).expect("manager is a current user");
                    assert_eq!(next.user_type.as_deref(), Some("Member"));
                    current = next;
                    depth += 1;
                    assert!(depth < 100, "cycle in the manager chain");
                }
                deepest = deepest.max(depth);
                if user.user_type.as_deref() == Some("Guest") {
                    assert!(user.manager_id.is_none());
                }
            }
            assert!(deepest >= 3, "deepest chain {deepest}");
        }
    }

    #[test]
    fn each_day_brings_hires_leavers_a_returner_and_a_manager_change() {
        let world = World::new(5, 2, 1000);
        let mut orphaned = 0;
        for day in 1..=4 {
            let before = world.tenant(0, day - 1);
            let now = world.tenant(0, day);
            let after = world.tenant(0, day + 1);
            let (b, n, a) = (ids(&before), ids(&now), ids(&after));
            assert!(n.difference(&b).count() >= 10, "hires on day {day}");
            let left: Vec<_> = b.difference(&n).collect();
            assert!(!left.is_empty(), "leavers on day {day}");
            assert!(
                left.iter().any(|id| a.contains(id)),
                "a leaver returns on day {}",
                day + 1
            );
            let old: HashMap<Uuid, &SimUser> = before.users.iter().map(|u| (u.id, u)).collect();
            let changed = now
                .users
                .iter()
                .filter(|u| old.get(&u.id).is_some_and(|o| *o != *u))
                .count();
            assert!(
                (5..=60).contains(&changed),
                "{changed} changed on day {day}"
            );
            assert!(
                now.users
                    .iter()
                    .any(|u| old.get(&u.id).is_some_and(|o| o.manager_id != u.manager_id)),
                "a manager change on day {day}"
            );
            for user in &now.users {
                if let Some(old) = old.get(&user.id)
                    && old.manager_id.is_some_and(|m| !n.contains(&m))
                {
                    assert_ne!(user.manager_id, old.manager_id, "a leaver manages no one");
                    orphaned += usize::from(user.manager_id.is_none());
                }
            }
        }
        assert!(
            orphaned > 0,
            "some reports of leavers are left without a manager"
        );
    }
}
