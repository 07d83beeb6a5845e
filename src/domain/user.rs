//! An Entra user of a tenant, the licenses assigned to them, and how user lists are filtered
//! and ordered.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ContactId, CostGroupId, ServicePlanId, SkuId, TenantId, UserId};

/// Number of on-premises extension attributes (`extensionAttribute1` to `15`).
pub const EXTENSION_ATTRIBUTES: usize = 15;

/// One user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Graph object id.
    pub id: UserId,
    /// The tenant the user belongs to.
    pub tenant_id: TenantId,
    /// Display name (Graph requires one; a missing one is stored as the UPN).
    pub display_name: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// User principal name (sign-in name).
    pub user_principal_name: String,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// `Member` or `Guest`.
    pub user_type: Option<String>,
    /// Whether sign-in is enabled.
    pub account_enabled: Option<bool>,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Company name.
    pub company_name: Option<String>,
    /// Office location.
    pub office_location: Option<String>,
    /// Street address.
    pub street_address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or province.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country, free text as entered upstream.
    pub country: Option<String>,
    /// Preferred language tag, e.g. `en-US`.
    pub preferred_language: Option<String>,
    /// ISO 3166 alpha-2 usage location.
    pub usage_location: Option<String>,
    /// `onPremisesExtensionAttributes.extensionAttribute1..15`, index 0 is attribute 1.
    pub extension_attributes: [Option<String>; EXTENSION_ATTRIBUTES],
    /// The user's manager, when the manager is a user of the same tenant.
    pub manager_id: Option<UserId>,
    /// The user's manager, when the manager is an organizational contact (never set together
    /// with `manager_id`).
    pub manager_contact: Option<ManagerContact>,
    /// When an import first saw the user.
    pub first_seen_at: DateTime<Utc>,
    /// When an import last saw the user.
    pub last_seen_at: DateTime<Utc>,
    /// When the user disappeared upstream; `None` while present.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The columns of a user that user lists and lookups read: what a page of users shows, the
/// sort keys and the manager link. The other columns of [`User`] are read only when asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// Graph object id.
    pub id: UserId,
    /// The tenant the user belongs to.
    pub tenant_id: TenantId,
    /// Display name.
    pub display_name: String,
    /// User principal name (sign-in name).
    pub user_principal_name: String,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// `Member` or `Guest`.
    pub user_type: Option<String>,
    /// Whether sign-in is enabled.
    pub account_enabled: Option<bool>,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// The user's manager, when the manager is a user of the same tenant.
    pub manager_id: Option<UserId>,
    /// The user's manager, when the manager is an organizational contact.
    pub manager_contact: Option<ManagerContact>,
    /// When the user disappeared upstream; `None` while present.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A user's manager that is an organizational contact (Graph `orgContact`): someone outside
/// the tenant's users, such as an external interim manager (reference §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerContact {
    /// The contact's object id.
    pub id: ContactId,
    /// `displayName`, as the last listing that named the contact gave it.
    pub display_name: Option<String>,
    /// `mail`, as the last listing that named the contact gave it.
    pub mail: Option<String>,
}

impl ManagerContact {
    /// A contact known by its id only: a delta's `manager@delta`, or a listing for a caller
    /// without read access to contacts ("limited information", reference §4.3).
    pub fn id_only(&self) -> bool {
        self.display_name.is_none() && self.mail.is_none()
    }

    /// This contact as an import records it for a user whose stored contact is `stored`: a
    /// contact sent by id only keeps the names stored for the same contact; another contact
    /// sent by id only has no names until a listing brings them.
    pub fn keeping_names_of(self, stored: Option<&ManagerContact>) -> ManagerContact {
        match stored {
            Some(old) if self.id_only() && old.id == self.id => old.clone(),
            _ => self,
        }
    }
}

/// The columns of a user beyond its [`UserSummary`]: names, addresses, extension attributes,
/// first and last seen. Read only when a field asks for one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetails {
    /// Graph object id.
    pub id: UserId,
    /// Given name.
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Company name.
    pub company_name: Option<String>,
    /// Office location.
    pub office_location: Option<String>,
    /// Street address.
    pub street_address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or province.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country, free text as entered upstream.
    pub country: Option<String>,
    /// Preferred language tag, e.g. `en-US`.
    pub preferred_language: Option<String>,
    /// ISO 3166 alpha-2 usage location.
    pub usage_location: Option<String>,
    /// `onPremisesExtensionAttributes.extensionAttribute1..15`, index 0 is attribute 1.
    pub extension_attributes: [Option<String>; EXTENSION_ATTRIBUTES],
    /// When an import first saw the user.
    pub first_seen_at: DateTime<Utc>,
    /// When an import last saw the user.
    pub last_seen_at: DateTime<Utc>,
}

