//! The licenses a member holds in each license epoch: direct assignments and assignments
//! through a tenant's licensing groups, what `assignedLicenses` and `licenseAssignmentStates`
//! make of them, and the consumed units per SKU.
//!
//! Each tenant has an E3 licensing group: a quarter of the E3 holders get E3 only through it,
//! some more both directly and through it. A tenant whose `EXCHANGESTANDARD` is over-assigned
//! also has an Exchange group; with no seat free, its assignments to members without another
//! license fail with `CountViolation`. A failed assignment is in `licenseAssignmentStates`
//! (state `Error`) but grants nothing: it is not in `assignedLicenses` and not consumed.
//!
//! Where Power BI Pro is bought through another partner, a quarter of the guests hold it
//! directly (external users who open shared reports need their own), as a paid guest license.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::skus::{
    SKU_COUNT, SKU_E3, SKU_E5, SKU_EXSTD, SKU_FLOW, SKU_MCOEV, SKU_PBI, SKUS, catalogue_uuid,
};
use super::timeline::DayCtx;
use super::{
    TAG_GROUP, TAG_GUEST_LICENSE, TAG_LICENSE, TAG_LICENSE_SOURCE, TAG_LICENSE_TIME, World,
    derived_uuid, hash,
};
use crate::simulator::SimLicenseState;

/// The plan the E3 licensing group leaves disabled (`YAMMER_ENTERPRISE`).
const E3_GROUP_DISABLED_PLAN: &str = "6700cb93-8a9d-413c-b82c-0920b0e744fb";

/// 2025-06-02T00:00:00Z, the calendar date of day 0 (for `lastUpdatedDateTime`).
pub(super) const DAY0_UNIX: i64 = 1_748_822_400;

/// The error of a group assignment that found no free seat.
const COUNT_VIOLATION: &str = "CountViolation";

/// One license assignment to a user: direct, or through a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Assignment {
    pub(super) sku: usize,
    pub(super) disabled: Vec<Uuid>,
    /// The group it comes from; `None` when assigned directly.
    pub(super) group: Option<Uuid>,
    /// Why it failed; a failed assignment grants nothing.
    pub(super) error: Option<&'static str>,
}

/// A tenant's licensing groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LicensingGroup {
    /// Assigns `SPE_E3` without Yammer.
    E3 = 0,
    /// Assigns `EXCHANGESTANDARD` (only where that SKU is over-assigned).
    ExchangeStandard = 1,
}

impl World {
    /// The object id of a tenant's licensing group.
    pub(crate) fn licensing_group(&self, tenant: usize, group: LicensingGroup) -> Uuid {
        derived_uuid(&[self.seed, TAG_GROUP, tenant as u64, group as u64])
    }

