//! Partner Center: the partner's CSP customers (shared/reference/microsoft-apis.md §2).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use super::{TrafficStats, Upstream, snippet};
use crate::domain::FailureReason;
use crate::importer::error::ImportError;

/// Customers asked for per page.
const PAGE_SIZE: u32 = 100;

/// One CSP customer as Partner Center lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerCustomer {
    /// The customer's Entra tenant id (`companyProfile.tenantId`), the Graph authority.
    pub tenant_id: Uuid,
    /// Partner Center customer id.
    pub customer_id: String,
    /// Company name.
    pub name: String,
    /// Default (`onmicrosoft.com`) domain.
    pub domain: Option<String>,
    /// `reseller`, `advisor`, ...
    pub relationship: Option<String>,
}

#[derive(Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
struct Collection<T> {
    items: Vec<T>,
    #[serde(default)]
    links: Option<Links>,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<Link>,
}

#[derive(Deserialize)]
struct Link {
    uri: String,
    #[serde(default)]
    headers: Vec<LinkHeader>,
}

#[derive(Deserialize)]
struct LinkHeader {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCustomer {
    id: String,
    company_profile: Option<CompanyProfile>,
    #[serde(default)]
    relationship_to_partner: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompanyProfile {
    tenant_id: Option<String>,
    domain: Option<String>,
    company_name: Option<String>,
}

/// Resolves a `links.next.uri` the way the reference says: relative to the base, with `/v1`
/// inserted when missing.
fn next_url(base: &url::Url, uri: &str) -> Result<url::Url, ImportError> {
    let path = if uri.starts_with("/v1/") {
        uri.to_owned()
    } else {
        format!(
            "/v1{}",
            if uri.starts_with('/') {
                uri.to_owned()
            } else {
                format!("/{uri}")
            }
        )
    };
    let prefix = base.path().trim_end_matches('/');
    base.join(&format!("{prefix}{path}"))
        .map_err(|e| ImportError::Malformed {
            message: format!("Partner Center next link {uri:?} is not a URI: {e}"),
        })
}

/// Where and as whom Partner Center is read.
#[derive(Clone, Copy)]
pub struct PartnerCenter<'a> {
    /// The HTTP client with the retry policy.
    pub upstream: &'a Upstream,
    /// `https://api.partnercenter.microsoft.com`.
    pub base: &'a url::Url,
    /// A Partner Center token of the partner tenant.
    pub token: &'a SecretString,
    /// Groups the calls of one run (`MS-CorrelationId`).
    pub correlation_id: Uuid,
    /// The run's traffic counters.
    pub stats: &'a TrafficStats,
}

impl PartnerCenter<'_> {
    /// Every item of the collection at `path_and_query` (after `/v1/`), following `links.next`
    /// with its continuation headers (reference §2.2).
    async fn collection<T: serde::de::DeserializeOwned>(
        &self,
        path_and_query: &str,
        what: &str,
    ) -> Result<Vec<T>, ImportError> {
        let prefix = self.base.path().trim_end_matches('/');
        let mut url = self
            .base
            .join(&format!("{prefix}/v1/{path_and_query}"))
            .map_err(|e| ImportError::Malformed {
                message: format!("bad Partner Center URL: {e}"),
            })?;
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut items = Vec::new();
        loop {
            // Same MS-RequestId on retries of one call (idempotency key), new per call.
            let request_id = Uuid::new_v4().to_string();
            let answer = self
                .upstream
                .send(
                    || {
                        let mut request = self
                            .upstream
                            .http()
                            .get(url.clone())
                            .bearer_auth(self.token.expose_secret())
                            .header("Accept", "application/json")
                            .header("MS-RequestId", &request_id)
                            .header("MS-CorrelationId", self.correlation_id.to_string());
                        for (k, v) in &headers {
                            request = request.header(k, v);
                        }
                        request
                    },
                    self.stats,
                )
                .await?;
            if answer.status != 200 {
                return Err(refusal(answer.status, &answer.body));
            }
            self.stats.page();
            let page: Collection<T> =
                serde_json::from_slice(&answer.body).map_err(|e| ImportError::Malformed {
                    message: format!("Partner Center {what} page: {e}"),
                })?;
            items.extend(page.items);
            match page.links.and_then(|l| l.next) {
                Some(next) => {
                    url = next_url(self.base, &next.uri)?;
                    headers = next.headers.into_iter().map(|h| (h.key, h.value)).collect();
                }
                None => return Ok(items),
            }
        }
    }

