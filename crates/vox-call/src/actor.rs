use std::sync::Arc;
use std::time::Duration;

use ringbuf::HeapRb;
use ringbuf::traits::{Consumer, RingBuffer};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vox_core::VadEvent;
use vox_core::{AudioFrame, CallId, FRAME_DURATION, TurnId, TurnLatency};
use vox_engine::{Action, Conversation, Input, TranscriptEntry};
use vox_providers::{AsrEvent, AsrProvider, Embedder, EndOfTurnModel, LlmProvider, TtsProvider};
use vox_tools::{ToolOutcome, ToolRunner};

use crate::AudioReceiver;
use crate::playout::{Playout, PlayoutEvent};
use crate::tasks::{LlmMsg, TtsMsg, spawn_llm, spawn_tool, spawn_tts};

/// Per-call settings.
#[derive(Clone, Copy, Debug)]
pub struct CallConfig {
    /// Most agent audio buffered at the carrier ahead of playback.
    pub send_ahead: Duration,
    /// Longest a tool call may take.
    pub tool_timeout: Duration,
    /// How long past its expected end a frame's mark may stay unechoed before the call is
    /// ended as [`Unresponsive::MarksNotEchoed`] (a peer that stopped playing or reading).
    pub mark_timeout: Duration,
}

impl Default for CallConfig {
    fn default() -> Self {
        Self {
            send_ahead: Duration::from_millis(200),
            tool_timeout: Duration::from_secs(10),
            mark_timeout: Duration::from_secs(10),
        }
    }
}

/// The providers a call's conversation uses (none for the echo agent).
#[derive(Clone, Default)]
pub struct CallServices {
    /// Speech recognition.
    pub asr: Option<Arc<dyn AsrProvider>>,
    /// The language model.
    pub llm: Option<Arc<dyn LlmProvider>>,
    /// Speech synthesis.
    pub tts: Option<Arc<dyn TtsProvider>>,
    /// Tool calls.
    pub tools: Option<Arc<dyn ToolRunner>>,
    /// End-of-turn model, asked at each end of speech.
    pub eot: Option<Arc<dyn EndOfTurnModel>>,
    /// Sentence embeddings (workflow agents without an LLM choose edges with them).
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Told of the call's progress (the call record).
    pub observer: Option<Arc<dyn CallObserver>>,
    /// Carries out the agent's hang-up or transfer at the carrier.
    pub control: Option<Arc<dyn CallControl>>,
    /// Where to write the call's two-channel recording.
    pub recording: Option<std::path::PathBuf>,
}

/// The carrier's call control, used when the agent ends the call: hang up, or carry out a
/// transfer the tools accepted. Awaited (with a time limit) before the media leg closes,
/// because for some carriers closing the stream first would end the call.
pub trait CallControl: Send + Sync {
    /// Ends the call at the carrier; `reason` is the engine's hang-up reason.
    fn end(&self, reason: &str) -> futures::future::BoxFuture<'static, ()>;
}

/// Follows a call as it happens (for example to keep its record current). Called on the
/// actor's loop, so implementations hand work off and return at once.
pub trait CallObserver: Send + Sync {
    /// A line was added to the transcript; `all` is the transcript so far.
    fn transcript(&self, all: &[TranscriptEntry]);
    /// The call is over (`None`: its actor failed).
    fn ended(&self, summary: Option<&CallSummary>);
    /// A turn's latency milestones are complete.
    fn latency(&self, _turn: &TurnLatency) {}
    /// The agent called a tool.
    fn tool_called(&self, _call: &vox_core::ToolCall) {}
    /// A tool call (by the model's id for it) came back with this result.
    fn tool_result(&self, _id: &str, _result: &str) {}
    /// The agent is about to say `text`, segment `segment` of turn `turn` (what it means to
    /// say; the transcript line at the turn's end is what was heard of it).
    fn speaking(&self, _turn: TurnId, _segment: u32, _text: &str) {}
    /// The recognizer's words so far of what the caller is saying (streaming recognizers).
    fn interim(&self, _text: &str) {}
    /// The post-call survey's result as it stands.
    fn survey(&self, _result: &vox_engine::survey::SurveyResult) {}
}

impl std::fmt::Debug for CallServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallServices")
            .field("asr", &self.asr.is_some())
            .field("llm", &self.llm.is_some())
            .field("tts", &self.tts.is_some())
            .field("tools", &self.tools.is_some())
            .field("eot", &self.eot.is_some())
            .field("embedder", &self.embedder.is_some())
            .field("observer", &self.observer.is_some())
            .field("control", &self.control.is_some())
            .field("recording", &self.recording)
            .finish()
    }
}

