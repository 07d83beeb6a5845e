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
