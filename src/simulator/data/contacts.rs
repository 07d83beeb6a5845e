//! Organizational contacts: people outside a tenant's users, such as external interim managers.
//! A few members report to one for some days of every month, and to their manager in the org
//! tree the other days; Graph names such a manager `#microsoft.graph.orgContact` (reference
//! §4.3).

use super::timeline::ManagerRef;
use super::{TAG_CONTACT, World, derived_uuid, hash};
use crate::simulator::SimContact;

/// Each tenant's contacts: (display name, mail local part, mail domain).
const CONTACTS: &[(&str, &str, &str)] = &[
    (
        "Beat Keller (extern)",
        "beat.keller",
        "consulting.example.com",
    ),
    (
        "Dr. Inès Vogt (Interim)",
        "ines.vogt",
        "interim.example.org",
    ),
    ("Ørjan Dahl (Berater)", "orjan.dahl", "radgiver.example.no"),
];

/// Per cent of members who have interim periods.
const INTERIM_PERCENT: u64 = 12;
/// Days from the start of one interim period of a member to the next.
const INTERIM_CYCLE: u32 = 30;

impl World {
    /// The tenant's contact `k`.
    pub(crate) fn contact(&self, tenant: usize, k: usize) -> SimContact {
        let (name, local, domain) = CONTACTS[k % CONTACTS.len()];
        SimContact {
            id: derived_uuid(&[self.seed, TAG_CONTACT, tenant as u64, k as u64]),
            display_name: name.to_owned(),
            mail: format!("{local}@{domain}"),
        }
    }

    /// The contact the member `index` reports to on `day`, during an interim period: 3 to 10
    /// days of every 30, at a phase of its own, with the same contact each time.
    pub(super) fn interim_contact(
        &self,
        tenant: usize,
        index: u32,
        day: u32,
    ) -> Option<ManagerRef> {
        if index == 0 || self.is_guest(tenant, index) || self.is_shared_mailbox(tenant, index) {
            return None;
        }
        let r = hash(&[self.seed, TAG_CONTACT, tenant as u64, u64::from(index)]);
        if r % 100 >= INTERIM_PERCENT {
            return None;
        }
        let phase = ((r >> 16) % u64::from(INTERIM_CYCLE)) as u32;
        let length = 3 + ((r >> 24) % 8) as u32;
        ((day + phase) % INTERIM_CYCLE < length)
            .then(|| ManagerRef::Contact(((r >> 32) % CONTACTS.len() as u64) as usize))
    }
}
