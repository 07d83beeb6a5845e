//! Audit log retention (`TENANTGRAPH_AUDIT_RETENTION_DAYS`): a task that removes the entries past
//! their retention once at start and then every hour, a batch per statement, and logs each
//! pruning that removed any.

use std::time::Duration;

use std::fmt::Display;
use std::future::Future;

use chrono::{DateTime, Utc};

use crate::store::audit::prune_audit_entries;
use crate::store::retention::Pruned;
use crate::store::{Store, StoreError};

/// Time between two prunings.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// Entries removed per statement: small enough that no statement holds its locks for long.
pub const PRUNE_BATCH: u64 = 1_000;

/// Removes the audit log entries older than `retention` before `now`, `batch` per statement; a
/// retention of 0 keeps every entry and runs no statement. A pruning that removed entries is
/// logged with its cutoff and counts (no tenant): the audit log has one entry per tenant's
/// change, and a pruning, which the operator's setting makes, changes no tenant.
pub async fn prune_once(
    store: &Store,
    retention: Duration,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<Pruned, StoreError> {
    let cutoff = chrono::Duration::from_std(retention)
        .ok()
        .filter(|_| !retention.is_zero())
        .and_then(|retention| now.checked_sub_signed(retention));
    prune_before(
        "audit log entries",
        retention.as_secs() / 86_400,
        cutoff,
        |cutoff| prune_audit_entries(store, cutoff, batch),
    )
    .await
}

/// Runs `prune` with `cutoff` (nothing when `None`: no retention applies) and logs a pruning
/// that removed any of `what` with its cutoff, retention and counts.
pub async fn prune_before<C, F, Fut>(
    what: &str,
    retention_days: u64,
    cutoff: Option<C>,
    prune: F,
) -> Result<Pruned, StoreError>
where
    C: Display + Copy,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<Pruned, StoreError>>,
{
    let Some(cutoff) = cutoff else {
        return Ok(Pruned::default());
    };
    let pruned = prune(cutoff).await?;
    if pruned.removed > 0 {
        tracing::info!(
            %cutoff,
            retention_days,
            removed = pruned.removed,
            batches = pruned.batches,
            "{what} past their retention removed"
        );
    }
    Ok(pruned)
}

/// Spawns the task that prunes the audit log now and every [`PRUNE_INTERVAL`] on the current
/// tokio runtime. A failed pruning is logged and tried again at the next tick.
pub fn prune_in_background(store: Store, retention: Duration) -> tokio::task::JoinHandle<()> {
    prune_every_interval("audit log", move || {
        let store = store.clone();
        async move {
            prune_once(&store, retention, Utc::now(), PRUNE_BATCH)
                .await
                .map(drop)
        }
    })
}

/// Spawns a task on the current tokio runtime that runs `prune` now and every
/// [`PRUNE_INTERVAL`]; a failure is logged with `what` and tried again at the next tick.
pub fn prune_every_interval<F, Fut>(what: &'static str, mut prune: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), StoreError>> + Send,
{
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The first tick completes at once: the first pruning runs at start.
            every.tick().await;
            if let Err(error) = prune().await {
                tracing::warn!(%error, "{what} retention pruning failed");
            }
        }
    })
}
