//! Streaming recognition from a recognizer that only transcribes whole stretches of audio
//! (local Whisper): the growing segment is transcribed again while the caller speaks, so
//! interim words flow, and once more the moment they pause, so the final is usually ready
//! when the VAD calls the end of speech.
//!
//! Three kinds of pass over the segment so far, at most one in flight per call:
//!
//! - **pause**: when the VAD's frames turn quiet for [`PAUSE_FRAMES`] in a row (40 ms into
//!   a pause that may become the end of speech, which the VAD calls only after its release
//!   time, 200 ms by default). A caller who stops has their words transcribed during that
//!   release; one who goes on turns the pass into an interim. Only while the recognizer is
//!   idle: a busy one (other calls' passes) would queue it, and a pass that turns out an
//!   interim would delay their finals, so under load a segment gets its one final pass
//!   at the end of speech, as per segment.
//! - **interim**: every `interim_every` of speech since the last pass, only while the
//!   recognizer is idle (a busy one is left to the passes that make finals), so interims
//!   cost spare CPU only.
//! - **final**: at the end of speech, only if no pause pass covers the speech (it was still
//!   waiting behind another, or speech resumed after it).
//!
//! A segment's final is always the transcript of the same audio: its speech up to
//! [`PAUSE_FRAMES`] into the quiet run that ended it (the rest of the VAD's release is
//! silence). A pause pass covers exactly that much, so when the caller does not speak again
//! it is the final, whichever pass ran when; the transcript is the per-segment recognizer's
//! minus up to 160 ms of trailing silence, and as deterministic.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt as _, StreamExt as _};
use tokio::sync::mpsc;
use vox_core::{AudioFrame, FRAME_MS, VadEvent, VadOutput};

use crate::segmented::{MAX_SEGMENTS_IN_FLIGHT, PREROLL_FRAMES};
use crate::{AsrEvent, AsrProvider, AsrSession, ProviderError, SegmentTranscriber};

/// Quiet frames in a row that start a pause pass (40 ms).
pub const PAUSE_FRAMES: usize = 2;
/// A segment longer than this ends even while speech continues (30 s), as per segment.
const MAX_SEGMENT_FRAMES: usize = 1500;

/// An [`AsrProvider`] that transcribes each VAD segment while it grows (see the module).
#[derive(Debug, Clone)]
pub struct IncrementalAsr {
    inner: Arc<dyn SegmentTranscriber>,
    interim_every: Option<Duration>,
}

impl IncrementalAsr {
    /// Wraps a transcriber; `interim_every` of speech between interim passes (`None`: pause
    /// and final passes only).
    pub fn new(inner: Arc<dyn SegmentTranscriber>, interim_every: Option<Duration>) -> Self {
        Self {
            inner,
            interim_every,
        }
    }
}

impl AsrProvider for IncrementalAsr {
    fn session(&self) -> AsrSession {
        let (audio_tx, audio_rx) = mpsc::channel(100);
        let (events_tx, events_rx) = mpsc::channel(16);
        let interim_frames = self
            .interim_every
            .map(|d| (d.as_millis() as usize / FRAME_MS as usize).max(1));
        let session = Session {
            asr: self.inner.clone(),
            interim_frames,
            events: events_tx,
            preroll: VecDeque::with_capacity(PREROLL_FRAMES),
            segment: None,
            finals: FuturesOrdered::new(),
        };
        tokio::spawn(session.run(audio_rx));
        AsrSession {
            audio: audio_tx,
            events: events_rx,
        }
    }
}

type Pending = BoxFuture<'static, Result<String, ProviderError>>;

/// A pass in flight over the first `covers` frames.
struct Pass {
    covers: usize,
    words: Pending,
}

/// The segment being spoken.
#[derive(Default)]
struct Segment {
    frames: Vec<AudioFrame>,
    /// Quiet frames at its end.
    quiet_run: usize,
    /// The pass in flight.
    pass: Option<Pass>,
    /// The last pass done: frames covered, and its words.
    heard: Option<(usize, String)>,
    /// A pause began while a pass was in flight: pass again when it is done.
    pause_waiting: bool,
    /// The last interim sent (not sent twice).
    last_interim: String,
}

impl Segment {
    /// Frames up to the start of the quiet run at the end: all of the speech.
    fn speech_len(&self) -> usize {
        self.frames.len() - self.quiet_run
    }

    /// What the final covers: the speech and the first [`PAUSE_FRAMES`] of the pause after it.
    fn final_len(&self) -> usize {
        (self.speech_len() + PAUSE_FRAMES).min(self.frames.len())
    }

    /// Frames covered by the last pass started (in flight) or done.
    fn covered(&self) -> usize {
        self.pass
            .as_ref()
            .map(|p| p.covers)
            .or(self.heard.as_ref().map(|h| h.0))
            .unwrap_or(0)
    }
}

struct Session {
    asr: Arc<dyn SegmentTranscriber>,
    interim_frames: Option<usize>,
    events: mpsc::Sender<AsrEvent>,
    preroll: VecDeque<AudioFrame>,
    segment: Option<Segment>,
    /// Finals of ended segments, in order.
    finals: FuturesOrdered<Pending>,
}

