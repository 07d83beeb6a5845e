//! The simulated directories: tenants, users, SKUs and their day-to-day changes, all pure
//! functions of the seed. Nothing here is stored per user; a user is recomputed on demand from
//! `(seed, tenant index, user index, day)`, so a 200,000-user tenant costs no memory.

use uuid::Uuid;

use super::{SimLicense, SimServicePlan, SimSku, SimTenant, SimUser};

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

/// Company names, with the ASCII slug of their `onmicrosoft.com` domain.
const TENANT_NAMES: &[(&str, &str)] = &[
    ("Alpenhof Demo AG", "alpenhofdemo"),
    ("さくらテスト株式会社", "sakuratest"),
    ("Fjord Example AS", "fjordexample"),
    ("Ελληνική Δοκιμή ΑΕ", "ellinikidokimi"),
    ("Nordlicht Sample GmbH", "nordlichtsample"),
    ("Café Lumière SARL", "cafelumiere"),
    ("Ñandú Ejemplo SL", "nanduejemplo"),
    ("Łódź Próbna Sp. z o.o.", "lodzprobna"),
    ("O'Brien & Söhne KG", "obriensoehne"),
    ("Østfold Prøve AB", "ostfoldprove"),
];

/// (given name, ASCII form) per culture, then surnames, then the preferred language.
struct Culture {
    given: &'static [(&'static str, &'static str)],
    surnames: &'static [(&'static str, &'static str)],
    language: &'static str,
    family_first: bool,
}

const CULTURES: &[Culture] = &[
    Culture {
        given: &[
            ("Anna", "anna"),
            ("Jürgen", "juergen"),
            ("Lukas", "lukas"),
            ("Sophie", "sophie"),
            ("Björn", "bjoern"),
            ("Käthe", "kaethe"),
        ],
        surnames: &[
            ("Müller", "mueller"),
            ("Brunner", "brunner"),
            ("Schäfer", "schaefer"),
            ("Weiß", "weiss"),
            ("Groß-Bauer", "gross-bauer"),
        ],
        language: "de-CH",
        family_first: false,
    },
    Culture {
        given: &[
            ("François", "francois"),
            ("Élodie", "elodie"),
            ("Chloé", "chloe"),
            ("Jean-Luc", "jean-luc"),
        ],
        surnames: &[
            ("Lefèvre", "lefevre"),
            ("Dubois", "dubois"),
            ("Gaëtan", "gaetan"),
            ("D'Aubigné", "daubigne"),
        ],
        language: "fr-FR",
        family_first: false,
    },
    Culture {
        given: &[
            ("Zoë", "zoe"),
            ("Åsa", "asa"),
            ("Øystein", "oystein"),
            ("Sigrún", "sigrun"),
        ],
        surnames: &[
            ("Ødegaard", "odegaard"),
            ("Åberg", "aberg"),
            ("Sørensen", "sorensen"),
            ("Þórsdóttir", "thorsdottir"),
        ],
        language: "nb-NO",
        family_first: false,
    },
    Culture {
        given: &[
            ("太郎", "taro"),
            ("花子", "hanako"),
            ("健", "ken"),
            ("さくら", "sakura"),
        ],
        surnames: &[
            ("山田", "yamada"),
            ("佐藤", "sato"),
            ("鈴木", "suzuki"),
            ("高橋", "takahashi"),
        ],
        language: "ja-JP",
        family_first: true,
    },
    Culture {
        given: &[
            ("Γιώργος", "giorgos"),
            ("Ελένη", "eleni"),
            ("Νίκος", "nikos"),
        ],
        surnames: &[
            ("Παπαδόπουλος", "papadopoulos"),
            ("Οικονόμου", "oikonomou"),
            ("Κωνσταντίνου", "konstantinou"),
        ],
        language: "el-GR",
        family_first: false,
    },
    Culture {
        given: &[
            ("Mia", "mia"),
            ("Seán", "sean"),
            ("Siobhán", "siobhan"),
            ("Liam", "liam"),
        ],
        surnames: &[
            ("O'Connor-Smith", "oconnor-smith"),
            ("McCarthy", "mccarthy"),
            ("Ní Bhriain", "nibhriain"),
        ],
        language: "en-IE",
        family_first: false,
    },
    Culture {
        given: &[("José", "jose"), ("Begoña", "begona"), ("Iñigo", "inigo")],
        surnames: &[
            ("Peña", "pena"),
            ("Muñoz", "munoz"),
            ("García-Núñez", "garcia-nunez"),
        ],
        language: "es-ES",
        family_first: false,
    },
];

