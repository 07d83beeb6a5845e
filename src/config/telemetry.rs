//! Telemetry: the log format and filter, where `/metrics` is served, and where spans are
//! exported (OTLP).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::SettingsError;

/// Where `/metrics` is served unless set: loopback only, the port Prometheus exporters use.
pub const DEFAULT_METRICS_BIND: &str = "127.0.0.1:9090";

/// The service name spans are exported under unless set.
pub const DEFAULT_OTLP_SERVICE_NAME: &str = "tenantgraph";

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
    /// Base URL of an OTLP/HTTP collector (`http://localhost:4318`): spans are exported to
    /// `<url>/v1/traces` as protobuf. Unset: no spans are exported.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub otlp_service_name: String,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        TelemetrySection {
            log_format: LogFormat::Pretty,
            log_level: "info".to_owned(),
            metrics_bind: None,
            otlp_endpoint: None,
            otlp_service_name: DEFAULT_OTLP_SERVICE_NAME.to_owned(),
        }
    }
}

/// Where and as what spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// The collector's traces URL (`…/v1/traces`).
    pub traces_url: String,
    /// `service.name` of the spans.
    pub service_name: String,
}

impl OtlpSettings {
    /// The traces URL without credentials or query, for logs.
    pub fn masked_url(&self) -> String {
        match url::Url::parse(&self.traces_url) {
            Ok(mut url) => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.set_query(None);
                url.to_string()
            }
            Err(_) => String::new(),
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
    /// Where spans are exported, or `None` when `TENANTGRAPH_OTLP_ENDPOINT` is unset.
    pub otlp: Option<OtlpSettings>,
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
            otlp: self.otlp()?,
        })
    }

    /// The OTLP exporter's settings: `None` when the endpoint is unset or empty; refuses an
    /// endpoint that is not an `http(s)` URL and an empty service name. The endpoint is the
    /// collector's base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT`: `/v1/traces` is appended unless
    /// it already ends the path.
    fn otlp(&self) -> Result<Option<OtlpSettings>, SettingsError> {
        const KEY: &str = "TENANTGRAPH_OTLP_ENDPOINT";
        let Some(text) = self
            .otlp_endpoint
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Ok(None);
        };
        let expected = "expected the http(s) base URL of an OTLP collector such as \
                        http://localhost:4318";
        let mut url = url::Url::parse(text)
            .map_err(|e| SettingsError::new(KEY, format!("{expected}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(SettingsError::new(
                KEY,
                format!("{expected}, got a {} URL", url.scheme()),
            ));
        }
        if !url.path().ends_with("/v1/traces") {
            let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
            url.set_path(&path);
        }
        let service_name = self.otlp_service_name.trim();
        if service_name.is_empty() {
            return Err(SettingsError::new(
                "TENANTGRAPH_OTLP_SERVICE_NAME",
                "expected a service name such as tenantgraph, got an empty one",
            ));
        }
        Ok(Some(OtlpSettings {
            traces_url: url.to_string(),
            service_name: service_name.to_owned(),
        }))
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
    fn otlp_endpoint_is_a_base_url_that_gets_the_traces_path() {
        let otlp = |endpoint: Option<&str>| {
            TelemetrySection {
                otlp_endpoint: endpoint.map(str::to_owned),
                ..TelemetrySection::default()
            }
            .check(false, BIND.parse().unwrap())
            .map(|t| t.otlp.map(|o| o.traces_url))
        };
        assert_eq!(otlp(None).unwrap(), None);
        assert_eq!(otlp(Some(" ")).unwrap(), None);
        for (given, traces) in [
            ("http://localhost:4318", "http://localhost:4318/v1/traces"),
            ("http://collector:4318/", "http://collector:4318/v1/traces"),
            (
                "https://otel.example/otlp",
                "https://otel.example/otlp/v1/traces",
            ),
            (
                "http://127.0.0.1:4318/v1/traces",
                "http://127.0.0.1:4318/v1/traces",
            ),
        ] {
            assert_eq!(otlp(Some(given)).unwrap().as_deref(), Some(traces));
        }
        for bad in ["localhost:4318", "grpc://collector:4317", "not a url"] {
            let err = otlp(Some(bad)).unwrap_err().to_string();
            assert!(err.contains("TENANTGRAPH_OTLP_ENDPOINT"), "{err}");
        }
    }

    #[test]
    fn the_masked_otlp_url_has_no_credentials_or_query() {
        let settings = OtlpSettings {
            traces_url: "https://user:pw@otel.example/v1/traces?key=s3cret".to_owned(),
            service_name: DEFAULT_OTLP_SERVICE_NAME.to_owned(),
        };
        assert_eq!(settings.masked_url(), "https://otel.example/v1/traces");
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
