//! Settings from flags > `TENANTGRAPH_*` environment variables > TOML file > defaults, checked
//! once at start into a [`Config`]. The only module that reads the environment; imports nothing
//! of ours.
//!
//! One module per section of the settings. Each owns its struct, whose fields are its keys (flat
//! on the wire: a TOML key and a `TENANTGRAPH_<KEY>` variable each), their defaults, and its
//! `check()`, which refuses what can't be used and returns the view the rest of the crate runs
//! with. Adding a setting is its field with its default in its section, and its line in
//! `config.default.toml` (and the table of docs/configuration.md): a test holds the three together.

pub mod alerts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod graphql;
pub mod http;
pub mod importer;
pub mod optimization;
pub mod rate_limits;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod upstream;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::alerts::{AlertSettings, AlertsSection};
use self::api::ApiSettings;
use self::audit::AuditSection;
use self::auth::{AuthSection, AuthSettings};
use self::graphql::GraphqlSection;
use self::http::HttpSection;
use self::importer::{ImporterSection, ImporterSettings};
use self::optimization::OptimizationSection;
use self::rate_limits::RateLimitSection;
use self::secrets::SecretsSection;
use self::store::{StoreSection, StoreSettings};
use self::telemetry::{LogFormat, TelemetrySection, TelemetrySettings};
use self::upstream::UpstreamSection;

/// Every setting as read, section by section. The sections are flattened: on the wire (TOML,
/// environment, `Debug`) each of their fields is a top-level key.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settings {
    /// Start with the demo data set (`serve --demo`; not read from the environment).
    pub demo: bool,
    /// Database URL, pool and statement timeout.
    #[serde(flatten)]
    pub store: StoreSection,
    /// Listen address, GraphiQL, request bodies, CORS, proxies, WebSocket start.
    #[serde(flatten)]
    pub http: HttpSection,
    /// Logs and the metrics listener.
    #[serde(flatten)]
    pub telemetry: TelemetrySection,
    /// How long the audit log is kept.
    #[serde(flatten)]
    pub audit: AuditSection,
    /// Microsoft's endpoints and the importer's credentials.
    #[serde(flatten)]
    pub upstream: UpstreamSection,
    /// The keys that encrypt secrets in the store.
    #[serde(flatten)]
    pub secrets: SecretsSection,
    /// What, when and how the importer imports.
    #[serde(flatten)]
    pub importer: ImporterSection,
    /// GraphQL operation limits, previews, batching, persisted and trusted documents.
    #[serde(flatten)]
    pub graphql: GraphqlSection,
    /// How requests are authenticated.
    #[serde(flatten)]
    pub auth: AuthSection,
    /// Token buckets per principal and per client address.
    #[serde(flatten)]
    pub rate_limits: RateLimitSection,
    /// What license optimization counts as waste.
    #[serde(flatten)]
    pub optimization: OptimizationSection,
    /// Webhooks, retries and what raises an alert.
    #[serde(flatten)]
    pub alerts: AlertsSection,
}

/// The key of [`Settings::demo`], the one setting outside the sections.
const DEMO: &str = "demo";

/// Every section's keys, in the order of [`Settings`]' fields. These are the keys read from the
/// environment, as `TENANTGRAPH_<KEY>`.
fn section_keys() -> &'static [&'static str] {
    &all_keys()[1..]
}

/// [`DEMO`], then every section's keys: all the keys a TOML file may set.
fn all_keys() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let sections = [
            keys_of::<StoreSection>(),
            keys_of::<HttpSection>(),
            keys_of::<TelemetrySection>(),
            keys_of::<AuditSection>(),
            keys_of::<UpstreamSection>(),
            keys_of::<SecretsSection>(),
            keys_of::<ImporterSection>(),
            keys_of::<GraphqlSection>(),
            keys_of::<AuthSection>(),
            keys_of::<RateLimitSection>(),
            keys_of::<OptimizationSection>(),
            keys_of::<AlertsSection>(),
        ];
        std::iter::once(DEMO)
            .chain(sections.into_iter().flatten().copied())
            .collect()
    })
}

