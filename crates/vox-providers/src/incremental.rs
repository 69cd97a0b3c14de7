//! Streaming recognition from a recognizer that only transcribes whole stretches of audio
//! (local Whisper): the growing segment is transcribed again while the caller speaks, so
//! interim words flow, and once more the moment they pause, so the final is usually ready
//! when the VAD calls the end of speech.
//!
//! Three kinds of pass over the segment so far, at most one in flight per call:
//!
//! - **pause**: at the first sign of a pause that may become the end of speech (which the
//!   VAD calls only after its release time, 200 ms by default): [`SOFT_FRAMES`] frames in a
//!   row [`SOFT_DB`] below the loudest of the segment (the voice died away; the VAD's model
//!   lags this by ~100 ms on the recorded prompts), or [`PAUSE_FRAMES`] frames the VAD calls
//!   quiet, whichever comes first. A caller who stops has their words transcribed during
//!   that release; one who goes on turns the pass into an interim. Only while the
//!   recognizer is idle: a busy one (other calls' passes) would queue it, and a pass that
//!   turns out an interim would delay their finals, so under load a segment gets its one
//!   final pass at the end of speech, as per segment.
//! - **interim**: every `interim_every` of speech since the last pass, only while the
//!   recognizer is idle (a busy one is left to the passes that make finals), so interims
//!   cost spare CPU only.
//! - **final**: at the end of speech, only if no pause pass covers the speech (it was still
//!   waiting behind another, or speech resumed after it).
//!
//! A segment's final is always the transcript of the same audio: the segment up to where the
//! sign of its last pause came (the rest of the VAD's release is silence, or the voice dying
//! away). A pause pass covers exactly that much, so when the caller does not speak again it
//! is the final, whichever pass ran when; the transcript is as deterministic as the
//! per-segment recognizer's.

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

/// Frames the VAD calls quiet, in a row, that start a pause pass (40 ms).
pub const PAUSE_FRAMES: usize = 2;
/// A frame this far below the loudest frame of the segment so far is soft.
pub const SOFT_DB: f32 = 20.0;
/// Soft frames in a row that start a pause pass (160 ms). Measured on the recorded prompts
/// (Silero's default settings): the pass starts a median 100 ms sooner than on the VAD's
/// quiet frames alone, for 1.9 pause passes per segment instead of 1.3; at 60 ms it was
/// 3.1 passes, most of them at the closures of stop consonants inside words.
pub const SOFT_FRAMES: usize = 8;
/// A pause whose level rises this much above its quietest frame (outside frames the VAD
/// calls quiet) is the voice coming back: a consonant's release, or words spoken softer.
const RISE_DB: f32 = 10.0;
/// The VAD's quiet frames must begin within this many frames of where the energy showed a
/// pause (300 ms) for the final to end there; otherwise the caller may have gone on softly
/// and the final covers up to the VAD's quiet frames, as if the energy had not spoken.
const MAX_LEAD_FRAMES: usize = 15;
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

/// A pause that showed: by [`SOFT_FRAMES`] soft frames or [`PAUSE_FRAMES`] quiet ones.
#[derive(Debug, Clone, Copy)]
struct Pause {
    /// Frames before it showed: what a pass at the pause covers.
    at: usize,
    /// Its quietest frame, in dBFS.
    floor_db: f32,
}

/// The segment being spoken.
struct Segment {
    frames: Vec<AudioFrame>,
    /// Frames the VAD calls quiet at its end.
    quiet_run: usize,
    /// Soft frames at its end with no rise of [`RISE_DB`] among them.
    soft_run: usize,
    /// The quietest of those, in dBFS.
    soft_floor_db: f32,
    /// The loudest frame so far, in dBFS.
    peak_db: f32,
    /// The pause going on, once it showed.
    pause: Option<Pause>,
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
    fn new(frames: Vec<AudioFrame>) -> Self {
        Self {
            frames,
            quiet_run: 0,
            soft_run: 0,
            soft_floor_db: -100.0,
            peak_db: -100.0,
            pause: None,
            pass: None,
            heard: None,
            pause_waiting: false,
            last_interim: String::new(),
        }
    }

    /// Adds a frame; whether a pause began to show with it.
    fn push(&mut self, frame: AudioFrame, vad: &VadOutput) -> bool {
        let db = frame.energy_dbfs();
        self.frames.push(frame);
        self.peak_db = self.peak_db.max(db);
        let soft = db < self.peak_db - SOFT_DB;
        self.quiet_run = if vad.quiet { self.quiet_run + 1 } else { 0 };
        // a syllable spoken softly rises out of the quiet between syllables
        let syllable = self.soft_run > 0 && db >= self.soft_floor_db + RISE_DB;
        if soft && !syllable {
            self.soft_floor_db = if self.soft_run == 0 {
                db
            } else {
                self.soft_floor_db.min(db)
            };
            self.soft_run += 1;
        } else {
            self.soft_run = 0;
        }
        let rose = self
            .pause
            .is_some_and(|p| !vad.quiet && db >= p.floor_db + RISE_DB);
        if !(vad.quiet || soft) || rose {
            self.pause = None; // the voice is back
            return false;
        }
        if let Some(p) = &mut self.pause {
            p.floor_db = p.floor_db.min(db);
            return false;
        }
        if self.quiet_run >= PAUSE_FRAMES || self.soft_run >= SOFT_FRAMES {
            let floor_db = if self.soft_run > 0 {
                self.soft_floor_db.min(db)
            } else {
                db
            };
            self.pause = Some(Pause {
                at: self.frames.len(),
                floor_db,
            });
            return true;
        }
        false
    }

