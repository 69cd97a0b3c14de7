use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use vox_core::{AudioFrame, CallId, TurnId};
use vox_engine::{Action, Conversation, Input};

use crate::playout::{Playout, PlayoutEvent};
use crate::AudioReceiver;

/// Per-call settings.
#[derive(Clone, Copy, Debug)]
pub struct CallConfig {
    /// Most agent audio buffered at the carrier ahead of playback.
    pub send_ahead: Duration,
}

impl Default for CallConfig {
    fn default() -> Self {
        Self { send_ahead: Duration::from_millis(200) }
    }
}

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
}

impl CallEnd {
    /// A stable metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CarrierStop => "carrier_stop",
            Self::TransportClosed => "transport_closed",
            Self::ServerShutdown => "server_shutdown",
            Self::AgentHangup(_) => "agent_hangup",
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
    /// Agent frames sent.
    pub frames_out: u64,
    /// Agent turns started.
    pub turns: u64,
    /// Turns cut off by the caller.
    pub barge_ins: u64,
}

/// One call: drives its conversation and paces its playout. See the crate docs.
pub struct CallActor {
    call_id: CallId,
    conversation: Box<dyn Conversation>,
    io: CallIo,
    playout: Playout,
    cancel: CancellationToken,
    turn: Option<(TurnId, CancellationToken)>,
    summary: CallSummary,
}

impl std::fmt::Debug for CallActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallActor").field("call_id", &self.call_id).finish_non_exhaustive()
    }
}

/// Ends the actor's loop early.
struct Ended(CallEnd);

impl CallActor {
    /// An actor for `call_id`; `cancel` is the call's node in the cancellation tree.
    pub fn new(call_id: CallId, cfg: CallConfig, conversation: Box<dyn Conversation>, io: CallIo, cancel: CancellationToken) -> Self {
        let summary = CallSummary {
            call_id: call_id.clone(),
            end: CallEnd::TransportClosed,
            frames_in: 0,
            frames_dropped: 0,
            frames_out: 0,
            turns: 0,
            barge_ins: 0,
        };
        Self { call_id, conversation, io, playout: Playout::new(cfg.send_ahead), cancel, turn: None, summary }
    }

    /// Runs the call to its end.
    pub async fn run(mut self) -> CallSummary {
        let end = match self.run_loop().await {
            Ok(()) => CallEnd::TransportClosed,
            Err(Ended(end)) => end,
        };
        if let Some((_, token)) = self.turn.take() {
            token.cancel();
        }
        if end == CallEnd::ServerShutdown {
            let hangup = OutboundMsg::Hangup { reason: "server shutting down".into(), server_shutdown: true };
            let _ = self.io.outbound.send(hangup).await;
        }
        self.summary.frames_dropped = self.io.audio.dropped();
        self.summary.end = end;
        metrics::counter!("vox_calls_ended_total", "end" => self.summary.end.kind()).increment(1);
        if self.summary.frames_dropped > 0 {
            metrics::counter!("vox_inbound_frames_dropped_total").increment(self.summary.frames_dropped);
        }
        self.summary
    }