/// Agent audio the actor accepts from TTS while less than this is queued for playout
/// (1 s); beyond it, TTS waits (backpressure instead of memory).
const MAX_QUEUED_FRAMES: usize = 50;
/// Caller audio kept for the end-of-turn model (8 s at 16 kHz).
const EOT_SAMPLES: usize = 8 * 16_000;

/// Control events from the transport reader. Never dropped (the sender waits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportEvent {
    /// A mark we sent came back.
    Mark(String),
    /// A key press.
    Dtmf(char),
    /// The carrier ended the stream.
    Stop,
}

/// What the actor asks the transport writer to send, in the internal format.
///
/// `Audio` carries the 640-byte frame inline on purpose: moving a fixed-size frame through a
/// bounded channel costs a copy, boxing it would cost a heap allocation per frame.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum OutboundMsg {
    /// 20 ms of agent audio.
    Audio(AudioFrame),
    /// A mark, sent right after the audio it follows.
    Mark(String),
    /// Drop everything the carrier buffered.
    Clear,
    /// End the call.
    Hangup {
        /// Why, for the close frame and logs.
        reason: String,
        /// The server is going away (as opposed to the conversation ending).
        server_shutdown: bool,
    },
}

/// The actor's ends of the call's channels.
#[derive(Debug)]
pub struct CallIo {
    /// Caller frames (drop-oldest queue).
    pub audio: AudioReceiver,
    /// Transport control events.
    pub events: mpsc::Receiver<TransportEvent>,
    /// To the transport writer.
    pub outbound: mpsc::Sender<OutboundMsg>,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEnd {
    /// The carrier sent stop.
    CarrierStop,
    /// The transport went away without stop (socket closed).
    TransportClosed,
    /// The server hung up (shutdown).
    ServerShutdown,
    /// The agent hung up.
    AgentHangup(String),
    /// The peer stopped taking part, and Vox hung up.
    PeerUnresponsive(Unresponsive),
}

/// How a peer stopped taking part in its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unresponsive {
    /// Agent audio went out, and its marks did not come back in time.
    MarksNotEchoed,
    /// The peer stopped reading: a ping went unanswered, or a write could not finish.
    NotReading,
    /// Nothing arrived from the peer (not even silence) for too long.
    Silent,
}

impl Unresponsive {
    /// A stable metric label.
    pub fn kind(self) -> &'static str {
        match self {
            Self::MarksNotEchoed => "marks_not_echoed",
            Self::NotReading => "not_reading",
            Self::Silent => "silent",
        }
    }
}

impl std::fmt::Display for Unresponsive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::MarksNotEchoed => "the carrier stopped echoing marks",
            Self::NotReading => "the carrier stopped reading",
            Self::Silent => "the carrier stopped sending",
        })
    }
}

impl CallEnd {
    /// A stable metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CarrierStop => "carrier_stop",
            Self::TransportClosed => "transport_closed",
            Self::ServerShutdown => "server_shutdown",
            Self::AgentHangup(_) => "agent_hangup",
            Self::PeerUnresponsive(_) => "peer_unresponsive",
        }
    }
}

/// What happened on a call, for logs and records.
#[derive(Debug, Clone)]
pub struct CallSummary {
    /// The call.
    pub call_id: CallId,
    /// How it ended.
    pub end: CallEnd,
    /// Caller frames processed.
    pub frames_in: u64,
    /// Caller frames dropped because the actor fell behind.
    pub frames_dropped: u64,
    /// Caller frames the speech recognizer could not take in time.
    pub asr_frames_dropped: u64,
    /// Agent frames sent.
    pub frames_out: u64,
    /// Agent turns started.
    pub turns: u64,
    /// Turns cut off by the caller.
    pub barge_ins: u64,
    /// The conversation, as heard.
    pub transcript: Vec<TranscriptEntry>,
    /// Per-turn latency milestones.
    pub latencies: Vec<TurnLatency>,
    /// The finished recording, if one was made.
    pub recording: Option<std::path::PathBuf>,
}

