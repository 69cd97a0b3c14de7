//! The server's background work beside the calls: webhook delivery, record writers,
//! schedulers, file processing. Every such task is spawned by name into one tracker, under
//! the server's cancellation token, and logged if it ends by panicking; shutdown cancels
//! and waits for them. (`tests/tidy.rs` refuses a bare `tokio::spawn` elsewhere.)

use std::future::Future;
use std::time::Duration;

use futures::FutureExt as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument as _, debug, error};

/// See the module docs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Tasks {
    tracker: TaskTracker,
    /// The work spawned to completion (also in `tracker`), waited for first at shutdown.
    completing: TaskTracker,
    token: CancellationToken,
}

impl Default for Tasks {
    fn default() -> Self {
        Self::new(CancellationToken::new())
    }
}

impl Tasks {
    /// Tasks that stop when `token` is cancelled.
    pub fn new(token: CancellationToken) -> Self {
        Self {
            tracker: TaskTracker::new(),
            completing: TaskTracker::new(),
            token,
        }
    }

    /// The token that stops them.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Runs `work` until it ends or the token is cancelled (then it is dropped where it
    /// waits): for loops and work that may be abandoned (a retry later picks it up).
    pub fn spawn<F>(&self, name: &'static str, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.clone();
        self.run(name, async move {
            tokio::select! {
                () = token.cancelled() => debug!(task = name, "stopped by shutdown"),
                () = work => {}
            }
        });
    }

    /// Runs `work` to its end even once the token is cancelled (shutdown still waits for
    /// it, up to its limit): for short work whose loss would lose data, such as writing a
    /// call's final record.
    pub fn spawn_to_completion<F>(&self, name: &'static str, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let counted = self.completing.token();
        self.run(name, async move {
            let _counted = counted;
            work.await;
        });
    }

    /// Waits up to `limit` for the work spawned to completion (call records, post-call
    /// summaries, outbox writes) while the loops keep running (so the webhook worker still
    /// sends what that work queues); whether it all ended. Shutdown's first step.
    pub async fn finish_work(&self, limit: Duration) -> bool {
        self.completing.close();
        tokio::time::timeout(limit, self.completing.wait())
            .await
            .is_ok()
    }

    fn run<F>(&self, name: &'static str, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let span = tracing::info_span!("task", name);
        self.tracker.spawn(
            async move {
                if let Err(panic) = std::panic::AssertUnwindSafe(work).catch_unwind().await {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    metrics::counter!("vox_task_panics_total", "task" => name).increment(1);
                    error!(task = name, panic = %what, "background task panicked");
                }
            }
            .instrument(span),
        );
    }

    /// Tasks still running.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether none is running.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Cancels the token and waits up to `limit` for every task to end; whether they all
    /// did. Tasks spawned afterwards still run, but are not waited for.
    pub async fn shutdown(&self, limit: Duration) -> bool {
        self.token.cancel();
        self.tracker.close();
        tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_loops_and_waits_for_work_that_must_finish() {
        let tasks = Tasks::default();
        let finished = Arc::new(AtomicBool::new(false));
        tasks.spawn("loop", std::future::pending());
        let f = finished.clone();
        tasks.spawn_to_completion("record", async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            f.store(true, Ordering::SeqCst);
        });
        assert_eq!(tasks.len(), 2);
        assert!(tasks.shutdown(Duration::from_secs(1)).await);
        assert!(finished.load(Ordering::SeqCst), "the record was written");
        assert!(tasks.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn finishing_work_leaves_the_loops_running() {
        let tasks = Tasks::default();
        tasks.spawn("loop", std::future::pending());
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        tasks.spawn_to_completion("record", async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            f.store(true, Ordering::SeqCst);
        });
        assert!(tasks.finish_work(Duration::from_secs(1)).await);
        assert!(finished.load(Ordering::SeqCst));
        assert!(!tasks.token().is_cancelled());
        assert_eq!(tasks.len(), 1, "the loop still runs");
        assert!(tasks.shutdown(Duration::from_secs(1)).await);
        tasks.spawn_to_completion("stuck", std::future::pending());
        assert!(!tasks.finish_work(Duration::from_millis(100)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_contained_and_shutdown_gives_up_at_its_limit() {
        let tasks = Tasks::default();
        tasks.spawn("boom", async { panic!("boom") });
        tokio::task::yield_now().await;
        tasks.spawn_to_completion("stuck", std::future::pending());
        assert!(!tasks.shutdown(Duration::from_millis(100)).await);
    }
}
