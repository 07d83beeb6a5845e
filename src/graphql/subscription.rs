//! Root subscription fields: live progress of an import run, and a tenant's alerts. Each area has its own object,
//! merged into the schema's `Subscription`.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, ID, Subscription};
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::sync::watch;

use super::error::ApiError;
use super::ids::parse_id;
use super::mutation::importer;
use super::types::alert::BudgetAlertObject;
use super::types::import_run::progress_of_stored;
use super::types::{ImportProgressObject, loaders};
use crate::domain::{ImportRunId, RunStatus, TenantId};
use crate::importer::Importer;
use crate::importer::progress::{Phase, Progress};
use crate::store::alerts;
use crate::store::{Store, import_runs};

/// How often a run of another replica is read from the store.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often `budgetAlerts` reads the store for new alerts.
const ALERT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// One alert, or an error reading them.
type AlertItem = Result<BudgetAlertObject, async_graphql::Error>;

/// One report, or the error that ends the subscription.
type ProgressItem = Result<ImportProgressObject, async_graphql::Error>;

/// Subscriptions to imports.
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Progress of an import run, ending after the `FINISHED` report. A run of this process
    /// reports every change; a run of another replica is read from the store every second; a
    /// run that already ended reports `FINISHED` once. `NOT_FOUND` when the run is unknown.
    async fn import_progress(
        &self,
        ctx: &Context<'_>,
        run_id: ID,
    ) -> Result<BoxStream<'static, ProgressItem>, ApiError> {
        let run_id: ImportRunId = parse_id("runId", &run_id)?;
        let l = loaders(ctx)?;
        let follower = Follower {
            store: l.store.clone(),
            importer: importer(ctx),
            run_id,
        };
        // A run of a tenant out of the caller's scope is as unknown as a run that never was.
        let not_found = || ApiError::NotFound(format!("import run {run_id} not found"));
        if let Some(live) = follower.watch() {
            if !l.scope.allows(live.borrow().tenant_id) {
                return Err(not_found());
            }
            return Ok(follower.stream(Follow::Live { live, seen: false }));
        }
        let run = import_runs::find_run(&follower.store, run_id)
            .await
            .map_err(ApiError::from)?
            .filter(|run| l.scope.allows(run.tenant_id))
            .ok_or_else(not_found)?;
        if run.status != RunStatus::Running {
            let last = ImportProgressObject(progress_of_stored(&run));
            return Ok(stream::once(async move { Ok(last) }).boxed());
        }
        Ok(follower.stream(Follow::Poll {
            last: None,
            wait: false,
        }))
    }

    /// Alerts of a tenant as they are raised from now on: budgets whose forecast passes a
    /// threshold or whose chargeback passes the budget, and waste totals grown by more than
    /// the set amount. Each alert once, in the order raised, whichever replica raised it (the
    /// store is read every half second). With `afterSequence` (the `sequence` of the last
    /// alert a client saw, e.g. before its connection dropped), the alerts raised since then
    /// come first. `NOT_FOUND` when the tenant is unknown.
    async fn budget_alerts(
        &self,
        ctx: &Context<'_>,
        tenant_id: ID,
        after_sequence: Option<i64>,
    ) -> Result<BoxStream<'static, AlertItem>, ApiError> {
        let tenant: TenantId = parse_id("tenantId", &tenant_id)?;
        if after_sequence.is_some_and(|s| s < 0) {
            return Err(ApiError::BadUserInput(
                "afterSequence: expected 0 or more".to_owned(),
            ));
        }
        let l = loaders(ctx)?;
        if l.tenant.load_one(tenant).await?.is_none() {
            return Err(ApiError::NotFound(format!("tenant {tenant} not found")));
        }
        let store = l.store.clone();
        let start = match after_sequence {
            Some(seq) => seq,
            None => alerts::last_alert_seq(&store, tenant).await?,
        };
        let pending: std::collections::VecDeque<BudgetAlertObject> = Default::default();
        Ok(stream::unfold(
            (start, pending, false),
            move |(mut last, mut pending, mut wait)| {
                let store = store.clone();
                async move {
                    loop {
                        if let Some(next) = pending.pop_front() {
                            return Some((Ok(next), (last, pending, false)));
                        }
                        if wait {
                            tokio::time::sleep(ALERT_POLL_INTERVAL).await;
                        }
                        match alerts::list_alerts_after(&store, tenant, last, 100).await {
                            Ok(found) => {
                                if let Some(newest) = found.last() {
                                    last = newest.seq;
                                }
                                wait = found.is_empty();
                                pending.extend(found.into_iter().map(BudgetAlertObject));
                            }
                            Err(err) => {
                                let err: async_graphql::Error = ApiError::from(err).into();
                                return Some((Err(err), (last, pending, true)));
                            }
                        }
                    }
                }
            },
        )
        .boxed())
    }
}

