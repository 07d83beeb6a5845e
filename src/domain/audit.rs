//! Audit log entries: who changed what in a tenant's cost allocation, and the values before and
//! after. Pure; must not import SeaORM, async-graphql, actix or reqwest.

use chrono::{DateTime, NaiveDate, Utc};

use super::ids::TenantId;

/// Who is recorded for changes made without authentication.
pub const ANONYMOUS: &str = "anonymous";

/// A change to record, written in the same transaction as the change itself.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditChange {
    /// The tenant changed.
    pub tenant_id: TenantId,
    /// The principal, or [`ANONYMOUS`].
    pub actor: String,
    /// The mutation, e.g. `setUserAllocation`.
    pub action: String,
    /// What kind of thing changed: `costGroup`, `allocationRule`, `allocationRules` (the order of
    /// a tenant's rules; the subject id is the tenant's), `override`, `licensePrice`.
    pub subject_type: String,
    /// Its id (for a price, `skuId@effectiveFrom`).
    pub subject_id: String,
    /// Its values before, `None` when it was created.
    pub before: Option<serde_json::Value>,
    /// Its values after, `None` when it was deleted.
    pub after: Option<serde_json::Value>,
    /// The day the change takes effect; `None` for changes without one (billing flags,
    /// closing months) and entries recorded before effective dates.
    pub effective_from: Option<NaiveDate>,
}

/// A recorded change.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Increasing with time; the cursor of `Query.auditLog`.
    pub id: i64,
    /// When, as stored.
    pub at: DateTime<Utc>,
    /// The change.
    pub change: AuditChange,
}
