//! The tests' sample data set: four tenants, a few hundred users with departments, managers,
//! extension attributes and licenses, SKUs whose consumed counts match the licenses actually
//! assigned, and a cost-group tree. Deterministic: the same ids and values every run. Seeded
//! through the import commit ([`super::snapshot`]). (`serve --demo` imports from the built-in
//! simulator instead, through the real importer.)

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use tenantgraph::domain::user::EXTENSION_ATTRIBUTES;
use tenantgraph::domain::{
    AssignedLicense, CostGroup, CostGroupId, PrepaidUnits, ServicePlan, ServicePlanId, SkuId,
    Subscription, Tenant, TenantId, User, UserId,
};
use tenantgraph::store::Store;

use super::snapshot::{self, TenantSnapshot};

/// Seed of the demo data; changing it changes every generated value.
const SEED: u64 = 0x7e4a_9a27;

struct TenantSpec {
    name: &'static str,
    domain: &'static str,
    users: usize,
    skus: &'static [&'static str],
}

const TENANTS: &[TenantSpec] = &[
    TenantSpec {
        name: "Alpenhof Demo AG",
        domain: "alpenhofdemo.onmicrosoft.com",
        users: 120,
        skus: &["SPE_E5", "SPE_E3", "MCOEV", "POWER_BI_PRO", "VISIOCLIENT"],
    },
    TenantSpec {
        name: "Contoso Retail GmbH",
        domain: "contosoretail.onmicrosoft.com",
        users: 90,
        skus: &[
            "O365_BUSINESS_PREMIUM",
            "O365_BUSINESS_ESSENTIALS",
            "POWER_BI_PRO",
        ],
    },
    TenantSpec {
        name: "Fabrikam Engineering Ltd",
        domain: "fabrikameng.onmicrosoft.com",
        users: 70,
        skus: &[
            "SPE_E3",
            "PROJECTPROFESSIONAL",
            "VISIOCLIENT",
            "MCOEV",
            "FLOW_FREE",
            "EMS",
        ],
    },
    TenantSpec {
        name: "Northwind Health SA",
        domain: "northwindhealth.onmicrosoft.com",
        users: 40,
        skus: &["SPE_E3", "SPE_F3", "POWER_BI_PRO", "INTUNE_A_VL"],
    },
];

/// (part number, service plans).
const CATALOG: &[(&str, &[&str])] = &[
    (
        "SPE_E5",
        &[
            "EXCHANGE_S_ENTERPRISE",
            "SHAREPOINTENTERPRISE",
            "MCOSTANDARD",
            "TEAMS1",
            "MCOEV",
            "BI_AZURE_P2",
        ],
    ),
    (
        "SPE_E3",
        &[
            "EXCHANGE_S_ENTERPRISE",
            "SHAREPOINTENTERPRISE",
            "MCOSTANDARD",
            "TEAMS1",
            "OFFICESUBSCRIPTION",
        ],
    ),
    (
        "SPE_F3",
        &["EXCHANGE_S_DESKLESS", "SHAREPOINTDESKLESS", "TEAMS1"],
    ),
    (
        "O365_BUSINESS_PREMIUM",
        &[
            "EXCHANGE_S_STANDARD",
            "SHAREPOINTSTANDARD",
            "TEAMS1",
            "OFFICESUBSCRIPTION",
        ],
    ),
    (
        "O365_BUSINESS_ESSENTIALS",
        &["EXCHANGE_S_STANDARD", "SHAREPOINTSTANDARD", "TEAMS1"],
    ),
    ("MCOEV", &["MCOEV"]),
    ("POWER_BI_PRO", &["BI_AZURE_P2"]),
    ("VISIOCLIENT", &["VISIO_CLIENT_SUBSCRIPTION", "VISIOONLINE"]),
    (
        "PROJECTPROFESSIONAL",
        &["PROJECT_CLIENT_SUBSCRIPTION", "PROJECT_PROFESSIONAL"],
    ),
    ("FLOW_FREE", &["FLOW_P2_VIRAL"]),
    ("EMS", &["INTUNE_A", "AAD_PREMIUM"]),
    ("INTUNE_A_VL", &["INTUNE_A_VL"]),
];