/// Departments and the job titles used in them.
const DEPARTMENTS: &[(&str, &[&str])] = &[
    (
        "Geschäftsleitung",
        &["Geschäftsführerin", "Assistenz der GL"],
    ),
    ("IT", &["System Engineer", "Leiter IT", "Praktikantin"]),
    (
        "IT Infrastruktur",
        &["Teamleiterin Infrastruktur", "Netzwerktechniker"],
    ),
    ("Vertrieb", &["Account Manager", "Vertriebsleiter"]),
    ("営業部", &["営業部長", "営業担当"]),
    ("Ressources humaines", &["Chargée RH", "Responsable RH"]),
    ("Λογιστήριο", &["Λογιστής", "Οικονομικός Διευθυντής"]),
    ("Finance", &["Controller", "CFO"]),
    ("Bau", &["Projektleiter", "Bauführerin"]),
];

/// Offices: (office, street, city, state, postal code, country variants, ISO code).
type Office = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static [&'static str],
    &'static str,
);

const OFFICES: &[Office] = &[
    (
        "Zürich HQ",
        "Bahnhofstrasse 1",
        "Zürich",
        Some("ZH"),
        "8001",
        &["Switzerland", "CH", "Schweiz"],
        "CH",
    ),
    (
        "Genève",
        "Rue du Rhône 12",
        "Genève",
        Some("GE"),
        "1204",
        &["CH", "Suisse"],
        "CH",
    ),
    (
        "東京オフィス",
        "丸の内1-1-1",
        "千代田区",
        Some("東京都"),
        "100-0005",
        &["Japan", "JP", "日本"],
        "JP",
    ),
    (
        "Oslo",
        "Karl Johans gate 5",
        "Oslo",
        None,
        "0154",
        &["Norway", "NO", "Norge"],
        "NO",
    ),
    (
        "Αθήνα",
        "Οδός Ερμού 10",
        "Αθήνα",
        Some("Αττική"),
        "105 63",
        &["Greece", "GR", "Ελλάδα"],
        "GR",
    ),
    (
        "Dublin",
        "O'Connell Street 3",
        "Dublin",
        Some("Leinster"),
        "D01 F5P2",
        &["Ireland", "IE"],
        "IE",
    ),
];

const GUEST_DOMAINS: &[(&str, &str)] = &[
    ("partner.example.com", "Partner Example Ltd"),
    ("consulting.example.org", "Beratung Beispiel GmbH"),
    ("agence.example.fr", "Agence Exemple SAS"),
];