    /// Lists every customer.
    #[tracing::instrument(skip_all)]
    pub async fn list_customers(&self) -> Result<Vec<PartnerCustomer>, ImportError> {
        let wire: Vec<WireCustomer> = self
            .collection(&format!("customers?size={PAGE_SIZE}"), "customers")
            .await?;
        wire.into_iter()
            .map(|item| {
                let profile = item.company_profile;
                let tenant = profile
                    .as_ref()
                    .and_then(|p| p.tenant_id.as_deref())
                    .unwrap_or(&item.id);
                let tenant_id = Uuid::try_parse(tenant).map_err(|_| ImportError::Malformed {
                    message: format!("customer {:?} has no tenant GUID", item.id),
                })?;
                Ok(PartnerCustomer {
                    tenant_id,
                    name: profile
                        .as_ref()
                        .and_then(|p| p.company_name.clone())
                        .unwrap_or_else(|| tenant_id.to_string()),
                    domain: profile.and_then(|p| p.domain),
                    customer_id: item.id,
                    relationship: item.relationship_to_partner,
                })
            })
            .collect()
    }

    /// Lists every commerce subscription of a customer (reference §2.3), as sent.
    #[tracing::instrument(skip_all, fields(customer = %customer))]
    pub async fn list_subscriptions(
        &self,
        customer: &str,
    ) -> Result<Vec<WireSubscription>, ImportError> {
        self.collection(
            &format!("customers/{customer}/subscriptions"),
            "subscriptions",
        )
        .await
    }
}

/// A Partner Center subscription as sent (reference §2.3).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct WireSubscription {
    pub id: String,
    #[serde(default)]
    pub offer_id: Option<String>,
    #[serde(default)]
    pub offer_name: Option<String>,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub unit_type: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub billing_cycle: Option<String>,
    #[serde(default)]
    pub term_duration: Option<String>,
    #[serde(default)]
    pub effective_start_date: Option<String>,
    #[serde(default)]
    pub commitment_end_date: Option<String>,
    #[serde(default)]
    pub auto_renew_enabled: Option<bool>,
    #[serde(default)]
    pub is_trial: Option<bool>,
    #[serde(default)]
    pub billing_type: Option<String>,
    #[serde(default)]
    pub parent_subscription_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct PartnerError {
    #[serde(default)]
    code: serde_json::Value,
    #[serde(default)]
    description: String,
}

fn refusal(status: u16, body: &[u8]) -> ImportError {
    let error: PartnerError = serde_json::from_slice(body).unwrap_or_default();
    let code = match &error.code {
        serde_json::Value::Null => format!("HTTP {status}"),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let message = if error.description.is_empty() {
        format!("Partner Center HTTP {status}: {}", snippet(body))
    } else {
        format!("Partner Center HTTP {status}: {}", error.description)
    };
    let reason = match status {
        401 | 403 => FailureReason::NoDelegatedAccess,
        404 => FailureReason::TenantNotFound,
        _ => FailureReason::InvalidUpstreamData,
    };
    ImportError::Refused {
        reason,
        code,
        message,
        policies: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_next_link_gets_the_v1_prefix() {
        let base = url::Url::parse("https://api.partnercenter.microsoft.com").unwrap();
        let next = next_url(&base, "/customers?size=2&seekOperation=Next").unwrap();
        assert_eq!(
            next.as_str(),
            "https://api.partnercenter.microsoft.com/v1/customers?size=2&seekOperation=Next"
        );
        let kept = next_url(&base, "/v1/customers?size=2").unwrap();
        assert_eq!(kept.path(), "/v1/customers");
    }

    #[test]
    fn fixture_page_parses_with_its_continuation_header() {
        let page: Collection<WireCustomer> = serde_json::from_str(include_str!(
            "../../../tests/fixtures/microsoft/partner-center/customers-page1.json"
        ))
        .unwrap();
        assert_eq!(page.items.len(), 2);
        let next = page.links.unwrap().next.unwrap();
        assert_eq!(next.headers[0].key, "MS-ContinuationToken");
    }
}