const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Marketing",
    "Engineering",
    "Finance",
    "Human Resources",
    "Operations",
    "Support",
    "Legal",
];
const GIVEN: &[&str] = &[
    "Anna",
    "François",
    "Zoë",
    "Jonas",
    "Lea",
    "Mateo",
    "Sofia",
    "Noah",
    "Mia",
    "Élodie",
    "Lukas",
    "Aylin",
    "Björn",
    "Chiara",
    "Dmitri",
    "Emma",
    "Farid",
    "Greta",
    "Hiroshi",
    "Ingrid",
    "Jan",
    "Karin",
    "Luca",
    "Marta",
    "Nils",
    "Olivia",
    "Pavel",
    "Rosa",
    "Søren",
    "Tomás",
    "太郎",
    "花子",
];
const SURNAMES: &[&str] = &[
    "Müller",
    "Lefèvre",
    "Ødegaard",
    "Schmid",
    "Keller",
    "García",
    "Rossi",
    "Nowak",
    "Jensen",
    "Dubois",
    "Meier",
    "Yılmaz",
    "Novák",
    "Bianchi",
    "Ivanova",
    "Weber",
    "Haddad",
    "Lindqvist",
    "Tanaka",
    "Berg",
    "de Vries",
    "Fischer",
    "Conti",
    "Kowalska",
    "Brandt",
    "O'Neill",
    "Horváth",
    "Silva",
    "Andersen",
    "Navarro",
    "山田",
    "佐藤",
];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Zürich", "ZH", "8001", "CH"),
    ("Bern", "BE", "3011", "CH"),
    ("München", "BY", "80331", "DE"),
    ("Wien", "W", "1010", "AT"),
    ("Lyon", "ARA", "69002", "FR"),
    ("Tokyo", "13", "100-0005", "JP"),
];
const TITLES: &[&str] = &[
    "Specialist",
    "Senior Specialist",
    "Analyst",
    "Consultant",
    "Coordinator",
    "Engineer",
    "Manager",
];

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 6, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// A random-looking but fixed GUID (version 4 bits set) from the generator.
fn guid(rng: &mut fastrand::Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.u128(..).to_le_bytes()).into_uuid()
}

/// A GUID derived from a name, the same in every tenant (SKU and plan ids are global).
fn named_guid(name: &str) -> Uuid {
    let mut rng = fastrand::Rng::with_seed(
        name.bytes()
            .fold(SEED, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    guid(&mut rng)
}

fn plans_of(part: &str) -> &'static [&'static str] {
    CATALOG
        .iter()
        .find(|(p, _)| *p == part)
        .map(|(_, plans)| *plans)
        .unwrap_or(&[])
}

fn ascii_slug(text: &str) -> String {
    let slug: String = text
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => Some(c.to_ascii_lowercase()),
            'ä' | 'à' | 'á' => Some('a'),
            'ö' | 'ø' | 'Ø' | 'ó' => Some('o'),
            'ü' | 'ú' => Some('u'),
            'é' | 'è' | 'É' | 'ë' => Some('e'),
            'ç' => Some('c'),
            'ı' | 'í' => Some('i'),
            'ř' => Some('r'),
            _ => None,
        })
        .collect();
    if slug.is_empty() {
        "user".to_owned()
    } else {
        slug
    }
}

