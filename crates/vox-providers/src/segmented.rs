//! Speech recognition on VAD segments, for recognizers that transcribe whole stretches of
//! speech (the OpenAI transcription API, local Whisper) rather than stream.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use tokio::sync::mpsc;
use vox_core::{AudioFrame, VadEvent, VadOutput};

use crate::{AsrEvent, AsrProvider, AsrSession, ProviderError};

/// Frames kept from before the VAD's onset decision, so a segment includes its start.
pub(crate) const PREROLL_FRAMES: usize = 10;
/// A segment longer than this is sent even while speech continues (30 s).
const MAX_SEGMENT_FRAMES: usize = 1500;
/// Segments being transcribed at once per call. At the limit the session stops taking
/// audio: its queue fills and the call drops (and counts) frames, rather than a slow
/// recognizer piling up requests for a caller who keeps talking.
pub const MAX_SEGMENTS_IN_FLIGHT: usize = 4;

/// Transcribes one stretch of speech (16 kHz frames).
pub trait SegmentTranscriber: Send + Sync + std::fmt::Debug + 'static {
    /// The text of `frames`.
    fn transcribe(
        &self,
        frames: Vec<AudioFrame>,
    ) -> BoxFuture<'static, Result<String, ProviderError>>;

    /// Whether a request made now would wait behind others (then [`crate::IncrementalAsr`]
    /// skips its optional interim passes).
    fn busy(&self) -> bool {
        false
    }
}

/// An [`AsrProvider`] that cuts the caller's audio at the VAD's decisions (with a short
/// pre-roll) and transcribes each segment; segments are transcribed concurrently (at most
/// [`MAX_SEGMENTS_IN_FLIGHT`]) and reported in order.
#[derive(Debug, Clone)]
pub struct SegmentedAsr {
    inner: Arc<dyn SegmentTranscriber>,
}

impl SegmentedAsr {
    /// Wraps a transcriber.
    pub fn new(inner: Arc<dyn SegmentTranscriber>) -> Self {
        Self { inner }
    }
}

impl AsrProvider for SegmentedAsr {
    fn session(&self) -> AsrSession {
        // 2 s of audio may queue while we are busy; the actor drops (and counts) beyond.
        let (audio_tx, audio_rx) = mpsc::channel(100);
        let (events_tx, events_rx) = mpsc::channel(16);
        tokio::spawn(run_session(self.inner.clone(), audio_rx, events_tx));
        AsrSession {
            audio: audio_tx,
            events: events_rx,
        }
    }
}

async fn run_session(
    asr: Arc<dyn SegmentTranscriber>,
    mut audio: mpsc::Receiver<(AudioFrame, VadOutput)>,
    events: mpsc::Sender<AsrEvent>,
) {
    let mut preroll: VecDeque<AudioFrame> = VecDeque::with_capacity(PREROLL_FRAMES);
    let mut segment: Option<Vec<AudioFrame>> = None;
    let mut inflight = FuturesOrdered::new();
    loop {
        tokio::select! {
            item = audio.recv(), if inflight.len() < MAX_SEGMENTS_IN_FLIGHT => {
                let Some((frame, vad)) = item else { break };
                if vad.event == Some(VadEvent::SpeechStart) && segment.is_none() {
                    segment = Some(preroll.drain(..).collect());
                }
                match segment.as_mut() {
                    Some(seg) => seg.push(frame),
                    None => {
                        if preroll.len() == PREROLL_FRAMES {
                            preroll.pop_front();
                        }
                        preroll.push_back(frame);
                    }
                }
                let long = segment.as_ref().is_some_and(|s| s.len() >= MAX_SEGMENT_FRAMES);
                if (vad.event == Some(VadEvent::SpeechEnd) || long)
                    && let Some(seg) = segment.take() {
                        tracing::debug!(frames = seg.len(), "speech segment sent for transcription");
                        inflight.push_back(asr.transcribe(seg));
                    }
            }
            Some(result) = inflight.next(), if !inflight.is_empty() => {
                let event = result.map_or_else(AsrEvent::Error, AsrEvent::Final);
                if events.send(event).await.is_err() {
                    return;
                }
            }
        }
    }
    // The call ended: finish what was already sent so nothing heard is lost.
    while let Some(result) = inflight.next().await {
        let _ = events
            .send(result.map_or_else(AsrEvent::Error, AsrEvent::Final))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A recognizer that never answers, counting the segments it was given.
    #[derive(Debug, Default)]
    struct Stuck(Arc<AtomicUsize>);

    impl SegmentTranscriber for Stuck {
        fn transcribe(
            &self,
            _frames: Vec<AudioFrame>,
        ) -> BoxFuture<'static, Result<String, ProviderError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(futures::future::pending())
        }
    }

    fn vad(event: Option<VadEvent>) -> VadOutput {
        VadOutput {
            probability: 0.9,
            speaking: event != Some(VadEvent::SpeechEnd),
            quiet: event == Some(VadEvent::SpeechEnd),
            event,
        }
    }

    #[tokio::test]
    async fn a_stuck_recognizer_gets_a_bounded_number_of_segments() {
        let asked = Arc::new(AtomicUsize::new(0));
        let session = SegmentedAsr::new(Arc::new(Stuck(asked.clone()))).session();
        // twenty short utterances, fed as a call's reader would (never waiting)
        let mut dropped = 0;
        for _ in 0..20 {
            for event in [Some(VadEvent::SpeechStart), None, Some(VadEvent::SpeechEnd)] {
                if session
                    .audio
                    .try_send((AudioFrame::silence(), vad(event)))
                    .is_err()
                {
                    dropped += 1;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(asked.load(Ordering::SeqCst), MAX_SEGMENTS_IN_FLIGHT);
        // the rest waits in the bounded audio queue (100 frames), nothing beyond it
        assert_eq!(dropped, 0, "60 frames fit the queue");
    }
}
