//! Authentication of `serve`: the mode (jwks, hs256 or none), what each mode checks tokens
//! against, the claims read, and the clock skew allowed.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::secrets::secret;
use super::{SettingsError, http_url};

const MODE: &str = "TENANTGRAPH_AUTH_MODE";

/// How requests are authenticated (`TENANTGRAPH_AUTH_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthModeName {
    /// RS256/ES256 tokens checked against an issuer's JSON Web Key Set.
    Jwks,
    /// HS256 tokens signed with a shared secret.
    Hs256,
    /// No authentication: every request is the partner administrator (loopback binds only).
    None,
}

/// The authentication settings as read. `Debug` hides the HS256 secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct AuthSection {
    /// `jwks`, `hs256` or `none`; unset: `serve` refuses to start, except with `--demo` (none).
    pub auth_mode: Option<AuthModeName>,
    /// Expected `iss` of tokens (required with `jwks`; checked with `hs256` when set).
    pub auth_issuer: Option<String>,
    /// Expected `aud` of tokens (required with `jwks`; checked with `hs256` when set).
    pub auth_audience: Option<String>,
    /// URL of the issuer's JSON Web Key Set (`jwks`).
    pub auth_jwks_url: Option<String>,
    /// Fewest seconds between two fetches of the key set when a token names an unknown key.
    pub auth_jwks_refresh_secs: u64,
    /// Shared secret of `hs256` tokens (prefer `auth_hs256_secret_file`).
    pub auth_hs256_secret: Option<String>,
    /// File holding the `hs256` secret.
    pub auth_hs256_secret_file: Option<String>,
    /// Claim holding the caller's roles.
    pub auth_roles_claim: String,
    /// Claim holding the tenant ids the caller may see.
    pub auth_tenants_claim: String,
    /// Clock skew allowed when checking `exp` and `nbf`, in seconds.
    pub auth_leeway_secs: u64,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            auth_mode: None,
            auth_issuer: None,
            auth_audience: None,
            auth_jwks_url: None,
            auth_jwks_refresh_secs: 60,
            auth_hs256_secret: None,
            auth_hs256_secret_file: None,
            auth_roles_claim: "roles".to_owned(),
            auth_tenants_claim: "tenants".to_owned(),
            auth_leeway_secs: 60,
        }
    }
}

impl fmt::Debug for AuthSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSection")
            .field("auth_mode", &self.auth_mode)
            .field("auth_issuer", &self.auth_issuer)
            .field("auth_audience", &self.auth_audience)
            .field("auth_jwks_url", &self.auth_jwks_url)
            .field("auth_jwks_refresh_secs", &self.auth_jwks_refresh_secs)
            .field(
                "auth_hs256_secret",
                &self.auth_hs256_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("auth_hs256_secret_file", &self.auth_hs256_secret_file)
            .field("auth_roles_claim", &self.auth_roles_claim)
            .field("auth_tenants_claim", &self.auth_tenants_claim)
            .field("auth_leeway_secs", &self.auth_leeway_secs)
            .finish()
    }
}

impl AuthSection {
    /// How `serve` authenticates requests, with the secret read from its file; `None` when no
    /// mode is set and not `--demo` (which means `none`). Refuses `none` on an address other
    /// than loopback (`bind`), and a mode without what it needs (`jwks`: key set URL, issuer and
    /// audience; `hs256`: a secret of at least 32 bytes).
    pub(super) fn check(
        &self,
        demo: bool,
        bind: SocketAddr,
    ) -> Result<Option<AuthSettings>, SettingsError> {
        let name = match (self.auth_mode, demo) {
            (Some(name), _) => name,
            (None, true) => AuthModeName::None,
            (None, false) => return Ok(None),
        };
        let optional = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let text = |key: &str, value: &Option<String>| {
            optional(value)
                .ok_or_else(|| SettingsError::new(key, "required with TENANTGRAPH_AUTH_MODE=jwks"))
        };
        let mode = match name {
            AuthModeName::None => {
                if !bind.ip().is_loopback() {
                    return Err(SettingsError::new(
                        MODE,
                        format!(
                            "none (no authentication) is only allowed on a loopback address, \
                             but TENANTGRAPH_BIND is {bind}; set jwks or hs256"
                        ),
                    ));
                }
                AuthMode::None
            }
            AuthModeName::Hs256 => {
                let secret = secret(
                    "TENANTGRAPH_AUTH_HS256_SECRET",
                    &self.auth_hs256_secret,
                    &self.auth_hs256_secret_file,
                )?
                .ok_or_else(|| {
                    SettingsError::new(
                        "TENANTGRAPH_AUTH_HS256_SECRET",
                        "required with TENANTGRAPH_AUTH_MODE=hs256 (or _FILE)",
                    )
                })?;
                if secrecy::ExposeSecret::expose_secret(&secret).len() < 32 {
                    return Err(SettingsError::new(
                        "TENANTGRAPH_AUTH_HS256_SECRET",
                        "expected at least 32 bytes",
                    ));
                }
                AuthMode::Hs256 {
                    secret,
                    issuer: optional(&self.auth_issuer),
                    audience: optional(&self.auth_audience),
                }
            }
            AuthModeName::Jwks => AuthMode::Jwks {
                url: http_url(
                    "TENANTGRAPH_AUTH_JWKS_URL",
                    &text("TENANTGRAPH_AUTH_JWKS_URL", &self.auth_jwks_url)?,
                )?,
                issuer: text("TENANTGRAPH_AUTH_ISSUER", &self.auth_issuer)?,
                audience: text("TENANTGRAPH_AUTH_AUDIENCE", &self.auth_audience)?,
                min_refresh: Duration::from_secs(self.auth_jwks_refresh_secs),
            },
        };
        for (key, value) in [
            ("TENANTGRAPH_AUTH_ROLES_CLAIM", &self.auth_roles_claim),
            ("TENANTGRAPH_AUTH_TENANTS_CLAIM", &self.auth_tenants_claim),
        ] {
            if value.trim().is_empty() {
                return Err(SettingsError::new(key, "expected a claim name"));
            }
        }
        Ok(Some(AuthSettings {
            mode,
            roles_claim: self.auth_roles_claim.trim().to_owned(),
            tenants_claim: self.auth_tenants_claim.trim().to_owned(),
            leeway: Duration::from_secs(self.auth_leeway_secs),
        }))
    }
}

