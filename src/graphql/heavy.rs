//! CPU-heavy resolver work (the allocation preview) run off the HTTP workers: on a small tokio
//! runtime of its own, a bounded number at once per principal, and stopped when the operation
//! that asked for it is dropped (its timeout, or the client leaving). Knows nothing of actix.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

use super::error::ApiError;

/// Runs heavy work for the API's resolvers.
#[derive(Debug)]
pub struct HeavyWork {
    /// Pieces of work one principal runs at once.
    per_principal: usize,
    /// Each principal's permits, while one of its pieces runs or waits.
    running: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// The runtime heavy work runs on: one thread fewer than the machine has cores (at least one),
/// so that the HTTP workers keep a core while it computes. Built once; never dropped.
fn runtime() -> Result<&'static Runtime, ApiError> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cores.saturating_sub(1).max(1))
                .thread_name("tenantgraph-heavy")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ApiError::Internal(format!("the heavy work runtime did not start: {e}")))
}

/// A principal's permits held by one piece of work, running or waiting. When the last piece
/// leaves (done or cancelled), the principal is forgotten, so that the map does not grow with
/// every principal ever seen.
struct Busy<'a> {
    heavy: &'a HeavyWork,
    principal: &'a str,
    semaphore: Arc<Semaphore>,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut running = self.heavy.running.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and ours: nobody else runs or waits.
        if Arc::strong_count(&self.semaphore) == 2 {
            running.remove(self.principal);
        }
    }
}

/// Aborts the task it holds when dropped: the awaiting operation was cancelled.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl HeavyWork {
    /// Heavy work allowing `per_principal` pieces at once per principal (at least one).
    pub fn new(per_principal: usize) -> Self {
        HeavyWork {
            per_principal: per_principal.max(1),
            running: Mutex::default(),
        }
    }

    /// Runs `work` for `principal` on the heavy runtime once fewer than the allowed number of
    /// the principal's pieces run, and returns its output. Dropping the returned future (the
    /// operation timed out) aborts `work` at its next await; work should yield between chunks.
    pub async fn run<T, F>(&self, principal: &str, work: F) -> Result<T, ApiError>
    where
        F: Future<Output = Result<T, ApiError>> + Send + 'static,
        T: Send + 'static,
    {
        let busy = Busy {
            heavy: self,
            principal,
            semaphore: self.semaphore_of(principal),
        };
        let _permit = busy
            .semaphore
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(format!("heavy work permits closed: {e}")))?;
        let task = runtime()?.spawn(work);
        let _abort = AbortOnDrop(task.abort_handle());
        task.await
            .map_err(|e| ApiError::Internal(format!("heavy work failed: {e}")))?
    }

    fn semaphore_of(&self, principal: &str) -> Arc<Semaphore> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running
            .entry(principal.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_principal)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    impl HeavyWork {
        /// Principals with work running or waiting.
        fn principals_busy(&self) -> usize {
            self.running.lock().map_or(0, |r| r.len())
        }
    }

    #[tokio::test]
    async fn one_principal_runs_one_piece_at_a_time_and_others_are_not_held_up() {
        let heavy = Arc::new(HeavyWork::new(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (heavy, inside, most) = (heavy.clone(), inside.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                heavy
                    .run("alice", async move {
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            }));
        }
        // Another principal gets its answer while alice's pieces queue.
        let other = heavy.run("bob", async { Ok(7) }).await.unwrap();
        assert_eq!(other, 7);
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
        assert_eq!(heavy.principals_busy(), 0, "idle principals are forgotten");
    }

    #[tokio::test]
    async fn dropping_the_caller_aborts_the_work_at_its_next_await() {
        let heavy = HeavyWork::new(1);
        let steps = Arc::new(AtomicUsize::new(0));
        let counted = steps.clone();
        let run = heavy.run("alice", async move {
            loop {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            #[expect(unreachable_code, reason = "the loop only ends by being aborted")]
            Ok::<(), ApiError>(())
        });
        let timed_out = tokio::time::timeout(Duration::from_millis(50), run).await;
        assert!(timed_out.is_err());
        let after_abort = steps.load(Ordering::SeqCst);
        // Poll until the count holds still: the aborted loop takes no further step.
        let mut stable = 0;
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if steps.load(Ordering::SeqCst) == after_abort {
                stable += 1;
            }
        }
        assert!(stable >= 19, "the work kept running after its caller left");
        assert_eq!(heavy.principals_busy(), 0);
    }
}