    /// A user's license assignments in a license epoch (none for shared mailboxes, Power BI
    /// Pro or nothing for guests), in `licenseAssignmentStates` order.
    pub(super) fn assignments(&self, tenant: usize, index: u32, epoch: u32) -> Vec<Assignment> {
        if self.is_shared_mailbox(tenant, index) {
            return Vec::new();
        }
        if self.is_guest(tenant, index) {
            return self.guest_assignments(tenant, index);
        }
        let key = [
            self.seed,
            TAG_LICENSE,
            tenant as u64,
            u64::from(index),
            u64::from(epoch),
        ];
        let r = hash(&key);
        let source = hash(&[
            self.seed,
            TAG_LICENSE_SOURCE,
            tenant as u64,
            u64::from(index),
            u64::from(epoch),
        ]);
        let spec = &self.tenants[tenant];
        let has_exstd = spec.has_over_assigned_sku();
        let direct = |sku: usize, disabled: Vec<Uuid>| Assignment {
            sku,
            disabled,
            group: None,
            error: None,
        };
        let primary = match r % 100 {
            0..8 => None,
            8..20 => Some(SKU_E5),
            20..30 if has_exstd => Some(SKU_EXSTD),
            _ => Some(SKU_E3),
        };
        let mut out = Vec::new();
        match primary {
            Some(sku) => {
                let mut disabled = Vec::new();
                if sku == SKU_E3 && (r >> 8) % 100 < 15 {
                    let plans = SKUS[SKU_E3].plans;
                    let first = ((r >> 16) % plans.len() as u64) as usize;
                    disabled.push(catalogue_uuid(plans[first].0));
                    if (r >> 24).is_multiple_of(2) {
                        let second = (first + 1 + ((r >> 32) % (plans.len() as u64 - 1)) as usize)
                            % plans.len();
                        disabled.push(catalogue_uuid(plans[second].0));
                    }
                }
                if sku == SKU_E3 {
                    let (by_hand, by_group) = match source % 100 {
                        0..25 => (false, true),
                        25..40 => (true, true),
                        _ => (true, false),
                    };
                    if by_hand {
                        out.push(direct(SKU_E3, disabled));
                    }
                    if by_group {
                        out.push(Assignment {
                            sku: SKU_E3,
                            disabled: vec![catalogue_uuid(E3_GROUP_DISABLED_PLAN)],
                            group: Some(self.licensing_group(tenant, LicensingGroup::E3)),
                            error: None,
                        });
                    }
                } else {
                    out.push(direct(sku, disabled));
                }
                if matches!(sku, SKU_E3 | SKU_E5) && (r >> 40) % 100 < 15 {
                    out.push(direct(SKU_MCOEV, Vec::new()));
                }
                if spec.other_partner_sku() == SKU_PBI && (source >> 8) % 100 < 15 {
                    out.push(direct(SKU_PBI, Vec::new()));
                }
            }
            None if has_exstd => out.push(Assignment {
                sku: SKU_EXSTD,
                disabled: Vec::new(),
                group: Some(self.licensing_group(tenant, LicensingGroup::ExchangeStandard)),
                error: Some(COUNT_VIOLATION),
            }),
            None => {}
        }
        if (r >> 48) % 100 < 10 {
            out.push(direct(SKU_FLOW, Vec::new()));
        }
        out
    }

    /// A guest's licenses, the same in every epoch: Power BI Pro for a quarter of the guests
    /// of a tenant that buys it, else none.
    fn guest_assignments(&self, tenant: usize, index: u32) -> Vec<Assignment> {
        let holds = self.tenants[tenant].other_partner_sku() == SKU_PBI
            && hash(&[
                self.seed,
                TAG_GUEST_LICENSE,
                tenant as u64,
                u64::from(index),
            ]) % 100
                < 25;
        if !holds {
            return Vec::new();
        }
        vec![Assignment {
            sku: SKU_PBI,
            disabled: Vec::new(),
            group: None,
            error: None,
        }]
    }

    /// `licenseAssignmentStates` for a user's assignments in a license epoch.
    pub(super) fn license_states(
        &self,
        tenant: usize,
        index: u32,
        epoch: u32,
        assignments: &[Assignment],
    ) -> Vec<SimLicenseState> {
        let updated = self.license_updated(tenant, index, epoch);
        assignments
            .iter()
            .map(|a| SimLicenseState {
                sku_id: catalogue_uuid(SKUS[a.sku].sku_id),
                assigned_by_group: a.group,
                disabled_plans: a.disabled.clone(),
                state: if a.error.is_some() { "Error" } else { "Active" }.to_owned(),
                error: a.error.unwrap_or("None").to_owned(),
                last_updated: updated,
            })
            .collect()
    }

    /// When a license epoch's assignments were last processed: the epoch's day, or for day-0
    /// users some day in the year before.
    fn license_updated(&self, tenant: usize, index: u32, epoch: u32) -> DateTime<Utc> {
        let h = hash(&[
            self.seed,
            TAG_LICENSE_TIME,
            tenant as u64,
            u64::from(index),
            u64::from(epoch),
        ]);
        let seconds = (h % 86_400) as i64;
        let days = if epoch == 0 {
            -1 - ((h >> 20) % 365) as i64
        } else {
            i64::from(epoch)
        };
        DateTime::from_timestamp(DAY0_UNIX + days * 86_400 + seconds, 0).unwrap_or_default()
    }

    /// Adds the `assignedLicenses` of every present user on `ctx.day` to per-SKU counts.
    pub(crate) fn consumed_units(&self, ctx: &DayCtx) -> [i64; SKU_COUNT] {
        let mut counts = [0i64; SKU_COUNT];
        for index in 0..self.universe(ctx.day) {
            let state = self.state(ctx, index);
            if state.present {
                let assignments = self.assignments(ctx.tenant, index, state.license_epoch);
                for (sku, _) in effective_licenses(&assignments) {
                    counts[sku] += 1;
                }
            }
        }
        counts
    }
}