/// Builds the snapshot and cost groups of one demo tenant.
fn tenant_data(
    index: usize,
    spec: &TenantSpec,
    rng: &mut fastrand::Rng,
) -> (TenantSnapshot, Vec<CostGroup>) {
    let now = base_time();
    let tenant_id = TenantId(guid(rng));
    let tenant = Tenant {
        id: tenant_id,
        customer_id: Some(tenant_id.to_string()),
        name: spec.name.to_owned(),
        default_domain: Some(spec.domain.to_owned()),
        created_at: now,
        updated_at: now,
        last_import_at: Some(now),
    };
    let mail_domain = spec.domain.replace(".onmicrosoft.com", ".example.com");

    let mut users: Vec<User> = Vec::with_capacity(spec.users);
    // Heads of department report to the first user; everyone else to their department's head.
    let mut heads: Vec<Option<UserId>> = vec![None; DEPARTMENTS.len()];
    for n in 0..spec.users {
        let given = GIVEN[rng.usize(..GIVEN.len())];
        let surname = SURNAMES[rng.usize(..SURNAMES.len())];
        let guest = n > 0 && n % 17 == 0;
        let id = UserId(guid(rng));
        let alias = format!("{}.{}{}", ascii_slug(given), ascii_slug(surname), n);
        let dept_index = if n == 0 {
            5
        } else {
            rng.usize(..DEPARTMENTS.len())
        };
        let (city, state, postal, country) = CITIES[(index + rng.usize(..3)) % CITIES.len()];
        let manager_id = if n == 0 || guest {
            None
        } else if let Some(head) = heads[dept_index] {
            Some(head)
        } else {
            heads[dept_index] = Some(id);
            users.first().map(|u| u.id)
        };
        let mut extension_attributes: [Option<String>; EXTENSION_ATTRIBUTES] = Default::default();
        if !guest {
            extension_attributes[0] = Some(format!("CC-{}", 1000 + dept_index * 10 + index));
            extension_attributes[1] = Some(format!("E{:05}", 10_000 + n));
            if rng.u8(..4) == 0 {
                extension_attributes[6] =
                    Some(["Remote", "Hybrid", "Office"][rng.usize(..3)].to_owned());
            }
        }
        let user = if guest {
            User {
                id,
                tenant_id,
                display_name: format!("{given} {surname} (Partner)"),
                given_name: None,
                surname: None,
                user_principal_name: format!("{alias}_partner.example#EXT#@{}", spec.domain),
                mail: Some(format!("{alias}@partner.example")),
                user_type: Some("Guest".to_owned()),
                account_enabled: Some(true),
                job_title: None,
                department: None,
                company_name: Some("Partner Consulting".to_owned()),
                office_location: None,
                street_address: None,
                city: None,
                state: None,
                postal_code: None,
                country: None,
                preferred_language: None,
                usage_location: None,
                extension_attributes,
                manager_id: None,
                manager_contact: None,
                first_seen_at: now,
                last_seen_at: now,
                deleted_at: None,
            }
        } else {
            let title = if n == 0 {
                "Chief Executive Officer".to_owned()
            } else if manager_id == users.first().map(|u| u.id) {
                format!("Head of {}", DEPARTMENTS[dept_index])
            } else {
                TITLES[rng.usize(..TITLES.len())].to_owned()
            };
            User {
                id,
                tenant_id,
                display_name: format!("{given} {surname}"),
                given_name: Some(given.to_owned()),
                surname: Some(surname.to_owned()),
                user_principal_name: format!("{alias}@{mail_domain}"),
                mail: Some(format!("{alias}@{mail_domain}")),
                user_type: Some("Member".to_owned()),
                account_enabled: Some(rng.u8(..30) != 0),
                job_title: Some(title),
                department: Some(DEPARTMENTS[dept_index].to_owned()),
                company_name: Some(spec.name.to_owned()),
                office_location: Some(format!("{city} {}", rng.u8(1..5))),
                street_address: Some(format!("Bahnhofstrasse {}", rng.u16(1..200))),
                city: Some(city.to_owned()),
                state: Some(state.to_owned()),
                postal_code: Some(postal.to_owned()),
                country: Some(country.to_owned()),
                preferred_language: Some(
                    match country {
                        "FR" => "fr-FR",
                        "JP" => "ja-JP",
                        _ => "de-CH",
                    }
                    .to_owned(),
                ),
                usage_location: Some(country.to_owned()),
                extension_attributes,
                manager_id,
                manager_contact: None,
                first_seen_at: now,
                last_seen_at: now,
                deleted_at: None,
            }
        };
        users.push(user);
    }

    // Licenses: members get the tenant's first SKU (or its second, one in four), plus add-ons.
    let mut licenses = Vec::new();
    let mut consumed = vec![0_i64; spec.skus.len()];
    for user in users
        .iter()
        .filter(|u| u.user_type.as_deref() == Some("Member"))
    {
        let main = if spec.skus.len() > 1 && rng.u8(..4) == 0 {
            1
        } else {
            0
        };
        let mut picked = vec![main];
        for (i, _) in spec.skus.iter().enumerate().skip(2) {
            if rng.u8(..5) == 0 {
                picked.push(i);
            }
        }
        for i in picked {
            let part = spec.skus[i];
            let plans = plans_of(part);
            let disabled = if plans.len() > 2 && rng.u8(..6) == 0 {
                vec![ServicePlanId(named_guid(plans[plans.len() - 1]))]
            } else {
                Vec::new()
            };
            consumed[i] += 1;
            licenses.push(AssignedLicense {
                user_id: user.id,
                tenant_id,
                sku_id: SkuId(named_guid(part)),
                disabled_plans: disabled,
            });
        }
    }

    let mut subscriptions = Vec::new();
    let mut service_plans = Vec::new();
    for (i, part) in spec.skus.iter().enumerate() {
        let sku_id = SkuId(named_guid(part));
        let free = *part == "FLOW_FREE";
        // The last SKU of the second tenant is over-assigned after a seat reduction.
        let enabled = if free {
            10_000
        } else if index == 1 && i == spec.skus.len() - 1 {
            (consumed[i] - 2).max(0)
        } else {
            consumed[i] + i64::from(rng.u8(..8))
        };
        subscriptions.push(Subscription {
            tenant_id,
            sku_id,
            sku_part_number: (*part).to_owned(),
            capability_status: "Enabled".to_owned(),
            applies_to: "User".to_owned(),
            prepaid: PrepaidUnits {
                enabled,
                warning: if index == 2 && i == 1 { 3 } else { 0 },
                suspended: if index == 3 && i == 0 { 5 } else { 0 },
                locked_out: 0,
            },
            consumed_units: consumed[i],
            subscription_ids: vec![guid(rng).to_string()],
            billing: tenantgraph::domain::SkuBilling::Partner,
            unknown: false,
            updated_at: now,
        });
        for plan in plans_of(part) {
            service_plans.push(ServicePlan {
                tenant_id,
                sku_id,
                service_plan_id: ServicePlanId(named_guid(plan)),
                name: (*plan).to_owned(),
                provisioning_status: "Success".to_owned(),
                applies_to: "User".to_owned(),
            });
        }
    }

    let root = CostGroup {
        id: CostGroupId(guid(rng)),
        tenant_id,
        parent_id: None,
        name: spec.name.to_owned(),
        code: Some("ALL".to_owned()),
        description: Some("The whole company".to_owned()),
        created_at: now,
        updated_at: now,
    };
    let mut groups = vec![root.clone()];
    for (d, department) in DEPARTMENTS.iter().enumerate().take(4 + index % 3) {
        groups.push(CostGroup {
            id: CostGroupId(guid(rng)),
            tenant_id,
            parent_id: Some(root.id),
            name: (*department).to_owned(),
            code: Some(format!("CC-{}", 1000 + d * 10 + index)),
            description: None,
            created_at: now,
            updated_at: now,
        });
    }
    let snapshot = TenantSnapshot {
        tenant,
        subscriptions,
        service_plans,
        users,
        assignments: snapshot::direct_assignments(&licenses),
        licenses,
    };
    (snapshot, groups)
}

