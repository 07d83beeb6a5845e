//! A CSP customer's tenant.

use chrono::{DateTime, Utc};

use super::ids::TenantId;

/// One customer tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Entra tenant id.
    pub id: TenantId,
    /// Partner Center customer id (usually equal to the tenant id).
    pub customer_id: Option<String>,
    /// Company name.
    pub name: String,
    /// The tenant's default domain, e.g. `contoso.onmicrosoft.com`.
    pub default_domain: Option<String>,
    /// When the tenant was first stored.
    pub created_at: DateTime<Utc>,
    /// When the tenant row last changed.
    pub updated_at: DateTime<Utc>,
    /// End of the last successful import, if any.
    pub last_import_at: Option<DateTime<Utc>>,
}

/// A tenant's user and license counts as its last import commit left them (kept in the same
/// transaction as the rows they count, so never stale). A tenant never imported has zeros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantCounts {
    /// Users present upstream (soft-deleted users not counted).
    pub users: u64,
    /// Present users whose user type is `Member`.
    pub members: u64,
    /// Present users whose user type is `Guest`.
    pub guests: u64,
    /// Present users whose account is enabled.
    pub enabled: u64,
    /// Users deleted upstream (soft-deleted, kept).
    pub deleted: u64,
    /// Licenses held by present users (one per user and SKU).
    pub licenses: u64,
}

impl TenantCounts {
    /// Every stored user: present and soft-deleted.
    pub fn all_users(&self) -> u64 {
        self.users + self.deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_users_are_the_present_and_the_deleted() {
        let counts = TenantCounts {
            users: 7,
            deleted: 3,
            ..TenantCounts::default()
        };
        assert_eq!(counts.all_users(), 10);
        assert_eq!(TenantCounts::default().all_users(), 0);
    }
}