/// One call: drives its conversation and paces its playout. See the crate docs.
pub struct CallActor {
    call_id: CallId,
    cfg: CallConfig,
    conversation: Box<dyn Conversation>,
    services: CallServices,
    io: CallIo,
    playout: Playout,
    cancel: CancellationToken,
    turn: Option<(TurnId, CancellationToken)>,
    started_turn: Option<TurnId>,
    asr_in: Option<mpsc::Sender<(AudioFrame, vox_core::VadOutput)>>,
    asr_events: Option<mpsc::Receiver<AsrEvent>>,
    llm_tx: mpsc::Sender<(TurnId, LlmMsg)>,
    llm_rx: mpsc::Receiver<(TurnId, LlmMsg)>,
    tts_tx: mpsc::Sender<TtsMsg>,
    tts_rx: mpsc::Receiver<TtsMsg>,
    tts_worker: Option<(TurnId, mpsc::Sender<(u32, String)>)>,
    speech_ended: Option<TurnId>,
    tool_tx: mpsc::Sender<(TurnId, String, ToolOutcome)>,
    tool_rx: mpsc::Receiver<(TurnId, String, ToolOutcome)>,
    /// The caller's last 8 s, for the end-of-turn model (only with one).
    recent: Option<HeapRb<i16>>,
    eot_seq: u64,
    eot_tx: mpsc::Sender<(u64, Result<f32, vox_providers::ProviderError>)>,
    eot_rx: mpsc::Receiver<(u64, Result<f32, vox_providers::ProviderError>)>,
    edge_tx: mpsc::Sender<(TurnId, Vec<f32>)>,
    edge_rx: mpsc::Receiver<(TurnId, Vec<f32>)>,
    summary: CallSummary,
    started: Instant,
    recorder: Option<crate::recorder::Recorder>,
}

impl std::fmt::Debug for CallActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallActor")
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

/// Ends the actor's loop early.
struct Ended(CallEnd);

fn now_std() -> std::time::Instant {
    Instant::now().into_std()
}

impl CallActor {
    /// An actor for `call_id`; `cancel` is the call's node in the cancellation tree.
    pub fn new(
        call_id: CallId,
        cfg: CallConfig,
        conversation: Box<dyn Conversation>,
        services: CallServices,
        io: CallIo,
        cancel: CancellationToken,
    ) -> Self {
        let summary = CallSummary {
            call_id: call_id.clone(),
            end: CallEnd::TransportClosed,
            frames_in: 0,
            frames_dropped: 0,
            asr_frames_dropped: 0,
            frames_out: 0,
            turns: 0,
            barge_ins: 0,
            transcript: Vec::new(),
            latencies: Vec::new(),
            recording: None,
        };
        // LLM deltas, TTS chunks and tool results: bounded; producers wait for room.
        let (llm_tx, llm_rx) = mpsc::channel(64);
        let (tts_tx, tts_rx) = mpsc::channel(4);
        let (tool_tx, tool_rx) = mpsc::channel(16);
        let (eot_tx, eot_rx) = mpsc::channel(4);
        let (edge_tx, edge_rx) = mpsc::channel(4);
        let recent = services.eot.as_ref().map(|_| HeapRb::new(EOT_SAMPLES));
        Self {
            recent,
            eot_seq: 0,
            eot_tx,
            eot_rx,
            edge_tx,
            edge_rx,
            call_id,
            cfg,
            conversation,
            services,
            io,
            playout: Playout::new(cfg.send_ahead),
            cancel,
            turn: None,
            started_turn: None,
            asr_in: None,
            asr_events: None,
            llm_tx,
            llm_rx,
            tts_tx,
            tts_rx,
            tts_worker: None,
            speech_ended: None,
            tool_tx,
            tool_rx,
            summary,
            started: Instant::now(),
            recorder: None,
        }
    }

