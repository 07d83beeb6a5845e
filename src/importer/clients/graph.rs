//! Microsoft Graph v1.0: users (listed with their managers, or through delta queries) and
//! subscribed SKUs (shared/reference/microsoft-apis.md §3 to §6). Every request carries a
//! customer-tenant token; a 401 renews it once.

use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use super::token::{Resource, TokenClient};
use super::{Answer, TrafficStats, Upstream, snippet};
use crate::domain::FailureReason;
use crate::importer::error::ImportError;

/// The user properties the importer reads (reference §4.1), and `licenseAssignmentStates`
/// ("returned only on `$select`", in lists and delta rounds alike).
pub const USER_SELECT: &str = "id,displayName,givenName,surname,userPrincipalName,mail,userType,\
accountEnabled,jobTitle,department,companyName,officeLocation,streetAddress,city,state,postalCode,\
country,preferredLanguage,usageLocation,assignedLicenses,licenseAssignmentStates,\
onPremisesExtensionAttributes";

/// A property that may be absent (delta: unchanged), `null`, or a value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<T> {
    /// The key was not in the object.
    #[default]
    Absent,
    /// The key was `null`.
    Null,
    /// The key had a value.
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Field::Value(v),
            None => Field::Null,
        })
    }
}

impl<T> Field<T> {
    /// Whether the key was sent.
    pub fn is_present(&self) -> bool {
        !matches!(self, Field::Absent)
    }

    /// The value, `None` for absent or null.
    pub fn into_option(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// One page of `/users` or `/users/delta`.
#[derive(Debug, Deserialize)]
pub struct GraphUsersPage {
    /// Users (or `@removed` entries in delta pages).
    pub value: Vec<GraphUser>,
    /// The next page, verbatim.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    /// The link to the next round of changes (last delta page only).
    #[serde(rename = "@odata.deltaLink", default)]
    pub delta_link: Option<String>,
}

/// A Graph user object as sent (reference §4.2, §5).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct GraphUser {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "@removed", default)]
    pub removed: Option<serde_json::Value>,
    #[serde(default)]
    pub display_name: Field<String>,
    #[serde(default)]
    pub given_name: Field<String>,
    #[serde(default)]
    pub surname: Field<String>,
    #[serde(default)]
    pub user_principal_name: Field<String>,
    #[serde(default)]
    pub mail: Field<String>,
    #[serde(default)]
    pub user_type: Field<String>,
    #[serde(default)]
    pub account_enabled: Field<bool>,
    #[serde(default)]
    pub job_title: Field<String>,
    #[serde(default)]
    pub department: Field<String>,
    #[serde(default)]
    pub company_name: Field<String>,
    #[serde(default)]
    pub office_location: Field<String>,
    #[serde(default)]
    pub street_address: Field<String>,
    #[serde(default)]
    pub city: Field<String>,
    #[serde(default)]
    pub state: Field<String>,
    #[serde(default)]
    pub postal_code: Field<String>,
    #[serde(default)]
    pub country: Field<String>,
    #[serde(default)]
    pub preferred_language: Field<String>,
    #[serde(default)]
    pub usage_location: Field<String>,
    #[serde(default)]
    pub assigned_licenses: Field<Vec<GraphAssignedLicense>>,
    /// Not tracked by delta: sent with a user who changed otherwise, never alone.
    #[serde(default)]
    pub license_assignment_states: Field<Vec<GraphLicenseAssignmentState>>,
    #[serde(default)]
    pub on_premises_extension_attributes: Field<serde_json::Map<String, serde_json::Value>>,
    /// `$expand=manager` (lists).
    #[serde(default)]
    pub manager: Field<GraphDirectoryObject>,
    /// `manager@delta` (delta pages): ids only; empty or `@removed` means no manager.
    #[serde(rename = "manager@delta", default)]
    pub manager_delta: Field<Vec<GraphDirectoryObject>>,
}

/// `assignedLicenses[]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphAssignedLicense {
    /// The SKU.
    pub sku_id: String,
    /// Plans switched off.
    #[serde(default)]
    pub disabled_plans: Vec<String>,
}

/// `licenseAssignmentStates[]`: every property may be null (Graph's schema); the mapping names
/// what it can't do without.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphLicenseAssignmentState {
    /// The SKU.
    #[serde(default)]
    pub sku_id: Option<String>,
    /// The group that assigns it; null when assigned directly.
    #[serde(default)]
    pub assigned_by_group: Option<String>,
    /// `Active`, `ActiveWithError`, `Disabled`, `Error`, or a value added since.
    #[serde(default)]
    pub state: Option<String>,
    /// `None` (or null) when the assignment works, else why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Plans switched off by this assignment.
    #[serde(default)]
    pub disabled_plans: Option<Vec<String>>,
    /// When the assignment was last processed (ISO 8601).
    #[serde(default)]
    pub last_updated_date_time: Option<String>,
}

