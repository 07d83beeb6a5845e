//! The directory users' attributes: names by culture, departments and titles, offices, guests
//! and shared mailboxes, computed from a user's index and state.

use uuid::Uuid;

use super::licenses::effective_licenses;
use super::skus::{SKUS, catalogue_uuid};
use super::timeline::{DayCtx, ManagerRef, UserState};
use super::{TAG_BASE, TAG_DEPT, TAG_GUEST, TAG_USER_ID, World, derived_uuid, hash, pick};
use crate::simulator::{SimLicense, SimUser};

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
pub(super) const DEPARTMENTS: &[(&str, &[&str])] = &[
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

impl World {
    pub(crate) fn user_id(&self, tenant: usize, index: u32) -> Uuid {
        derived_uuid(&[self.seed, TAG_USER_ID, tenant as u64, u64::from(index)])
    }

    pub(super) fn is_guest(&self, tenant: usize, index: u32) -> bool {
        index != 0 && hash(&[self.seed, TAG_GUEST, tenant as u64, u64::from(index)]) % 100 < 10
    }

    fn base(&self, tenant: usize, index: u32) -> u64 {
        hash(&[self.seed, TAG_BASE, tenant as u64, u64::from(index)])
    }

    pub(super) fn is_shared_mailbox(&self, tenant: usize, index: u32) -> bool {
        index != 0 && !self.is_guest(tenant, index) && (self.base(tenant, index) >> 8) % 100 < 3
    }

    /// The user with `index` on `ctx.day`, or `None` when absent; also who they report to.
    pub(crate) fn user(&self, ctx: &DayCtx, index: u32) -> Option<(SimUser, Option<ManagerRef>)> {
        let state = self.state(ctx, index);
        state.present.then(|| {
            let manager = self.manager(ctx, index, &state);
            (self.user_with(ctx, index, &state, manager), manager)
        })
    }

    /// The user for an already computed state and manager.
    pub(crate) fn user_with(
        &self,
        ctx: &DayCtx,
        index: u32,
        state: &UserState,
        manager: Option<ManagerRef>,
    ) -> SimUser {
        let mut user = self.attributes(ctx.tenant, index, state);
        match manager {
            Some(ManagerRef::User(m)) => user.manager_id = Some(self.user_id(ctx.tenant, m)),
            Some(ManagerRef::Contact(k)) => {
                user.manager_contact = Some(self.contact(ctx.tenant, k))
            }
            None => {}
        }
        user
    }

    fn attributes(&self, tenant: usize, index: u32, state: &UserState) -> SimUser {
        let spec = &self.tenants[tenant];
        let domain = spec.default_domain();
        let member_domain = self.member_domain(spec);
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
            manager_contact: None,
            licenses: Vec::new(),
            license_states: Vec::new(),
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
            self.license(&mut user, tenant, index, state.license_epoch);
            if !user.licenses.is_empty() {
                // Microsoft assigns a license only to a user with a usage location.
                user.usage_location = Some(pick(OFFICES, (r >> 24) ^ tenant as u64).6.to_owned());
            }
            return user;
        }
        let office = pick(OFFICES, (r >> 24) ^ tenant as u64);
        if self.is_shared_mailbox(tenant, index) {
            user.display_name = Some(format!("Empfang {}", office.2));
            user.user_principal_name = format!("empfang.{index}@{member_domain}");
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
        user.user_principal_name = format!("{given_ascii}.{surname_ascii}.{index}@{member_domain}");
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
        self.license(&mut user, tenant, index, state.license_epoch);
        user
    }

    /// Sets `user`'s `assignedLicenses` and `licenseAssignmentStates` of a license epoch.
    fn license(&self, user: &mut SimUser, tenant: usize, index: u32, epoch: u32) {
        let assignments = self.assignments(tenant, index, epoch);
        user.licenses = effective_licenses(&assignments)
            .into_iter()
            .map(|(sku, disabled_plans)| SimLicense {
                sku_id: catalogue_uuid(SKUS[sku].sku_id),
                disabled_plans,
            })
            .collect();
        user.license_states = self.license_states(tenant, index, epoch, &assignments);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

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
            // A guest holds Power BI Pro or nothing, and has a usage location only with it.
            assert!(guest.licenses.len() <= 1);
            assert_eq!(guest.usage_location.is_some(), !guest.licenses.is_empty());
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
    fn custom_domains_name_members_in_the_verified_domain_and_leave_guests_alone() {
        let plain = World::new(1, 11, 200).tenant(10, 0);
        let world = World::new(1, 11, 200).with_custom_domains();
        for (index, domain) in [(0, "@alpenhof-demo.ch"), (10, "@alpenhof-demo2.ch")] {
            let tenant = world.tenant(index, 0);
            let (guests, members): (Vec<_>, Vec<_>) = tenant
                .users
                .iter()
                .partition(|u| u.user_type.as_deref() == Some("Guest"));
            assert!(!guests.is_empty() && !members.is_empty());
            assert!(
                members
                    .iter()
                    .all(|u| u.user_principal_name.ends_with(domain)),
                "{domain}"
            );
            assert!(guests.iter().all(|u| {
                u.user_principal_name
                    .ends_with(&format!("@{}", tenant.default_domain))
            }));
        }
        // Only the names change: the same users as without custom domains.
        let custom = world.tenant(10, 0);
        assert_eq!(custom.users.len(), plain.users.len());
        assert!(
            plain
                .users
                .iter()
                .all(|u| u.user_principal_name.ends_with(".onmicrosoft.com"))
        );
    }
}
