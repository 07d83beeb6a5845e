//! The store: which database, its connection pool and its statement timeout.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SettingsError, at_least_one};

/// Default store: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tenantgraph.db?mode=rwc";
/// Store used by `serve --demo` when no database URL is set.
pub const DEMO_DATABASE_URL: &str = "sqlite://tenantgraph-demo.db?mode=rwc";

/// The store's settings as read. `Debug` masks a password in the URL.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoreSection {
    /// `TENANTGRAPH_DATABASE_URL`; unset means the default file (or the demo file with `--demo`).
    pub database_url: Option<String>,
    /// Largest number of pooled database connections.
    pub db_max_connections: u32,
    /// Seconds to wait for a pooled connection before failing a request.
    pub db_acquire_timeout_secs: u64,
    /// Longest one SQL statement may run, in milliseconds: PostgreSQL's `statement_timeout` on
    /// every pooled connection (SQLite has none; the GraphQL timeout bounds its operations).
    pub db_statement_timeout_ms: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            database_url: None,
            db_max_connections: 8,
            db_acquire_timeout_secs: 5,
            db_statement_timeout_ms: 5_000,
        }
    }
}

impl fmt::Debug for StoreSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSection")
            .field("database_url", &self.database_url.as_deref().map(mask_url))
            .field("db_max_connections", &self.db_max_connections)
            .field("db_acquire_timeout_secs", &self.db_acquire_timeout_secs)
            .field("db_statement_timeout_ms", &self.db_statement_timeout_ms)
            .finish()
    }
}

impl StoreSection {
    /// The store's settings; unset URL: the default file, or the demo file with `--demo`.
    /// Refuses a database other than SQLite or PostgreSQL, and an empty pool.
    pub(super) fn check(&self, demo: bool) -> Result<StoreSettings, SettingsError> {
        let url = match (&self.database_url, demo) {
            (Some(url), _) => url.clone(),
            (None, true) => DEMO_DATABASE_URL.to_owned(),
            (None, false) => DEFAULT_DATABASE_URL.to_owned(),
        };
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(SettingsError::new(
                "TENANTGRAPH_DATABASE_URL",
                format!("expected sqlite:… or postgres://…, got {}", mask_url(&url)),
            ));
        }
        at_least_one(&[
            (
                "TENANTGRAPH_DB_MAX_CONNECTIONS",
                u64::from(self.db_max_connections),
            ),
            (
                "TENANTGRAPH_DB_STATEMENT_TIMEOUT_MS",
                self.db_statement_timeout_ms,
            ),
        ])?;
        Ok(StoreSettings {
            url,
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout_secs),
            statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
        })
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
    /// Longest one statement may run.
    pub statement_timeout: Duration,
}

impl StoreSettings {
    /// Settings for `url` with default pool sizes.
    pub fn for_url(url: impl Into<String>) -> Self {
        let defaults = StoreSection::default();
        StoreSettings {
            url: url.into(),
            max_connections: defaults.db_max_connections,
            acquire_timeout: Duration::from_secs(defaults.db_acquire_timeout_secs),
            statement_timeout: Duration::from_millis(defaults.db_statement_timeout_ms),
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
            .field("statement_timeout", &self.statement_timeout)
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
        let section = StoreSection {
            database_url: Some("postgres://app:s3cret@db/tg".into()),
            ..StoreSection::default()
        };
        let store = section.check(false).unwrap();
        for text in [format!("{section:?}"), format!("{store:?}")] {
            assert!(!text.contains("s3cret") && text.contains("***"), "{text}");
        }
    }

    #[test]
    fn demo_without_a_url_uses_the_demo_file() {
        let url = |demo| StoreSection::default().check(demo).unwrap().url;
        assert_eq!(url(true), DEMO_DATABASE_URL);
        assert_eq!(url(false), DEFAULT_DATABASE_URL);
    }

    #[test]
    fn unsupported_database_scheme_and_zero_limits_are_refused() {
        let section = StoreSection {
            database_url: Some("mysql://x".into()),
            ..StoreSection::default()
        };
        let err = section.check(false).unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_DATABASE_URL"), "{err}");
        let section = StoreSection {
            db_statement_timeout_ms: 0,
            ..StoreSection::default()
        };
        let err = section.check(false).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid setting TENANTGRAPH_DB_STATEMENT_TIMEOUT_MS: expected at least 1"
        );
    }
}