/// The demo tenants' snapshots and cost groups, always the same.
pub(crate) fn data() -> Vec<(TenantSnapshot, Vec<CostGroup>)> {
    let mut rng = fastrand::Rng::with_seed(SEED);
    TENANTS
        .iter()
        .enumerate()
        .map(|(i, spec)| tenant_data(i, spec, &mut rng))
        .collect()
}

/// Writes the demo data set through the import commit, replacing the demo tenants' previous
/// state, and inserts their cost groups.
pub(crate) async fn seed(store: &Store) {
    for (snapshot, groups) in data() {
        snapshot::replace_tenant(store, &snapshot, Utc::now())
            .await
            .unwrap();
        snapshot::upsert_cost_groups(store, &groups).await;
    }
}

mod tests {
    use super::*;

    #[test]
    fn demo_data_is_the_same_every_time() {
        let a = data();
        let b = data();
        assert_eq!(a.len(), 4);
        for ((sa, ga), (sb, gb)) in a.iter().zip(&b) {
            assert_eq!(sa.tenant.id, sb.tenant.id);
            assert_eq!(sa.users, sb.users);
            assert_eq!(ga, gb);
        }
    }

    #[test]
    fn consumed_units_equal_the_licenses_assigned() {
        for (snapshot, _) in data() {
            for sub in &snapshot.subscriptions {
                let assigned = snapshot
                    .licenses
                    .iter()
                    .filter(|l| l.sku_id == sub.sku_id)
                    .count();
                assert_eq!(
                    sub.consumed_units, assigned as i64,
                    "{}",
                    sub.sku_part_number
                );
            }
        }
    }

    #[test]
    fn every_manager_is_a_user_of_the_same_tenant() {
        for (snapshot, _) in data() {
            for user in &snapshot.users {
                if let Some(manager) = user.manager_id {
                    assert!(snapshot.users.iter().any(|u| u.id == manager));
                }
            }
        }
    }

    #[test]
    fn a_few_hundred_users_with_guests_and_an_over_assigned_sku() {
        let data = data();
        let users: usize = data.iter().map(|(s, _)| s.users.len()).sum();
        assert!((200..=500).contains(&users));
        assert!(
            data.iter()
                .flat_map(|(s, _)| &s.users)
                .any(|u| u.user_type.as_deref() == Some("Guest"))
        );
        assert!(
            data.iter()
                .flat_map(|(s, _)| &s.subscriptions)
                .any(|s| s.unassigned() < 0)
        );
    }
}