/// A manager reference: a user or an organizational contact.
#[derive(Debug, Deserialize)]
pub struct GraphDirectoryObject {
    /// `#microsoft.graph.user` or `#microsoft.graph.orgContact`.
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    /// Object id.
    #[serde(default)]
    pub id: Option<String>,
    /// `displayName`: expanded managers only, null for a contact the caller may not read
    /// ("limited information", reference §4.3).
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
    /// `mail`: expanded managers only.
    #[serde(default)]
    pub mail: Option<String>,
    /// Present when the reference was removed.
    #[serde(rename = "@removed", default)]
    pub removed: Option<serde_json::Value>,
}

/// One page of `/subscribedSkus`.
#[derive(Debug, Deserialize)]
pub struct GraphSkusPage {
    /// SKUs.
    pub value: Vec<GraphSku>,
    /// Followed defensively (reference §6).
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// `subscribedSku` (reference §6).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct GraphSku {
    pub sku_id: String,
    pub sku_part_number: String,
    #[serde(default)]
    pub applies_to: Option<String>,
    #[serde(default)]
    pub capability_status: Option<String>,
    #[serde(default)]
    pub consumed_units: i64,
    #[serde(default)]
    pub prepaid_units: Option<GraphPrepaidUnits>,
    #[serde(default)]
    pub service_plans: Vec<GraphServicePlan>,
    #[serde(default)]
    pub subscription_ids: Vec<String>,
}

/// `licenseUnitsDetail`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct GraphPrepaidUnits {
    #[serde(default)]
    pub enabled: i64,
    #[serde(default)]
    pub warning: i64,
    #[serde(default)]
    pub suspended: i64,
    #[serde(default)]
    pub locked_out: i64,
}

/// `servicePlanInfo`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct GraphServicePlan {
    pub service_plan_id: String,
    #[serde(default)]
    pub service_plan_name: Option<String>,
    #[serde(default)]
    pub provisioning_status: Option<String>,
    #[serde(default)]
    pub applies_to: Option<String>,
}

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    #[serde(default)]
    error: GraphError,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GraphError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    inner_error: Option<serde_json::Value>,
}

/// What a Graph request reads, which decides its page size and how a refusal is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// `/users` pages and `/subscribedSkus`.
    Listing,
    /// A delta round started in this run (`Prefer: odata.maxpagesize=999`).
    Delta,
    /// A delta round from a link stored by an earlier run: any 4xx but 401, 403 and 429 means
    /// the link is no longer usable ([`ImportError::DeltaExpired`]).
    StoredDelta,
}

/// Graph for one customer tenant.
pub struct GraphClient<'a> {
    upstream: &'a Upstream,
    base: &'a url::Url,
    tokens: &'a TokenClient,
    tenant: Uuid,
    stats: &'a TrafficStats,
}

impl<'a> GraphClient<'a> {
    /// A client reading `tenant` through `base` (`https://graph.microsoft.com`).
    pub fn new(
        upstream: &'a Upstream,
        base: &'a url::Url,
        tokens: &'a TokenClient,
        tenant: Uuid,
        stats: &'a TrafficStats,
    ) -> Self {
        GraphClient {
            upstream,
            base,
            tokens,
            tenant,
            stats,
        }
    }

    /// `{base}/v1.0/{path_and_query}`.
    pub fn url(&self, path_and_query: &str) -> Result<url::Url, ImportError> {
        let prefix = self.base.path().trim_end_matches('/');
        self.base
            .join(&format!("{prefix}/v1.0/{path_and_query}"))
            .map_err(|e| ImportError::Malformed {
                message: format!("bad Graph URL: {e}"),
            })
    }

    /// The first `/users` page: every property, managers expanded (100 a page at most).
    pub fn users_url(&self) -> Result<url::Url, ImportError> {
        self.url(&format!(
            "users?$select={USER_SELECT}&$expand=manager($select=id,displayName,userPrincipalName,mail)&$top=999"
        ))
    }