    /// Runs the call to its end.
    pub async fn run(mut self) -> CallSummary {
        if let Some(asr) = self.services.asr.clone() {
            let session = asr.session();
            self.asr_in = Some(session.audio);
            self.asr_events = Some(session.events);
        }
        self.started = Instant::now();
        if let Some(path) = self.services.recording.clone() {
            match crate::recorder::Recorder::create(&path) {
                Ok(r) => self.recorder = Some(r),
                Err(e) => {
                    tracing::warn!(call = %self.call_id, error = %e, path = %path.display(), "cannot record the call")
                }
            }
        }
        // The conversation starts now (first message).
        self.conversation.handle_input(now_std(), Input::Tick);
        let end = match self.apply_actions().await {
            Err(Ended(end)) => end,
            Ok(()) => match self.run_loop().await {
                Ok(()) => CallEnd::TransportClosed,
                Err(Ended(end)) => end,
            },
        };
        if let Some((_, token)) = self.turn.take() {
            token.cancel();
        }
        if end == CallEnd::ServerShutdown {
            let hangup = OutboundMsg::Hangup {
                reason: "server shutting down".into(),
                server_shutdown: true,
            };
            let _ = self.io.outbound.send(hangup).await;
        }
        if let CallEnd::PeerUnresponsive(why) = &end {
            tracing::warn!(call = %self.call_id, reason = why.kind(), "hanging up: {why}");
            metrics::counter!("vox_calls_unresponsive_total", "reason" => why.kind()).increment(1);
            // a peer that does not read may have filled the queue: never wait on it
            let _ = self.io.outbound.try_send(OutboundMsg::Hangup {
                reason: why.to_string(),
                server_shutdown: false,
            });
        }
        self.summary.frames_dropped = self.io.audio.dropped();
        self.summary.end = end;
        if let Some(r) = self.recorder.take() {
            match r.finish() {
                Ok(path) => self.summary.recording = Some(path),
                Err(e) => {
                    tracing::warn!(call = %self.call_id, error = %e, "finishing the recording")
                }
            }
        }
        metrics::counter!("vox_calls_ended_total", "end" => self.summary.end.kind()).increment(1);
        if self.summary.frames_dropped > 0 {
            metrics::counter!("vox_inbound_frames_dropped_total")
                .increment(self.summary.frames_dropped);
        }
        if self.summary.asr_frames_dropped > 0 {
            metrics::counter!("vox_asr_frames_dropped_total")
                .increment(self.summary.asr_frames_dropped);
        }
        self.summary
    }

