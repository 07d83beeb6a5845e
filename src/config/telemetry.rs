//! Telemetry: the log format and filter, and where `/metrics` is served.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::SettingsError;

/// Where `/metrics` is served unless set: loopback only, the port Prometheus exporters use.
pub const DEFAULT_METRICS_BIND: &str = "127.0.0.1:9090";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The telemetry settings as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TelemetrySection {
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter in `tracing` syntax, e.g. `info` or `tenantgraph=debug,info`.
    pub log_level: String,
    /// Address of the `/metrics` listener, or `off`; unset: `127.0.0.1:9090`, or a free
    /// loopback port (`127.0.0.1:0`) with `--demo` or when `bind` asks for port 0.
    pub metrics_bind: Option<String>,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        TelemetrySection {
            log_format: LogFormat::Pretty,
            log_level: "info".to_owned(),
            metrics_bind: None,
        }
    }
}

/// The telemetry settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter in `tracing` syntax (checked to parse).
    pub log_level: String,
    /// Where `/metrics` is served, or `None` when `off`.
    pub metrics_bind: Option<SocketAddr>,
}

impl TelemetrySection {
    /// Refuses a metrics address that does not parse or is the API's (`bind`), and a log
    /// filter `tracing` can't read.
    pub(super) fn check(
        &self,
        demo: bool,
        bind: SocketAddr,
    ) -> Result<TelemetrySettings, SettingsError> {
        let metrics_bind = self.metrics_listener(demo, bind)?;
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return Err(SettingsError::new(
                "TENANTGRAPH_LOG_LEVEL",
                format!("expected a tracing filter such as `info`: {err}"),
            ));
        }
        Ok(TelemetrySettings {
            log_format: self.log_format,
            log_level: self.log_level.clone(),
            metrics_bind,
        })
    }

    /// Where `/metrics` is served, or `None` when `off`. Unset: [`DEFAULT_METRICS_BIND`], but a
    /// free loopback port with `--demo` or when `bind` asks for port 0, so that several such
    /// servers (demos, tests) can run side by side.
    fn metrics_listener(
        &self,
        demo: bool,
        bind: SocketAddr,
    ) -> Result<Option<SocketAddr>, SettingsError> {
        const KEY: &str = "TENANTGRAPH_METRICS_BIND";
        let addr = match self.metrics_bind.as_deref().map(str::trim) {
            Some("off") => return Ok(None),
            Some(text) => text.parse::<SocketAddr>().map_err(|_| {
                SettingsError::new(
                    KEY,
                    format!("expected an address such as 127.0.0.1:9090, or off, got {text:?}"),
                )
            })?,
            None if demo || bind.port() == 0 => SocketAddr::from(([127, 0, 0, 1], 0)),
            None => DEFAULT_METRICS_BIND.parse().map_err(|_| {
                SettingsError::new(KEY, "the default metrics address does not parse")
            })?,
        };
        if addr.port() != 0 && addr == bind {
            return Err(SettingsError::new(
                KEY,
                format!("expected an address other than TENANTGRAPH_BIND, got {addr}"),
            ));
        }
        Ok(Some(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIND: &str = "127.0.0.1:8080";

    #[test]
    fn metrics_listener_defaults_to_loopback_follows_port_zero_and_can_be_off() {
        let listener = |section: TelemetrySection, demo: bool, bind: &str| {
            section
                .check(demo, bind.parse().unwrap())
                .map(|t| t.metrics_bind)
        };
        let default = TelemetrySection::default;
        assert_eq!(
            listener(default(), false, BIND).unwrap(),
            Some(DEFAULT_METRICS_BIND.parse().unwrap())
        );
        let ephemeral = Some("127.0.0.1:0".parse().unwrap());
        assert_eq!(listener(default(), true, BIND).unwrap(), ephemeral);
        assert_eq!(
            listener(default(), false, "127.0.0.1:0").unwrap(),
            ephemeral
        );
        let off = TelemetrySection {
            metrics_bind: Some("off".into()),
            ..default()
        };
        assert_eq!(listener(off, false, BIND).unwrap(), None);
        for bad in ["nowhere", BIND] {
            let section = TelemetrySection {
                metrics_bind: Some(bad.into()),
                ..default()
            };
            let err = listener(section, false, BIND).unwrap_err().to_string();
            assert!(err.contains("TENANTGRAPH_METRICS_BIND"), "{err}");
        }
    }

    #[test]
    fn a_log_filter_tracing_cannot_read_is_named() {
        let section = TelemetrySection {
            log_level: "tenantgraph=loud".into(),
            ..TelemetrySection::default()
        };
        let err = section
            .check(false, BIND.parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid setting TENANTGRAPH_LOG_LEVEL:"),
            "{err}"
        );
    }
}