/// The keys of a section: the field names its derived `Deserialize` asks for, so that a field
/// added to a section is a key without being listed anywhere else.
fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error as _, Visitor};
    type Error = serde::de::value::Error;

    /// A deserializer that only notes the fields of the struct asked of it.
    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(Error::custom("a section is a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            *self.0 = fields;
            Err(Error::custom("fields noted"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    // The probe always fails, once it has noted the fields.
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// The settings, checked: what the commands run with. Built by [`Settings::load`] (or
/// [`Settings::check`]), so every value in it has passed its section's check.
#[derive(Debug, Clone)]
pub struct Config {
    /// The settings these were checked from (`serve --demo` points them at its simulator).
    pub settings: Settings,
    /// Started with the demo data set.
    pub demo: bool,
    /// Address `serve` listens on.
    pub bind: SocketAddr,
    /// Serve GraphiQL at `GET /`.
    pub graphiql: bool,
    /// Where and how to connect to the store.
    pub store: StoreSettings,
    /// Operation limits and HTTP transport of the API.
    pub api: ApiSettings,
    /// Logs and the metrics listener.
    pub telemetry: TelemetrySettings,
    /// How long audit log entries are kept; `None` keeps them forever.
    pub audit_retention: Option<Duration>,
    /// Days history intervals are kept after their last day; `None` keeps them forever.
    pub history_retention_days: Option<u32>,
    /// Webhooks and alerts.
    pub alerts: AlertSettings,
    /// Checked, except that credentials may still come without a secret key: see
    /// [`Config::importer`].
    importer: ImporterSettings,
    /// `None` when no mode is set (and not `--demo`): see [`Config::auth`].
    auth: Option<AuthSettings>,
}

impl Config {
    /// The importer's settings, for a command that imports: refuses credentials without
    /// `TENANTGRAPH_SECRET_KEY`, as the rotated refresh token they lead to is only stored
    /// encrypted (`migrate` needs no key).
    pub fn importer(&self) -> Result<ImporterSettings, SettingsError> {
        self.importer.for_import()
    }

    /// How `serve` authenticates requests: refuses an unset mode (unless `--demo`, which means
    /// `none`).
    pub fn auth(&self) -> Result<AuthSettings, SettingsError> {
        auth::for_serve(self.auth.as_ref())
    }
}

/// Values given on the command line; they win over every other source.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    /// `--bind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// `--demo`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
}

/// A setting that can't be used, named with what was expected.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {key}{source_hint}: {message}")]
pub struct SettingsError {
    key: String,
    source_hint: String,
    message: String,
}

impl SettingsError {
    /// A setting that is missing or unusable for what was asked.
    pub fn missing(key: &str, message: impl Into<String>) -> Self {
        SettingsError::new(key, message)
    }

    fn new(key: &str, message: impl Into<String>) -> Self {
        SettingsError {
            key: key.to_owned(),
            source_hint: String::new(),
            message: message.into(),
        }
    }
}

impl Settings {
    /// Loads settings from the given TOML file (if any), the environment and the flags, and
    /// checks them.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(SettingsError::new(
                    "--config",
                    format!(
                        "expected a readable TOML file, {} does not exist",
                        file.display()
                    ),
                ));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment
            .merge(
                Env::prefixed("TENANTGRAPH_")
                    .filter(|key| section_keys().iter().any(|k| key == *k)),
            )
            .merge(Serialized::defaults(overrides));
        Settings::extract(&figment)?.check()
    }

    /// Each section read from the merged sources on its own, through figment's deserializer, so
    /// that a bad value's error names its key and source (serde's `flatten` would buffer the
    /// values and lose both). A key no section has is refused, as `deny_unknown_fields` would.
    fn extract(figment: &Figment) -> Result<Settings, SettingsError> {
        fn section<T: DeserializeOwned>(figment: &Figment) -> Result<T, SettingsError> {
            figment.extract().map_err(from_figment)
        }
        let keys: figment::value::Dict = section(figment)?;
        if let Some(unknown) = keys.keys().find(|key| !all_keys().contains(&key.as_str())) {
            let mut err = figment::Error::from(figment::error::Kind::UnknownField(
                unknown.clone(),
                all_keys(),
            ))
            .with_path(unknown);
            err.metadata = figment.find_metadata(unknown).cloned();
            return Err(from_figment(err));
        }
        Ok(Settings {
            demo: figment.extract_inner(DEMO).map_err(from_figment)?,
            store: section(figment)?,
            http: section(figment)?,
            telemetry: section(figment)?,
            audit: section(figment)?,
            upstream: section(figment)?,
            secrets: section(figment)?,
            importer: section(figment)?,
            graphql: section(figment)?,
            auth: section(figment)?,
            rate_limits: section(figment)?,
            optimization: section(figment)?,
            alerts: section(figment)?,
        })
    }

    /// Checks every section and returns what the commands run with; the first setting that
    /// can't be used is the error.
    pub fn check(&self) -> Result<Config, SettingsError> {
        let store = self.store.check(self.demo)?;
        let upstream = self.upstream.check()?;
        let secret_keys = self.secrets.check()?;
        let cursor_keys = secret_keys.clone();
        let importer = self.importer.check(upstream, secret_keys)?;
        let http = self.http.check()?;
        let telemetry = self.telemetry.check(self.demo, http.bind)?;
        let graphql = self.graphql.check(self.demo)?;
        let rate_limits = self.rate_limits.check(graphql.max_batch)?;
        let auth = self.auth.check(self.demo, http.bind)?;
        let audit_retention = self.audit.check()?;
        let inactive_days = self.optimization.check()?;
        let alerts = self.alerts.check()?;
        Ok(Config {
            settings: self.clone(),
            demo: self.demo,
            bind: http.bind,
            graphiql: http.graphiql,
            store,
            api: ApiSettings {
                cursor_keys,
                inactive_days,
                ..ApiSettings::new(graphql, http, rate_limits)
            },
            telemetry,
            audit_retention,
            history_retention_days: self.audit.history_retention_days(),
            alerts,
            importer,
            auth,
        })
    }
}