/// One service plan of the catalogue: (id, name, appliesTo).
type PlanDef = (&'static str, &'static str, &'static str);

/// One SKU of the catalogue.
pub(crate) struct SkuDef {
    pub(crate) sku_id: &'static str,
    pub(crate) part_number: &'static str,
    pub(crate) offer_name: &'static str,
    pub(crate) applies_to: &'static str,
    pub(crate) plans: &'static [PlanDef],
}

const E3_PLANS: &[PlanDef] = &[
    (
        "2f57f1aa-ca2a-4e28-b3c0-38b903b9d677",
        "EXCHANGE_S_ENTERPRISE",
        "User",
    ),
    (
        "51d8c676-b28c-4ac8-aa5c-05eae32d85ae",
        "SHAREPOINTENTERPRISE",
        "User",
    ),
    ("5de389d6-252d-40a6-a70c-b9c16aa9f074", "TEAMS1", "User"),
    (
        "12330445-5c06-453d-9667-b219c03056d9",
        "OFFICESUBSCRIPTION",
        "User",
    ),
    (
        "6700cb93-8a9d-413c-b82c-0920b0e744fb",
        "YAMMER_ENTERPRISE",
        "User",
    ),
    ("a81524a0-cdce-43de-9f16-dcb8f24ed3cb", "INTUNE_A", "User"),
];

/// The SKUs every simulated tenant may have; the index is used in counts.
pub(crate) const SKUS: &[SkuDef] = &[
    SkuDef {
        sku_id: "d4f3fbb2-8f9a-4ec1-926e-c39f92f5c14e",
        part_number: "SPE_E3",
        offer_name: "Microsoft 365 E3",
        applies_to: "User",
        plans: E3_PLANS,
    },
    SkuDef {
        sku_id: "c6fd0541-8cc8-4a50-be43-e7269e465024",
        part_number: "SPE_E5",
        offer_name: "Microsoft 365 E5",
        applies_to: "User",
        plans: &[
            (
                "2f57f1aa-ca2a-4e28-b3c0-38b903b9d677",
                "EXCHANGE_S_ENTERPRISE",
                "User",
            ),
            ("5de389d6-252d-40a6-a70c-b9c16aa9f074", "TEAMS1", "User"),
            ("b32df5b0-9fac-46d9-9724-815377b99d55", "MCOEV", "User"),
            (
                "46b75373-2481-41ae-9ecb-2b62ee5e6db4",
                "ATP_ENTERPRISE",
                "User",
            ),
        ],
    },
    SkuDef {
        sku_id: "366525d5-3f66-496c-8d3d-2deec26c85ed",
        part_number: "MCOEV",
        offer_name: "Microsoft Teams Phone Standard",
        applies_to: "User",
        plans: &[("b32df5b0-9fac-46d9-9724-815377b99d55", "MCOEV", "User")],
    },
    SkuDef {
        sku_id: "d09159ae-e52a-4e83-a9a6-dfbdeb9c7868",
        part_number: "FLOW_FREE",
        offer_name: "Microsoft Power Automate Free",
        applies_to: "User",
        plans: &[
            (
                "887bd92f-b9fd-4310-9940-58a3cf15f01b",
                "FLOW_P2_VIRAL",
                "User",
            ),
            (
                "cf8014b4-e5c5-4c43-8e99-6c372efaf8ce",
                "EXCHANGE_S_FOUNDATION",
                "Company",
            ),
        ],
    },
    SkuDef {
        sku_id: "0c2b5ef4-7f1d-4d6e-9a3b-6f0b6c1d2e33",
        part_number: "RMSBASIC",
        offer_name: "Rights Management Service Basic Content Protection",
        applies_to: "Company",
        plans: &[(
            "9a1e5c44-3f6b-4a0e-8d4e-2b7c1f0a9e51",
            "RMS_S_BASIC",
            "Company",
        )],
    },
    SkuDef {
        sku_id: "4b9405b0-7788-4568-add1-99614e613b69",
        part_number: "EXCHANGESTANDARD",
        offer_name: "Exchange Online (Plan 1)",
        applies_to: "User",
        plans: &[(
            "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
            "EXCHANGE_S_STANDARD",
            "User",
        )],
    },
];

const SKU_E3: usize = 0;
const SKU_E5: usize = 1;
const SKU_MCOEV: usize = 2;
const SKU_FLOW: usize = 3;
const SKU_RMS: usize = 4;
const SKU_EXSTD: usize = 5;

/// Number of SKUs in [`SKUS`].
pub(crate) const SKU_COUNT: usize = 6;

/// Parses a catalogue GUID; the catalogue is a compile-time constant, so a bad one is a bug
/// that every test would hit at once.
fn catalogue_uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap_or_default()
}

/// A customer tenant's fixed facts.
#[derive(Debug, Clone)]
pub(crate) struct TenantSpec {
    pub(crate) index: usize,
    pub(crate) id: Uuid,
    pub(crate) commerce_id: Uuid,
    pub(crate) name: String,
    pub(crate) slug: String,
}

impl TenantSpec {
    pub(crate) fn default_domain(&self) -> String {
        format!("{}.onmicrosoft.com", self.slug)
    }

