//! Live progress of the runs of this process, for `importProgress` subscriptions and the CLI's
//! progress bars. Runs of other replicas are read from the store instead.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::{broadcast, watch};

use crate::domain::{FailureReason, ImportRunId, RunStatus, TenantId};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Getting a token and the SKUs.
    Starting,
    /// Reading user pages.
    Users,
    /// Writing to the store.
    Committing,
    /// Ended (see the status).
    Finished,
}

/// One progress report of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The run.
    pub run_id: ImportRunId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Phase.
    pub phase: Phase,
    /// Upstream pages fetched.
    pub pages: i64,
    /// User records read.
    pub users: i64,
    /// Status (final once `phase` is `Finished`).
    pub status: RunStatus,
    /// Failure reason, once failed.
    pub reason: Option<FailureReason>,
}

/// Fans progress out to subscribers.
#[derive(Debug)]
pub struct ProgressHub {
    runs: Mutex<HashMap<ImportRunId, watch::Sender<Progress>>>,
    all: broadcast::Sender<Progress>,
}

impl Default for ProgressHub {
    fn default() -> Self {
        ProgressHub {
            runs: Mutex::new(HashMap::new()),
            all: broadcast::channel(1024).0,
        }
    }
}

impl ProgressHub {
    /// Publishes a report; a finished run is dropped from the hub after its last report.
    pub fn publish(&self, progress: Progress) {
        let _ = self.all.send(progress.clone());
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let finished = progress.phase == Phase::Finished;
        let run_id = progress.run_id;
        match runs.get(&run_id) {
            Some(sender) => {
                sender.send_replace(progress);
            }
            None if !finished => {
                runs.insert(run_id, watch::channel(progress).0);
            }
            None => {}
        }
        if finished {
            runs.remove(&run_id);
        }
    }

    /// Reports of one run while it runs here; `None` if it doesn't (ended, or elsewhere).
    /// The receiver's channel closes after the final report.
    pub fn watch(&self, run_id: ImportRunId) -> Option<watch::Receiver<Progress>> {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&run_id)
            .map(watch::Sender::subscribe)
    }

    /// Every report of every run, from now on.
    pub fn subscribe_all(&self) -> broadcast::Receiver<Progress> {
        self.all.subscribe()
    }
}
