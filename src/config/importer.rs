//! The importer: which tenants, when, how many at once, and how it retries and leases.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::secrets::{SecretKeys, key_required_with_credentials};
use super::upstream::{Credentials, UpstreamSettings};
use super::{SettingsError, parse_guid};

/// The importer's settings as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImporterSection {
    /// Comma-separated tenant ids to import instead of listing Partner Center's customers.
    pub import_tenants: Option<String>,
    /// Tenants imported at the same time.
    pub import_concurrency: usize,
    /// When `serve` imports every tenant: cron in UTC (5 fields), or `off`.
    pub import_schedule: String,
    /// Attempts per upstream request before a 429/5xx/dropped connection fails the tenant.
    pub import_max_attempts: u32,
    /// Longest wait between two attempts, in seconds.
    pub import_retry_cap_secs: u64,
    /// First wait before a retry without `Retry-After`, in milliseconds (doubles, with jitter).
    pub import_retry_base_ms: u64,
    /// Tenants with at least this many stored users are read 999 a page through delta queries
    /// instead of 100 a page with their managers expanded.
    pub import_large_tenant_users: u64,
    /// Seconds a replica's claim on a tenant lasts without being renewed.
    pub import_lease_secs: u64,
    /// Timeout of one upstream HTTP request, in seconds.
    pub import_http_timeout_secs: u64,
    /// Comma-separated SKU part numbers billed as `FREE` besides the built-in list.
    pub free_skus: Option<String>,
}

impl Default for ImporterSection {
    fn default() -> Self {
        ImporterSection {
            import_tenants: None,
            import_concurrency: 8,
            import_schedule: "0 2 * * *".to_owned(),
            import_max_attempts: 6,
            import_retry_cap_secs: 180,
            import_retry_base_ms: 3000,
            import_large_tenant_users: 10_000,
            import_lease_secs: 120,
            import_http_timeout_secs: 60,
            free_skus: None,
        }
    }
}

/// Everything the importer needs from the settings.
#[derive(Debug, Clone)]
pub struct ImporterSettings {
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
    /// A fixed list of tenants instead of Partner Center's customers.
    pub tenants: Option<Vec<uuid::Uuid>>,
    /// Tenants imported at the same time.
    pub concurrency: usize,
    /// Cron expression (UTC) of the daily import in `serve`; `None` when off.
    pub schedule: Option<String>,
    /// Attempts per upstream request.
    pub max_attempts: u32,
    /// Longest wait between attempts.
    pub retry_cap: Duration,
    /// First wait between attempts without `Retry-After`.
    pub retry_base: Duration,
    /// Stored user count from which a tenant is read through delta pages of 999.
    pub large_tenant_users: u64,
    /// How long a claim on a tenant lasts without renewal.
    pub lease: Duration,
    /// Timeout of one upstream request.
    pub http_timeout: Duration,
    /// Keys encrypting the rotated refresh token in the store; [`super::Config::importer`]
    /// refuses credentials without them.
    pub secret_keys: Option<SecretKeys>,
    /// SKU part numbers billed as `FREE` besides the built-in list.
    pub free_skus: Vec<String>,
}

