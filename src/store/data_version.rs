//! The version of the committed data: two equal versions see the same data, so what was read
//! under one version answers again for as long as the store reports that version (the API's
//! read cache, `graphql::read_cache`).
//!
//! - PostgreSQL: the current snapshot (`pg_current_snapshot()`: its `xmin`, `xmax` and the
//!   transactions in progress) with the server's start time. Two equal snapshots of one server
//!   count the same transactions as committed. Any transaction that writes, in any process and
//!   any database of the cluster, takes a transaction id and so moves the snapshot; reads move
//!   nothing. The start time tells apart a server restored from a backup or promoted after a
//!   failover, which may hand out the same transaction ids again. A standby (in recovery) has
//!   no version: its snapshots do not list the transactions it replays.
//! - SQLite on a file: `PRAGMA data_version` of a connection kept for this alone, which never
//!   writes: the number moves whenever any other connection, of this process or another,
//!   commits. The connection's number in this store is part of the version, so a connection
//!   opened again after an error never repeats an old version.
//! - In-memory SQLite has no version: there is one connection, and a connection's own commits
//!   do not move its `data_version`.
//!
//! A version taken before a read and kept with what the read saw is safe: a commit between
//! the two moves every later version away from the kept one, so such a read is never served.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{ConnectOptions, Connection};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use tokio::sync::Mutex;

use super::error::StoreError;

/// What the store's committed data is at one moment (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataVersion(Arc<Repr>);

#[derive(Debug, PartialEq, Eq)]
enum Repr {
    /// `pg_current_snapshot()` and the server's start time, as text.
    Snapshot(String),
    /// The watching connection's number in this store and its `data_version`.
    Sqlite { connection: u64, data_version: i64 },
}

#[cfg(test)]
impl DataVersion {
    /// A version of no store, for tests of what keeps versions.
    pub(crate) fn for_tests(data_version: i64) -> Self {
        DataVersion(Arc::new(Repr::Sqlite {
            connection: u64::MAX,
            data_version,
        }))
    }
}

const SNAPSHOT_SQL: &str = "SELECT CASE WHEN pg_is_in_recovery() THEN NULL \
     ELSE pg_current_snapshot()::text || ' ' || pg_postmaster_start_time()::text END AS version";
const DATA_VERSION_SQL: &str = "PRAGMA data_version";

/// The SQLite connection that watches `data_version`, opened at the first version asked for.
#[derive(Default)]
pub(crate) struct SqliteWatch {
    open: Mutex<Option<(u64, SqliteConnection)>>,
    opened: std::sync::atomic::AtomicU64,
}

impl SqliteWatch {
    /// The watching connection's number and its `data_version`, its statement handed to
    /// `report` with how long it took and whether it failed. A failed connection is closed,
    /// and the next call opens another under a new number, so no version repeats.
    pub(crate) async fn version(
        &self,
        url: &str,
        report: impl FnOnce(&Statement, std::time::Duration, bool),
    ) -> Result<DataVersion, StoreError> {
        let mut open = self.open.lock().await;
        // Taken out while in use: a call dropped halfway leaves no connection behind, and the
        // next opens another under a new number.
        let (number, mut connection) = match open.take() {
            Some(open) => open,
            None => {
                let connection = SqliteConnectOptions::from_str(url)
                    .map_err(unavailable)?
                    .read_only(true)
                    .create_if_missing(false)
                    .connect()
                    .await
                    .map_err(unavailable)?;
                let number = self
                    .opened
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (number, connection)
            }
        };
        let started = Instant::now();
        let read = sea_orm::sqlx::query_scalar::<_, i64>(DATA_VERSION_SQL)
            .fetch_one(&mut connection)
            .await;
        report(
            &Statement::from_string(DatabaseBackend::Sqlite, DATA_VERSION_SQL),
            started.elapsed(),
            read.is_err(),
        );
        match read {
            Ok(data_version) => {
                *open = Some((number, connection));
                Ok(DataVersion(Arc::new(Repr::Sqlite {
                    connection: number,
                    data_version,
                })))
            }
            Err(err) => {
                let _ = connection.close().await;
                Err(unavailable(err))
            }
        }
    }

    /// Closes the watching connection, if open.
    pub(crate) async fn close(&self) -> Result<(), StoreError> {
        if let Some((_, connection)) = self.open.lock().await.take() {
            connection.close().await.map_err(unavailable)?;
        }
        Ok(())
    }
}

/// The error of a data version that could not be read on SQLite.
fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("data version: {err}"))
}

/// PostgreSQL's version: its current snapshot and start time; `None` on a standby.
pub(crate) async fn of_postgres(
    db: &DatabaseConnection,
) -> Result<Option<DataVersion>, StoreError> {
    let statement = Statement::from_string(DatabaseBackend::Postgres, SNAPSHOT_SQL);
    let Some(row) = db.query_one_raw(statement).await? else {
        return Ok(None);
    };
    let version: Option<String> = row.try_get("", "version")?;
    Ok(version.map(|version| DataVersion(Arc::new(Repr::Snapshot(version)))))
}

#[cfg(test)]
mod tests {
    use crate::config::store::StoreSettings;
    use crate::store::Store;

    async fn file_store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("v.db").display());
        let store = Store::connect(&StoreSettings::for_url(&url), None)
            .await
            .unwrap();
        crate::store::migrate(&store).await.unwrap();
        store
    }

    #[tokio::test]
    async fn a_commit_on_sqlite_moves_the_version_and_a_read_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir).await;
        let before = store.data_version().await.unwrap().unwrap();
        store
            .execute_raw("SELECT COUNT(*) FROM tenants")
            .await
            .unwrap();
        assert_eq!(store.data_version().await.unwrap().unwrap(), before);
        store
            .execute_raw("CREATE TABLE scratch (x INTEGER)")
            .await
            .unwrap();
        let after = store.data_version().await.unwrap().unwrap();
        assert_ne!(after, before);
        // Another process's store on the same file moves it too.
        let other = file_store(&dir).await;
        other.execute_raw("DROP TABLE scratch").await.unwrap();
        assert_ne!(store.data_version().await.unwrap().unwrap(), after);
    }

    #[tokio::test]
    async fn an_in_memory_store_has_no_version() {
        let store = Store::connect(&StoreSettings::for_url("sqlite::memory:"), None)
            .await
            .unwrap();
        assert_eq!(store.data_version().await.unwrap(), None);
    }
}
