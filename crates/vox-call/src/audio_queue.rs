use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ringbuf::HeapRb;
use ringbuf::traits::{Consumer, Observer, RingBuffer};
use tokio::sync::Notify;
use vox_core::{AudioFrame, VadOutput};

/// One caller frame with the VAD's verdict, as produced inline by the media reader.
#[derive(Clone, Debug)]
pub struct CallerFrame {
    /// 20 ms of caller audio.
    pub frame: AudioFrame,
    /// The VAD's decision on it.
    pub vad: VadOutput,
}

struct Shared {
    rb: Mutex<HeapRb<CallerFrame>>,
    notify: Notify,
    closed: AtomicBool,
    dropped: AtomicU64,
}

/// Creates the caller-audio queue: bounded to `capacity` frames; when full, the oldest
/// frame is dropped and counted (a live caller cannot be slowed down, and stale audio is
/// worth less than fresh audio).
pub fn audio_queue(capacity: usize) -> (AudioSender, AudioReceiver) {
    let shared = Arc::new(Shared {
        rb: Mutex::new(HeapRb::new(capacity.max(1))),
        notify: Notify::new(),
        closed: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
    });
    (
        AudioSender {
            shared: shared.clone(),
        },
        AudioReceiver { shared },
    )
}

/// Producer side (the media reader).
pub struct AudioSender {
    shared: Arc<Shared>,
}

/// Consumer side (the call actor).
pub struct AudioReceiver {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AudioSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudioSender")
    }
}

impl std::fmt::Debug for AudioReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudioReceiver")
    }
}

impl AudioSender {
    /// Queues a frame; returns `true` if an older frame had to be dropped to make room.
    pub fn push(&self, item: CallerFrame) -> bool {
        let overflowed = {
            let mut rb = self.shared.rb.lock().unwrap_or_else(|p| p.into_inner());
            rb.push_overwrite(item).is_some()
        };
        if overflowed {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.shared.notify.notify_one();
        overflowed
    }
}

impl Drop for AudioSender {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.notify.notify_one();
    }
}

impl AudioReceiver {
    /// The next frame, or `None` once the sender is gone and the queue is drained.
    /// Cancel-safe: a frame is only removed when it is returned.
    pub async fn recv(&mut self) -> Option<CallerFrame> {
        loop {
            let notified = self.shared.notify.notified();
            if let Some(item) = self.try_recv() {
                return Some(item);
            }
            if self.shared.closed.load(Ordering::Acquire) {
                return self.try_recv();
            }
            notified.await;
        }
    }

    /// A frame if one is queued.
    pub fn try_recv(&self) -> Option<CallerFrame> {
        self.shared
            .rb
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .try_pop()
    }

    /// Frames dropped so far because the actor fell behind.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.shared
            .rb
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .occupied_len()
    }

    /// Whether no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: i16) -> CallerFrame {
        CallerFrame {
            frame: AudioFrame::from_slice(&[v; 320]).expect("320"),
            vad: VadOutput {
                probability: 0.0,
                speaking: false,
                quiet: true,
                event: None,
            },
        }
    }

    #[tokio::test]
    async fn drops_the_oldest_when_full_and_ends_after_the_sender() {
        let (tx, mut rx) = audio_queue(3);
        for v in 0..5 {
            tx.push(item(v));
        }
        assert_eq!(rx.dropped(), 2);
        drop(tx);
        let mut got = vec![];
        while let Some(i) = rx.recv().await {
            got.push(i.frame.samples()[0]);
        }
        assert_eq!(got, vec![2, 3, 4]);
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken() {
        let (tx, mut rx) = audio_queue(3);
        let h = tokio::spawn(async move { rx.recv().await.map(|i| i.frame.samples()[0]) });
        tokio::task::yield_now().await;
        tx.push(item(9));
        assert_eq!(h.await.expect("no panic"), Some(9));
    }
}
