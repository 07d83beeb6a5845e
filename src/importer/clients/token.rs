//! The Entra token endpoint: redeems the service user's refresh token for access tokens
//! (shared/reference/microsoft-apis.md §1). Access tokens are cached per tenant and resource;
//! the rotated refresh token is kept for the next redemption and the next run.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use super::{TrafficStats, Upstream, snippet};
use crate::domain::FailureReason;
use crate::importer::error::{ImportError, TokenFailure, classify_token_error};

/// Renew an access token when less than this is left (reference §1.4).
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Which API a token is for; one resource per token request (reference §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Microsoft Graph, redeemed against a customer tenant.
    Graph,
    /// Partner Center, redeemed against the partner tenant.
    PartnerCenter,
}

impl Resource {
    fn scope(self) -> &'static str {
        match self {
            Resource::Graph => "https://graph.microsoft.com/.default",
            Resource::PartnerCenter => "https://api.partnercenter.microsoft.com/user_impersonation",
        }
    }
}

/// v2 success body; v1 sends the numbers as strings, so both are accepted (reference §1.3).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<u64>,
}

/// Error body (reference §1.5).
#[derive(Deserialize, Default)]
struct TokenErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<i64>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(default)]
    claims: Option<String>,
}

fn lenient_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(u64),
        Text(String),
    }
    Ok(match Option::<Seconds>::deserialize(d)? {
        Some(Seconds::Number(n)) => Some(n),
        Some(Seconds::Text(t)) => t.trim().parse().ok(),
        None => None,
    })
}

struct CachedToken {
    token: SecretString,
    expires: Instant,
}

/// Redeems and caches tokens. Secrets never appear in `Debug` output or logs.
pub struct TokenClient {
    upstream: Upstream,
    login_url: url::Url,
    client_id: String,
    client_secret: SecretString,
    refresh_token: Mutex<SecretString>,
    /// The configured refresh token: redeemed, once per redemption, when another one (rotated,
    /// or read from the store) is refused as expired or revoked.
    fallback: Option<SecretString>,
    rotated: Mutex<bool>,
    cache: Mutex<HashMap<(Uuid, Resource), CachedToken>>,
}

