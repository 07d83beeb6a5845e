//! Plain values for the allocation tests.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::ids::{TenantId, UserId};
use crate::domain::user::User;

/// A GUID built from a number, so tests read `guid(7)`.
pub(crate) fn guid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// The tenant every test user belongs to.
pub(crate) fn tenant() -> TenantId {
    TenantId(guid(0xAAAA))
}

/// A present user with id `guid(n)` and no attributes beyond a UPN.
pub(crate) fn user(n: u128) -> User {
    User {
        id: UserId(guid(n)),
        tenant_id: tenant(),
        display_name: format!("User {n}"),
        given_name: None,
        surname: None,
        user_principal_name: format!("user{n}@contoso.com"),
        mail: None,
        user_type: None,
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
        first_seen_at: DateTime::<Utc>::UNIX_EPOCH,
        last_seen_at: DateTime::<Utc>::UNIX_EPOCH,
        deleted_at: None,
    }
}
