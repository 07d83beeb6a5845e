//! Alerts: the partner's webhook endpoint and its signing secret, how deliveries are retried,
//! how much a tenant's waste total must grow to alert, and how often every budget is
//! re-evaluated.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rust_decimal::Decimal;
use secrecy::SecretSlice;
use serde::{Deserialize, Serialize};

use super::SettingsError;

/// Attempts of a delivery unless set: the first and 9 retries.
pub const DEFAULT_WEBHOOK_MAX_ATTEMPTS: u32 = 10;

/// Wait before the first retry unless set; each later one waits twice as long, up to an hour.
pub const DEFAULT_WEBHOOK_RETRY_DELAY_MS: u64 = 5_000;

/// Longest wait for an endpoint's answer unless set.
pub const DEFAULT_WEBHOOK_TIMEOUT_MS: u64 = 10_000;

/// Budgets are re-evaluated every 15 minutes unless set.
pub const DEFAULT_ALERT_SWEEP_SECONDS: u64 = 900;

/// Alerts and their deliveries are kept 90 days unless set.
pub const DEFAULT_ALERT_RETENTION_DAYS: u32 = 90;

/// Prefix of a Standard Webhooks signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The alert settings as read. `Debug` shows no secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct AlertsSection {
    /// The partner's endpoint every alert is posted to; unset: none.
    pub webhook_url: Option<String>,
    /// Its signing secret, `whsec_` and base64 (24 to 64 bytes); required with the URL.
    pub webhook_secret: Option<String>,
    /// Whether tenants' own endpoints may be on loopback, private or link-local addresses.
    pub webhook_allow_private: bool,
    /// Attempts of a delivery before it is `FAILED`, 1 to 50.
    pub webhook_max_attempts: u32,
    /// Milliseconds before the first retry (doubling, at most an hour), 1 to 3,600,000.
    pub webhook_retry_delay_ms: u64,
    /// Milliseconds an endpoint has to answer, 100 to 60,000.
    pub webhook_timeout_ms: u64,
    /// Growth of a tenant's monthly waste total (in its currency) that raises an alert;
    /// unset: no waste alerts.
    pub alert_waste_growth: Option<String>,
    /// Seconds between evaluations of every budget and waste total (after a restart, and as
    /// days pass without a change); 10 to 86,400.
    pub alert_sweep_seconds: u64,
    /// Days an alert is kept with its deliveries and their attempts once none of them waits
    /// for another attempt; 0 keeps them forever.
    pub alert_retention_days: u32,
}

impl std::fmt::Debug for AlertsSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsSection")
            .field("webhook_url", &self.webhook_url)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("webhook_max_attempts", &self.webhook_max_attempts)
            .field("webhook_retry_delay_ms", &self.webhook_retry_delay_ms)
            .field("webhook_timeout_ms", &self.webhook_timeout_ms)
            .field("alert_waste_growth", &self.alert_waste_growth)
            .field("alert_sweep_seconds", &self.alert_sweep_seconds)
            .field("alert_retention_days", &self.alert_retention_days)
            .finish()
    }
}

impl Default for AlertsSection {
    fn default() -> Self {
        AlertsSection {
            webhook_url: None,
            webhook_secret: None,
            webhook_allow_private: false,
            webhook_max_attempts: DEFAULT_WEBHOOK_MAX_ATTEMPTS,
            webhook_retry_delay_ms: DEFAULT_WEBHOOK_RETRY_DELAY_MS,
            webhook_timeout_ms: DEFAULT_WEBHOOK_TIMEOUT_MS,
            alert_waste_growth: None,
            alert_sweep_seconds: DEFAULT_ALERT_SWEEP_SECONDS,
            alert_retention_days: DEFAULT_ALERT_RETENTION_DAYS,
        }
    }
}

/// The partner's endpoint with its secret.
#[derive(Clone)]
pub struct PartnerWebhook {
    /// Where alerts are posted.
    pub url: url::Url,
    /// The secret's bytes (base64-decoded from after `whsec_`).
    pub secret: SecretSlice<u8>,
}

impl std::fmt::Debug for PartnerWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerWebhook")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

/// The alert settings, checked.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// The partner's endpoint, if any.
    pub partner_webhook: Option<PartnerWebhook>,
    /// Tenants' own endpoints may be on non-public addresses.
    pub allow_private: bool,
    /// Attempts of a delivery.
    pub max_attempts: u32,
    /// Wait before the first retry.
    pub retry_delay: Duration,
    /// Longest wait for an answer.
    pub timeout: Duration,
    /// Waste growth that alerts; `None`: off.
    pub waste_growth: Option<Decimal>,
    /// Time between sweeps.
    pub sweep_interval: Duration,
    /// Days an alert is kept once its deliveries have ended; `None` keeps them forever.
    pub retention_days: Option<u32>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertsSection::default()
            .check()
            .unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }
}