    async fn run_loop(&mut self) -> Result<(), Ended> {
        loop {
            let now = Instant::now();
            // the oldest frame the carrier has not confirmed playing, plus the grace
            let marks_due = self
                .playout
                .oldest_unconfirmed()
                .map(|end| Instant::from_std(end) + self.cfg.mark_timeout);
            if marks_due.is_some_and(|due| due <= now) {
                return Err(Ended(CallEnd::PeerUnresponsive(
                    Unresponsive::MarksNotEchoed,
                )));
            }
            let wake = [
                self.conversation.poll_timeout().map(Instant::from_std),
                self.playout.next_due(now.into_std()).map(Instant::from_std),
                marks_due,
            ]
            .into_iter()
            .flatten()
            .min();
            let tts_room = self.playout.queued() < MAX_QUEUED_FRAMES;
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Err(Ended(CallEnd::ServerShutdown)),
                ev = self.io.events.recv() => match ev {
                    Some(TransportEvent::Mark(name)) => self.on_mark(&name),
                    Some(TransportEvent::Dtmf(digit)) => {
                        self.conversation.handle_input(now_std(), Input::Dtmf { digit });
                    }
                    Some(TransportEvent::Stop) => return Err(Ended(CallEnd::CarrierStop)),
                    None => return Ok(()),
                },
                item = self.io.audio.recv() => match item {
                    Some(item) => {
                        if let Some(r) = self.recorder.as_mut()
                            && let Err(e) = r.caller(self.summary.frames_in * vox_core::FRAME_SAMPLES as u64, item.frame.samples()) {
                                tracing::warn!(call = %self.call_id, error = %e, "recording failed; the call goes on unrecorded");
                                self.recorder = None;
                            }
                        self.summary.frames_in += 1;
                        if let Some(asr) = &self.asr_in
                            && asr.try_send((item.frame.clone(), item.vad)).is_err() {
                                self.summary.asr_frames_dropped += 1;
                            }
                        self.on_caller_audio_for_eot(&item.frame, item.vad.event);
                        self.conversation.handle_input(now_std(), Input::CallerAudio { frame: &item.frame, vad: item.vad });
                    }
                    None => return Ok(()),
                },
                Some(ev) = recv_opt(&mut self.asr_events) => {
                    tracing::debug!(call = %self.call_id, event = ?std::mem::discriminant(&ev), chars = match &ev { AsrEvent::Final(t) | AsrEvent::Interim(t) => t.len(), AsrEvent::Error(_) => 0 }, "asr event");
                    let input = match ev {
                        AsrEvent::Interim(text) => {
                            if let Some(o) = &self.services.observer {
                                o.interim(&text);
                            }
                            Input::AsrInterim { text }
                        }
                        AsrEvent::Final(text) => Input::AsrFinal { text },
                        AsrEvent::Error(e) => {
                            tracing::warn!(error = %e, "speech recognition failed on a segment");
                            metrics::counter!("vox_provider_errors_total", "provider" => "asr").increment(1);
                            Input::AsrFinal { text: String::new() }
                        }
                    };
                    self.conversation.handle_input(now_std(), input);
                }
                Some((turn, msg)) = self.llm_rx.recv() => {
                    let input = match msg {
                        LlmMsg::Event(event) => Input::Llm { turn, event },
                        LlmMsg::Done => Input::LlmDone { turn },
                        LlmMsg::Failed { retryable } => Input::LlmFailed { turn, retryable },
                    };
                    self.conversation.handle_input(now_std(), input);
                }
                Some(msg) = self.tts_rx.recv(), if tts_room => self.on_tts(msg),
                Some((seq, result)) = self.eot_rx.recv() => match result {
                    Ok(probability) if seq == self.eot_seq => {
                        self.conversation.handle_input(now_std(), Input::EndOfTurn { probability });
                    }
                    Ok(_) => {} // the caller spoke again since: stale
                    Err(e) => {
                        tracing::debug!(error = %e, "end-of-turn model unavailable for this turn");
                        metrics::counter!("vox_provider_errors_total", "provider" => "eot").increment(1);
                    }
                },
                Some((turn, scores)) = self.edge_rx.recv() => {
                    self.conversation.handle_input(now_std(), Input::EdgeScores { turn, scores });
                }
                Some((turn, call_id, outcome)) = self.tool_rx.recv() => {
                    if let Some(o) = &self.services.observer {
                        o.tool_result(&call_id, &outcome.content);
                    }
                    self.conversation.handle_input(now_std(), Input::ToolResult { turn, call_id, content: outcome.content, end_call: outcome.end_call });
                }
                () = sleep_until(wake) => {
                    let now = now_std();
                    if self.conversation.poll_timeout().is_some_and(|t| t <= now) {
                        self.conversation.handle_input(now, Input::Tick);
                    }
                }
            }
            self.apply_actions().await?;
            self.pump_playout().await?;
        }
    }

    /// Keeps the caller's recent audio and, at each end of speech, asks the end-of-turn model.
    fn on_caller_audio_for_eot(&mut self, frame: &AudioFrame, event: Option<VadEvent>) {
        let (Some(recent), Some(eot)) = (self.recent.as_mut(), self.services.eot.as_ref()) else {
            return;
        };
        recent.push_slice_overwrite(frame.samples());
        match event {
            Some(VadEvent::SpeechStart) => self.eot_seq += 1,
            Some(VadEvent::SpeechEnd) => {
                self.eot_seq += 1;
                let seq = self.eot_seq;
                let audio: Vec<i16> = recent.iter().copied().collect();
                let prediction = eot.predict(audio);
                let tx = self.eot_tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send((seq, prediction.await)).await;
                });
            }
            None => {}
        }
    }

    fn on_mark(&mut self, name: &str) {
        let now = now_std();
        let event = self.playout.on_mark(name, now);
        self.on_playout_event(event);
    }

    fn on_playout_event(&mut self, event: Option<PlayoutEvent>) {
        let now = now_std();
        match event {
            Some(PlayoutEvent::Progress { turn, played }) => {
                self.conversation
                    .handle_input(now, Input::PlaybackProgress { turn, played });
            }
            Some(PlayoutEvent::Finished { turn }) => {
                self.conversation
                    .handle_input(now, Input::PlaybackFinished { turn });
                if self.turn.as_ref().is_some_and(|(t, _)| *t == turn) {
                    self.turn = None;
                }
            }
            None => {}
        }
    }

    fn on_tts(&mut self, msg: TtsMsg) {
        let now = now_std();
        match msg {
            TtsMsg::Audio {
                turn,
                segment,
                frames,
            } => {
                if !self.is_current(turn) {
                    return;
                }
                let audio = FRAME_DURATION * frames.len() as u32;
                self.playout.enqueue(now, turn, frames, false);
                self.conversation.handle_input(
                    now,
                    Input::TtsAudio {
                        turn,
                        segment,
                        audio,
                        complete: false,
                    },
                );
            }
            TtsMsg::SegmentDone { turn, segment } => {
                if self.is_current(turn) {
                    self.conversation.handle_input(
                        now,
                        Input::TtsAudio {
                            turn,
                            segment,
                            audio: Duration::ZERO,
                            complete: true,
                        },
                    );
                }
            }
            TtsMsg::Finished { turn } => {
                if self.speech_ended == Some(turn) && self.is_current(turn) {
                    let event = self.playout.complete_turn(turn);
                    self.on_playout_event(event);
                }
            }
        }
    }

    fn is_current(&self, turn: TurnId) -> bool {
        self.turn.as_ref().is_some_and(|(t, _)| *t == turn)
    }

    /// The turn's cancellation token, creating the turn's node in the tree if new.
    fn turn_token(&mut self, turn: TurnId) -> CancellationToken {
        match &self.turn {
            Some((t, token)) if *t == turn => token.clone(),
            _ => {
                let token = self.cancel.child_token();
                if let Some((_, old)) = self.turn.replace((turn, token.clone())) {
                    old.cancel();
                }
                self.summary.turns += 1;
                self.tts_worker = None;
                self.speech_ended = None;
                token
            }
        }
    }

    async fn apply_actions(&mut self) -> Result<(), Ended> {
        while let Some(action) = self.conversation.poll_action() {
            let now = now_std();
            match action {
                Action::Speak { turn, audio } => {
                    self.turn_token(turn);
                    tracing::debug!(call = %self.call_id, %turn, frames = audio.len(), "agent speaks");
                    self.playout.enqueue(now, turn, audio, true);
                }
                Action::SpeakText {
                    turn,
                    segment,
                    text,
                } => {
                    let token = self.turn_token(turn);
                    if let Some(o) = &self.services.observer {
                        o.speaking(turn, segment, &text);
                    }
                    let Some(tts) = self.services.tts.clone() else {
                        tracing::warn!(call = %self.call_id, "agent has text to say but no TTS provider");
                        continue;
                    };
                    if self.tts_worker.as_ref().is_none_or(|(t, _)| *t != turn) {
                        self.tts_worker =
                            Some((turn, spawn_tts(tts, turn, token, self.tts_tx.clone())));
                    }
                    if let Some((_, tx)) = &self.tts_worker {
                        let _ = tx.send((segment, text)).await;
                    }
                }
                Action::EndOfSpeech { turn } => {
                    self.turn_token(turn);
                    self.speech_ended = Some(turn);
                    let worker = self.tts_worker.take_if(|(t, _)| *t == turn);
                    if worker.is_none() {
                        // nothing (left) to synthesize: the turn is complete once played
                        let event = self.playout.complete_turn(turn);
                        self.on_playout_event(event);
                    }
                    // dropping the worker's sender lets it finish and report Finished
                }
                Action::StartLlm { turn, call } => {
                    let token = self.turn_token(turn);
                    match self.services.llm.clone() {
                        Some(llm) => spawn_llm(llm, turn, call, token, self.llm_tx.clone()),
                        None => self.conversation.handle_input(
                            now,
                            Input::LlmFailed {
                                turn,
                                retryable: false,
                            },
                        ),
                    }
                }
                Action::ChooseEdge {
                    turn,
                    text,
                    options,
                } => {
                    let token = self.turn_token(turn);
                    let Some(embedder) = self.services.embedder.clone() else {
                        self.conversation.handle_input(
                            now,
                            Input::EdgeScores {
                                turn,
                                scores: Vec::new(),
                            },
                        );
                        continue;
                    };
                    let tx = self.edge_tx.clone();
                    tokio::spawn(async move {
                        let mut texts = vec![text];
                        texts.extend(options);
                        let scores = tokio::select! {
                            () = token.cancelled() => return,
                            r = embedder.embed(texts) => match r {
                                Ok(v) if !v.is_empty() => v[1..].iter().map(|o| o.iter().zip(&v[0]).map(|(a, b)| a * b).sum()).collect(),
                                Ok(_) => Vec::new(),
                                Err(e) => {
                                    tracing::warn!(error = %e, "embedding failed; no workflow edge chosen");
                                    Vec::new()
                                }
                            },
                        };
                        let _ = tx.send((turn, scores)).await;
                    });
                }
                Action::RunTool { turn, call } => {
                    let token = self.turn_token(turn);
                    tracing::info!(call = %self.call_id, %turn, tool = %call.name, "running tool");
                    if let Some(o) = &self.services.observer {
                        o.tool_called(&call);
                    }
                    match self.services.tools.clone() {
                        Some(runner) => spawn_tool(
                            runner,
                            turn,
                            call,
                            token,
                            self.cfg.tool_timeout,
                            self.tool_tx.clone(),
                        ),
                        None => {
                            let content =
                                format!("Error: no tools are available for {}.", call.name);
                            self.conversation.handle_input(
                                now,
                                Input::ToolResult {
                                    turn,
                                    call_id: call.id,
                                    content,
                                    end_call: None,
                                },
                            );
                        }
                    }
                }
                Action::PausePlayout => {
                    self.cut_recording();
                    self.playout.pause(now);
                    self.send(OutboundMsg::Clear).await?;
                }
                Action::ResumePlayout => self.playout.resume(now),
                Action::StopSpeaking { turn } => {
                    if let Some((t, token)) = self.turn.take() {
                        token.cancel();
                        if t != turn {
                            tracing::debug!(call = %self.call_id, %turn, current = %t, "stop for a stale turn");
                        }
                    }
                    self.tts_worker = None;
                    self.speech_ended = None;
                    self.cut_recording();
                    let dropped = self.playout.clear(now);
                    self.summary.barge_ins += 1;
                    metrics::counter!("vox_barge_ins_total").increment(1);
                    tracing::debug!(call = %self.call_id, %turn, dropped, "stop speaking: clearing playout");
                    self.send(OutboundMsg::Clear).await?;
                }
                Action::Transcript(mut entry) => {
                    entry.at_ms = self.started.elapsed().as_millis() as u64;
                    tracing::debug!(call = %self.call_id, role = ?entry.role, chars = entry.text.len(), interrupted = entry.interrupted, "transcript");
                    self.summary.transcript.push(entry);
                    if let Some(o) = &self.services.observer {
                        o.transcript(&self.summary.transcript);
                    }
                }
                Action::CallerWordsDropped { text, reason } => {
                    // words are personal data: their size, not their text
                    tracing::info!(call = %self.call_id, reason = reason.as_str(), chars = text.chars().count(), "caller words not answered");
                }
                Action::TurnMetrics(m) => {
                    record_latency(&m);
                    if let Some(o) = &self.services.observer {
                        o.latency(&m);
                    }
                    self.summary.latencies.push(m);
                }
                Action::Survey(result) => {
                    tracing::info!(call = %self.call_id, state = result.state, answered = result.questions_answered, "post-call survey");
                    if let Some(o) = &self.services.observer {
                        o.survey(&result);
                    }
                }
                Action::Hangup { reason } => {
                    if let Some(control) = self.services.control.clone()
                        && tokio::time::timeout(Duration::from_secs(5), control.end(&reason))
                            .await
                            .is_err()
                    {
                        tracing::warn!(call = %self.call_id, "the carrier's call control did not answer in 5 s");
                    }
                    self.send(OutboundMsg::Hangup {
                        reason: reason.clone(),
                        server_shutdown: false,
                    })
                    .await?;
                    return Err(Ended(CallEnd::AgentHangup(reason)));
                }
            }
        }
        Ok(())
    }

    async fn pump_playout(&mut self) -> Result<(), Ended> {
        loop {
            let now = now_std();
            let Some(due) = self.playout.pop_due(now) else {
                return Ok(());
            };
            metrics::histogram!("vox_playout_send_lateness_seconds")
                .record((now - due.scheduled).as_secs_f64());
            self.summary.frames_out += 1;
            let turn = due.turn;
            if let Some(r) = self.recorder.as_mut() {
                let at = due
                    .scheduled
                    .saturating_duration_since(self.started.into_std())
                    .as_micros() as u64
                    * 16
                    / 1000;
                r.agent(at, due.frame.samples());
            }
            self.send(OutboundMsg::Audio(due.frame)).await?;
            self.send(OutboundMsg::Mark(due.mark)).await?;
            if self.started_turn != Some(turn) {
                self.started_turn = Some(turn);
                self.conversation
                    .handle_input(now_std(), Input::PlaybackStarted { turn });
                self.apply_actions().await?;
            }
        }
    }

    /// The caller interrupted: agent audio scheduled after now was cleared, never heard.
    fn cut_recording(&mut self) {
        let at = self.started.elapsed().as_micros() as u64 * 16 / 1000;
        if let Some(r) = self.recorder.as_mut() {
            r.cut_agent(at);
        }
    }

    async fn send(&mut self, msg: OutboundMsg) -> Result<(), Ended> {
        self.io
            .outbound
            .send(msg)
            .await
            .map_err(|_| Ended(CallEnd::TransportClosed))
    }
}

