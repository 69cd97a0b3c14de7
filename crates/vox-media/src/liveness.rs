//! Whether a call's peer is still taking part, as the transport sees it: the reader notices
//! silence (nothing arrives), the writer notices a peer that stopped reading (a ping left
//! unanswered, a write that cannot finish). The first verdict stands and stops both halves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;
use vox_call::Unresponsive;

/// Shared by a call's reader and writer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Liveness {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    dead: CancellationToken,
    verdict: OnceLock<Unresponsive>,
    pongs: AtomicU64,
}

impl Liveness {
    /// The peer stopped taking part; the first verdict is kept.
    pub(crate) fn fail(&self, why: Unresponsive) {
        let _ = self.inner.verdict.set(why);
        self.inner.dead.cancel();
    }

    /// Resolves once a verdict is in.
    pub(crate) async fn failed(&self) {
        self.inner.dead.cancelled().await;
    }

    /// The verdict, if any.
    pub(crate) fn verdict(&self) -> Option<Unresponsive> {
        self.inner.verdict.get().copied()
    }

    /// A pong arrived.
    pub(crate) fn pong(&self) {
        self.inner.pongs.fetch_add(1, Ordering::Relaxed);
    }

    /// Pongs received so far.
    pub(crate) fn pongs(&self) -> u64 {
        self.inner.pongs.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_verdict_stands_and_wakes_the_other_half() {
        let l = Liveness::default();
        let other = l.clone();
        let waiter = tokio::spawn(async move { other.failed().await });
        assert_eq!(l.verdict(), None);
        l.fail(Unresponsive::NotReading);
        l.fail(Unresponsive::Silent);
        waiter.await.expect("woken");
        assert_eq!(l.verdict(), Some(Unresponsive::NotReading));
    }
}
