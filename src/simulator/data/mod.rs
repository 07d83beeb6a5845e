//! The simulated directories: tenants, users, SKUs and their day-to-day changes, all pure
//! functions of the seed. Nothing here is stored per user; a user is recomputed on demand from
//! `(seed, tenant index, user index, day)`, so a 200,000-user tenant costs no memory.
//!
//! This module holds the tenants and the hashing every choice derives from; [`timeline`] the
//! day-to-day events and the org tree, [`contacts`] the organizational contacts some members
//! report to for a while, [`users`] the users' attributes, [`licenses`] the
//! direct and group-based license assignments, [`skus`] the SKU catalogue and seat counts,
//! [`subscriptions`] the directory and Partner Center subscriptions behind each SKU.

mod contacts;
mod licenses;
mod sign_ins;
mod skus;
mod subscriptions;
mod timeline;
mod users;

use uuid::Uuid;

use super::{DEFAULT_PARTNER_TENANT_ID, SimTenant, SimUser};

pub(crate) use sign_ins::SimSignIns;
pub(crate) use skus::SKU_COUNT;
pub(crate) use timeline::{DayCtx, ManagerRef, UserState};

/// Mixes one 64-bit value (splitmix64 finaliser).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a list of words into one; the basis of every "random" choice.
pub(crate) fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x243F_6A88_85A3_08D3, |acc, part| mix(acc ^ mix(*part)))
}

/// A version-4-shaped GUID derived from a hash.
fn derived_uuid(parts: &[u64]) -> Uuid {
    let a = hash(parts);
    let b = mix(a ^ 0x5555_AAAA_5555_AAAA);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn pick<T: Copy>(items: &[T], r: u64) -> T {
    items[(r % items.len() as u64) as usize]
}

// Tags keep the hashes of different decisions independent.
const TAG_TENANT: u64 = 1;
const TAG_USER_ID: u64 = 2;
const TAG_BASE: u64 = 3;
const TAG_GUEST: u64 = 4;
const TAG_EVENT: u64 = 5;
const TAG_BOUNCE: u64 = 6;
const TAG_MGR_DAY: u64 = 7;
const TAG_PARENT: u64 = 8;
const TAG_SHIFT: u64 = 9;
const TAG_LICENSE: u64 = 10;
const TAG_DEPT: u64 = 11;
const TAG_SUBSCRIPTION: u64 = 12;
const TAG_COMMERCE: u64 = 13;
const TAG_ORPHAN: u64 = 14;
const TAG_LICENSE_SOURCE: u64 = 15;
const TAG_GROUP: u64 = 16;
const TAG_COMMERCE_SUBSCRIPTION: u64 = 17;
const TAG_OTHER_PARTNER: u64 = 18;
const TAG_ORDER: u64 = 19;
const TAG_LICENSE_TIME: u64 = 20;
const TAG_CONTACT: u64 = 21;
const TAG_SIGN_IN: u64 = 22;
const TAG_GUEST_LICENSE: u64 = 23;
/// Company names, with the ASCII slug of their `onmicrosoft.com` domain and the custom domain
/// they verified (used for user names when [`World::with_custom_domains`] is on).
const TENANT_NAMES: &[(&str, &str, &str)] = &[
    ("Alpenhof Demo AG", "alpenhofdemo", "alpenhof-demo.ch"),
    ("さくらテスト株式会社", "sakuratest", "sakura-test.co.jp"),
    ("Fjord Example AS", "fjordexample", "fjord-example.no"),
    ("Ελληνική Δοκιμή ΑΕ", "ellinikidokimi", "elliniki-dokimi.gr"),
    (
        "Nordlicht Sample GmbH",
        "nordlichtsample",
        "nordlicht-sample.de",
    ),
    ("Café Lumière SARL", "cafelumiere", "cafe-lumiere.fr"),
    ("Ñandú Ejemplo SL", "nanduejemplo", "nandu-ejemplo.es"),
    ("Łódź Próbna Sp. z o.o.", "lodzprobna", "lodz-probna.pl"),
    ("O'Brien & Söhne KG", "obriensoehne", "obrien-soehne.de"),
    ("Østfold Prøve AB", "ostfoldprove", "ostfold-prove.se"),
];

/// `domain` for the first round of tenant names, `name2.tld` for the second, and so on.
fn numbered_domain(domain: &str, round: usize) -> String {
    match (round, domain.split_once('.')) {
        (0, _) | (_, None) => domain.to_owned(),
        (_, Some((label, rest))) => format!("{label}{}.{rest}", round + 1),
    }
}

/// A customer tenant's fixed facts.
#[derive(Debug, Clone)]
pub(crate) struct TenantSpec {
    pub(crate) index: usize,
    pub(crate) id: Uuid,
    pub(crate) commerce_id: Uuid,
    pub(crate) name: String,
    pub(crate) slug: String,
    /// The custom domain the tenant verified (`alpenhof-demo.ch`).
    pub(crate) custom_domain: String,
}

impl TenantSpec {
    pub(crate) fn default_domain(&self) -> String {
        format!("{}.onmicrosoft.com", self.slug)
    }
}

/// Everything needed to compute the simulated world.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub(crate) seed: u64,
    pub(crate) users_per_tenant: u32,
    pub(crate) tenants: Vec<TenantSpec>,
    /// Whether members are named in their tenant's custom domain.
    pub(crate) custom_domains: bool,
    /// The partner whose Partner Center the simulator serves; it sold most subscriptions.
    pub(crate) partner_tenant_id: Uuid,
}