fn record_latency(m: &TurnLatency) {
    let pairs = [
        ("end_of_turn", m.end_of_turn_ms),
        ("asr_final", m.asr_final_ms),
        ("first_llm_token", m.first_llm_token_ms),
        ("first_tts_audio", m.first_tts_audio_ms),
        ("first_audio_sent", m.first_audio_sent_ms),
    ];
    for (stage, ms) in pairs {
        if let Some(ms) = ms {
            metrics::histogram!("vox_turn_latency_seconds", "milestone" => stage)
                .record(ms / 1000.0);
        }
    }
}

async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AudioSender, CallerFrame, audio_queue};
    use vox_core::{VadEvent, VadOutput};
    use vox_engine::{EchoAgent, EchoConfig};

    struct Harness {
        audio: AudioSender,
        events: mpsc::Sender<TransportEvent>,
        out: mpsc::Receiver<OutboundMsg>,
        cancel: CancellationToken,
        task: tokio::task::JoinHandle<CallSummary>,
    }

    fn start() -> Harness {
        let (audio, audio_rx) = audio_queue(64);
        let (events, events_rx) = mpsc::channel(64);
        let (out_tx, out) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let io = CallIo {
            audio: audio_rx,
            events: events_rx,
            outbound: out_tx,
        };
        let actor = CallActor::new(
            CallId::new("c1"),
            CallConfig::default(),
            Box::new(EchoAgent::new(EchoConfig::default())),
            CallServices::default(),
            io,
            cancel.clone(),
        );
        Harness {
            audio,
            events,
            out,
            cancel,
            task: tokio::spawn(actor.run()),
        }
    }

    fn caller(v: i16, event: Option<VadEvent>, speaking: bool) -> CallerFrame {
        CallerFrame {
            frame: AudioFrame::from_slice(&[v; 320]).expect("320"),
            vad: VadOutput {
                probability: 0.0,
                speaking,
                quiet: !speaking,
                event,
            },
        }
    }

    /// Plays `n` frames in real (virtual) time.
    async fn speak(h: &Harness, n: usize, v: i16, first: Option<VadEvent>, speaking: bool) {
        for i in 0..n {
            h.audio
                .push(caller(v, if i == 0 { first } else { None }, speaking));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn echo_is_paced_and_marked_and_barge_in_clears() {
        let mut h = start();
        speak(&h, 50, 7, Some(VadEvent::SpeechStart), true).await;
        speak(&h, 20, 0, Some(VadEvent::SpeechEnd), false).await;
        // The echo started after 300 ms of silence and is paced: by now (20 frames of
        // silence, ~100 ms after it started) we have the 10-frame burst plus a few more.
        let mut audio = 0;
        let mut marks = vec![];
        while let Ok(m) = h.out.try_recv() {
            match m {
                OutboundMsg::Audio(f) => {
                    audio += 1;
                    assert_eq!(
                        f.samples()[0],
                        7,
                        "the echo starts with the caller's speech"
                    );
                }
                OutboundMsg::Mark(name) => marks.push(name),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            (10..=16).contains(&audio),
            "send-ahead bounds the burst: {audio}"
        );
        assert_eq!(marks.len(), audio);
        assert_eq!(marks[0], "1:1");
        // the caller barges in
        h.audio.push(caller(9, Some(VadEvent::SpeechStart), true));
        tokio::time::sleep(Duration::from_millis(1)).await;
        let mut saw_clear = false;
        while let Ok(m) = h.out.try_recv() {
            if matches!(m, OutboundMsg::Clear) {
                saw_clear = true;
            } else {
                assert!(!saw_clear, "nothing after the clear: {m:?}");
            }
        }
        assert!(saw_clear);
        // and nothing more is sent while the caller speaks
        speak(&h, 10, 9, None, true).await;
        assert!(h.out.try_recv().is_err());
        h.events
            .send(TransportEvent::Stop)
            .await
            .expect("actor alive");
        let summary = h.task.await.expect("no panic");
        assert_eq!(summary.end, CallEnd::CarrierStop);
        assert_eq!((summary.turns, summary.barge_ins), (1, 1));
        assert_eq!(summary.frames_in, 81);
    }

    #[tokio::test(start_paused = true)]
    async fn server_cancellation_hangs_up() {
        let mut h = start();
        h.cancel.cancel();
        let summary = h.task.await.expect("no panic");
        assert_eq!(summary.end, CallEnd::ServerShutdown);
        assert!(matches!(
            h.out.recv().await,
            Some(OutboundMsg::Hangup {
                server_shutdown: true,
                ..
            })
        ));
    }
}