/// An `http(s)` URL, or an error naming `key`.
fn http_url(key: &str, value: &str) -> Result<url::Url, SettingsError> {
    url::Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| SettingsError::new(key, format!("expected an http(s) URL, got {value:?}")))
}

/// A tenant GUID, or an error naming `key`.
fn parse_guid(key: &str, value: &str) -> Result<uuid::Uuid, SettingsError> {
    uuid::Uuid::try_parse(value.trim())
        .map_err(|_| SettingsError::new(key, format!("expected a tenant GUID, got {value:?}")))
}

/// `Err` naming the first key whose value is 0.
fn at_least_one(values: &[(&str, u64)]) -> Result<(), SettingsError> {
    match values.iter().find(|(_, value)| *value == 0) {
        Some((key, _)) => Err(SettingsError::new(key, "expected at least 1")),
        None => Ok(()),
    }
}

fn from_figment(err: figment::Error) -> SettingsError {
    let key = err
        .path
        .last()
        .map(|k| format!("TENANTGRAPH_{}", k.to_uppercase()))
        .unwrap_or_else(|| "settings".to_owned());
    let source_hint = err
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    SettingsError {
        key,
        source_hint,
        message: err.kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config.default.toml` lists every setting: each key of each section (all read from the
    /// environment), no other, each with the built-in default (keys unset by default are
    /// commented out), and the settings table of docs/configuration.md names each one.
    #[test]
    fn config_default_toml_lists_every_setting_with_its_default() {
        let text = include_str!("../../config.default.toml");
        let in_file: std::collections::BTreeSet<&str> = text
            .lines()
            .filter_map(|line| {
                let line = line.strip_prefix("# ").unwrap_or(line);
                let (key, _) = line.split_once(" = ")?;
                key.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    .then_some(key)
            })
            .collect();
        let in_code: std::collections::BTreeSet<&str> = section_keys().iter().copied().collect();
        assert_eq!(
            in_code.len(),
            section_keys().len(),
            "a key is in two sections"
        );
        assert!(
            !in_code.contains(DEMO),
            "demo is a flag, not a section's key"
        );
        assert_eq!(
            in_file.difference(&in_code).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "keys in config.default.toml that the code does not read"
        );
        assert_eq!(
            in_code.difference(&in_file).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "settings missing from config.default.toml"
        );
        let from_file = Settings::extract(
            &Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(text)),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&from_file).unwrap(),
            serde_json::to_value(Settings::default()).unwrap(),
            "a value in config.default.toml is not the built-in default"
        );
        let table = include_str!("../../docs/configuration.md");
        for key in section_keys() {
            let variable = format!("`TENANTGRAPH_{}`", key.to_uppercase());
            assert!(
                table.contains(&variable),
                "{variable} is not in docs/configuration.md"
            );
        }
    }

    /// Every field of every section is a key, flat on the wire: what `Settings` serializes to
    /// (the defaults figment starts from) is exactly the keys, one level deep.
    #[test]
    fn sections_are_flat_on_the_wire() {
        let value = serde_json::to_value(Settings::default()).unwrap();
        let mut wire: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = all_keys().to_vec();
        wire.sort_unstable();
        keys.sort_unstable();
        assert_eq!(wire, keys);
    }

    #[test]
    fn default_settings_pass_their_checks() {
        let config = Settings::default().check().unwrap();
        assert!(!config.demo);
        assert_eq!(config.api, ApiSettings::default());
        assert!(config.importer().unwrap().credentials.is_none());
    }

    fn load_file(text: &str) -> Result<Config, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tg.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(Some(&path), &Overrides::default())
    }

    #[test]
    fn toml_file_is_read_and_a_bad_value_is_named() {
        let text = load_file("db_max_connections = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("invalid setting TENANTGRAPH_DB_MAX_CONNECTIONS (from TOML file"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");

        let config = load_file("db_max_connections = 3\nlog_level = \"debug\"\n").unwrap();
        assert_eq!(config.store.max_connections, 3);
        assert_eq!(config.telemetry.log_level, "debug");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_source() {
        for text in [
            "db_max_conections = 3\n",
            "[store]\ndb_max_connections = 3\n",
        ] {
            let err = load_file(text).unwrap_err().to_string();
            assert!(err.contains("unknown field"), "{err}");
            assert!(err.contains("(from TOML file"), "{err}");
            assert!(err.contains("`db_max_connections`"), "{err}");
        }
        let err = load_file("db_max_conections = 3\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid setting TENANTGRAPH_DB_MAX_CONECTIONS"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_value_in_a_later_section_is_named() {
        let err = load_file("rate_limit_burst = -1\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid setting TENANTGRAPH_RATE_LIMIT_BURST (from TOML file"),
            "{err}"
        );
        let config = load_file("demo = true\nauth_leeway_secs = 5\n").unwrap();
        assert!(config.demo);
        assert_eq!(config.auth().unwrap().leeway, Duration::from_secs(5));
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tg.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:9000\"\n").unwrap();
        let overrides = Overrides {
            bind: Some("127.0.0.1:9100".parse().unwrap()),
            ..Overrides::default()
        };
        let config = Settings::load(Some(&path), &overrides).unwrap();
        assert_eq!(config.bind.port(), 9100);
    }
}