impl ImporterSection {
    /// The importer's settings from this section, the checked upstream and the secret keys.
    /// Refuses a tenant that is not a GUID, a schedule that is not cron, no concurrency or
    /// attempts, and a lease under 10 seconds. Credentials without keys pass: only commands that
    /// import need keys ([`ImporterSettings::for_import`]).
    pub(super) fn check(
        &self,
        upstream: UpstreamSettings,
        secret_keys: Option<SecretKeys>,
    ) -> Result<ImporterSettings, SettingsError> {
        let tenants = self
            .import_tenants
            .as_deref()
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| parse_guid("TENANTGRAPH_IMPORT_TENANTS", v))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let schedule = match self.import_schedule.trim() {
            "off" | "" => None,
            cron => {
                <croner::Cron as std::str::FromStr>::from_str(cron).map_err(|e| {
                    SettingsError::new(
                        "TENANTGRAPH_IMPORT_SCHEDULE",
                        format!("expected a 5-field cron expression in UTC or `off`: {e}"),
                    )
                })?;
                Some(cron.to_owned())
            }
        };
        if self.import_concurrency == 0 {
            return Err(SettingsError::new(
                "TENANTGRAPH_IMPORT_CONCURRENCY",
                "expected at least 1",
            ));
        }
        if self.import_max_attempts == 0 {
            return Err(SettingsError::new(
                "TENANTGRAPH_IMPORT_MAX_ATTEMPTS",
                "expected at least 1",
            ));
        }
        if self.import_lease_secs < 10 {
            return Err(SettingsError::new(
                "TENANTGRAPH_IMPORT_LEASE_SECS",
                "expected at least 10 seconds",
            ));
        }
        let UpstreamSettings {
            login_url,
            partner_center_url,
            graph_url,
            credentials,
            partner_tenant_id,
        } = upstream;
        Ok(ImporterSettings {
            login_url,
            partner_center_url,
            graph_url,
            credentials,
            partner_tenant_id,
            tenants,
            concurrency: self.import_concurrency,
            schedule,
            max_attempts: self.import_max_attempts,
            retry_cap: Duration::from_secs(self.import_retry_cap_secs),
            retry_base: Duration::from_millis(self.import_retry_base_ms),
            large_tenant_users: self.import_large_tenant_users,
            lease: Duration::from_secs(self.import_lease_secs),
            http_timeout: Duration::from_secs(self.import_http_timeout_secs.max(1)),
            secret_keys,
            free_skus: self
                .free_skus
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

impl ImporterSettings {
    /// These settings for a command that imports: credentials need `TENANTGRAPH_SECRET_KEY`,
    /// since the rotated refresh token they lead to is only stored encrypted.
    pub(super) fn for_import(&self) -> Result<ImporterSettings, SettingsError> {
        if self.credentials.is_some() && self.secret_keys.is_none() {
            return Err(key_required_with_credentials());
        }
        Ok(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::config::secrets::tests::KEY_S3CRET;
    use crate::config::upstream::UpstreamSection;

    fn with_credentials() -> Settings {
        Settings {
            upstream: UpstreamSection {
                client_id: Some("app".into()),
                client_secret: Some("client-s3cret".into()),
                refresh_token: Some("refresh-s3cret".into()),
                ..UpstreamSection::default()
            },
            ..Settings::default()
        }
    }

    #[test]
    fn debug_output_hides_importer_secrets() {
        let mut settings = with_credentials();
        settings.secrets.secret_key = Some(KEY_S3CRET.into());
        let importer = settings.check().unwrap().importer().unwrap();
        for text in [format!("{settings:?}"), format!("{importer:?}")] {
            assert!(!text.contains("s3cret"), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
    }

    #[test]
    fn importer_credentials_need_a_secret_key_that_migrate_does_not() {
        let settings = with_credentials();
        let config = settings.check().unwrap();
        let err = config.importer().unwrap_err().to_string();
        assert!(
            err.starts_with("invalid setting TENANTGRAPH_SECRET_KEY:"),
            "{err}"
        );
        assert!(err.contains("openssl rand -base64 32"), "{err}");
        let mut keyed = settings;
        keyed.secrets.secret_key = Some(KEY_S3CRET.into());
        let keys = keyed
            .check()
            .unwrap()
            .importer()
            .unwrap()
            .secret_keys
            .unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&keys.current).len(),
            32
        );
        assert!(keys.previous.is_none());
    }

    #[test]
    fn a_bad_import_schedule_is_named() {
        let mut settings = Settings::default();
        settings.importer.import_schedule = "every day".into();
        let err = settings.check().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_IMPORT_SCHEDULE"), "{err}");
    }

    #[test]
    fn tenants_are_guids_and_off_turns_the_schedule_off() {
        let upstream = UpstreamSection::default().check().unwrap();
        let section = ImporterSection {
            import_tenants: Some(" 00000000-0000-0000-0000-00000000000a, ,".into()),
            import_schedule: "off".into(),
            ..ImporterSection::default()
        };
        let importer = section.check(upstream.clone(), None).unwrap();
        assert_eq!(importer.tenants.map(|t| t.len()), Some(1));
        assert_eq!(importer.schedule, None);
        let section = ImporterSection {
            import_tenants: Some("contoso".into()),
            ..ImporterSection::default()
        };
        let err = section.check(upstream, None).unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_IMPORT_TENANTS"), "{err}");
    }
}