impl World {
    /// Builds the tenant list for a seed.
    pub(crate) fn new(seed: u64, tenants: usize, users_per_tenant: usize) -> World {
        let tenants = (0..tenants)
            .map(|index| {
                let (base, slug, domain) = TENANT_NAMES[index % TENANT_NAMES.len()];
                let round = index / TENANT_NAMES.len();
                let (name, slug) = if round == 0 {
                    (base.to_owned(), slug.to_owned())
                } else {
                    (
                        format!("{base} {}", round + 1),
                        format!("{slug}{}", round + 1),
                    )
                };
                TenantSpec {
                    index,
                    id: derived_uuid(&[seed, TAG_TENANT, index as u64]),
                    commerce_id: derived_uuid(&[seed, TAG_COMMERCE, index as u64]),
                    name,
                    slug,
                    custom_domain: numbered_domain(domain, round),
                }
            })
            .collect();
        World {
            seed,
            users_per_tenant: u32::try_from(users_per_tenant).unwrap_or(u32::MAX),
            tenants,
            custom_domains: false,
            partner_tenant_id: DEFAULT_PARTNER_TENANT_ID,
        }
    }

    /// The same world with each tenant's members named in its verified custom domain
    /// (`anna.muster.7@alpenhof-demo.ch`) rather than in `onmicrosoft.com`.
    pub(crate) fn with_custom_domains(mut self) -> World {
        self.custom_domains = true;
        self
    }

    /// The domain of a tenant's members' user principal names: its custom domain when the
    /// world has them, else `onmicrosoft.com` (guests keep that one either way, as in Entra).
    pub(crate) fn member_domain(&self, spec: &TenantSpec) -> String {
        if self.custom_domains {
            spec.custom_domain.clone()
        } else {
            spec.default_domain()
        }
    }

    /// The same world with `partner` as the partner that sold this partner's subscriptions.
    pub(crate) fn sold_by(self, partner: Uuid) -> World {
        World {
            partner_tenant_id: partner,
            ..self
        }
    }

    /// The other CSP partner some SKUs were bought through (its subscriptions are in Graph but
    /// not in this partner's Partner Center).
    pub(crate) fn other_partner_tenant_id(&self) -> Uuid {
        derived_uuid(&[self.seed, TAG_OTHER_PARTNER])
    }

    pub(crate) fn tenant_index(&self, id: Uuid) -> Option<usize> {
        self.tenants.iter().position(|t| t.id == id)
    }

    fn n(&self) -> u32 {
        self.users_per_tenant
    }