    /// Whether this tenant has the over-assigned `EXCHANGESTANDARD` SKU.
    pub(crate) fn has_over_assigned_sku(&self) -> bool {
        self.index % 2 == 1
    }

    /// Indices into [`SKUS`] this tenant subscribes to.
    pub(crate) fn sku_indices(&self) -> Vec<usize> {
        let mut skus = vec![SKU_E3, SKU_E5, SKU_MCOEV, SKU_FLOW, SKU_RMS];
        if self.has_over_assigned_sku() {
            skus.push(SKU_EXSTD);
        }
        skus
    }
}

/// Everything needed to compute the simulated world.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub(crate) seed: u64,
    pub(crate) users_per_tenant: u32,
    pub(crate) tenants: Vec<TenantSpec>,
}

/// The per-user counters that day-to-day events advance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct UserState {
    pub(crate) present: bool,
    dept_shift: u64,
    license_epoch: u32,
    manager_shift: u64,
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
    /// Builds the tenant list for a seed.
    pub(crate) fn new(seed: u64, tenants: usize, users_per_tenant: usize) -> World {
        let tenants = (0..tenants)
            .map(|index| {
                let (base, slug) = TENANT_NAMES[index % TENANT_NAMES.len()];
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
                }
            })
            .collect();
        World {
            seed,
            users_per_tenant: u32::try_from(users_per_tenant).unwrap_or(u32::MAX),
            tenants,
        }
    }

    pub(crate) fn tenant_index(&self, id: Uuid) -> Option<usize> {
        self.tenants.iter().position(|t| t.id == id)
    }

    fn n(&self) -> u32 {
        self.users_per_tenant
    }

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

    fn hire_day(&self, index: u32) -> u32 {
        if index < self.n() {
            0
        } else {
            (index - self.n()) / self.hires_per_day().max(1) + 1
        }
    }

    pub(crate) fn user_id(&self, tenant: usize, index: u32) -> Uuid {
        derived_uuid(&[self.seed, TAG_USER_ID, tenant as u64, u64::from(index)])
    }

    fn is_guest(&self, tenant: usize, index: u32) -> bool {
        index != 0 && hash(&[self.seed, TAG_GUEST, tenant as u64, u64::from(index)]) % 100 < 10
    }

    fn base(&self, tenant: usize, index: u32) -> u64 {
        hash(&[self.seed, TAG_BASE, tenant as u64, u64::from(index)])
    }

    fn is_shared_mailbox(&self, tenant: usize, index: u32) -> bool {
        index != 0 && !self.is_guest(tenant, index) && (self.base(tenant, index) >> 8) % 100 < 3
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

    /// The current manager: the nearest present member up the tree.
    pub(crate) fn manager(&self, ctx: &DayCtx, index: u32, state: &UserState) -> Option<u32> {
        if self.is_guest(ctx.tenant, index) {
            return None;
        }
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

    /// Licenses of a member for a license epoch.
    fn licenses(&self, tenant: usize, index: u32, epoch: u32) -> Vec<(usize, Vec<Uuid>)> {
        if self.is_guest(tenant, index) || self.is_shared_mailbox(tenant, index) {
            return Vec::new();
        }
        let r = hash(&[
            self.seed,
            TAG_LICENSE,
            tenant as u64,
            u64::from(index),
            u64::from(epoch),
        ]);
        let has_exstd = self.tenants[tenant].has_over_assigned_sku();
        let primary = match r % 100 {
            0..8 => None,
            8..20 => Some(SKU_E5),
            20..30 if has_exstd => Some(SKU_EXSTD),
            _ => Some(SKU_E3),
        };
        let mut licenses = Vec::new();
        if let Some(sku) = primary {
            let mut disabled = Vec::new();
            if sku == SKU_E3 && (r >> 8) % 100 < 15 {
                let plans = SKUS[SKU_E3].plans;
                let first = ((r >> 16) % plans.len() as u64) as usize;
                disabled.push(catalogue_uuid(plans[first].0));
                if (r >> 24).is_multiple_of(2) {
                    let second =
                        (first + 1 + ((r >> 32) % (plans.len() as u64 - 1)) as usize) % plans.len();
                    disabled.push(catalogue_uuid(plans[second].0));
                }
            }
            licenses.push((sku, disabled));
            if matches!(sku, SKU_E3 | SKU_E5) && (r >> 40) % 100 < 15 {
                licenses.push((SKU_MCOEV, Vec::new()));
            }
        }
        if (r >> 48) % 100 < 10 {
            licenses.push((SKU_FLOW, Vec::new()));
        }
        licenses
    }

    /// Adds the licenses of every present user on `ctx.day` to per-SKU counts.
    pub(crate) fn consumed_units(&self, ctx: &DayCtx) -> [i64; SKU_COUNT] {
        let mut counts = [0i64; SKU_COUNT];
        for index in 0..self.universe(ctx.day) {
            let state = self.state(ctx, index);
            if state.present {
                for (sku, _) in self.licenses(ctx.tenant, index, state.license_epoch) {
                    counts[sku] += 1;
                }
            }
        }
        counts
    }

    /// The user with `index` on `ctx.day`, or `None` when absent; also the manager's index.
    pub(crate) fn user(&self, ctx: &DayCtx, index: u32) -> Option<(SimUser, Option<u32>)> {
        let state = self.state(ctx, index);
        state.present.then(|| {
            let manager = self.manager(ctx, index, &state);
            (self.user_with(ctx, index, &state, manager), manager)
        })
    }

    /// The user for an already computed state and manager index.
    pub(crate) fn user_with(
        &self,
        ctx: &DayCtx,
        index: u32,
        state: &UserState,
        manager: Option<u32>,
    ) -> SimUser {
        let mut user = self.attributes(ctx.tenant, index, state);
        user.manager_id = manager.map(|m| self.user_id(ctx.tenant, m));
        user
    }

    fn attributes(&self, tenant: usize, index: u32, state: &UserState) -> SimUser {
        let spec = &self.tenants[tenant];
        let domain = spec.default_domain();
        let r = self.base(tenant, index);
        let culture = &CULTURES[(r % CULTURES.len() as u64) as usize];
        let (given, given_ascii) = pick(culture.given, r >> 4);
        let (surname, surname_ascii) = pick(culture.surnames, r >> 12);
        let id = self.user_id(tenant, index);
        let chance = |shift: u32, percent: u64| (r.rotate_right(shift) % 100) < percent;
        let mut user = SimUser {
            id,
            display_name: None,
            given_name: None,
            surname: None,
            user_principal_name: String::new(),
            mail: None,
            user_type: Some("Member".to_owned()),
            account_enabled: Some(true),
            job_title: None,
            department: None,
            company_name: None,
            office_location: None,
            street_address: None,
            city: None,
            state: None,
            postal_code: None,
            country: None,
            preferred_language: None,
            usage_location: None,
            extension_attributes: Default::default(),
            manager_id: None,
            licenses: Vec::new(),
        };
        if self.is_guest(tenant, index) {
            let (ext_domain, ext_company) = pick(GUEST_DOMAINS, r >> 20);
            let alias = format!("{given_ascii}.{surname_ascii}.{index}");
            user.display_name = Some(format!("{given} {surname} (Gast)"));
            user.user_principal_name = format!("{alias}_{ext_domain}#EXT#@{domain}");
            user.mail = Some(format!("{alias}@{ext_domain}"));
            user.user_type = Some("Guest".to_owned());
            if chance(28, 50) {
                user.company_name = Some(ext_company.to_owned());
            }
            return user;
        }
        let office = pick(OFFICES, (r >> 24) ^ tenant as u64);
        if self.is_shared_mailbox(tenant, index) {
            user.display_name = Some(format!("Empfang {}", office.2));
            user.user_principal_name = format!("empfang.{index}@{domain}");
            user.mail = Some(user.user_principal_name.clone());
            user.account_enabled = Some(false);
            user.office_location = Some(office.0.to_owned());
            user.city = Some(office.2.to_owned());
            user.country = Some(pick(office.5, r >> 36).to_owned());
            user.usage_location = Some(office.6.to_owned());
            user.extension_attributes[14] = Some("SharedMailbox".to_owned());
            return user;
        }
        user.display_name = Some(if culture.family_first {
            format!("{surname} {given}")
        } else {
            format!("{given} {surname}")
        });
        user.given_name = Some(given.to_owned());
        user.surname = Some(surname.to_owned());
        user.user_principal_name = format!("{given_ascii}.{surname_ascii}.{index}@{domain}");
        if !chance(32, 5) {
            user.mail = Some(user.user_principal_name.clone());
        }
        if chance(40, 4) {
            user.account_enabled = Some(false);
        }
        let dept_base = hash(&[self.seed, TAG_DEPT, tenant as u64, u64::from(index)]);
        let dept_index = ((dept_base + state.dept_shift) % DEPARTMENTS.len() as u64) as usize;
        let (department, titles) = DEPARTMENTS[dept_index];
        if !chance(44, 6) {
            user.department = Some(department.to_owned());
        }
        if !chance(48, 8) {
            user.job_title = Some(pick(titles, dept_base >> 8).to_owned());
        }
        if !chance(52, 10) {
            user.company_name = Some(spec.name.clone());
        }
        if !chance(56, 10) {
            user.office_location = Some(office.0.to_owned());
        }
        if !chance(60, 15) {
            user.street_address = Some(office.1.to_owned());
            user.postal_code = Some(office.4.to_owned());
        }
        user.city = Some(office.2.to_owned());
        user.state = office.3.map(str::to_owned);
        if !chance(2, 5) {
            user.country = Some(pick(office.5, r >> 36).to_owned());
        }
        if !chance(6, 10) {
            user.preferred_language = Some(culture.language.to_owned());
        }
        user.usage_location = Some(office.6.to_owned());
        if !chance(10, 30) {
            user.extension_attributes[0] = Some(format!(
                "CC-{}",
                1000 + dept_index * 100 + (dept_base % 3) as usize * 10
            ));
        }
        if !chance(14, 40) {
            user.extension_attributes[1] = Some(format!("EMP-{:05}", index + 1));
        }
        if chance(18, 3) {
            user.extension_attributes[2] = Some("Intern 2025".to_owned());
        }
        if chance(22, 5) {
            user.extension_attributes[5] = Some("Remote".to_owned());
        }
        user.licenses = self
            .licenses(tenant, index, state.license_epoch)
            .into_iter()
            .map(|(sku, disabled_plans)| SimLicense {
                sku_id: catalogue_uuid(SKUS[sku].sku_id),
                disabled_plans,
            })
            .collect();
        user
    }

    /// The tenant's SKUs on a day; prepaid units are fixed from the day-0 counts.
    pub(crate) fn skus(
        &self,
        tenant: usize,
        consumed: &[i64; SKU_COUNT],
        day0: &[i64; SKU_COUNT],
    ) -> Vec<SimSku> {
        let spec = &self.tenants[tenant];
        spec.sku_indices()
            .into_iter()
            .map(|sku| {
                let def = &SKUS[sku];
                let c0 = day0[sku];
                let (enabled, warning, suspended, status, subscriptions) = match sku {
                    SKU_E3 => (c0 + c0 / 10 + 5, 0, 0, "Enabled", 1),
                    SKU_E5 => (0, c0 + c0 / 10 + 2, 0, "Warning", 1),
                    SKU_MCOEV => (c0 + c0 / 10 + 3, 0, 2, "Enabled", 2),
                    SKU_FLOW => (10_000, 0, 0, "Enabled", 1),
                    SKU_RMS => (1, 0, 0, "Enabled", 1),
                    // Over-assigned: a seat reduction left fewer seats than assignments.
                    _ => (c0 * 2 / 3, 0, 0, "Enabled", 1),
                };
                SimSku {
                    sku_id: catalogue_uuid(def.sku_id),
                    sku_part_number: def.part_number.to_owned(),
                    applies_to: def.applies_to.to_owned(),
                    capability_status: status.to_owned(),
                    consumed_units: consumed[sku],
                    enabled,
                    warning,
                    suspended,
                    locked_out: 0,
                    subscription_ids: (0..subscriptions)
                        .map(|k| {
                            derived_uuid(&[
                                self.seed,
                                TAG_SUBSCRIPTION,
                                tenant as u64,
                                sku as u64,
                                k,
                            ])
                        })
                        .collect(),
                    service_plans: def
                        .plans
                        .iter()
                        .map(|(id, name, applies_to)| SimServicePlan {
                            id: catalogue_uuid(id),
                            name: (*name).to_owned(),
                            provisioning_status: if *name == "INTUNE_A" {
                                "PendingActivation".to_owned()
                            } else {
                                "Success".to_owned()
                            },
                            applies_to: (*applies_to).to_owned(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Offer name of a SKU part number, for Partner Center subscriptions.
    pub(crate) fn offer_name(part_number: &str) -> &'static str {
        SKUS.iter()
            .find(|s| s.part_number == part_number)
            .map_or("Microsoft 365", |s| s.offer_name)
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
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn ids(tenant: &SimTenant) -> HashSet<Uuid> {
        tenant.users.iter().map(|u| u.id).collect()
    }

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
    fn users_look_like_a_real_directory() {
        let tenant = World::new(1, 3, 500).tenant(0, 0);
        let guests: Vec<_> = tenant
            .users
            .iter()
            .filter(|u| u.user_type.as_deref() == Some("Guest"))
            .collect();
        assert!((25..=80).contains(&guests.len()), "{} guests", guests.len());
        for guest in &guests {
            assert!(guest.user_principal_name.contains("#EXT#@"));
            assert!(guest.licenses.is_empty());
            assert!(guest.usage_location.is_none());
        }
        assert!(
            tenant
                .users
                .iter()
                .all(|u| u.user_principal_name.is_ascii())
        );
        let upns: HashSet<_> = tenant
            .users
            .iter()
            .map(|u| &u.user_principal_name)
            .collect();
        assert_eq!(upns.len(), tenant.users.len());
        assert!(
            tenant
                .users
                .iter()
                .any(|u| u.account_enabled == Some(false))
        );
        assert!(tenant.users.iter().any(|u| u.licenses.len() > 1));
        assert!(
            tenant
                .users
                .iter()
                .any(|u| u.licenses.iter().any(|l| !l.disabled_plans.is_empty()))
        );
        assert!(
            tenant
                .users
                .iter()
                .any(|u| u.extension_attributes[0].is_some())
        );
        assert!(tenant.users.iter().any(|u| u.department.is_none()));
        let names: String = tenant
            .users
            .iter()
            .filter_map(|u| u.display_name.clone())
            .collect();
        for needle in ["ü", "é", "Ø", "山田", "Γ", "'"] {
            assert!(names.contains(needle), "no {needle} in names");
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

    #[test]
    fn consumed_units_count_the_current_assignments() {
        let world = World::new(2, 3, 300);
        let tenant = world.tenant(1, 2);
        for sku in &tenant.skus {
            let holders = tenant
                .users
                .iter()
                .filter(|u| u.licenses.iter().any(|l| l.sku_id == sku.sku_id))
                .count() as i64;
            assert_eq!(sku.consumed_units, holders, "{}", sku.sku_part_number);
        }
        let by_part: HashMap<&str, &SimSku> = tenant
            .skus
            .iter()
            .map(|s| (s.sku_part_number.as_str(), s))
            .collect();
        assert_eq!(by_part["SPE_E5"].capability_status, "Warning");
        assert_eq!(by_part["SPE_E5"].enabled, 0);
        assert!(by_part["SPE_E5"].warning > 0);
        assert_eq!(by_part["MCOEV"].subscription_ids.len(), 2);
        assert!(by_part["MCOEV"].suspended > 0);
        assert_eq!(by_part["FLOW_FREE"].enabled, 10_000);
        assert_eq!(by_part["RMSBASIC"].applies_to, "Company");
        assert_eq!(by_part["RMSBASIC"].consumed_units, 0);
        let over = by_part["EXCHANGESTANDARD"];
        assert!(over.consumed_units > over.enabled + over.warning);
        assert!(
            !world
                .tenant(0, 0)
                .skus
                .iter()
                .any(|s| s.sku_part_number == "EXCHANGESTANDARD")
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
