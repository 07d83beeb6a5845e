//! A user as one import saw it upstream, and how it is applied to the stored user. A delta query
//! sends only some properties ("absent" means unchanged), so every field carries whether it was
//! sent. Serde writes them whole, with their field names, for the import's spool.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ServicePlanId, SkuId, TenantId, UserId};
use super::license_assignment::{LicenseAssignment, LicenseAssignmentState};
use super::user::{AssignedLicense, EXTENSION_ATTRIBUTES, ManagerContact, User};

/// One imported property, named as in Graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum UserField {
    /// `displayName`.
    DisplayName,
    /// `givenName`.
    GivenName,
    /// `surname`.
    Surname,
    /// `userPrincipalName`.
    UserPrincipalName,
    /// `mail`.
    Mail,
    /// `userType`.
    UserType,
    /// `accountEnabled`.
    AccountEnabled,
    /// `jobTitle`.
    JobTitle,
    /// `department`.
    Department,
    /// `companyName`.
    CompanyName,
    /// `officeLocation`.
    OfficeLocation,
    /// `streetAddress`.
    StreetAddress,
    /// `city`.
    City,
    /// `state`.
    State,
    /// `postalCode`.
    PostalCode,
    /// `country`.
    Country,
    /// `preferredLanguage`.
    PreferredLanguage,
    /// `usageLocation`.
    UsageLocation,
    /// `onPremisesExtensionAttributes`.
    ExtensionAttributes,
    /// `manager` (expanded) or `manager@delta`.
    Manager,
    /// `assignedLicenses`.
    Licenses,
    /// `licenseAssignmentStates`.
    LicenseAssignments,
}

/// The set of properties an upstream record carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldSet(u32);

impl FieldSet {
    /// Every property: a full listing, where a missing property means "not set".
    pub const ALL: FieldSet = FieldSet((1 << 22) - 1);

    /// Adds `field`.
    pub fn insert(&mut self, field: UserField) {
        self.0 |= 1 << field as u8;
    }

    /// Whether `field` was sent.
    pub fn contains(self, field: UserField) -> bool {
        self.0 & (1 << field as u8) != 0
    }
}

/// A user as upstream sent it. Fields not in `present` keep their stored value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportedUser {
    /// Graph object id.
    pub id: Option<UserId>,
    /// Which properties were sent.
    pub present: FieldSet,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `givenName`.
    pub given_name: Option<String>,
    /// `surname`.
    pub surname: Option<String>,
    /// `userPrincipalName`.
    pub user_principal_name: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
    /// `userType`.
    pub user_type: Option<String>,
    /// `accountEnabled`.
    pub account_enabled: Option<bool>,
    /// `jobTitle`.
    pub job_title: Option<String>,
    /// `department`.
    pub department: Option<String>,
    /// `companyName`.
    pub company_name: Option<String>,
    /// `officeLocation`.
    pub office_location: Option<String>,
    /// `streetAddress`.
    pub street_address: Option<String>,
    /// `city`.
    pub city: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `postalCode`.
    pub postal_code: Option<String>,
    /// `country`.
    pub country: Option<String>,
    /// `preferredLanguage`.
    pub preferred_language: Option<String>,
    /// `usageLocation`.
    pub usage_location: Option<String>,
    /// `extensionAttribute1..15`.
    pub extension_attributes: [Option<String>; EXTENSION_ATTRIBUTES],
    /// The manager, when it is a user.
    pub manager_id: Option<UserId>,
    /// The manager, when it is an organizational contact (names only when the record carried
    /// them). Never set together with `manager_id`.
    pub manager_contact: Option<ManagerContact>,
    /// Assigned licenses: SKU and the plans disabled in it.
    pub licenses: Vec<(SkuId, Vec<ServicePlanId>)>,
    /// How each license is assigned (`licenseAssignmentStates`), failed assignments included.
    #[serde(default)]
    pub license_assignments: Vec<LicenseAssignmentState>,
}

