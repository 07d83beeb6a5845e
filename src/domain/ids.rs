//! Id newtypes, parsed once at the edge. All of them are GUIDs upstream.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use super::error::{DomainError, clip};

macro_rules! guid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The underlying GUID.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = DomainError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                // Only the hyphenated form Microsoft uses; braces, URNs and bare hex are refused.
                if value.len() != 36 {
                    return Err(DomainError::InvalidId { kind: $kind, value: clip(value) });
                }
                Uuid::try_parse(value)
                    .map($name)
                    .map_err(|_| DomainError::InvalidId { kind: $kind, value: clip(value) })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                $name(value)
            }
        }
    };
}

guid_id!(
    /// An Entra tenant id; also the Partner Center customer's tenant.
    TenantId,
    "tenant id"
);
guid_id!(
    /// A Graph user object id.
    UserId,
    "user id"
);
guid_id!(
    /// A SKU id (`subscribedSku.skuId`), the same in every tenant.
    SkuId,
    "SKU id"
);
guid_id!(
    /// A service plan id (`servicePlanInfo.servicePlanId`).
    ServicePlanId,
    "service plan id"
);
guid_id!(
    /// A cost group, created by the partner's staff.
    CostGroupId,
    "cost group id"
);
guid_id!(
    /// One import run of one tenant.
    ImportRunId,
    "import run id"
);
guid_id!(
    /// An allocation rule of a tenant.
    AllocationRuleId,
    "allocation rule id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyphenated_guid_parses_and_prints_back() {
        let text = "285f489e-dcff-4d56-9faf-41b5bb7c2dd0";
        let id: TenantId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
    }

    #[test]
    fn non_guid_is_refused_with_its_kind_named() {
        let err = "not-a-guid".parse::<UserId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"user id must be a GUID, got "not-a-guid""#
        );
    }

    #[test]
    fn bare_hex_guid_is_refused() {
        assert!("285f489edcff4d569faf41b5bb7c2dd0".parse::<SkuId>().is_err());
    }

    #[test]
    fn long_input_is_clipped_in_the_message() {
        let err = "x".repeat(500).parse::<TenantId>().unwrap_err();
        assert!(err.to_string().len() < 120, "{err}");
    }
}
