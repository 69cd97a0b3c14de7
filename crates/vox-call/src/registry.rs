use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Why a new call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// `limit` calls are already up.
    #[error("at capacity: {limit} concurrent calls")]
    AtCapacity {
        /// The configured limit.
        limit: usize,
    },
    /// The server is shutting down.
    #[error("server is shutting down")]
    Draining,
}

impl AdmitError {
    /// A stable metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AtCapacity { .. } => "capacity",
            Self::Draining => "draining",
        }
    }
}

/// The set of live calls: admission limit, the root of the cancellation tree
/// (server -> call -> turn), and the tracker graceful shutdown waits on.
#[derive(Debug, Clone)]
pub struct CallRegistry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limit: usize,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    draining: AtomicBool,
}

/// A live call's slot. Dropping it frees the slot.
#[derive(Debug)]
pub struct Admission {
    _permit: OwnedSemaphorePermit,
    /// The call's token: a child of the server's; cancelling it hangs up the call.
    pub cancel: CancellationToken,
}

impl Drop for Admission {
    fn drop(&mut self) {
        metrics::gauge!("vox_calls_active").decrement(1.0);
    }
}

impl CallRegistry {
    /// A registry admitting at most `limit` concurrent calls.
    pub fn new(limit: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                limit,
                slots: Arc::new(Semaphore::new(limit)),
                shutdown: CancellationToken::new(),
                tracker: TaskTracker::new(),
                draining: AtomicBool::new(false),
            }),
        }
    }

    /// Takes a slot for a new call, or says why not (and counts the refusal).
    pub fn try_admit(&self) -> Result<Admission, AdmitError> {
        let refused = |e: AdmitError| {
            metrics::counter!("vox_calls_rejected_total", "reason" => e.kind()).increment(1);
            e
        };
        if self.is_draining() {
            return Err(refused(AdmitError::Draining));
        }
        let permit = self.inner.slots.clone().try_acquire_owned().map_err(|_| {
            refused(AdmitError::AtCapacity {
                limit: self.inner.limit,
            })
        })?;
        metrics::gauge!("vox_calls_active").increment(1.0);
        metrics::counter!("vox_calls_admitted_total").increment(1);
        Ok(Admission {
            _permit: permit,
            cancel: self.inner.shutdown.child_token(),
        })
    }

    /// Calls up now.
    pub fn active(&self) -> usize {
        self.inner.limit - self.inner.slots.available_permits()
    }

    /// The configured limit.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// Tracks a call's task so shutdown can wait for it.
    pub fn tracker(&self) -> &TaskTracker {
        &self.inner.tracker
    }

    /// Stops admitting calls (readiness turns false).
    pub fn begin_drain(&self) {
        self.inner.draining.store(true, Ordering::Release);
    }

    /// Whether the server is draining.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Acquire)
    }

    /// Waits for all tracked calls to end, up to `grace`; then hangs up the rest and waits
    /// for them to finish hanging up (bounded by `hangup_wait`). Returns how many calls had
    /// to be hung up.
    pub async fn shutdown(&self, grace: Duration, hangup_wait: Duration) -> usize {
        self.begin_drain();
        self.inner.tracker.close();
        if tokio::time::timeout(grace, self.inner.tracker.wait())
            .await
            .is_ok()
        {
            return 0;
        }
        let remaining = self.inner.tracker.len();
        self.inner.shutdown.cancel();
        let _ = tokio::time::timeout(hangup_wait, self.inner.tracker.wait()).await;
        remaining
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_and_frees_slots_on_drop() {
        let r = CallRegistry::new(2);
        let a = r.try_admit().expect("first");
        let _b = r.try_admit().expect("second");
        assert_eq!(
            r.try_admit().map(|_| ()),
            Err(AdmitError::AtCapacity { limit: 2 })
        );
        drop(a);
        assert_eq!(r.active(), 1);
        assert!(r.try_admit().is_ok());
        r.begin_drain();
        assert_eq!(r.try_admit().map(|_| ()), Err(AdmitError::Draining));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_calls_then_cancels_the_rest() {
        let r = CallRegistry::new(4);
        let quick = r.try_admit().expect("slot");
        let stubborn = r.try_admit().expect("slot");
        r.tracker().spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            drop(quick);
        });
        let token = stubborn.cancel.clone();
        r.tracker().spawn(async move {
            token.cancelled().await;
            drop(stubborn);
        });
        let hung_up = r
            .shutdown(Duration::from_secs(5), Duration::from_secs(1))
            .await;
        assert_eq!(hung_up, 1);
        assert_eq!(r.active(), 0);
    }
}