/// What a subscription needs to follow one run.
struct Follower {
    store: Store,
    importer: Option<Arc<Importer>>,
    run_id: ImportRunId,
}

/// Where a followed run's reports come from next.
enum Follow {
    /// The run is live in this process.
    Live {
        live: watch::Receiver<Progress>,
        seen: bool,
    },
    /// The run is elsewhere (or between its start and its first report): read the store.
    Poll {
        last: Option<(i64, i64, RunStatus)>,
        wait: bool,
    },
    /// The last report was sent.
    Done,
}

impl Follower {
    fn watch(&self) -> Option<watch::Receiver<Progress>> {
        self.importer
            .as_ref()
            .and_then(|importer| importer.progress().watch(self.run_id))
    }

    fn stream(self, start: Follow) -> BoxStream<'static, ProgressItem> {
        let follower = Arc::new(self);
        stream::unfold(start, move |state| {
            let follower = follower.clone();
            async move { follower.next(state).await }
        })
        .boxed()
    }

    /// The next report and the state after it; `None` once the last report was sent.
    async fn next(&self, mut state: Follow) -> Option<(ProgressItem, Follow)> {
        loop {
            state = match state {
                Follow::Done => return None,
                Follow::Live { mut live, seen } => {
                    if seen && live.changed().await.is_err() {
                        // The hub dropped the run without a final report we saw: the store
                        // has how it ended.
                        Follow::Poll {
                            last: None,
                            wait: false,
                        }
                    } else {
                        let progress = live.borrow_and_update().clone();
                        let next = if progress.phase == Phase::Finished {
                            Follow::Done
                        } else {
                            Follow::Live { live, seen: true }
                        };
                        return Some((Ok(ImportProgressObject(progress)), next));
                    }
                }
                Follow::Poll { last, wait } => {
                    if wait {
                        tokio::time::sleep(POLL_INTERVAL).await;
                    }
                    if let Some(live) = self.watch() {
                        Follow::Live { live, seen: false }
                    } else {
                        let run = match import_runs::find_run(&self.store, self.run_id).await {
                            Ok(Some(run)) => run,
                            Ok(None) => {
                                let err = ApiError::NotFound(format!(
                                    "import run {} not found",
                                    self.run_id
                                ));
                                return Some((Err(err.into()), Follow::Done));
                            }
                            Err(err) => {
                                return Some((Err(ApiError::from(err).into()), Follow::Done));
                            }
                        };
                        let progress = progress_of_stored(&run);
                        if run.status != RunStatus::Running {
                            return Some((Ok(ImportProgressObject(progress)), Follow::Done));
                        }
                        let seen = Some((progress.pages, progress.users, progress.status));
                        if seen != last {
                            let next = Follow::Poll {
                                last: seen,
                                wait: true,
                            };
                            return Some((Ok(ImportProgressObject(progress)), next));
                        }
                        Follow::Poll { last, wait: true }
                    }
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::store::StoreSettings;
    use crate::domain::TenantId;
    use uuid::Uuid;

    fn report(run_id: ImportRunId, phase: Phase, status: RunStatus) -> Progress {
        Progress {
            run_id,
            tenant_id: TenantId(Uuid::from_u128(1)),
            phase,
            pages: 0,
            users: 0,
            status,
            reason: None,
        }
    }

    #[tokio::test]
    async fn a_live_run_reports_each_change_and_ends_after_finished() {
        let store = Store::connect(&StoreSettings::for_url("sqlite::memory:"), None)
            .await
            .unwrap();
        let run_id = ImportRunId(Uuid::from_u128(2));
        let (sender, live) = watch::channel(report(run_id, Phase::Starting, RunStatus::Running));
        let follower = Follower {
            store,
            importer: None,
            run_id,
        };
        let mut reports = follower.stream(Follow::Live { live, seen: false });
        let phase = |item: Option<ProgressItem>| item.map(|r| r.map(|p| p.0.phase).unwrap());

        assert_eq!(phase(reports.next().await), Some(Phase::Starting));
        sender.send_replace(report(run_id, Phase::Users, RunStatus::Running));
        assert_eq!(phase(reports.next().await), Some(Phase::Users));
        // The hub sends the final report and drops the run at once.
        sender.send_replace(report(run_id, Phase::Finished, RunStatus::Succeeded));
        drop(sender);
        assert_eq!(phase(reports.next().await), Some(Phase::Finished));
        assert_eq!(phase(reports.next().await), None);
    }
}