    /// The first page of every user's sign-in activity: a listing, since delta queries do not
    /// return `signInActivity`; at most [`SIGN_IN_PAGE_SIZE`] users a page.
    pub fn sign_ins_url(&self) -> Result<url::Url, ImportError> {
        self.url(&format!(
            "users?$select=id,signInActivity&$top={SIGN_IN_PAGE_SIZE}"
        ))
    }

    /// The first request of an initial delta round with every property and the manager.
    pub fn delta_url(&self) -> Result<url::Url, ImportError> {
        self.url(&format!("users/delta?$select={USER_SELECT},manager"))
    }

    /// A delta request returning only a link for "now" (`$deltatoken=latest`).
    pub fn latest_delta_url(&self) -> Result<url::Url, ImportError> {
        self.url(&format!(
            "users/delta?$select={USER_SELECT},manager&$deltatoken=latest"
        ))
    }

    /// A link upstream sent (`@odata.nextLink`, `@odata.deltaLink`), used verbatim.
    pub fn link(&self, link: &str) -> Result<url::Url, ImportError> {
        url::Url::parse(link).map_err(|e| ImportError::Malformed {
            message: format!("Graph sent a link that is not a URL ({e})"),
        })
    }

    /// GETs `url` and returns the body of a 200 answer; counts the page.
    pub async fn get(&self, url: &url::Url, read: Read) -> Result<bytes::Bytes, ImportError> {
        let max_page = read != Read::Listing;
        let mut renewed = false;
        loop {
            let token = self
                .tokens
                .access_token(self.tenant, Resource::Graph, self.stats)
                .await?;
            let answer = self
                .upstream
                .send(
                    || {
                        let mut request = self
                            .upstream
                            .http()
                            .get(url.clone())
                            .bearer_auth(token.expose_secret())
                            .header("client-request-id", Uuid::new_v4().to_string());
                        if max_page {
                            request = request.header("Prefer", "odata.maxpagesize=999");
                        }
                        request
                    },
                    self.stats,
                )
                .await?;
            if answer.status == 200 {
                self.stats.page();
                return Ok(answer.body);
            }
            if answer.status == 401 && !renewed {
                // Expired or revoked access token: renew once (reference §3).
                self.tokens.forget(self.tenant, Resource::Graph);
                renewed = true;
                continue;
            }
            return Err(self.refusal(&answer, read));
        }
    }

    fn refusal(&self, answer: &Answer, read: Read) -> ImportError {
        let body: GraphErrorBody = serde_json::from_slice(&answer.body).unwrap_or_default();
        let code = if body.error.code.is_empty() {
            format!("HTTP {}", answer.status)
        } else {
            body.error.code.clone()
        };
        let request_id = answer
            .headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                body.error
                    .inner_error
                    .as_ref()
                    .and_then(|i| i.get("request-id"))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            });
        let message = format!(
            "Graph HTTP {}: {}{}",
            answer.status,
            if body.error.message.is_empty() {
                snippet(&answer.body)
            } else {
                body.error.message.clone()
            },
            request_id
                .map(|id| format!("; request id {id}"))
                .unwrap_or_default()
        );
        let reason = match (answer.status, code.as_str()) {
            (400, "syncStateNotFound" | "resyncRequired") | (410, _) => {
                return ImportError::DeltaExpired {
                    code,
                    expired: true,
                };
            }
            (400..=499, _)
                if read == Read::StoredDelta && !matches!(answer.status, 401 | 403 | 429) =>
            {
                return ImportError::DeltaExpired {
                    code,
                    expired: false,
                };
            }
            (403, "Authorization_IdentityNotFound") => FailureReason::ConsentMissing,
            (403, _) | (401, _) => FailureReason::NoDelegatedAccess,
            (404, _) => FailureReason::TenantNotFound,
            _ => FailureReason::InvalidUpstreamData,
        };
        ImportError::Refused {
            reason,
            code,
            message,
            policies: Vec::new(),
        }
    }
}

/// Parses a users page; anything but the documented shape is malformed data.
pub fn parse_users_page(body: &[u8]) -> Result<GraphUsersPage, ImportError> {
    serde_json::from_slice(body).map_err(|e| ImportError::Malformed {
        message: format!("Graph users page is not the documented JSON: {e}"),
    })
}

/// The page size Graph allows when `$select` names `signInActivity` (500 since mid-2025; 999
/// otherwise). See docs/importer.md, "Sign-in activity".
pub const SIGN_IN_PAGE_SIZE: usize = 500;

