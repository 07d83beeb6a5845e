//! Who a request acts for: a name for the audit log, roles, and the tenants it may see.
//! Pure; must not import SeaORM, async-graphql, actix or reqwest.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::audit::ANONYMOUS;
use super::scope::TenantScope;

/// A role granted by the token's roles claim (Entra app roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads the tenants in scope.
    Reader,
    /// Reads, and changes cost groups, allocation rules, overrides and prices.
    Allocator,
    /// Reads, and starts imports.
    Importer,
    /// Partner staff: everything, on every tenant unless the token lists tenants.
    PartnerAdmin,
}

impl Role {
    /// The role named `name` in a token (`reader`, `allocator`, `importer`, `partner_admin`).
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "reader" => Some(Role::Reader),
            "allocator" => Some(Role::Allocator),
            "importer" => Some(Role::Importer),
            "partner_admin" => Some(Role::PartnerAdmin),
            _ => None,
        }
    }

    /// The role's name in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Allocator => "allocator",
            Role::Importer => "importer",
            Role::PartnerAdmin => "partner_admin",
        }
    }
}

/// What a request wants to do, each allowed to some roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read anything in scope: any role.
    Read,
    /// Change cost groups, rules, overrides and prices: `allocator` or `partner_admin`.
    Allocate,
    /// Start an import: `importer` or `partner_admin`.
    Import,
    /// Reopen a closed chargeback month: `partner_admin`.
    ReopenPeriod,
}

impl Action {
    /// The roles allowed to do this.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Action::Read => &[
                Role::Reader,
                Role::Allocator,
                Role::Importer,
                Role::PartnerAdmin,
            ],
            Action::Allocate => &[Role::Allocator, Role::PartnerAdmin],
            Action::Import => &[Role::Importer, Role::PartnerAdmin],
            Action::ReopenPeriod => &[Role::PartnerAdmin],
        }
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Recorded in the audit log: the token's `oid`, else its `sub`; `anonymous` without
    /// authentication.
    pub name: String,
    /// Roles granted.
    pub roles: BTreeSet<Role>,
    /// The tenants it may see.
    pub scope: TenantScope,
    /// When its credentials stop being accepted: the token's `exp` plus the clock-skew leeway.
    /// `None` when authentication is off. A long-lived connection ends here.
    pub valid_until: Option<DateTime<Utc>>,
}

impl Principal {
    /// The caller of every request when authentication is off: partner administrator on every
    /// tenant, recorded as `anonymous`.
    pub fn unauthenticated_admin() -> Principal {
        Principal {
            name: ANONYMOUS.to_owned(),
            roles: [Role::PartnerAdmin].into(),
            scope: TenantScope::All,
            valid_until: None,
        }
    }

    /// Whether the principal's credentials have run out at `now`.
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_until.is_some_and(|until| now >= until)
    }

    /// Whether one of the principal's roles allows `action`.
    pub fn may(&self, action: Action) -> bool {
        action.roles().iter().any(|r| self.roles.contains(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(roles: &[Role]) -> Principal {
        Principal {
            name: "p".into(),
            roles: roles.iter().copied().collect(),
            scope: TenantScope::All,
            valid_until: None,
        }
    }

    #[test]
    fn a_principal_expires_at_its_deadline_and_one_without_a_deadline_never_does() {
        let now = Utc::now();
        let mut p = with(&[Role::Reader]);
        assert!(!p.expired_at(now));
        p.valid_until = Some(now + chrono::Duration::seconds(1));
        assert!(!p.expired_at(now));
        assert!(p.expired_at(now + chrono::Duration::seconds(1)));
    }

    #[test]
    fn each_role_allows_reading_and_only_its_own_changes() {
        let reader = with(&[Role::Reader]);
        assert!(reader.may(Action::Read));
        assert!(!reader.may(Action::Allocate) && !reader.may(Action::Import));
        let allocator = with(&[Role::Allocator]);
        assert!(allocator.may(Action::Read) && allocator.may(Action::Allocate));
        assert!(!allocator.may(Action::Import));
        let importer = with(&[Role::Importer]);
        assert!(importer.may(Action::Import) && !importer.may(Action::Allocate));
        let admin = with(&[Role::PartnerAdmin]);
        assert!(admin.may(Action::Allocate) && admin.may(Action::Import));
        assert!(!with(&[]).may(Action::Read));
    }

    #[test]
    fn role_names_round_trip_and_unknown_names_are_ignored() {
        for role in [
            Role::Reader,
            Role::Allocator,
            Role::Importer,
            Role::PartnerAdmin,
        ] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Admin"), None);
    }
}