impl Session {
    async fn run(mut self, mut audio: mpsc::Receiver<(AudioFrame, VadOutput)>) {
        loop {
            tokio::select! {
                item = audio.recv(), if self.finals.len() < MAX_SEGMENTS_IN_FLIGHT => {
                    let Some((frame, vad)) = item else { break };
                    self.on_frame(frame, vad);
                }
                Some(result) = self.finals.next(), if !self.finals.is_empty() => {
                    let event = result.map_or_else(AsrEvent::Error, AsrEvent::Final);
                    if self.events.send(event).await.is_err() {
                        return;
                    }
                }
                words = pass_done(&mut self.segment) => self.on_pass(words).await,
            }
        }
        // The call ended: a segment in progress is transcribed, and nothing heard is lost.
        if let Some(seg) = self.segment.take() {
            self.end(seg);
        }
        while let Some(result) = self.finals.next().await {
            let _ = self
                .events
                .send(result.map_or_else(AsrEvent::Error, AsrEvent::Final))
                .await;
        }
    }

    fn on_frame(&mut self, frame: AudioFrame, vad: VadOutput) {
        if vad.event == Some(VadEvent::SpeechStart) && self.segment.is_none() {
            self.segment = Some(Segment {
                frames: self.preroll.drain(..).collect(),
                ..Segment::default()
            });
        }
        let Some(seg) = self.segment.as_mut() else {
            if self.preroll.len() == PREROLL_FRAMES {
                self.preroll.pop_front();
            }
            self.preroll.push_back(frame);
            return;
        };
        seg.frames.push(frame);
        seg.quiet_run = if vad.quiet { seg.quiet_run + 1 } else { 0 };
        if vad.event == Some(VadEvent::SpeechEnd) || seg.frames.len() >= MAX_SEGMENT_FRAMES {
            if let Some(seg) = self.segment.take() {
                self.end(seg);
            }
            return;
        }
        if seg.quiet_run == PAUSE_FRAMES {
            if seg.pass.is_some() {
                seg.pause_waiting = true;
            } else if !self.asr.busy() {
                let upto = seg.final_len();
                start(&self.asr, seg, upto);
            }
        } else if seg.quiet_run == 0
            && seg.pass.is_none()
            && self
                .interim_frames
                .is_some_and(|n| seg.frames.len() >= seg.covered() + n)
            && !self.asr.busy()
        {
            let upto = seg.frames.len();
            start(&self.asr, seg, upto);
        }
    }

    /// The segment ended: its final is the pass that covers its speech, or a new one.
    fn end(&mut self, mut seg: Segment) {
        let upto = seg.final_len();
        let words: Pending = match (seg.heard.take(), seg.pass.take()) {
            (Some((covers, text)), _) if covers == upto => {
                tracing::debug!(frames = upto, "final from a pass during the pause");
                futures::future::ready(Ok(text)).boxed()
            }
            (_, Some(pass)) if pass.covers == upto => pass.words,
            _ => {
                tracing::debug!(frames = upto, "final pass at the end of speech");
                seg.frames.truncate(upto);
                self.asr.transcribe(seg.frames)
            }
        };
        self.finals.push_back(words);
    }

    async fn on_pass(&mut self, words: Result<String, ProviderError>) {
        let Some(seg) = self.segment.as_mut() else {
            return;
        };
        let covers = seg.pass.take().map_or(0, |p| p.covers);
        match words {
            Ok(text) => {
                let text = text.trim().to_owned();
                if !text.is_empty() && text != seg.last_interim {
                    seg.last_interim.clone_from(&text);
                    let _ = self.events.send(AsrEvent::Interim(text.clone())).await;
                }
                seg.heard = Some((covers, text));
            }
            // an interim lost is no loss: the final pass will run on the whole segment
            Err(e) => tracing::debug!(error = %e, "a pass over the growing segment failed"),
        }
        let Some(seg) = self.segment.as_mut() else {
            return;
        };
        if std::mem::take(&mut seg.pause_waiting)
            && seg.quiet_run >= PAUSE_FRAMES
            && !self.asr.busy()
        {
            let upto = seg.final_len();
            start(&self.asr, seg, upto);
        }
    }
}

/// Starts a pass over the segment's first `upto` frames.
fn start(asr: &Arc<dyn SegmentTranscriber>, seg: &mut Segment, upto: usize) {
    seg.pass = Some(Pass {
        covers: upto,
        words: asr.transcribe(seg.frames[..upto].to_vec()),
    });
}