    /// The whole tenant on a day (every present user materialised; for tests and snapshots).
    pub(crate) fn tenant(&self, tenant: usize, day: u32) -> SimTenant {
        let ctx = self.day_ctx(tenant, day);
        let users = (0..self.universe(day))
            .filter_map(|i| self.user(&ctx, i).map(|(u, _)| u))
            .collect();
        let consumed = self.consumed_units(&ctx);
        let day0 = self.consumed_units(&self.day_ctx(tenant, 0));
        let spec = &self.tenants[tenant];
        SimTenant {
            id: spec.id,
            name: spec.name.clone(),
            default_domain: spec.default_domain(),
            users,
            skus: self.skus(tenant, &consumed, &day0),
        }
    }
}

/// The user with `user_index` of tenant `tenant_index` on `day`, or `None` when that user is
/// not in the directory that day (not hired yet, left, or away for the day).
pub fn user_at(
    seed: u64,
    users_per_tenant: usize,
    tenant_index: usize,
    user_index: u32,
    day: u32,
) -> Option<SimUser> {
    let world = World::new(seed, tenant_index + 1, users_per_tenant);
    let ctx = world.day_ctx(tenant_index, day);
    world.user(&ctx, user_index).map(|(user, _)| user)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn same_seed_gives_identical_data_and_another_seed_does_not() {
        let a = World::new(7, 3, 120);
        let b = World::new(7, 3, 120);
        for day in [0, 1, 5] {
            assert_eq!(a.tenant(1, day), b.tenant(1, day));
        }
        let c = World::new(8, 3, 120);
        assert_ne!(a.tenants[0].id, c.tenants[0].id);
        assert_ne!(a.tenant(0, 0).users[5], c.tenant(0, 0).users[5]);
    }

    #[test]
    fn user_at_agrees_with_the_tenant_listing() {
        let world = World::new(3, 2, 80);
        let tenant = world.tenant(1, 4);
        let listed: Vec<SimUser> = (0..world.universe(4))
            .filter_map(|i| user_at(3, 80, 1, i, 4))
            .collect();
        assert_eq!(listed, tenant.users);
    }

    #[test]
    fn the_demo_tenants_show_every_subscription_licensing_and_manager_case() {
        // `serve --demo`: the default seed, 4 tenants of 150 users.
        let world = World::new(1, 4, 150);
        let mut contact_managed = 0;
        for index in 0..4 {
            let tenant = world.tenant(index, 0);
            let subs: Vec<&crate::simulator::SimSubscription> =
                tenant.skus.iter().flat_map(|s| &s.subscriptions).collect();
            assert!(subs.iter().any(|s| s.is_trial));
            assert!(subs.iter().any(|s| s.status == "Suspended"));
            assert!(subs.iter().any(|s| {
                s.owner_tenant_id == Some(world.other_partner_tenant_id()) && s.commerce.is_none()
            }));
            assert!(tenant.skus.iter().any(|s| {
                s.sku_part_number == "FLOW_FREE"
                    && s.enabled == 10_000
                    && s.subscriptions[0].owner_tenant_id.is_none()
            }));
            let states = tenant.users.iter().flat_map(|u| &u.license_states);
            let violations = states.filter(|s| s.error == "CountViolation").count();
            assert_eq!(
                violations > 0,
                index % 2 == 1,
                "tenant {index}: {violations}"
            );
            contact_managed += tenant
                .users
                .iter()
                .filter(|u| u.manager_contact.is_some())
                .count();
        }
        assert!(
            contact_managed > 0,
            "a user reports to an organizational contact"
        );
    }

    #[test]
    fn tenants_have_unicode_names_and_ascii_domains() {
        let world = World::new(1, 12, 0);
        let names: Vec<&str> = world.tenants.iter().map(|t| t.name.as_str()).collect();
        assert!(names.contains(&"さくらテスト株式会社"));
        assert!(names.contains(&"Alpenhof Demo AG 2"));
        let domains: HashSet<String> = world
            .tenants
            .iter()
            .map(TenantSpec::default_domain)
            .collect();
        assert_eq!(domains.len(), 12);
        assert!(
            domains
                .iter()
                .all(|d| d.is_ascii() && d.ends_with(".onmicrosoft.com"))
        );
    }
}