impl User {
    /// The summary columns of this user.
    pub fn summary(&self) -> UserSummary {
        UserSummary {
            id: self.id,
            tenant_id: self.tenant_id,
            display_name: self.display_name.clone(),
            user_principal_name: self.user_principal_name.clone(),
            mail: self.mail.clone(),
            user_type: self.user_type.clone(),
            account_enabled: self.account_enabled,
            job_title: self.job_title.clone(),
            department: self.department.clone(),
            manager_id: self.manager_id,
            manager_contact: self.manager_contact.clone(),
            deleted_at: self.deleted_at,
        }
    }

    /// The columns of this user beyond its summary.
    pub fn details(&self) -> UserDetails {
        UserDetails {
            id: self.id,
            given_name: self.given_name.clone(),
            surname: self.surname.clone(),
            company_name: self.company_name.clone(),
            office_location: self.office_location.clone(),
            street_address: self.street_address.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
            preferred_language: self.preferred_language.clone(),
            usage_location: self.usage_location.clone(),
            extension_attributes: self.extension_attributes.clone(),
            first_seen_at: self.first_seen_at,
            last_seen_at: self.last_seen_at,
        }
    }
}

/// A license of one SKU assigned to one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedLicense {
    /// The user.
    pub user_id: UserId,
    /// The user's tenant.
    pub tenant_id: TenantId,
    /// The SKU.
    pub sku_id: SkuId,
    /// Service plans of the SKU switched off for this user.
    pub disabled_plans: Vec<ServicePlanId>,
}

/// Which users a list returns. Text matches ignore ASCII case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UserFilter {
    /// Part of the display name, UPN or mail.
    pub search: Option<String>,
    /// Exact department.
    pub department: Option<String>,
    /// Exact user type (`Member`, `Guest`).
    pub user_type: Option<String>,
    /// Users holding a license of this SKU.
    pub sku_id: Option<SkuId>,
    /// Users the stored evaluation places (wholly or partly) in this cost group.
    pub cost_group_id: Option<CostGroupId>,
    /// `Some(true)`: users placed in no cost group; `Some(false)`: users placed in at least one.
    pub unallocated: Option<bool>,
    /// `Some(true)`: users with a license assignment in error (see
    /// [`LicenseAssignmentState::is_in_error`](super::LicenseAssignmentState::is_in_error));
    /// `Some(false)`: users without one.
    pub license_error: Option<bool>,
    /// `Some(true)`: users holding a license (of `sku_id` when set, else of any SKU) only through
    /// groups: assigned by at least one group and not directly; `Some(false)`: the others.
    pub only_through_group: Option<bool>,
    /// Only these users (sorted, distinct), e.g. those license optimization found; `Some` of
    /// an empty list matches nobody.
    pub user_ids: Option<Vec<UserId>>,
    /// Include users soft-deleted upstream.
    pub include_deleted: bool,
}

/// The column a user list is ordered by; ties are broken by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UserSortField {
    /// Display name.
    #[default]
    DisplayName,
    /// User principal name.
    UserPrincipalName,
}

/// The order of a user list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UserSort {
    /// Sort column.
    pub field: UserSortField,
    /// Descending instead of ascending.
    pub descending: bool,
}

impl UserSort {
    /// A short tag naming the ordering, carried in cursors so a cursor can't be reused with
    /// another order.
    pub fn tag(&self) -> &'static str {
        match (self.field, self.descending) {
            (UserSortField::DisplayName, false) => "dn",
            (UserSortField::DisplayName, true) => "dn-",
            (UserSortField::UserPrincipalName, false) => "upn",
            (UserSortField::UserPrincipalName, true) => "upn-",
        }
    }

    /// The sort value of `user` under this ordering.
    pub fn key_of<'a>(&self, user: &'a UserSummary) -> &'a str {
        match self.field {
            UserSortField::DisplayName => &user.display_name,
            UserSortField::UserPrincipalName => &user.user_principal_name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ordering_has_its_own_cursor_tag() {
        let tags: std::collections::HashSet<_> =
            [UserSortField::DisplayName, UserSortField::UserPrincipalName]
                .into_iter()
                .flat_map(|field| {
                    [false, true].map(|descending| UserSort { field, descending }.tag())
                })
                .collect();
        assert_eq!(tags.len(), 4);
    }
}