/// One record of an import: a present user, or one gone upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserChange {
    /// The user exists upstream with these properties.
    Present(Box<ImportedUser>),
    /// The user was deleted upstream.
    Removed(UserId),
}

/// Why an imported user can't be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportedUserError {
    /// A record without an id.
    #[error("a user record has no id")]
    MissingId,
    /// A new user without a user principal name.
    #[error("user {0} has no userPrincipalName")]
    MissingUserPrincipalName(UserId),
}

impl ImportedUser {
    /// The stored user after applying this record to `base` (the stored user, if any).
    /// A returning user is restored (`deleted_at` cleared) and keeps `first_seen_at`.
    pub fn apply(
        &self,
        tenant_id: TenantId,
        base: Option<&User>,
        seen_at: DateTime<Utc>,
    ) -> Result<User, ImportedUserError> {
        let id = self.id.ok_or(ImportedUserError::MissingId)?;
        let p = self.present;
        let pick = |field: UserField, new: &Option<String>, old: Option<&Option<String>>| {
            if p.contains(field) {
                new.clone()
            } else {
                old.cloned().flatten()
            }
        };
        let upn = if p.contains(UserField::UserPrincipalName) {
            self.user_principal_name.clone()
        } else {
            base.map(|b| b.user_principal_name.clone())
        }
        .filter(|u| !u.is_empty())
        .ok_or(ImportedUserError::MissingUserPrincipalName(id))?;
        let display_name = if p.contains(UserField::DisplayName) {
            self.display_name.clone()
        } else {
            base.map(|b| b.display_name.clone())
        }
        .filter(|d| !d.is_empty())
        // Graph requires a display name; a missing one is shown as the UPN (see domain::User).
        .unwrap_or_else(|| upn.clone());
        let (manager_id, manager_contact) = if p.contains(UserField::Manager) {
            // A manager is a user or a contact, never both; a user sent as manager wins.
            let stored = base.and_then(|b| b.manager_contact.as_ref());
            let contact = self.manager_contact.clone();
            match self.manager_id {
                Some(id) => (Some(id), None),
                None => (None, contact.map(|c| c.keeping_names_of(stored))),
            }
        } else {
            (
                base.and_then(|b| b.manager_id),
                base.and_then(|b| b.manager_contact.clone()),
            )
        };
        Ok(User {
            id,
            tenant_id,
            display_name,
            given_name: pick(
                UserField::GivenName,
                &self.given_name,
                base.map(|b| &b.given_name),
            ),
            surname: pick(UserField::Surname, &self.surname, base.map(|b| &b.surname)),
            user_principal_name: upn,
            mail: pick(UserField::Mail, &self.mail, base.map(|b| &b.mail)),
            user_type: pick(
                UserField::UserType,
                &self.user_type,
                base.map(|b| &b.user_type),
            ),
            account_enabled: if p.contains(UserField::AccountEnabled) {
                self.account_enabled
            } else {
                base.and_then(|b| b.account_enabled)
            },
            job_title: pick(
                UserField::JobTitle,
                &self.job_title,
                base.map(|b| &b.job_title),
            ),
            department: pick(
                UserField::Department,
                &self.department,
                base.map(|b| &b.department),
            ),
            company_name: pick(
                UserField::CompanyName,
                &self.company_name,
                base.map(|b| &b.company_name),
            ),
            office_location: pick(
                UserField::OfficeLocation,
                &self.office_location,
                base.map(|b| &b.office_location),
            ),
            street_address: pick(
                UserField::StreetAddress,
                &self.street_address,
                base.map(|b| &b.street_address),
            ),
            city: pick(UserField::City, &self.city, base.map(|b| &b.city)),
            state: pick(UserField::State, &self.state, base.map(|b| &b.state)),
            postal_code: pick(
                UserField::PostalCode,
                &self.postal_code,
                base.map(|b| &b.postal_code),
            ),
            country: pick(UserField::Country, &self.country, base.map(|b| &b.country)),
            preferred_language: pick(
                UserField::PreferredLanguage,
                &self.preferred_language,
                base.map(|b| &b.preferred_language),
            ),
            usage_location: pick(
                UserField::UsageLocation,
                &self.usage_location,
                base.map(|b| &b.usage_location),
            ),
            extension_attributes: if p.contains(UserField::ExtensionAttributes) {
                self.extension_attributes.clone()
            } else {
                base.map(|b| b.extension_attributes.clone())
                    .unwrap_or_default()
            },
            manager_id,
            manager_contact,
            first_seen_at: base.map_or(seen_at, |b| b.first_seen_at),
            last_seen_at: seen_at,
            deleted_at: None,
        })
    }

