//! Which tenants a caller may see. Store finders take it so that isolation holds in the queries.

use std::collections::BTreeSet;

use super::ids::TenantId;

/// The tenants a request may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantScope {
    /// Every tenant (partner staff).
    All,
    /// Only these tenants (a customer's portal user).
    Only(BTreeSet<TenantId>),
}

impl TenantScope {
    /// Whether the scope covers `tenant`.
    pub fn allows(&self, tenant: TenantId) -> bool {
        match self {
            TenantScope::All => true,
            TenantScope::Only(ids) => ids.contains(&tenant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn only_scope_allows_its_tenants_and_no_other() {
        let a = TenantId(Uuid::from_u128(1));
        let b = TenantId(Uuid::from_u128(2));
        let scope = TenantScope::Only([a].into());
        assert!(scope.allows(a));
        assert!(!scope.allows(b));
        assert!(TenantScope::All.allows(b));
    }
}