impl std::fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenClient")
            .field("login_url", &self.login_url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl TokenClient {
    /// A client redeeming `refresh_token` for the app `client_id`.
    pub fn new(
        upstream: Upstream,
        login_url: url::Url,
        client_id: String,
        client_secret: SecretString,
        refresh_token: SecretString,
    ) -> Self {
        TokenClient {
            upstream,
            login_url,
            client_id,
            client_secret,
            refresh_token: Mutex::new(refresh_token),
            fallback: None,
            rotated: Mutex::new(false),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// This client, falling back to `configured` (`TENANTGRAPH_REFRESH_TOKEN`) when the token
    /// endpoint refuses another refresh token (a rotated one, or one read from the store) as
    /// expired or revoked (`invalid_grant`: the upstream forgot or revoked it).
    pub fn with_fallback(mut self, configured: SecretString) -> Self {
        self.fallback = Some(configured);
        self
    }

    /// The newest refresh token, if one was rotated since the last call.
    pub fn take_rotated_refresh_token(&self) -> Option<SecretString> {
        let mut rotated = self.rotated.lock().unwrap_or_else(|e| e.into_inner());
        if !*rotated {
            return None;
        }
        *rotated = false;
        Some(
            self.refresh_token
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }

    /// A valid access token for `tenant` and `resource`, from the cache unless it expires soon.
    pub async fn access_token(
        &self,
        tenant: Uuid,
        resource: Resource,
        stats: &TrafficStats,
    ) -> Result<SecretString, ImportError> {
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(cached) = cache.get(&(tenant, resource))
                && cached.expires > Instant::now() + RENEW_BEFORE
            {
                return Ok(cached.token.clone());
            }
        }
        self.renew(tenant, resource, stats).await
    }

    /// Redeems a new access token (after a 401, or when the cached one is old). A refresh
    /// token refused as expired or revoked is replaced once: by the one another redemption
    /// rotated meanwhile, or else by the configured one (see [`TokenClient::with_fallback`]);
    /// a second refusal is the error. At most two redemptions, never a loop.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant, resource = ?resource))]
    pub async fn renew(
        &self,
        tenant: Uuid,
        resource: Resource,
        stats: &TrafficStats,
    ) -> Result<SecretString, ImportError> {
        let used = self.current_refresh_token();
        let (err, expired) = match self.redeem(tenant, resource, stats, &used).await {
            Ok(token) => return Ok(token),
            Err(refused) => refused,
        };
        if !expired {
            return Err(err);
        }
        let replacement = {
            let mut current = self.refresh_token.lock().unwrap_or_else(|e| e.into_inner());
            if current.expose_secret() != used.expose_secret() {
                Some(current.clone())
            } else if let Some(configured) = self
                .fallback
                .as_ref()
                .filter(|c| c.expose_secret() != used.expose_secret())
            {
                let code = match &err {
                    ImportError::Refused { code, .. } => code.as_str(),
                    _ => "",
                };
                tracing::warn!(
                    %tenant,
                    code,
                    "the stored rotated refresh token was refused as expired or revoked; \
                     redeeming the configured TENANTGRAPH_REFRESH_TOKEN once instead"
                );
                *current = configured.clone();
                // Keep whatever this redemption gives, even a token that was not rotated.
                *self.rotated.lock().unwrap_or_else(|e| e.into_inner()) = true;
                Some(configured.clone())
            } else {
                None
            }
        };
        match replacement {
            Some(token) => self
                .redeem(tenant, resource, stats, &token)
                .await
                .map_err(|(err, _)| err),
            None => Err(err),
        }
    }

    fn current_refresh_token(&self) -> SecretString {
        self.refresh_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One redemption of `refresh`; a refusal comes with whether it said the refresh token
    /// expired or was revoked (`invalid_grant`, `REFRESH_TOKEN_EXPIRED`).
    async fn redeem(
        &self,
        tenant: Uuid,
        resource: Resource,
        stats: &TrafficStats,
        refresh: &SecretString,
    ) -> Result<SecretString, (ImportError, bool)> {
        let mut url = self.login_url.clone();
        url.path_segments_mut()
            .map_err(|()| {
                let err = ImportError::Malformed {
                    message: "the login URL cannot take a path".to_owned(),
                };
                (err, false)
            })?
            .pop_if_empty()
            .extend([&tenant.to_string(), "oauth2", "v2.0", "token"]);
        let answer = self
            .upstream
            .send_retrying(
                || {
                    self.upstream.http().post(url.clone()).form(&[
                        ("grant_type", "refresh_token"),
                        ("client_id", self.client_id.as_str()),
                        ("client_secret", self.client_secret.expose_secret()),
                        ("refresh_token", refresh.expose_secret()),
                        ("scope", resource.scope()),
                    ])
                },
                stats,
                transient_sign_in_error,
            )
            .await
            .map_err(|e| (e, false))?;
        if answer.status == 200 {
            let body: TokenResponse = serde_json::from_slice(&answer.body).map_err(|e| {
                let err = ImportError::Malformed {
                    message: format!("token response is not the documented JSON: {e}"),
                };
                (err, false)
            })?;
            if let Some(new) = body.refresh_token.filter(|t| !t.is_empty()) {
                *self.refresh_token.lock().unwrap_or_else(|e| e.into_inner()) =
                    SecretString::from(new);
                *self.rotated.lock().unwrap_or_else(|e| e.into_inner()) = true;
            }
            let token = SecretString::from(body.access_token);
            let lifetime = Duration::from_secs(body.expires_in.unwrap_or(3600));
            self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(
                (tenant, resource),
                CachedToken {
                    token: token.clone(),
                    expires: Instant::now() + lifetime,
                },
            );
            return Ok(token);
        }
        let body: TokenErrorBody = serde_json::from_slice(&answer.body).unwrap_or_default();
        let code = body
            .error_codes
            .first()
            .map(|c| format!("AADSTS{c}"))
            .unwrap_or_else(|| {
                if body.error.is_empty() {
                    format!("HTTP {}", answer.status)
                } else {
                    body.error.clone()
                }
            });
        let message = describe(&body, answer.status, &answer.body);
        let policies = body
            .claims
            .as_deref()
            .and_then(policy_ids)
            .unwrap_or_default();
        match classify_token_error(&body.error, &body.error_codes, answer.status) {
            TokenFailure::Refused(reason) => {
                tracing::warn!(code = %code, reason = reason.code(), "token request refused");
                let expired =
                    body.error == "invalid_grant" && reason == FailureReason::RefreshTokenExpired;
                let err = ImportError::Refused {
                    reason,
                    code,
                    message,
                    policies,
                };
                Err((err, expired))
            }
            TokenFailure::Transient => Err((
                ImportError::Unavailable {
                    attempts: 1,
                    code: Some(code),
                    message,
                },
                false,
            )),
        }
    }

    /// Forgets the cached token, so the next call redeems a new one.
    pub fn forget(&self, tenant: Uuid, resource: Resource) {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(tenant, resource));
    }
}

/// The error code of a token error worth retrying (AADSTS50033, 90006, 90033, 90055,
/// `temporarily_unavailable`), for [`super::Upstream::send_retrying`].
fn transient_sign_in_error(status: u16, raw: &[u8]) -> Option<String> {
    let body: TokenErrorBody = serde_json::from_slice(raw).ok()?;
    match classify_token_error(&body.error, &body.error_codes, status) {
        TokenFailure::Transient => Some(
            body.error_codes
                .first()
                .map_or_else(|| body.error.clone(), |c| format!("AADSTS{c}")),
        ),
        TokenFailure::Refused(_) => None,
    }
}

/// The operator-facing text of a token error: the AADSTS line, the ids support asks for and,
/// for Conditional Access, the blocking policy ids.
fn describe(body: &TokenErrorBody, status: u16, raw: &[u8]) -> String {
    if body.error.is_empty() && body.error_description.is_empty() {
        return format!("HTTP {status}: {}", snippet(raw));
    }
    // The description's first sentence; its tail repeats the ids below.
    let summary = body
        .error_description
        .split(" Trace ID:")
        .next()
        .unwrap_or_default()
        .trim();
    let mut message = format!("{} ({summary})", body.error);
    if let Some(trace) = &body.trace_id {
        message.push_str(&format!("; trace id {trace}"));
    }
    if let Some(correlation) = &body.correlation_id {
        message.push_str(&format!("; correlation id {correlation}"));
    }
    if let Some(policies) = body.claims.as_deref().and_then(policy_ids) {
        message.push_str(&format!(
            "; Conditional Access policies: {}",
            policies.join(", ")
        ));
    }
    message
}

/// `capolids` from a claims challenge (reference §1.5).
fn policy_ids(claims: &str) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_str(claims).ok()?;
    let ids = value
        .pointer("/access_token/capolids/values")?
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect::<Vec<_>>();
    (!ids.is_empty()).then_some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA_FIXTURE: &str = include_str!(
        "../../../tests/fixtures/microsoft/errors/token-aadsts53003-conditional-access.json"
    );

    #[test]
    fn conditional_access_message_names_the_policies_and_trace_id() {
        let body: TokenErrorBody = serde_json::from_str(CA_FIXTURE).unwrap();
        let message = describe(&body, 400, CA_FIXTURE.as_bytes());
        assert!(
            message.contains("9f1e2d3c-4b5a-4697-8877-66554433aa01"),
            "{message}"
        );
        assert!(
            message.contains("ab12cd34-0000-4000-8000-000000053003"),
            "{message}"
        );
        assert!(
            message.starts_with("invalid_grant (AADSTS53003:"),
            "{message}"
        );
    }

    #[test]
    fn v1_string_numbers_are_read() {
        let body: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":"3599","refresh_token":"r"}"#)
                .unwrap();
        assert_eq!(body.expires_in, Some(3599));
    }

    #[test]
    fn debug_output_has_no_secrets() {
        let upstream = Upstream::new(
            Duration::from_secs(1),
            super::super::RetryPolicy {
                max_attempts: 1,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
            },
        )
        .unwrap();
        let client = TokenClient::new(
            upstream,
            url::Url::parse("http://127.0.0.1:1").unwrap(),
            "client".into(),
            SecretString::from("very-secret-value"),
            SecretString::from("refresh-secret-value"),
        );
        let text = format!("{client:?}");
        assert!(!text.contains("secret-value"), "{text}");
    }
}
