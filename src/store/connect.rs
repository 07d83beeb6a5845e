//! Opening the store: pool settings, SQLite pragmas, migrations, write transactions.

use std::sync::Arc;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::data_version::{self, DataVersion, SqliteWatch};
use super::error::StoreError;
use crate::config::store::StoreSettings;

/// One executed SQL statement, as seen by a [`StatementObserver`].
pub struct ExecutedStatement<'a> {
    statement: &'a sea_orm::Statement,
    /// How long it took.
    pub elapsed: Duration,
    /// Whether it failed.
    pub failed: bool,
}

impl ExecutedStatement<'_> {
    /// The SQL with its values inlined. Holds user data: for tests and debugging, not for logs.
    pub fn sql(&self) -> String {
        self.statement.to_string()
    }

    /// The SQL as sent, with placeholders where its values go: no user data from the values.
    pub fn sql_text(&self) -> &str {
        &self.statement.sql
    }

    /// The database, as OpenTelemetry's `db.system` names it.
    pub fn db_system(&self) -> &'static str {
        match self.statement.db_backend {
            DatabaseBackend::Postgres => "postgresql",
            DatabaseBackend::Sqlite => "sqlite",
            _ => "other_sql",
        }
    }
}

/// Called once per executed SQL statement.
pub type StatementObserver = Arc<dyn Fn(&ExecutedStatement<'_>) + Send + Sync>;

/// How long an SQLite writer waits for the write lock before giving up: the writers of other
/// processes, and this process's statements outside a write transaction (this process's write
/// transactions queue on [`WRITE_TURN_WAIT`] first).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite's page cache per connection (KiB), allocated only as pages are used: an import
/// commit with SQLite's 2 MB default re-read and spilled pages through the WAL for most of its
/// time (perf, benches/import.sh).
const SQLITE_CACHE_KIB: u32 = 32_768;

/// The page cache of the connection writing an import commit (KiB). 64 MiB against 128 MiB
/// (benches/README.md, the importer's peak memory): the importer's peak at 20 tenants of
/// 50,000 users fell from 307–310 MB to 253–266 MB and at 2 of 100,000 from 278–284 to
/// 215–222 MB, and the imports were no slower (117–126 s against 125–144 s, 18.6–19.8 s
/// against 20.5–20.9 s, alternating runs beside a CI run).
const SQLITE_IMPORT_CACHE_KIB: u32 = 65_536;

/// How long a write transaction waits for the one before it in this process to end on SQLite:
/// they take turns on one connection there, and a large tenant's import commit takes minutes.
const WRITE_TURN_WAIT: Duration = Duration::from_secs(3600);

/// A pooled connection idle at least this long is pinged before it is handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// A connection pool to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    settings: StoreSettings,
    /// On a file-backed SQLite store, the one connection every write transaction of this
    /// process runs on, opened at the first (see [`Store::begin_write`]).
    writer: Arc<tokio::sync::OnceCell<DatabaseConnection>>,
    /// On a file-backed SQLite store, the connection that watches its data version.
    sqlite_watch: Arc<SqliteWatch>,
    observer: Option<StatementObserver>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("db", &self.db)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the pool described by `settings`. On SQLite: WAL journal, a busy timeout, foreign
    /// keys on. On PostgreSQL: `statement_timeout` set on every connection. Fails with [`StoreError::Unavailable`] naming the masked URL.
    #[tracing::instrument(skip_all, fields(url = %settings.masked_url()))]
    pub async fn connect(
        settings: &StoreSettings,
        observer: Option<StatementObserver>,
    ) -> Result<Store, StoreError> {
        // An in-memory SQLite database exists once per connection: keep exactly one, forever.
        let max = if is_in_memory(settings) {
            1
        } else {
            settings.max_connections
        };
        Ok(Store {
            db: open_pool(settings, max, settings.acquire_timeout, observer.clone()).await?,
            settings: settings.clone(),
            writer: Arc::default(),
            sqlite_watch: Arc::default(),
            observer,
        })
    }

    /// The database URL this store was opened with (may hold a password: don't log it; see
    /// [`StoreSettings::masked_url`]).
    pub fn url(&self) -> &str {
        &self.settings.url
    }

    /// The version of the data committed now; `None` on an in-memory SQLite store, which has
    /// none (see [`super::data_version`]).
    pub async fn data_version(&self) -> Result<Option<DataVersion>, StoreError> {
        match self.backend() {
            DatabaseBackend::Postgres => data_version::of_postgres(&self.db).await,
            DatabaseBackend::Sqlite if !is_in_memory(&self.settings) => {
                let report = |statement: &sea_orm::Statement, elapsed, failed| {
                    if let Some(observer) = &self.observer {
                        observer(&ExecutedStatement {
                            statement,
                            elapsed,
                            failed,
                        });
                    }
                };
                let version = self
                    .sqlite_watch
                    .version(&self.settings.url, report)
                    .await?;
                Ok(Some(version))
            }
            _ => Ok(None),
        }
    }

    /// The SeaORM connection, for the store's own modules.
    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Which database this is.
    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Applies every pending migration (what [`super::migrate`] does first).
    #[tracing::instrument(skip_all)]
    pub(crate) async fn apply_migrations(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Whether the store answers and has every migration applied. Reads only: probes run often
    /// and may hit a read replica.
    pub async fn is_ready(&self) -> Result<bool, StoreError> {
        self.db.ping().await?;
        Ok(Migrator::get_pending_migrations_read_only(&self.db)
            .await?
            .is_empty())
    }

    /// Starts a write transaction. On SQLite it takes the write lock at `BEGIN` (IMMEDIATE), and
    /// on a file-backed store it runs on a connection of its own, the same for every write
    /// transaction of this process: they take turns there in the order they asked (up to
    /// [`WRITE_TURN_WAIT`]) instead of on SQLite's busy timeout, which a large tenant's import
    /// commit outlasts, so no writer of this process is refused for waiting. One connection
    /// also keeps one prepared copy of an import commit's large multi-row statements and one
    /// share of the page pool (benches/README.md, the importer's peak memory).
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        begin_write_on(self.writer_connection().await?.unwrap_or(&self.db)).await
    }

    /// The connection write transactions run on, opened at the first; `None` where they use
    /// the pool (PostgreSQL, in-memory SQLite).
    async fn writer_connection(&self) -> Result<Option<&DatabaseConnection>, StoreError> {
        if self.backend() != DatabaseBackend::Sqlite || is_in_memory(&self.settings) {
            return Ok(None);
        }
        let db = self
            .writer
            .get_or_try_init(|| {
                open_pool(&self.settings, 1, WRITE_TURN_WAIT, self.observer.clone())
            })
            .await?;
        Ok(Some(db))
    }

    /// On SQLite, sets the page cache of `txn`'s connection to the import commit's size
    /// (`import`) or back to every connection's; nothing on PostgreSQL.
    pub(crate) async fn set_import_cache(
        &self,
        txn: &DatabaseTransaction,
        import: bool,
    ) -> Result<(), StoreError> {
        if self.backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let kib = if import {
            SQLITE_IMPORT_CACHE_KIB
        } else {
            SQLITE_CACHE_KIB
        };
        txn.execute_unprepared(&format!("PRAGMA cache_size = -{kib}"))
            .await?;
        Ok(())
    }

    /// On SQLite, frees the page-cache memory no statement is using, on every connection: the
    /// bundled SQLite is built with `SQLITE_ENABLE_MEMORY_MANAGEMENT`, so the connections share
    /// one page pool that keeps up to the sum of their cache sizes. After an import commit that
    /// is its large cache's pages, which the commit no longer needs. Nothing on PostgreSQL.
    pub(crate) async fn release_cache_memory(&self) -> Result<(), StoreError> {
        if self.backend() == DatabaseBackend::Sqlite {
            self.db.execute_unprepared("PRAGMA shrink_memory").await?;
            // SQLite allocates with the C library's malloc, whose per-thread arenas keep what
            // is freed; without this, the next commit on another connection's thread grows
            // its own arena beside the freed one.
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only returns free memory to the system; it takes no pointer.
            unsafe {
                libc::malloc_trim(0);
            }
        }
        Ok(())
    }

    /// Pool use: (connections open, connections idle).
    pub fn pool_usage(&self) -> (u32, u32) {
        match self.backend() {
            DatabaseBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle() as u32)
            }
            DatabaseBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle() as u32)
            }
            _ => (0, 0),
        }
    }

    /// Runs one statement that needs no result (used by test support to count or reset).
    pub async fn execute_raw(&self, sql: &str) -> Result<(), StoreError> {
        self.db.execute_unprepared(sql).await?;
        Ok(())
    }

    /// The query plan of a read-only statement: `EXPLAIN QUERY PLAN` lines on SQLite, `EXPLAIN`
    /// lines on PostgreSQL.
    pub async fn query_plan(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        let (explain, column) = match self.backend() {
            DatabaseBackend::Sqlite => ("EXPLAIN QUERY PLAN", "detail"),
            _ => ("EXPLAIN", "QUERY PLAN"),
        };
        let statement = sea_orm::Statement::from_string(self.backend(), format!("{explain} {sql}"));
        let rows = self.db.query_all_raw(statement).await?;
        rows.iter()
            .map(|row| row.try_get::<String>("", column).map_err(StoreError::from))
            .collect()
    }

    /// Closes the pool (and the write transactions' and the data version's connections).
    pub async fn close(self) -> Result<(), StoreError> {
        if let Some(writer) = self.writer.get() {
            writer.clone().close().await?;
        }
        self.sqlite_watch.close().await?;
        self.db.close().await?;
        Ok(())
    }
}

