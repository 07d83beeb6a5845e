//! Promotes allocation changes scheduled for a day that has come (`effectiveFrom` in the
//! future when made) for tenants no import or change reached since, every hour (the first an
//! hour after start: an import or change promotes what is due before it evaluates anyway).

use std::time::Duration;

use crate::store::Store;

/// How often scheduled changes are looked for.
const PROMOTE_INTERVAL: Duration = Duration::from_secs(3600);

/// Spawns the task that promotes due scheduled allocation changes every [`PROMOTE_INTERVAL`] on the current tokio runtime. A failure is logged and tried again at the
/// next tick.
pub fn promote_in_background(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + PROMOTE_INTERVAL;
        let mut every = tokio::time::interval_at(start, PROMOTE_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match crate::store::allocation::promote_scheduled_changes(&store).await {
                Ok(0) => {}
                Ok(tenants) => tracing::info!(tenants, "scheduled allocation changes promoted"),
                Err(error) => {
                    tracing::warn!(%error, "promoting scheduled allocation changes failed")
                }
            }
        }
    })
}