    /// The user's licenses after this record, or `None` when it didn't carry them (unchanged).
    pub fn licenses_of(&self, tenant_id: TenantId) -> Option<Vec<AssignedLicense>> {
        let id = self.id?;
        self.present.contains(UserField::Licenses).then(|| {
            self.licenses
                .iter()
                .map(|(sku_id, disabled)| AssignedLicense {
                    user_id: id,
                    tenant_id,
                    sku_id: *sku_id,
                    disabled_plans: disabled.clone(),
                })
                .collect()
        })
    }

    /// The user's license assignments after this record, or `None` when it didn't carry them
    /// (unchanged).
    pub fn license_assignments_of(&self, tenant_id: TenantId) -> Option<Vec<LicenseAssignment>> {
        let id = self.id?;
        self.present
            .contains(UserField::LicenseAssignments)
            .then(|| {
                self.license_assignments
                    .iter()
                    .map(|detail| LicenseAssignment {
                        user_id: id,
                        tenant_id,
                        detail: detail.clone(),
                    })
                    .collect()
            })
    }
}

/// Whether two stored users differ in anything an import writes (times aside).
pub fn differs(a: &User, b: &User) -> bool {
    let strip = |u: &User| User {
        first_seen_at: DateTime::<Utc>::MIN_UTC,
        last_seen_at: DateTime::<Utc>::MIN_UTC,
        deleted_at: None,
        ..u.clone()
    };
    strip(a) != strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContactId;
    use uuid::Uuid;

    fn stored() -> User {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        User {
            id: UserId(Uuid::from_u128(1)),
            tenant_id: TenantId(Uuid::from_u128(9)),
            display_name: "Zoë Ødegaard".into(),
            given_name: Some("Zoë".into()),
            surname: Some("Ødegaard".into()),
            user_principal_name: "zoe@example.com".into(),
            mail: None,
            user_type: Some("Member".into()),
            account_enabled: Some(true),
            job_title: Some("Engineer".into()),
            department: Some("IT".into()),
            company_name: None,
            office_location: None,
            street_address: None,
            city: Some("Zürich".into()),
            state: None,
            postal_code: None,
            country: None,
            preferred_language: None,
            usage_location: Some("CH".into()),
            extension_attributes: Default::default(),
            manager_id: Some(UserId(Uuid::from_u128(2))),
            manager_contact: None,
            first_seen_at: t,
            last_seen_at: t,
            deleted_at: Some(t),
        }
    }

    #[test]
    fn absent_fields_keep_the_stored_value_and_sent_nulls_clear_it() {
        let base = stored();
        let mut present = FieldSet::default();
        present.insert(UserField::Department);
        present.insert(UserField::City);
        let change = ImportedUser {
            id: Some(base.id),
            present,
            department: Some("IT Infrastruktur".into()),
            city: None,
            ..ImportedUser::default()
        };
        let now = Utc::now();
        let user = change.apply(base.tenant_id, Some(&base), now).unwrap();
        assert_eq!(user.department.as_deref(), Some("IT Infrastruktur"));
        assert_eq!(user.city, None);
        assert_eq!(user.job_title.as_deref(), Some("Engineer"));
        assert_eq!(user.manager_id, base.manager_id);
        assert_eq!(user.first_seen_at, base.first_seen_at);
        assert_eq!(user.deleted_at, None, "a returning user is restored");
        assert_eq!(change.licenses_of(base.tenant_id), None);
        assert_eq!(change.license_assignments_of(base.tenant_id), None);
    }

    fn contact(n: u128, name: Option<&str>) -> ManagerContact {
        ManagerContact {
            id: ContactId(Uuid::from_u128(n)),
            display_name: name.map(str::to_owned),
            mail: name.map(|n| format!("{}@contractor.example.com", n.to_lowercase())),
        }
    }

    /// A delta record of `base` carrying only `manager@delta`.
    fn manager_change(base: &User, user: Option<u128>, contact: Option<ManagerContact>) -> User {
        let mut present = FieldSet::default();
        present.insert(UserField::Manager);
        let change = ImportedUser {
            id: Some(base.id),
            present,
            manager_id: user.map(|n| UserId(Uuid::from_u128(n))),
            manager_contact: contact,
            ..ImportedUser::default()
        };
        change
            .apply(base.tenant_id, Some(base), Utc::now())
            .unwrap()
    }

    #[test]
    fn a_contact_sent_by_id_keeps_the_names_stored_for_it_and_another_one_has_none() {
        let mut base = stored();
        base.manager_id = None;
        base.manager_contact = Some(contact(7, Some("Beat")));
        let same = manager_change(&base, None, Some(contact(7, None)));
        assert_eq!(same.manager_contact, base.manager_contact);
        let other = manager_change(&base, None, Some(contact(8, None)));
        assert_eq!(other.manager_contact, Some(contact(8, None)));
        let renamed = manager_change(&base, None, Some(contact(7, Some("Urs"))));
        assert_eq!(renamed.manager_contact, Some(contact(7, Some("Urs"))));
        // A record without `manager@delta` leaves the contact alone.
        let mut present = FieldSet::default();
        present.insert(UserField::City);
        let untouched = ImportedUser {
            id: Some(base.id),
            present,
            ..ImportedUser::default()
        }
        .apply(base.tenant_id, Some(&base), Utc::now())
        .unwrap();
        assert_eq!(untouched.manager_contact, base.manager_contact);
    }

    #[test]
    fn a_manager_is_a_user_or_a_contact_never_both() {
        let mut base = stored();
        base.manager_id = None;
        base.manager_contact = Some(contact(7, Some("Beat")));
        let to_user = manager_change(&base, Some(3), None);
        assert_eq!(to_user.manager_id, Some(UserId(Uuid::from_u128(3))));
        assert_eq!(to_user.manager_contact, None);
        let to_contact = manager_change(&to_user, None, Some(contact(7, None)));
        assert_eq!(to_contact.manager_id, None);
        assert_eq!(to_contact.manager_contact, Some(contact(7, None)));
        let both = manager_change(&base, Some(3), Some(contact(7, None)));
        assert_eq!(both.manager_contact, None, "the user wins");
        let none = manager_change(&base, None, None);
        assert_eq!((none.manager_id, none.manager_contact), (None, None));
    }

    #[test]
    fn a_new_user_without_upn_is_refused() {
        let change = ImportedUser {
            id: Some(UserId(Uuid::from_u128(5))),
            present: FieldSet::ALL,
            ..ImportedUser::default()
        };
        let err = change
            .apply(TenantId(Uuid::nil()), None, Utc::now())
            .unwrap_err();
        assert!(matches!(
            err,
            ImportedUserError::MissingUserPrincipalName(_)
        ));
    }

    #[test]
    fn missing_display_name_falls_back_to_the_upn() {
        let change = ImportedUser {
            id: Some(UserId(Uuid::from_u128(5))),
            present: FieldSet::ALL,
            user_principal_name: Some("room@example.com".into()),
            ..ImportedUser::default()
        };
        let user = change
            .apply(TenantId(Uuid::nil()), None, Utc::now())
            .unwrap();
        assert_eq!(user.display_name, "room@example.com");
    }

    #[test]
    fn differs_ignores_times_only() {
        let a = stored();
        let mut b = a.clone();
        b.last_seen_at = Utc::now();
        assert!(!differs(&a, &b));
        b.department = None;
        assert!(differs(&a, &b));
    }
}