/// One page of `/users?$select=id,signInActivity`.
#[derive(Debug, Deserialize)]
pub struct GraphSignInPage {
    /// Users with their activity.
    pub value: Vec<GraphSignInUser>,
    /// The next page, verbatim.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// A user of a sign-in page: `signInActivity` is `null` (or absent) for a user who never
/// signed in.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphSignInUser {
    /// The user's object id.
    pub id: String,
    /// The activity.
    #[serde(default)]
    pub sign_in_activity: Option<GraphSignInActivity>,
}

/// `signInActivity` (microsoft.graph.signInActivity): timestamps in ISO 8601, UTC.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct GraphSignInActivity {
    #[serde(default)]
    pub last_sign_in_date_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub last_non_interactive_sign_in_date_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub last_successful_sign_in_date_time: Option<chrono::DateTime<chrono::Utc>>,
}

/// Parses a sign-in page.
pub fn parse_sign_in_page(body: &[u8]) -> Result<GraphSignInPage, ImportError> {
    serde_json::from_slice(body).map_err(|e| ImportError::Malformed {
        message: format!("Graph users page with signInActivity is not the documented JSON: {e}"),
    })
}

/// One page of `/directory/subscriptions` (companySubscription).
#[derive(Debug, Deserialize)]
pub struct GraphDirectorySubscriptionsPage {
    /// Directory subscriptions.
    pub value: Vec<GraphCompanySubscription>,
    /// The next page, verbatim.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// `companySubscription`: the fields that join a commerce subscription to a SKU.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct GraphCompanySubscription {
    pub id: String,
    #[serde(default)]
    pub commerce_subscription_id: Option<String>,
    #[serde(default)]
    pub sku_id: Option<String>,
    #[serde(default)]
    pub is_trial: Option<bool>,
}

/// The fields of `directory/subscriptions` the importer reads.
pub const DIRECTORY_SUBSCRIPTION_SELECT: &str = "id,commerceSubscriptionId,skuId,isTrial";

/// Parses a `directory/subscriptions` page.
pub fn parse_directory_subscriptions_page(
    body: &[u8],
) -> Result<GraphDirectorySubscriptionsPage, ImportError> {
    serde_json::from_slice(body).map_err(|e| ImportError::Malformed {
        message: format!("Graph directory/subscriptions page is not the documented JSON: {e}"),
    })
}

/// Parses a subscribedSkus page.
pub fn parse_skus_page(body: &[u8]) -> Result<GraphSkusPage, ImportError> {
    serde_json::from_slice(body).map_err(|e| ImportError::Malformed {
        message: format!("Graph subscribedSkus page is not the documented JSON: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_pages_parse_with_absent_and_null_told_apart() {
        let page = parse_users_page(include_bytes!(
            "../../../tests/fixtures/microsoft/graph/users-page1.json"
        ))
        .unwrap();
        assert!(page.next_link.is_some());
        let anna = &page.value[0];
        assert!(!anna.manager.is_present(), "Anna has no manager key");
        let delta = parse_users_page(include_bytes!(
            "../../../tests/fixtures/microsoft/graph/users-delta-changes.json"
        ))
        .unwrap();
        assert!(delta.delta_link.is_some());
        assert!(delta.value[1].removed.is_some());
        assert!(!delta.value[1].display_name.is_present());
    }

    #[test]
    fn fixture_skus_parse() {
        let page = parse_skus_page(include_bytes!(
            "../../../tests/fixtures/microsoft/graph/subscribedSkus.json"
        ))
        .unwrap();
        assert_eq!(page.value.len(), 4);
    }

    /// The JSON keys `T`'s derived `Deserialize` reads, as serde hands them to a deserializer.
    fn keys_read_by<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
        use serde::de::{Error, Visitor, value::Error as Refused};

        struct Keys(&'static [&'static str]);
        impl<'de> Deserializer<'de> for &mut Keys {
            type Error = Refused;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Refused> {
                Err(Refused::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Refused> {
                self.0 = fields;
                Err(Refused::custom("keys taken"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf
                option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let mut keys = Keys(&[]);
        let _refused = T::deserialize(&mut keys);
        keys.0
    }

    #[test]
    fn the_select_asks_for_every_property_graph_user_reads() {
        let mut read: Vec<&str> = keys_read_by::<GraphUser>()
            .iter()
            .copied()
            // Sent unasked (`@removed`) or asked for beside `$select` (`$expand=manager`, `manager`).
            .filter(|key| !key.starts_with('@') && !key.starts_with("manager"))
            .collect();
        let mut selected: Vec<&str> = USER_SELECT.split(',').collect();
        read.sort_unstable();
        selected.sort_unstable();
        assert_eq!(selected, read);
    }
}