/// Starts a write transaction on `db` that takes SQLite's write lock at `BEGIN` (IMMEDIATE).
async fn begin_write_on(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    Ok(db.begin_with_options(options).await?)
}

/// Whether `settings` name an in-memory SQLite database.
fn is_in_memory(settings: &StoreSettings) -> bool {
    settings.url.contains(":memory:") || settings.url.contains("mode=memory")
}

/// Opens a pool of at most `max` connections to the store `settings` name, with the pragmas
/// and timeouts every connection gets, each statement reported to `observer`.
async fn open_pool(
    settings: &StoreSettings,
    max: u32,
    acquire_timeout: Duration,
    observer: Option<StatementObserver>,
) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(settings.url.clone());
    let in_memory = is_in_memory(settings);
    options
        .max_connections(max)
        .min_connections(if in_memory { 1 } else { 0 })
        .acquire_timeout(acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        // sqlx pings a pooled connection before every hand-out by default: on SQLite a
        // round trip to the connection's worker thread per statement. Only a connection
        // idle long enough to have been dropped by the server (or a NAT) is checked.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
                // Statement journals of multi-row upserts stay in memory, not temp files.
                .pragma("temp_store", "memory")
                // A page of 500 users (plus one) reaches the caller without the worker
                // thread stopping for back-pressure halfway.
                .row_buffer_size(1024)
        });
    // Every statement on a pooled PostgreSQL connection is cancelled by the server after
    // this long (issue 5: database statement timeout). SQLite has no per-statement timer
    // reachable through sqlx; there the API's request timeout bounds the operation.
    let statement_timeout_ms = settings.statement_timeout.as_millis().max(1).to_string();
    options.map_sqlx_postgres_opts(move |opts| {
        opts.options([("statement_timeout", statement_timeout_ms.as_str())])
    });
    if in_memory {
        options
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>);
    }
    let mut db = Database::connect(options).await.map_err(|err| {
        StoreError::Unavailable(format!(
            "cannot open {}: {}",
            settings.masked_url(),
            first_line(&err.to_string())
        ))
    })?;
    if let Some(observer) = observer {
        db.set_metric_callback(move |info| {
            observer(&ExecutedStatement {
                statement: info.statement,
                elapsed: info.elapsed,
                failed: info.failed,
            })
        });
    }
    Ok(db)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use sea_orm::Statement;

    use super::*;

    #[tokio::test]
    async fn the_bundled_sqlite_keeps_no_memory_statistics_plans_without_values_and_shares_pages() {
        let store = Store::connect(&StoreSettings::for_url("sqlite::memory:"), None)
            .await
            .unwrap();
        let rows = store
            .db()
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "PRAGMA compile_options",
            ))
            .await
            .unwrap();
        let options: Vec<String> = rows
            .iter()
            .map(|row| row.try_get_by_index(0).unwrap())
            .collect();
        // ENABLE_MEMORY_MANAGEMENT (libsqlite3-sys sets it): one page pool for every
        // connection, which `PRAGMA shrink_memory` empties after an import commit.
        for wanted in [
            "DEFAULT_MEMSTATUS=0",
            "ENABLE_QPSG",
            "ENABLE_MEMORY_MANAGEMENT",
        ] {
            assert!(
                options.iter().any(|o| o == wanted),
                "{wanted}: LIBSQLITE3_FLAGS of .cargo/config.toml did not reach the build: {options:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_writer_of_this_process_waits_its_turn_longer_than_the_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        let store = Store::connect(&StoreSettings::for_url(&url), None)
            .await
            .unwrap();
        store
            .db()
            .execute_unprepared("CREATE TABLE t (n INTEGER)")
            .await
            .unwrap();
        // A long write, as a large tenant's import commit is.
        let first = store.begin_write().await.unwrap();
        first
            .execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        let second = {
            let store = store.clone();
            tokio::spawn(async move {
                let txn = store.begin_write().await?;
                txn.execute_unprepared("INSERT INTO t VALUES (2)").await?;
                txn.commit().await?;
                Ok::<_, StoreError>(())
            })
        };
        tokio::time::sleep(SQLITE_BUSY_TIMEOUT + Duration::from_secs(1)).await;
        assert!(
            !second.is_finished(),
            "the second writer waits for its turn"
        );
        first.commit().await.unwrap();
        second.await.unwrap().unwrap();
        let rows = store
            .db()
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT n FROM t ORDER BY n",
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "both writes committed");
    }
}
