//! Id newtypes, parsed once at the edge. All of them are GUIDs upstream.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::error::{DomainError, clip};

/// Reads an id written by its `Serialize` through its `FromStr`, the one way ids are parsed.
struct IdVisitor<T>(std::marker::PhantomData<T>);

impl<T: FromStr<Err = DomainError>> serde::de::Visitor<'_> for IdVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a hyphenated GUID")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<T, E> {
        value.parse().map_err(E::custom)
    }
}

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

        /// The hyphenated GUID, as `Display` writes it.
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.0.hyphenated().encode_lower(&mut Uuid::encode_buffer()))
            }
        }

        /// A hyphenated GUID, checked as `FromStr` checks it.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(IdVisitor(std::marker::PhantomData))
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
    /// A Graph organizational contact (`orgContact`) object id: a user's manager that is not
    /// a user of the tenant.
    ContactId,
    "contact id"
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
    /// An Entra group object id: a licensing group that assigns licenses to its members.
    GroupId,
    "group id"
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
    fn serde_writes_the_display_form_and_reads_it_as_from_str_does() {
        let id = UserId(Uuid::from_u128(7));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<UserId>(&json).unwrap(), id);
        let bare = format!("\"{}\"", id.0.simple());
        assert!(serde_json::from_str::<UserId>(&bare).is_err());
    }

    #[test]
    fn long_input_is_clipped_in_the_message() {
        let err = "x".repeat(500).parse::<TenantId>().unwrap_err();
        assert!(err.to_string().len() < 120, "{err}");
    }
}