/// `assignedLicenses`: one entry per SKU with a working assignment, in first-assignment order.
/// A plan is disabled only when every working assignment of the SKU disables it.
pub(super) fn effective_licenses(assignments: &[Assignment]) -> Vec<(usize, Vec<Uuid>)> {
    let mut out: Vec<(usize, Vec<Uuid>)> = Vec::new();
    for a in assignments.iter().filter(|a| a.error.is_none()) {
        match out.iter_mut().find(|(sku, _)| *sku == a.sku) {
            Some((_, disabled)) => disabled.retain(|plan| a.disabled.contains(plan)),
            None => out.push((a.sku, a.disabled.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(sku: usize, disabled: &[u128], group: bool, error: bool) -> Assignment {
        Assignment {
            sku,
            disabled: disabled.iter().map(|&p| Uuid::from_u128(p)).collect(),
            group: group.then(|| Uuid::from_u128(99)),
            error: error.then_some(COUNT_VIOLATION),
        }
    }

    #[test]
    fn a_license_held_twice_counts_once_and_an_errored_one_not_at_all() {
        let held = effective_licenses(&[
            assignment(SKU_E3, &[1, 2], false, false),
            assignment(SKU_E3, &[2, 3], true, false),
            assignment(SKU_EXSTD, &[], true, true),
            assignment(SKU_FLOW, &[], false, false),
        ]);
        assert_eq!(
            held,
            vec![(SKU_E3, vec![Uuid::from_u128(2)]), (SKU_FLOW, Vec::new())]
        );
    }

    #[test]
    fn groups_assign_e3_alone_or_beside_a_direct_assignment_and_exchange_fails_for_lack_of_seats() {
        let world = World::new(1, 2, 400);
        let e3_group = world.licensing_group(0, LicensingGroup::E3);
        let (mut only_group, mut both, mut direct) = (0, 0, 0);
        for index in 0..400 {
            let a = world.assignments(0, index, 0);
            let e3: Vec<&Assignment> = a.iter().filter(|a| a.sku == SKU_E3).collect();
            match e3.iter().map(|a| a.group).collect::<Vec<_>>()[..] {
                [Some(g)] => {
                    assert_eq!(g, e3_group);
                    only_group += 1;
                }
                [None, Some(_)] => both += 1,
                [None] => direct += 1,
                [] => {}
                ref other => panic!("unexpected E3 assignments {other:?}"),
            }
            assert!(a.iter().all(|a| a.error.is_none()), "no errors in tenant 0");
        }
        assert!(
            only_group > 10 && both > 10 && direct > only_group,
            "{only_group} {both} {direct}"
        );
        let errored = (0..400)
            .flat_map(|index| world.assignments(1, index, 0))
            .filter(|a| a.error == Some(COUNT_VIOLATION))
            .inspect(|a| {
                assert_eq!(a.sku, SKU_EXSTD);
                assert_eq!(
                    a.group,
                    Some(world.licensing_group(1, LicensingGroup::ExchangeStandard))
                );
            })
            .count();
        assert!(errored > 5, "{errored} failed Exchange assignments");
    }

    #[test]
    fn a_quarter_of_the_guests_hold_power_bi_where_the_tenant_buys_it_and_nothing_else() {
        let world = World::new(1, 2, 2000);
        let world = &world;
        let guests = |tenant: usize| (0..2000).filter(move |&i| world.is_guest(tenant, i));
        let licensed: Vec<u32> = guests(0)
            .filter(|&i| !world.assignments(0, i, 0).is_empty())
            .collect();
        let all = guests(0).count();
        assert!(
            licensed.len() * 100 > all * 15 && licensed.len() * 100 < all * 35,
            "{} of {all} guests licensed",
            licensed.len()
        );
        for i in licensed {
            let a = world.assignments(0, i, 0);
            assert_eq!(a.iter().map(|a| a.sku).collect::<Vec<_>>(), vec![SKU_PBI]);
            assert_eq!(
                a,
                world.assignments(0, i, 3),
                "a guest's license does not move"
            );
        }
        assert!(
            guests(1).all(|i| world.assignments(1, i, 0).is_empty()),
            "tenant 1 buys Exchange, not Power BI, through the other partner"
        );
    }
}