/// The words of the segment's pass in flight, when it is done; never if there is none.
async fn pass_done(segment: &mut Option<Segment>) -> Result<String, ProviderError> {
    match segment.as_mut().and_then(|s| s.pass.as_mut()) {
        Some(p) => (&mut p.words).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A recognizer that "hears" how many frames it was given, after `delay`, and records
    /// each request's length.
    #[derive(Debug)]
    struct Counting {
        delay: Duration,
        asked: Arc<Mutex<Vec<usize>>>,
        /// Other calls keep it busy.
        busy: bool,
    }

    impl SegmentTranscriber for Counting {
        fn busy(&self) -> bool {
            self.busy
        }

        fn transcribe(&self, frames: Vec<AudioFrame>) -> Pending {
            self.asked.lock().expect("lock").push(frames.len());
            let delay = self.delay;
            async move {
                tokio::time::sleep(delay).await;
                Ok(format!("{} frames", frames.len()))
            }
            .boxed()
        }
    }

    fn vad(speaking: bool, quiet: bool, event: Option<VadEvent>) -> VadOutput {
        VadOutput {
            probability: if quiet { 0.0 } else { 0.9 },
            speaking,
            quiet,
            event,
        }
    }

    /// Feeds `speech` frames of speech and a 10-frame release, one per 20 ms of (paused)
    /// time; returns the events with the frame index they came at.
    async fn speak(
        asr: &IncrementalAsr,
        speech: usize,
        gap_at: Option<usize>,
    ) -> Vec<(usize, AsrEvent)> {
        let mut s = asr.session();
        let mut out = Vec::new();
        let mut k = 0;
        let feed = |v: VadOutput| (AudioFrame::silence(), v);
        for i in 0..speech + 10 {
            let v = if i == 0 {
                vad(true, false, Some(VadEvent::SpeechStart))
            } else if i == speech + 9 {
                vad(false, true, Some(VadEvent::SpeechEnd))
            } else if i >= speech || gap_at.is_some_and(|g| (g..g + 4).contains(&i)) {
                vad(true, true, None)
            } else {
                vad(true, false, None)
            };
            s.audio.send(feed(v)).await.expect("send");
            k = i;
            tokio::time::sleep(Duration::from_millis(20)).await;
            while let Ok(e) = s.events.try_recv() {
                out.push((k, e));
            }
        }
        // the call ends: whatever is still coming, then the session closes its events
        drop(s.audio);
        while let Some(e) = s.events.recv().await {
            out.push((k + 1, e));
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn a_pass_at_the_pause_is_the_final_and_interims_come_while_speaking() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let asr = IncrementalAsr::new(
            Arc::new(Counting {
                delay: Duration::from_millis(100),
                asked: asked.clone(),
                busy: false,
            }),
            Some(Duration::from_millis(500)),
        );
        // 100 frames (2 s) of speech, then the 200 ms release
        let events = speak(&asr, 100, None).await;
        let finals: Vec<_> = events
            .iter()
            .filter(|(_, e)| matches!(e, AsrEvent::Final(_)))
            .collect();
        // the pause pass started 2 frames into the release, over the speech and those 2
        assert_eq!(finals.len(), 1, "{events:?}");
        assert_eq!(finals[0].1, AsrEvent::Final("102 frames".into()));
        // ready before the VAD's end of speech: handed over with it
        assert!(finals[0].0 <= 110, "{events:?}");
        let interims = events
            .iter()
            .filter(|(_, e)| matches!(e, AsrEvent::Interim(_)))
            .count();
        assert!(interims >= 3, "interims while speaking: {events:?}");
        // every pass was over a growing prefix, and no final pass was needed
        let asked = asked.lock().expect("lock").clone();
        assert!(asked.windows(2).all(|w| w[0] < w[1]), "{asked:?}");
        assert_eq!(asked.last(), Some(&102), "{asked:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn speech_after_a_short_pause_needs_a_new_pass() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let asr = IncrementalAsr::new(
            Arc::new(Counting {
                delay: Duration::from_millis(60),
                asked: asked.clone(),
                busy: false,
            }),
            None,
        );
        // a 4-frame pause at frame 40 (a pause pass), then speech again until 80
        let events = speak(&asr, 80, Some(40)).await;
        let finals: Vec<_> = events
            .iter()
            .filter_map(|(_, e)| match e {
                AsrEvent::Final(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(finals, vec!["82 frames".to_owned()], "{events:?}");
        assert!(
            events
                .iter()
                .any(|(_, e)| *e == AsrEvent::Interim("42 frames".into())),
            "the first pause's pass is an interim: {events:?}"
        );
        assert_eq!(asked.lock().expect("lock").clone(), vec![42, 82]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_recognizer_gets_one_pass_at_the_end_of_speech() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let asr = IncrementalAsr::new(
            Arc::new(Counting {
                delay: Duration::from_millis(60),
                asked: asked.clone(),
                busy: true,
            }),
            Some(Duration::from_millis(200)),
        );
        let events = speak(&asr, 80, Some(40)).await;
        assert_eq!(
            events.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
            vec![AsrEvent::Final("82 frames".into())]
        );
        assert_eq!(asked.lock().expect("lock").clone(), vec![82]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_pass_is_finished_not_repeated() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let asr = IncrementalAsr::new(
            Arc::new(Counting {
                delay: Duration::from_millis(600),
                asked: asked.clone(),
                busy: false,
            }),
            None,
        );
        let events = speak(&asr, 50, None).await;
        // the pause pass was still running at the end of speech: it became the final
        assert_eq!(
            events.last().map(|(_, e)| e.clone()),
            Some(AsrEvent::Final("52 frames".into()))
        );
        assert_eq!(asked.lock().expect("lock").clone(), vec![52]);
    }
}