    /// What a pass at the pause going on covers.
    fn pause_len(&self) -> Option<usize> {
        self.pause.map(|p| p.at)
    }

    /// What the final covers: up to where the pause that ended the segment showed, if the
    /// VAD's quiet frames followed soon enough; else the speech and the first
    /// [`PAUSE_FRAMES`] of those quiet frames (all of it, for a segment cut at its longest).
    fn final_len(&self) -> usize {
        let by_vad = (self.frames.len() - self.quiet_run + PAUSE_FRAMES).min(self.frames.len());
        match self.pause {
            Some(p) if by_vad.saturating_sub(p.at) <= MAX_LEAD_FRAMES => p.at,
            _ => by_vad,
        }
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
            self.segment = Some(Segment::new(self.preroll.drain(..).collect()));
        }
        let Some(seg) = self.segment.as_mut() else {
            if self.preroll.len() == PREROLL_FRAMES {
                self.preroll.pop_front();
            }
            self.preroll.push_back(frame);
            return;
        };
        let pause_began = seg.push(frame, &vad);
        if vad.event == Some(VadEvent::SpeechEnd) || seg.frames.len() >= MAX_SEGMENT_FRAMES {
            if let Some(seg) = self.segment.take() {
                self.end(seg);
            }
            return;
        }
        if pause_began {
            if seg.pass.is_some() {
                seg.pause_waiting = true;
            } else if let (Some(upto), false) = (seg.pause_len(), self.asr.busy()) {
                start(&self.asr, seg, upto);
            }
        } else if seg.pause.is_none()
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
        if let (true, Some(upto), false) = (
            std::mem::take(&mut seg.pause_waiting),
            seg.pause_len(),
            self.asr.busy(),
        ) {
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

    /// A frame whose samples alternate between `amp` and `-amp` (its RMS is `amp`).
    fn level(amp: i16) -> AudioFrame {
        let samples: Vec<i16> = (0..vox_core::FRAME_SAMPLES)
            .map(|i| if i % 2 == 0 { amp } else { -amp })
            .collect();
        AudioFrame::from_slice(&samples).expect("one frame")
    }

    /// Plays `frames` of a segment, one per 20 ms, then ends the VAD's segment with 10 quiet
    /// frames of silence; returns the events and every pass asked for.
    async fn play(frames: Vec<(i16, bool)>) -> (Vec<AsrEvent>, Vec<usize>) {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let asr = IncrementalAsr::new(
            Arc::new(Counting {
                delay: Duration::from_millis(10),
                asked: asked.clone(),
                busy: false,
            }),
            None,
        );
        let mut s = asr.session();
        let mut out = Vec::new();
        let n = frames.len();
        let all = frames.into_iter().chain((0..10).map(|_| (0, true)));
        for (i, (amp, quiet)) in all.enumerate() {
            let event = match i {
                0 => Some(VadEvent::SpeechStart),
                i if i == n + 9 => Some(VadEvent::SpeechEnd),
                _ => None,
            };
            let v = vad(i < n + 9, quiet, event);
            s.audio.send((level(amp), v)).await.expect("send");
            tokio::time::sleep(Duration::from_millis(20)).await;
            while let Ok(e) = s.events.try_recv() {
                out.push(e);
            }
        }
        drop(s.audio);
        while let Some(e) = s.events.recv().await {
            out.push(e);
        }
        let asked = asked.lock().expect("lock").clone();
        (out, asked)
    }

    fn finals(events: &[AsrEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                AsrEvent::Final(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    const LOUD: i16 = 3000; // about -21 dBFS
    const SOFT: i16 = 200; // 23.5 dB below it
    const FAINT: i16 = 30; // 40 dB below it

    #[tokio::test(start_paused = true)]
    async fn a_voice_dying_away_starts_the_pass_before_the_vad_calls_quiet() {
        // 40 loud frames, then the voice fades while the VAD's model still calls it speech
        let mut frames = vec![(LOUD, false); 40];
        frames.extend([(SOFT, false); 4]);
        frames.extend([(FAINT, false); 8]);
        let (events, asked) = play(frames).await;
        // the eighth soft frame showed the pause: the pass covers up to it, and is the final
        assert_eq!(asked, vec![48], "{events:?}");
        assert_eq!(finals(&events), vec!["48 frames".to_owned()]);
    }

    #[tokio::test(start_paused = true)]
    async fn words_spoken_softer_after_a_pause_are_not_cut_off() {
        // loud words, a soft stretch (a pause shows), then two softer words: each rises
        // well above the pause's floor, so the voice is back, and the final covers them
        let mut frames = vec![(LOUD, false); 40];
        frames.extend([(FAINT, false); 8]);
        frames.extend([(SOFT, false); 5]);
        frames.extend([(FAINT, false); 3]);
        frames.extend([(SOFT, false); 5]);
        let (events, asked) = play(frames).await;
        // 61 frames of speech and 2 of the VAD's quiet frames
        assert_eq!(finals(&events), vec!["63 frames".to_owned()], "{events:?}");
        assert_eq!(asked, vec![48, 63]);
        assert!(events.contains(&AsrEvent::Interim("48 frames".into())));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_the_vad_never_confirms_soon_is_not_where_the_final_ends() {
        // after the fade the VAD's model calls 25 more frames speech, with no rise in level:
        // perhaps words too soft to tell; the final keeps all of it
        let mut frames = vec![(LOUD, false); 40];
        frames.extend([(SOFT, false); 33]);
        let (events, asked) = play(frames).await;
        assert_eq!(finals(&events), vec!["75 frames".to_owned()], "{events:?}");
        assert_eq!(asked, vec![48, 75]);
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
