//! A business unit of a tenant that license costs are allocated to.

use chrono::{DateTime, Utc};

use super::ids::{CostGroupId, TenantId};

/// One cost group; groups form a tree per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostGroup {
    /// The group.
    pub id: CostGroupId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// The parent group, `None` at the top.
    pub parent_id: Option<CostGroupId>,
    /// Display name, unique among siblings.
    pub name: String,
    /// Optional short code, unique in the tenant (e.g. a cost centre number).
    pub code: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}
