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
const PREROLL_FRAMES: usize = 10;
/// A segment longer than this is sent even while speech continues (30 s).
const MAX_SEGMENT_FRAMES: usize = 1500;

/// Transcribes one stretch of speech (16 kHz frames).
pub trait SegmentTranscriber: Send + Sync + std::fmt::Debug + 'static {
    /// The text of `frames`.
    fn transcribe(
        &self,
        frames: Vec<AudioFrame>,
    ) -> BoxFuture<'static, Result<String, ProviderError>>;
}

/// An [`AsrProvider`] that cuts the caller's audio at the VAD's decisions (with a short
/// pre-roll) and transcribes each segment; segments are transcribed concurrently and
/// reported in order.
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
            item = audio.recv() => {
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