/// The bytes of a `whsec_` secret, or an error naming `key`.
pub fn parse_secret(key: &str, text: &str) -> Result<Vec<u8>, SettingsError> {
    let bytes = text
        .trim()
        .strip_prefix(SECRET_PREFIX)
        .and_then(|b64| STANDARD.decode(b64).ok())
        .ok_or_else(|| {
            SettingsError::new(
                key,
                "expected whsec_ followed by base64 (Standard Webhooks)",
            )
        })?;
    if !(24..=64).contains(&bytes.len()) {
        return Err(SettingsError::new(
            key,
            format!("expected 24 to 64 bytes after whsec_, got {}", bytes.len()),
        ));
    }
    Ok(bytes)
}

impl AlertsSection {
    /// Checks every value; the first that can't be used is the error.
    pub(super) fn check(&self) -> Result<AlertSettings, SettingsError> {
        let partner_webhook = match (&self.webhook_url, &self.webhook_secret) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(SettingsError::new(
                    "webhook_secret",
                    "expected a signing secret (whsec_...) with webhook_url",
                ));
            }
            (None, Some(_)) => {
                return Err(SettingsError::new(
                    "webhook_url",
                    "expected the endpoint webhook_secret signs for",
                ));
            }
            (Some(url), Some(secret)) => Some(PartnerWebhook {
                url: super::http_url("webhook_url", url)?,
                secret: SecretSlice::from(parse_secret("webhook_secret", secret)?),
            }),
        };
        let within = |key: &str, value: u64, low: u64, high: u64| {
            if (low..=high).contains(&value) {
                Ok(value)
            } else {
                Err(SettingsError::new(
                    key,
                    format!("expected {low} to {high}, got {value}"),
                ))
            }
        };
        let max_attempts = within(
            "webhook_max_attempts",
            u64::from(self.webhook_max_attempts),
            1,
            50,
        )?;
        let retry = within(
            "webhook_retry_delay_ms",
            self.webhook_retry_delay_ms,
            1,
            3_600_000,
        )?;
        let timeout = within("webhook_timeout_ms", self.webhook_timeout_ms, 100, 60_000)?;
        let sweep = within("alert_sweep_seconds", self.alert_sweep_seconds, 10, 86_400)?;
        let waste_growth = self
            .alert_waste_growth
            .as_deref()
            .map(|text| {
                text.trim()
                    .parse::<Decimal>()
                    .ok()
                    .filter(|d| *d >= Decimal::ZERO)
                    .ok_or_else(|| {
                        SettingsError::new(
                            "alert_waste_growth",
                            format!("expected an amount of 0 or more, got {text:?}"),
                        )
                    })
            })
            .transpose()?;
        Ok(AlertSettings {
            partner_webhook,
            allow_private: self.webhook_allow_private,
            max_attempts: max_attempts as u32,
            retry_delay: Duration::from_millis(retry),
            timeout: Duration::from_millis(timeout),
            waste_growth,
            sweep_interval: Duration::from_secs(sweep),
            retention_days: (self.alert_retention_days > 0).then_some(self.alert_retention_days),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_needs_a_standard_webhooks_secret_and_each_refusal_names_its_key() {
        let url_only = AlertsSection {
            webhook_url: Some("http://127.0.0.1:9/hook".into()),
            ..AlertsSection::default()
        };
        assert!(
            url_only
                .check()
                .unwrap_err()
                .to_string()
                .contains("webhook_secret")
        );
        let bad_secret = AlertsSection {
            webhook_secret: Some("not-a-secret".into()),
            ..url_only.clone()
        };
        let err = bad_secret.check().unwrap_err().to_string();
        assert!(
            err.contains("webhook_secret") && err.contains("whsec_"),
            "{err}"
        );
        let ok = AlertsSection {
            webhook_secret: Some(format!("{SECRET_PREFIX}{}", STANDARD.encode([7u8; 32]))),
            ..url_only
        };
        let checked = ok.check().unwrap();
        assert_eq!(
            checked.partner_webhook.unwrap().url.as_str(),
            "http://127.0.0.1:9/hook"
        );
        let growth = AlertsSection {
            alert_waste_growth: Some("-1".into()),
            ..AlertsSection::default()
        };
        assert!(
            growth
                .check()
                .unwrap_err()
                .to_string()
                .contains("alert_waste_growth")
        );
        let attempts = AlertsSection {
            webhook_max_attempts: 0,
            ..AlertsSection::default()
        };
        assert!(attempts.check().unwrap_err().to_string().contains("got 0"));
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let section = AlertsSection {
            webhook_secret: Some("whsec_c2VjcmV0".into()),
            ..AlertsSection::default()
        };
        let shown = format!("{section:?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }

    #[test]
    fn alerts_are_kept_ninety_days_unless_set_and_zero_keeps_them_forever() {
        let default = AlertsSection::default().check().unwrap();
        assert_eq!(default.retention_days, Some(90));
        let forever = AlertsSection {
            alert_retention_days: 0,
            ..AlertsSection::default()
        };
        assert_eq!(forever.check().unwrap().retention_days, None);
    }
}
