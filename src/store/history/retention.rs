//! History retention (`TENANTGRAPH_HISTORY_RETENTION_DAYS`): intervals that ended before a
//! cutoff date are removed, a batch per statement. Intervals still in force are never removed,
//! whatever their age, and neither are closed months' stored lines (they are not history rows).

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::store::{Store, StoreError};

/// The history tables and the columns that identify one of their rows.
const TABLES: [(&str, &str); 5] = [
    ("user_versions", "id"),
    ("license_history", "id"),
    ("allocation_history", "id"),
    ("sku_count_history", "tenant_id, sku_id, valid_from"),
    (
        "commerce_quantity_history",
        "tenant_id, subscription_id, valid_from",
    ),
];

/// What one pruning of the history removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryPrune {
    /// Intervals removed, across every tenant and table.
    pub removed: u64,
    /// `DELETE` statements run, each its own short transaction.
    pub batches: u32,
}

/// Removes the history intervals whose last day is before `cutoff` (`valid_to <= cutoff`), of
/// every tenant and history table, at most `batch` per statement; a table is done after a
/// statement that removed fewer than `batch`.
#[tracing::instrument(skip_all, fields(%cutoff, batch))]
pub async fn prune_history(
    store: &Store,
    cutoff: NaiveDate,
    batch: u64,
) -> Result<HistoryPrune, StoreError> {
    let batch = batch.max(1);
    let backend = store.backend();
    let param = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let mut prune = HistoryPrune::default();
    for (table, key) in TABLES {
        let sql = format!(
            "DELETE FROM {table} WHERE ({key}) IN \
             (SELECT {key} FROM {table} WHERE valid_to <= {param} LIMIT {batch})"
        );
        loop {
            let removed = store
                .db()
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql.as_str(),
                    [cutoff.into()],
                ))
                .await?
                .rows_affected();
            prune.removed += removed;
            prune.batches += 1;
            if removed < batch {
                break;
            }
        }
    }
    Ok(prune)
}
