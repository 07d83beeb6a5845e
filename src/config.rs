//! Settings from flags > `TENANTGRAPH_*` environment variables > TOML file > defaults, checked
//! once at start. The only module that reads the environment; imports nothing of ours.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Default store: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tenantgraph.db?mode=rwc";
/// Store used by `serve --demo` when no database URL is set.
pub const DEMO_DATABASE_URL: &str = "sqlite://tenantgraph-demo.db?mode=rwc";

/// Setting keys read from the environment, as `TENANTGRAPH_<KEY>`.
const ENV_KEYS: &[&str] = &[
    "database_url",
    "db_max_connections",
    "db_acquire_timeout_secs",
    "bind",
    "log_format",
    "log_level",
    "graphiql",
];

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

/// Every setting of the service, flat so that each maps to one `TENANTGRAPH_*` variable.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `TENANTGRAPH_DATABASE_URL`; unset means the default file (or the demo file with `--demo`).
    pub database_url: Option<String>,
    /// Largest number of pooled database connections.
    pub db_max_connections: u32,
    /// Seconds to wait for a pooled connection before failing a request.
    pub db_acquire_timeout_secs: u64,
    /// Address `serve` listens on.
    pub bind: SocketAddr,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter in `tracing` syntax, e.g. `info` or `tenantgraph=debug,info`.
    pub log_level: String,
    /// Serve GraphiQL at `GET /`.
    pub graphiql: bool,
    /// Start with the demo data set.
    #[serde(default)]
    pub demo: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: None,
            db_max_connections: 8,
            db_acquire_timeout_secs: 5,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            log_format: LogFormat::Pretty,
            log_level: "info".to_owned(),
            graphiql: true,
            demo: false,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &self.store().masked_url())
            .field("db_max_connections", &self.db_max_connections)
            .field("bind", &self.bind)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("graphiql", &self.graphiql)
            .field("demo", &self.demo)
            .finish()
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
    fn new(key: &str, message: impl Into<String>) -> Self {
        SettingsError {
            key: key.to_owned(),
            source_hint: String::new(),
            message: message.into(),
        }
    }
}

impl Settings {
    /// Loads settings from the given TOML file (if any), the environment and the flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Settings, SettingsError> {
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
            .merge(Env::prefixed("TENANTGRAPH_").filter(|key| ENV_KEYS.iter().any(|k| key == *k)))
            .merge(Serialized::defaults(overrides));
        let settings: Settings = figment.extract().map_err(from_figment)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let url = self.store().url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(SettingsError::new(
                "TENANTGRAPH_DATABASE_URL",
                format!("expected sqlite:… or postgres://…, got {}", mask_url(&url)),
            ));
        }
        if self.db_max_connections == 0 {
            return Err(SettingsError::new(
                "TENANTGRAPH_DB_MAX_CONNECTIONS",
                "expected at least 1",
            ));
        }
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return Err(SettingsError::new(
                "TENANTGRAPH_LOG_LEVEL",
                format!("expected a tracing filter such as `info`: {err}"),
            ));
        }
        Ok(())
    }

    /// The store's part of the settings.
    pub fn store(&self) -> StoreSettings {
        let url = match (&self.database_url, self.demo) {
            (Some(url), _) => url.clone(),
            (None, true) => DEMO_DATABASE_URL.to_owned(),
            (None, false) => DEFAULT_DATABASE_URL.to_owned(),
        };
        StoreSettings {
            url,
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout_secs),
        }
    }
}

/// Where and how to connect to the store.
#[derive(Clone)]
pub struct StoreSettings {
    /// `sqlite:…` or `postgres://…`; may hold a password, so print [`Self::masked_url`].
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
}

impl StoreSettings {
    /// Settings for `url` with default pool sizes.
    pub fn for_url(url: impl Into<String>) -> Self {
        let defaults = Settings::default();
        StoreSettings {
            url: url.into(),
            max_connections: defaults.db_max_connections,
            acquire_timeout: Duration::from_secs(defaults.db_acquire_timeout_secs),
        }
    }

    /// The URL with any password replaced by `***`.
    pub fn masked_url(&self) -> String {
        mask_url(&self.url)
    }
}

impl fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSettings")
            .field("url", &self.masked_url())
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// Replaces the password of a URL with `***`; text that is not a URL comes back unchanged.
pub fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password only fails on URLs that can't have one, which we checked.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => raw.to_owned(),
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

    #[test]
    fn password_in_a_database_url_is_masked() {
        assert_eq!(
            mask_url("postgres://app:s3cret@db.example:5432/tg"),
            "postgres://app:***@db.example:5432/tg"
        );
        assert_eq!(mask_url("sqlite://x.db?mode=rwc"), "sqlite://x.db?mode=rwc");
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let settings = Settings {
            database_url: Some("postgres://app:s3cret@db/tg".into()),
            ..Settings::default()
        };
        assert!(!format!("{settings:?}").contains("s3cret"));
    }

    #[test]
    fn demo_without_a_url_uses_the_demo_file() {
        let settings = Settings {
            demo: true,
            ..Settings::default()
        };
        assert_eq!(settings.store().url, DEMO_DATABASE_URL);
        assert_eq!(Settings::default().store().url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn toml_file_is_read_and_a_bad_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tg.toml");
        std::fs::write(&path, "db_max_connections = \"many\"\n").unwrap();
        let err = Settings::load(Some(&path), &Overrides::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("TENANTGRAPH_DB_MAX_CONNECTIONS"), "{text}");
        assert!(!text.contains('\n'), "{text}");

        std::fs::write(&path, "db_max_connections = 3\nlog_level = \"debug\"\n").unwrap();
        let settings = Settings::load(Some(&path), &Overrides::default()).unwrap();
        assert_eq!(settings.db_max_connections, 3);
        assert_eq!(settings.log_level, "debug");
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
        let settings = Settings::load(Some(&path), &overrides).unwrap();
        assert_eq!(settings.bind.port(), 9100);
    }

    #[test]
    fn unsupported_database_scheme_is_refused() {
        let settings = Settings {
            database_url: Some("mysql://x".into()),
            ..Settings::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_DATABASE_URL"), "{err}");
    }
}
