//! History retention (`TENANTGRAPH_HISTORY_RETENTION_DAYS`): a task that removes the history
//! intervals that ended more than that many days ago, once at start and then every hour, a
//! batch per statement, and logs each pruning that removed any.

use chrono::{Days, NaiveDate, Utc};

use super::audit_retention::{PRUNE_BATCH, prune_before, prune_every_interval};
use crate::store::history::retention::prune_history;
use crate::store::retention::Pruned;
use crate::store::{Store, StoreError};

/// Removes the history intervals whose last day is more than `days` before `today`, `batch`
/// per statement.
pub async fn prune_once(
    store: &Store,
    days: u32,
    today: NaiveDate,
    batch: u64,
) -> Result<Pruned, StoreError> {
    prune_before(
        "history intervals",
        u64::from(days),
        today.checked_sub_days(Days::new(u64::from(days))),
        |cutoff| prune_history(store, cutoff, batch),
    )
    .await
}

/// Spawns the task that prunes the history now and every
/// [`PRUNE_INTERVAL`](super::audit_retention::PRUNE_INTERVAL) on the current tokio runtime. A
/// failed pruning is logged and tried again at the next tick.
pub fn prune_in_background(store: Store, days: u32) -> tokio::task::JoinHandle<()> {
    prune_every_interval("history", move || {
        let store = store.clone();
        async move {
            let today = Utc::now().date_naive();
            prune_once(&store, days, today, PRUNE_BATCH).await.map(drop)
        }
    })
}