/// The authentication `serve` runs with: refuses an unset mode (`None` from the check).
pub(super) fn for_serve(auth: Option<&AuthSettings>) -> Result<AuthSettings, SettingsError> {
    auth.cloned().ok_or_else(|| {
        SettingsError::new(
            MODE,
            "expected jwks, hs256 or none: `serve` does not start without an authentication \
             mode (only `--demo` defaults to none)",
        )
    })
}

/// How requests prove who they are.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// RS256/ES256 tokens signed by a key of the issuer's key set.
    Jwks {
        /// The key set (JWKS) URL.
        url: url::Url,
        /// Expected `iss`.
        issuer: String,
        /// Expected `aud`.
        audience: String,
        /// Fewest time between two fetches of the key set for an unknown `kid`.
        min_refresh: Duration,
    },
    /// HS256 tokens signed with a shared secret.
    Hs256 {
        /// The secret (redacted in `Debug`).
        secret: SecretString,
        /// Expected `iss`, when set.
        issuer: Option<String>,
        /// Expected `aud`, when set.
        audience: Option<String>,
    },
    /// No authentication: every request is the partner administrator. Loopback binds only.
    None,
}

/// Authentication settings of `serve`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// How tokens are checked.
    pub mode: AuthMode,
    /// Claim holding the roles (`reader`, `allocator`, `importer`, `partner_admin`).
    pub roles_claim: String,
    /// Claim holding the tenant ids the caller may see.
    pub tenants_claim: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

impl AuthSettings {
    /// No authentication, as `--demo` and the tests that are not about authentication use it.
    pub fn none() -> Self {
        AuthSettings {
            mode: AuthMode::None,
            ..AuthSettings::hs256(SecretString::from(String::new()))
        }
    }

    /// HS256 with `secret`, no issuer or audience, default claim names and leeway.
    pub fn hs256(secret: SecretString) -> Self {
        let defaults = AuthSection::default();
        AuthSettings {
            mode: AuthMode::Hs256 {
                secret,
                issuer: None,
                audience: None,
            },
            roles_claim: defaults.auth_roles_claim,
            tenants_claim: defaults.auth_tenants_claim,
            leeway: Duration::from_secs(defaults.auth_leeway_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: &str = "127.0.0.1:8080";

    fn check(section: &AuthSection, demo: bool, bind: &str) -> Result<AuthSettings, String> {
        section
            .check(demo, bind.parse().unwrap())
            .and_then(|auth| for_serve(auth.as_ref()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn serve_needs_an_auth_mode_unless_demo_and_none_only_on_loopback() {
        let unset = AuthSection::default();
        assert!(
            unset
                .check(false, LOOPBACK.parse().unwrap())
                .unwrap()
                .is_none()
        );
        let err = check(&unset, false, LOOPBACK).unwrap_err();
        assert!(
            err.contains("TENANTGRAPH_AUTH_MODE") && err.contains("--demo"),
            "{err}"
        );
        assert!(matches!(
            check(&unset, true, LOOPBACK).unwrap().mode,
            AuthMode::None
        ));
        let none = AuthSection {
            auth_mode: Some(AuthModeName::None),
            ..AuthSection::default()
        };
        let err = check(&none, false, "0.0.0.0:8080").unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(check(&unset, true, "0.0.0.0:8080").is_err());
    }

    #[test]
    fn token_modes_need_their_settings_and_hide_the_secret() {
        let jwks = AuthSection {
            auth_mode: Some(AuthModeName::Jwks),
            auth_issuer: Some("https://issuer".into()),
            auth_audience: Some("api://tg".into()),
            ..AuthSection::default()
        };
        let err = check(&jwks, false, LOOPBACK).unwrap_err();
        assert!(err.contains("TENANTGRAPH_AUTH_JWKS_URL"), "{err}");
        let short = AuthSection {
            auth_mode: Some(AuthModeName::Hs256),
            auth_hs256_secret: Some("short".into()),
            ..AuthSection::default()
        };
        assert!(
            check(&short, false, LOOPBACK)
                .unwrap_err()
                .contains("32 bytes")
        );
        let hs = AuthSection {
            auth_mode: Some(AuthModeName::Hs256),
            auth_hs256_secret: Some("hs-s3cret-hs-s3cret-hs-s3cret-hs-s3cret".into()),
            ..AuthSection::default()
        };
        let auth = check(&hs, false, LOOPBACK).unwrap();
        for text in [format!("{hs:?}"), format!("{auth:?}")] {
            assert!(!text.contains("s3cret"), "{text}");
        }
    }
}
