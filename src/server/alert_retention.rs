//! Alert retention (`TENANTGRAPH_ALERT_RETENTION_DAYS`): a task that removes the alerts whose
//! deliveries have all ended, with their deliveries and attempts, once raised more than that
//! many days ago, at start and then every hour, a batch per statement, and logs each pruning
//! that removed any.

use chrono::{DateTime, Days, Utc};

use super::audit_retention::{PRUNE_BATCH, prune_before, prune_every_interval};
use crate::store::alert_retention::prune_alerts;
use crate::store::retention::Pruned;
use crate::store::{Store, StoreError};

/// Removes the ended alerts raised more than `days` before `now`, `batch` per statement.
pub async fn prune_once(
    store: &Store,
    days: u32,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<Pruned, StoreError> {
    prune_before(
        "alerts (with their webhook deliveries)",
        u64::from(days),
        now.checked_sub_days(Days::new(u64::from(days))),
        |cutoff| prune_alerts(store, cutoff, batch),
    )
    .await
}

/// Spawns the task that prunes the alerts now and every
/// [`PRUNE_INTERVAL`](super::audit_retention::PRUNE_INTERVAL) on the current tokio runtime. A
/// failed pruning is logged and tried again at the next tick.
pub fn prune_in_background(store: Store, days: u32) -> tokio::task::JoinHandle<()> {
    prune_every_interval("alert", move || {
        let store = store.clone();
        async move {
            prune_once(&store, days, Utc::now(), PRUNE_BATCH)
                .await
                .map(drop)
        }
    })
}