    async fn run_loop(&mut self) -> Result<(), Ended> {
        loop {
            let now = Instant::now();
            let wake = [self.conversation.poll_timeout().map(Instant::from_std), self.playout.next_due(now.into_std()).map(Instant::from_std)]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Err(Ended(CallEnd::ServerShutdown)),
                ev = self.io.events.recv() => match ev {
                    Some(TransportEvent::Mark(name)) => self.on_mark(&name),
                    Some(TransportEvent::Dtmf(digit)) => {
                        self.conversation.handle_input(Instant::now().into_std(), Input::Dtmf { digit });
                    }
                    Some(TransportEvent::Stop) => return Err(Ended(CallEnd::CarrierStop)),
                    None => return Ok(()),
                },
                item = self.io.audio.recv() => match item {
                    Some(item) => {
                        self.summary.frames_in += 1;
                        self.conversation.handle_input(Instant::now().into_std(), Input::CallerAudio { frame: &item.frame, vad: item.vad });
                    }
                    None => return Ok(()),
                },
                () = sleep_until(wake) => {
                    let now = Instant::now().into_std();
                    if self.conversation.poll_timeout().is_some_and(|t| t <= now) {
                        self.conversation.handle_input(now, Input::Tick);
                    }
                }
            }
            self.apply_actions().await?;
            self.pump_playout().await?;
        }
    }

    fn on_mark(&mut self, name: &str) {
        let now = Instant::now().into_std();
        match self.playout.on_mark(name, now) {
            Some(PlayoutEvent::Progress { turn, played }) => {
                self.conversation.handle_input(now, Input::PlaybackProgress { turn, played });
            }
            Some(PlayoutEvent::Finished { turn }) => {
                self.conversation.handle_input(now, Input::PlaybackFinished { turn });
                if self.turn.as_ref().is_some_and(|(t, _)| *t == turn) {
                    self.turn = None;
                }
            }
            None => {}
        }
    }

    async fn apply_actions(&mut self) -> Result<(), Ended> {
        while let Some(action) = self.conversation.poll_action() {
            match action {
                Action::Speak { turn, audio } => {
                    if let Some((_, old)) = self.turn.replace((turn, self.cancel.child_token())) {
                        old.cancel();
                    }
                    self.summary.turns += 1;
                    tracing::debug!(call = %self.call_id, %turn, frames = audio.len(), "agent speaks");
                    self.playout.enqueue(Instant::now().into_std(), turn, audio, true);
                }
                Action::StopSpeaking { turn } => {
                    if let Some((t, token)) = self.turn.take() {
                        token.cancel();
                        if t != turn {
                            tracing::debug!(call = %self.call_id, %turn, current = %t, "stop for a stale turn");
                        }
                    }
                    let dropped = self.playout.clear(Instant::now().into_std());
                    self.summary.barge_ins += 1;
                    metrics::counter!("vox_barge_ins_total").increment(1);
                    tracing::debug!(call = %self.call_id, %turn, dropped, "barge-in: clearing playout");
                    self.send(OutboundMsg::Clear).await?;
                }
                Action::Hangup { reason } => {
                    self.send(OutboundMsg::Hangup { reason: reason.clone(), server_shutdown: false }).await?;
                    return Err(Ended(CallEnd::AgentHangup(reason)));
                }
            }
        }
        Ok(())
    }

    async fn pump_playout(&mut self) -> Result<(), Ended> {
        loop {
            let now = Instant::now().into_std();
            let Some(due) = self.playout.pop_due(now) else { return Ok(()) };
            metrics::histogram!("vox_playout_send_lateness_seconds").record((now - due.scheduled).as_secs_f64());
            self.summary.frames_out += 1;
            self.send(OutboundMsg::Audio(due.frame)).await?;
            self.send(OutboundMsg::Mark(due.mark)).await?;
        }
    }

    async fn send(&mut self, msg: OutboundMsg) -> Result<(), Ended> {
        self.io.outbound.send(msg).await.map_err(|_| Ended(CallEnd::TransportClosed))
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
    use crate::{audio_queue, AudioSender, CallerFrame};
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
        let io = CallIo { audio: audio_rx, events: events_rx, outbound: out_tx };
        let actor = CallActor::new(CallId::new("c1"), CallConfig::default(), Box::new(EchoAgent::new(EchoConfig::default())), io, cancel.clone());
        Harness { audio, events, out, cancel, task: tokio::spawn(actor.run()) }
    }

    fn caller(v: i16, event: Option<VadEvent>, speaking: bool) -> CallerFrame {
        CallerFrame { frame: AudioFrame::from_slice(&[v; 320]).expect("320"), vad: VadOutput { probability: 0.0, speaking, event } }
    }

    /// Plays `n` frames in real (virtual) time.
    async fn speak(h: &Harness, n: usize, v: i16, first: Option<VadEvent>, speaking: bool) {
        for i in 0..n {
            h.audio.push(caller(v, if i == 0 { first } else { None }, speaking));
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
                    assert_eq!(f.samples()[0], 7, "the echo starts with the caller's speech");
                }
                OutboundMsg::Mark(name) => marks.push(name),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!((10..=16).contains(&audio), "send-ahead bounds the burst: {audio}");
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
        h.events.send(TransportEvent::Stop).await.expect("actor alive");
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
        assert!(matches!(h.out.recv().await, Some(OutboundMsg::Hangup { server_shutdown: true, .. })));
    }
}
