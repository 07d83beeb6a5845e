//! Upstream: Microsoft's endpoints (Entra, Partner Center, Graph) and the credentials the
//! importer redeems there.

use std::fmt;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::secrets::secret;
use super::{SettingsError, http_url, parse_guid};

/// Microsoft's public-cloud endpoints, the defaults of the upstream URL settings.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// Partner Center's public-cloud base URL.
pub const DEFAULT_PARTNER_CENTER_URL: &str = "https://api.partnercenter.microsoft.com";
/// Microsoft Graph's public-cloud base URL (without the `/v1.0` version segment).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// The upstream settings as read. `Debug` shows no secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct UpstreamSection {
    /// Entra token endpoint base (`{login_url}/{tenant}/oauth2/v2.0/token`).
    pub login_url: String,
    /// Partner Center base (`{partner_center_url}/v1/customers`).
    pub partner_center_url: String,
    /// Microsoft Graph base (`{graph_url}/v1.0/users`).
    pub graph_url: String,
    /// Client id of the importer's multi-tenant app registration.
    pub client_id: Option<String>,
    /// The app's client secret (prefer `client_secret_file`).
    pub client_secret: Option<String>,
    /// File holding the client secret.
    pub client_secret_file: Option<String>,
    /// The service user's refresh token (prefer `refresh_token_file`).
    pub refresh_token: Option<String>,
    /// File holding the refresh token.
    pub refresh_token_file: Option<String>,
    /// The partner's own tenant id (Partner Center tokens are redeemed there).
    pub partner_tenant_id: Option<String>,
}

impl Default for UpstreamSection {
    fn default() -> Self {
        UpstreamSection {
            login_url: DEFAULT_LOGIN_URL.to_owned(),
            partner_center_url: DEFAULT_PARTNER_CENTER_URL.to_owned(),
            graph_url: DEFAULT_GRAPH_URL.to_owned(),
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            refresh_token: None,
            refresh_token_file: None,
            partner_tenant_id: None,
        }
    }
}

impl fmt::Debug for UpstreamSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |value: &Option<String>| value.as_ref().map(|_| "[redacted]");
        f.debug_struct("UpstreamSection")
            .field("login_url", &self.login_url)
            .field("partner_center_url", &self.partner_center_url)
            .field("graph_url", &self.graph_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .field("client_secret_file", &self.client_secret_file)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("refresh_token_file", &self.refresh_token_file)
            .field("partner_tenant_id", &self.partner_tenant_id)
            .finish()
    }
}

/// The upstream settings, checked, with secrets read from their files.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Entra token endpoint base.
    pub login_url: url::Url,
    /// Partner Center base.
    pub partner_center_url: url::Url,
    /// Graph base (without `/v1.0`).
    pub graph_url: url::Url,
    /// App + user credentials; `None` when not configured (imports are then off).
    pub credentials: Option<Credentials>,
    /// The partner's tenant, needed to list Partner Center customers.
    pub partner_tenant_id: Option<uuid::Uuid>,
}

impl UpstreamSection {
    /// Refuses credentials set in part (all three or none), a secret given both as a value and
    /// as a file, a partner tenant that is not a GUID and an endpoint that is not an http(s) URL.
    pub(super) fn check(&self) -> Result<UpstreamSettings, SettingsError> {
        let client_secret = secret(
            "TENANTGRAPH_CLIENT_SECRET",
            &self.client_secret,
            &self.client_secret_file,
        )?;
        let refresh_token = secret(
            "TENANTGRAPH_REFRESH_TOKEN",
            &self.refresh_token,
            &self.refresh_token_file,
        )?;
        let credentials = match (&self.client_id, client_secret, refresh_token) {
            (None, None, None) => None,
            (Some(client_id), Some(client_secret), Some(refresh_token)) => Some(Credentials {
                client_id: client_id.clone(),
                client_secret,
                refresh_token,
            }),
            (client_id, secret, token) => {
                let missing: Vec<&str> = [
                    (client_id.is_none(), "TENANTGRAPH_CLIENT_ID"),
                    (secret.is_none(), "TENANTGRAPH_CLIENT_SECRET"),
                    (token.is_none(), "TENANTGRAPH_REFRESH_TOKEN"),
                ]
                .into_iter()
                .filter_map(|(m, name)| m.then_some(name))
                .collect();
                return Err(SettingsError::new(
                    "importer credentials",
                    format!("set all three or none; missing {}", missing.join(", ")),
                ));
            }
        };
        let partner_tenant_id = self
            .partner_tenant_id
            .as_deref()
            .map(|v| parse_guid("TENANTGRAPH_PARTNER_TENANT_ID", v))
            .transpose()?;
        Ok(UpstreamSettings {
            login_url: http_url("TENANTGRAPH_LOGIN_URL", &self.login_url)?,
            partner_center_url: http_url(
                "TENANTGRAPH_PARTNER_CENTER_URL",
                &self.partner_center_url,
            )?,
            graph_url: http_url("TENANTGRAPH_GRAPH_URL", &self.graph_url)?,
            credentials,
            partner_tenant_id,
        })
    }
}

/// The app + user credentials the importer redeems (secure application model).
#[derive(Clone)]
pub struct Credentials {
    /// The multi-tenant app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: SecretString,
    /// The service user's refresh token as configured (a newer rotated one may be stored).
    pub refresh_token: SecretString,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_read_from_files_and_half_configured_credentials_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let section = UpstreamSection {
            client_id: Some("app".into()),
            client_secret: Some("secret".into()),
            refresh_token_file: Some(file.display().to_string()),
            ..UpstreamSection::default()
        };
        let credentials = section.check().unwrap().credentials.unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&credentials.refresh_token),
            "from-file"
        );
        let half = UpstreamSection {
            client_id: Some("app".into()),
            ..UpstreamSection::default()
        };
        let err = half.check().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_CLIENT_SECRET"), "{err}");
        assert!(err.contains("TENANTGRAPH_REFRESH_TOKEN"), "{err}");
    }

    #[test]
    fn endpoints_are_http_urls_and_the_partner_tenant_a_guid() {
        let section = UpstreamSection {
            graph_url: "ftp://graph".into(),
            ..UpstreamSection::default()
        };
        let err = section.check().unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid setting TENANTGRAPH_GRAPH_URL: expected an http(s) URL, got \"ftp://graph\""
        );
        let section = UpstreamSection {
            partner_tenant_id: Some("contoso".into()),
            ..UpstreamSection::default()
        };
        let err = section.check().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_PARTNER_TENANT_ID"), "{err}");
    }
}
