use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use vox_audio::wav;
use vox_core::{SampleRate, dbfs};

use crate::dialect::{Carrier, FromAgent, SimCodec, SimDialect};
use crate::report::{CallReport, ReplyTrace, TurnReport};
use crate::{Script, SimArgs};

pub(crate) const TICK: Duration = Duration::from_millis(20);
/// A DTMF turn: this many 20 ms ticks per key (160 ms).
const DTMF_TICKS: usize = 8;
/// A frame louder than this is speech when locating speech in a caller WAV.
const SPEECH_DBFS: f32 = -40.0;
/// The agent's reply is over once nothing has played for this long.
const REPLY_SETTLE: Duration = Duration::from_millis(400);

/// Everything shared by all calls of a run: decoded audio and settings.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) url: String,
    dialect: SimDialect,
    codec: Option<SimCodec>,
    rate: u32,
    /// Telnyx: deliver some caller frames out of order, as Telnyx may.
    reorder: bool,
    pub(crate) params: BTreeMap<String, String>,
    lead_in: Duration,
    greeting: bool,
    tail: Duration,
    turns: Vec<PlannedTurn>,
    record: Option<PathBuf>,
    send_ahead: Duration,
    reply_timeout: Duration,
    /// Call as a browser does, over WebRTC (WHIP at `url`), instead of as a carrier.
    webrtc: bool,
    /// What the caller buffers before playing a reply (a browser's jitter buffer), against
    /// which late frames are counted.
    playout_buffer: Duration,
}

#[derive(Debug)]
struct PlannedTurn {
    /// 20 ms frames of the turn, at the stream's rate.
    frames: Vec<Vec<i16>>,
    /// Keys pressed at frame indexes (a DTMF turn).
    dtmf: Vec<(usize, char)>,
    /// First and last frames with speech in them.
    speech: (usize, usize),
    pause: Duration,
    interrupt_after: Option<Duration>,
}

impl Plan {
    pub(crate) fn new(script: &Script, args: &SimArgs) -> anyhow::Result<Self> {
        // WebRTC audio is decoded to 16 kHz linear frames: the frame format of the L16 dialects
        let (dialect, codec, rate) = if args.webrtc {
            (SimDialect::Vonage, Some(SimCodec::L16), Some(16_000))
        } else {
            (args.dialect, args.codec, args.rate)
        };
        // the format is checked here, once, for every call of the run
        let rate = Carrier::new(dialect, codec, rate)?.rate;
        let frame = rate as usize / 50;
        let mut turns = Vec::new();
        for t in &script.turns {
            let pause = Duration::from_millis(t.pause_ms);
            let interrupt_after = t.interrupt_after_ms.map(Duration::from_millis);
            if let Some(keys) = &t.dtmf {
                if args.webrtc {
                    anyhow::bail!("a WebRTC call cannot press keys (the script has a dtmf turn)");
                }
                let frames = vec![vec![0i16; frame]; DTMF_TICKS * keys.chars().count()];
                let dtmf = keys
                    .chars()
                    .enumerate()
                    .map(|(i, d)| (i * DTMF_TICKS, d))
                    .collect();
                let last = frames.len() - 1;
                turns.push(PlannedTurn {
                    frames,
                    dtmf,
                    speech: (0, last),
                    pause,
                    interrupt_after,
                });
                continue;
            }
            let Some(path) = &t.wav else {
                anyhow::bail!("a turn needs a wav or dtmf")
            };
            let pcm = wav::read_mono_at(path, SampleRate(rate))
                .with_context(|| format!("caller turn {}", path.display()))?;
            let frames: Vec<Vec<i16>> = pcm
                .chunks(frame)
                .map(|c| {
                    let mut f = c.to_vec();
                    f.resize(frame, 0);
                    f
                })
                .collect();
            let loud: Vec<usize> = frames
                .iter()
                .enumerate()
                .filter(|(_, c)| dbfs(c) > SPEECH_DBFS)
                .map(|(i, _)| i)
                .collect();
            let (Some(&first), Some(&last)) = (loud.first(), loud.last()) else {
                anyhow::bail!(
                    "caller turn {} has no speech louder than {SPEECH_DBFS} dBFS",
                    path.display()
                );
            };
            turns.push(PlannedTurn {
                frames,
                dtmf: Vec::new(),
                speech: (first, last),
                pause,
                interrupt_after,
            });
        }
        let mut params = script.params.clone();
        if let Some(agent) = &script.agent_id {
            params.insert("agentId".into(), agent.clone());
        }
        let url = match (&args.url, args.webrtc) {
            (Some(url), _) => url.clone(),
            (None, false) => format!("ws://127.0.0.1:8080/media/{}", args.dialect.name()),
            (None, true) => {
                let agent = params.get("agentId").context(
                    "a WebRTC call names its agent: --agent-id, the script's agent_id, or --url .../whip/AGENT",
                )?;
                format!("http://127.0.0.1:8080/whip/{agent}")
            }
        };
        Ok(Self {
            url,
            dialect,
            codec,
            rate,
            reorder: args.reorder,
            params,
            lead_in: Duration::from_millis(script.lead_in_ms),
            greeting: script.greeting,
            tail: Duration::from_millis(script.tail_ms),
            turns,
            record: args.record.clone(),
            // a browser call is paced in real time, with nothing sent ahead
            send_ahead: if args.webrtc {
                Duration::ZERO
            } else {
                Duration::from_millis(args.send_ahead_ms)
            },
            reply_timeout: Duration::from_millis(args.reply_timeout_ms),
            webrtc: args.webrtc,
            playout_buffer: if args.webrtc {
                vox_webrtc::PLAYOUT_DELAY
            } else {
                Duration::ZERO
            },
        })
    }
}

/// What the simulated carrier has buffered from the agent, in playback order.
enum Queued {
    Audio(Vec<i16>),
    Mark(String),
}

/// The caller's script position.
enum Phase {
    /// Waiting before turn `next` (or before hanging up when `next == turns.len()`).
    Waiting {
        next: usize,
        ready_at: Option<Instant>,
    },
    /// Sending turn `turn`, at frame `pos`.
    Speaking { turn: usize, pos: usize },
    /// Hanging up.
    Done,
}

pub(crate) struct CallState<'p> {
    plan: &'p Plan,
    started: Instant,
    phase: Phase,
    carrier: Carrier,
    buffer: VecDeque<Queued>,
    /// Samples of agent audio buffered and not yet played, and the read offset in the front.
    buffered: usize,
    front_offset: usize,
    /// Caller frames gathered for the next media message (Exotel sends ~100 ms at once).
    outgoing: Vec<i16>,
    /// Telnyx reordering: a caller message held back to be sent after the next.
    held: Option<Message>,
    turns: Vec<TurnReport>,
    /// The reply being traced (to the last completed turn), with its turn index.
    reply: Option<(usize, ReplyTrace)>,
    /// Agent audio played since the last caller turn ended (for interrupt_after).
    reply_played: Duration,
    last_agent_play: Option<Instant>,
    /// When the buffer last went from empty to holding audio (a browser's talkspurt start).
    buffered_since: Option<Instant>,
    /// First agent audio before the caller's first turn (the greeting), if any.
    greeting_audio: Option<Instant>,
    /// Barge-in being measured: (turn, onset).
    barge_in: Option<(usize, Instant)>,
    marks_received: u64,
    marks_echoed: u64,
    marks_cleared: u64,
    marks_out_of_order: u64,
    missing_frames: u64,
    last_mark_seq: Option<u64>,
    clears: u64,
    sim_late_ticks: u64,
    ticks: u64,
    caller_rec: Vec<i16>,
    agent_rec: Vec<i16>,
    errors: Vec<String>,
}

pub(crate) async fn run(index: usize, plan: &Plan) -> CallReport {
    let mut st = CallState::new(plan);
    let outcome = st.run().await;
    let close = match outcome {
        Ok(close) => close,
        Err(e) => {
            st.errors.push(format!("{e:#}"));
            None
        }
    };
    if let Some(dir) = &plan.record {
        let path = dir.join(format!("call-{index}.wav"));
        if let Err(e) =
            wav::write_stereo(&path, SampleRate(plan.rate), &st.caller_rec, &st.agent_rec)
        {
            st.errors.push(format!("recording: {e}"));
        }
    }
    st.into_report(index, close)
}

impl<'p> CallState<'p> {
    fn new(plan: &'p Plan) -> Self {
        // the format was checked when the plan was made
        let carrier = Carrier::new(plan.dialect, plan.codec, Some(plan.rate))
            .unwrap_or_else(|e| unreachable!("checked in Plan::new: {e}"));
        Self {
            plan,
            started: Instant::now(),
            phase: Phase::Waiting {
                next: 0,
                ready_at: None,
            },
            carrier,
            buffer: VecDeque::new(),
            buffered: 0,
            front_offset: 0,
            outgoing: Vec::new(),
            held: None,
            turns: Vec::new(),
            reply: None,
            reply_played: Duration::ZERO,
            greeting_audio: None,
            last_agent_play: None,
            buffered_since: None,
            barge_in: None,
            marks_received: 0,
            marks_echoed: 0,
            marks_cleared: 0,
            marks_out_of_order: 0,
            missing_frames: 0,
            last_mark_seq: None,
            clears: 0,
            sim_late_ticks: 0,
            ticks: 0,
            caller_rec: Vec::new(),
            agent_rec: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn frame_samples(&self) -> usize {
        self.carrier.frame_samples()
    }

    fn samples_duration(&self, n: usize) -> Duration {
        Duration::from_micros(n as u64 * 1_000_000 / u64::from(self.plan.rate))
    }

    /// Runs the call; returns the server's close frame, if it sent one.
    async fn run(&mut self) -> anyhow::Result<Option<(u16, String)>> {
        if self.plan.webrtc {
            return crate::browser::run(self).await;
        }
        // disable_nagle: a carrier sends small real-time messages and does the same.
        let (ws, _) = tokio_tungstenite::connect_async_with_config(&self.plan.url, None, true)
            .await
            .with_context(|| format!("cannot connect to {}", self.plan.url))?;
        let (mut sink, mut stream) = ws.split();
        for m in self.carrier.opening(&self.plan.params) {
            sink.send(m).await?;
        }
        self.started = Instant::now();
        let mut tick = tokio::time::interval_at(self.started, TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut server_close = None;
        loop {
            tokio::select! {
                at = tick.tick() => {
                    let now = Instant::now();
                    if now.duration_since(at) > TICK {
                        self.sim_late_ticks += 1;
                    }
                    let out = self.on_tick(at);
                    for m in out {
                        sink.send(m).await?;
                    }
                    if matches!(self.phase, Phase::Done) {
                        break;
                    }
                }
                msg = stream.next() => match msg {
                    Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                        let out = self.on_message(&m, Instant::now())?;
                        for m in out {
                            sink.send(m).await?;
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        server_close = Some(frame.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or((1005, String::new())));
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e).context("websocket read"),
                    None => break,
                }
            }
        }
        if server_close.is_none() {
            if let Some(m) = self.held.take() {
                sink.send(m).await?;
            }
            match self.carrier.stop() {
                Some(stop) => sink.send(stop).await?,
                // no stop message in the dialect (Vonage): hanging up closes the socket, and
                // the server answers the close
                None => {
                    use tokio_tungstenite::tungstenite::protocol::{
                        CloseFrame, frame::coding::CloseCode,
                    };
                    sink.send(Message::Close(Some(CloseFrame {
                        code: CloseCode::Normal,
                        reason: "caller hung up".into(),
                    })))
                    .await?;
                }
            }
            // Wait briefly for the server's close, then close our side.
            let deadline = tokio::time::sleep(Duration::from_secs(2));
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    () = &mut deadline => break,
                    msg = stream.next() => match msg {
                        Some(Ok(Message::Close(frame))) => {
                            server_close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                            break;
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
            }
            let _ = sink.close().await;
        } else if let Some((code, reason)) = &server_close {
            // answer the server's close, as a carrier does (the closing handshake)
            let _ = sink.close().await;
            // After the caller's last turn, the agent hanging up (1000) is how a call ends.
            if !(self.script_done() && *code == 1000) {
                self.errors
                    .push(format!("server closed the stream early: {code} {reason}"));
            }
        }
        Ok(server_close)
    }

    /// Whether the caller has said all their turns.
    pub(crate) fn script_done(&self) -> bool {
        match self.phase {
            Phase::Done => true,
            Phase::Waiting { next, .. } => next == self.plan.turns.len(),
            Phase::Speaking { .. } => false,
        }
    }

    /// Whether the caller hangs up now.
    pub(crate) fn hanging_up(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// The call's media begins now (ticks and times count from here).
    pub(crate) fn begin(&mut self) -> Instant {
        self.started = Instant::now();
        self.started
    }

    /// A tick that came later than its 20 ms.
    pub(crate) fn late_tick(&mut self) {
        self.sim_late_ticks += 1;
    }

    /// Something went wrong with the call.
    pub(crate) fn error(&mut self, what: String) {
        self.errors.push(what);
    }

    /// The run's plan.
    pub(crate) fn plan(&self) -> &'p Plan {
        self.plan
    }

    /// One 20 ms tick: play agent audio, echo marks that are reached, send caller audio.
    fn on_tick(&mut self, at: Instant) -> Vec<Message> {
        let mut out = self.play(at);
        let (samples, keys) = self.caller_frame(at);
        self.caller_rec.extend_from_slice(&samples);
        self.outgoing.extend_from_slice(&samples);
        self.ticks += 1;
        if self
            .ticks
            .is_multiple_of(self.carrier.frames_per_message() as u64)
        {
            let chunk = std::mem::take(&mut self.outgoing);
            let m = self.carrier.media(&chunk);
            // Telnyx does not promise order: every 7th message overtakes the one before it
            if self.plan.reorder && self.carrier.dialect == SimDialect::Telnyx {
                match self.held.take() {
                    Some(h) => {
                        out.push(m);
                        out.push(h);
                    }
                    None if self.ticks.is_multiple_of(7) => self.held = Some(m),
                    None => out.push(m),
                }
            } else {
                out.push(m);
            }
        }
        for d in keys {
            out.push(self.carrier.dtmf(d));
        }
        out
    }

    /// A browser's 20 ms tick: play what arrived of the agent's audio; the caller's frame to
    /// send.
    pub(crate) fn on_browser_tick(&mut self, at: Instant) -> Vec<i16> {
        // a browser call has no marks, so playing yields no messages
        let _ = self.play(at);
        let (samples, _) = self.caller_frame(at);
        self.caller_rec.extend_from_slice(&samples);
        self.ticks += 1;
        samples
    }

    /// Plays 20 ms of the agent's audio from the buffer; the marks that were reached.
    fn play(&mut self, at: Instant) -> Vec<Message> {
        let mut out = Vec::new();
        let frame = self.frame_samples();
        let mut played = 0usize;
        let mut agent = vec![0i16; frame];
        let held = self.filling_buffer(at);
        while played < frame && !held {
            match self.buffer.front() {
                Some(Queued::Mark(_)) => {
                    if let Some(Queued::Mark(name)) = self.buffer.pop_front() {
                        out.push(self.carrier.mark_reached(&name));
                        self.marks_echoed += 1;
                    }
                }
                Some(Queued::Audio(samples)) => {
                    let take = (samples.len() - self.front_offset).min(frame - played);
                    agent[played..played + take]
                        .copy_from_slice(&samples[self.front_offset..self.front_offset + take]);
                    played += take;
                    self.front_offset += take;
                    self.buffered -= take;
                    if self.front_offset == samples.len() {
                        self.buffer.pop_front();
                        self.front_offset = 0;
                    }
                }
                None => break,
            }
        }
        // Marks right after the audio that just finished playing are reached too.
        while let Some(Queued::Mark(_)) = self.buffer.front() {
            if let Some(Queued::Mark(name)) = self.buffer.pop_front() {
                out.push(self.carrier.mark_reached(&name));
                self.marks_echoed += 1;
            }
        }
        if played > 0 {
            self.reply_played += self.samples_duration(played);
            self.last_agent_play = Some(at + TICK);
        } else if let Some((turn, onset)) = self.barge_in {
            // First silent tick after a barge-in onset: the caller hears the agent stop.
            self.turns[turn].barge_in_to_silence_ms = Some(ms(at.saturating_duration_since(onset)));
            self.barge_in = None;
        }
        self.agent_rec.extend_from_slice(&agent);
        out
    }

    /// The caller's next 20 ms (and keys pressed in it), advancing the script.
    fn caller_frame(&mut self, at: Instant) -> (Vec<i16>, Vec<char>) {
        let silence = vec![0i16; self.frame_samples()];
        loop {
            match self.phase {
                Phase::Done => return (silence, Vec::new()),
                Phase::Speaking { turn, pos } => {
                    let t = &self.plan.turns[turn];
                    if pos == t.speech.0 {
                        self.turns[turn].onset_ms = Some(ms(at - self.started));
                        if t.interrupt_after.is_some() && self.agent_is_playing(at) {
                            self.barge_in = Some((turn, at));
                            self.turns[turn].barged_in = true;
                        }
                        // The reply to the previous turn ends where this turn's speech starts.
                        self.finish_reply();
                    }
                    if pos == t.speech.1 {
                        let end = at + TICK;
                        self.turns[turn].speech_end_ms = Some(ms(end - self.started));
                        self.reply = Some((turn, ReplyTrace::new(end)));
                        self.reply_played = Duration::ZERO;
                    }
                    let keys: Vec<char> = t
                        .dtmf
                        .iter()
                        .filter(|(i, _)| *i == pos)
                        .map(|(_, d)| *d)
                        .collect();
                    let frame = t.frames[pos].clone();
                    self.phase = if pos + 1 < t.frames.len() {
                        Phase::Speaking { turn, pos: pos + 1 }
                    } else {
                        Phase::Waiting {
                            next: turn + 1,
                            ready_at: None,
                        }
                    };
                    return (frame, keys);
                }
                Phase::Waiting {
                    next,
                    ready_at: Some(ready),
                } => {
                    if at < ready {
                        return (silence, Vec::new());
                    }
                    if next == self.plan.turns.len() {
                        self.finish_reply();
                        self.phase = Phase::Done;
                        return (silence, Vec::new());
                    }
                    self.turns.push(TurnReport::new(next));
                    self.phase = Phase::Speaking { turn: next, pos: 0 };
                }
                Phase::Waiting {
                    next,
                    ready_at: None,
                } => {
                    let Some(ready) = self.ready_time(next, at) else {
                        return (silence, Vec::new());
                    };
                    self.phase = Phase::Waiting {
                        next,
                        ready_at: Some(ready),
                    };
                }
            }
        }
    }

    /// Whether the agent is heard at `at`: this tick played its audio, or more is buffered.
    fn agent_is_playing(&self, at: Instant) -> bool {
        self.buffered > 0 || self.last_agent_play.is_some_and(|t| t > at)
    }

    /// A browser holds a talkspurt's first audio until its jitter buffer has filled (or the
    /// audio has waited that long), then plays on without a gap while packets keep coming.
    fn filling_buffer(&self, at: Instant) -> bool {
        let buffer = self.plan.playout_buffer;
        let mid_talkspurt = self.last_agent_play.is_some_and(|t| t >= at);
        if buffer.is_zero() || self.buffered == 0 || mid_talkspurt {
            return false;
        }
        let enough =
            self.buffered as u128 >= u128::from(self.plan.rate) * buffer.as_millis() / 1000;
        let waited = self
            .buffered_since
            .is_some_and(|t| at.saturating_duration_since(t) >= buffer);
        !(enough || waited)
    }

    /// When turn `next` may start (or the call may end), if its condition is met at `at`.
    fn ready_time(&mut self, next: usize, at: Instant) -> Option<Instant> {
        if next == 0 {
            let lead = self.started + self.plan.lead_in;
            if !self.plan.greeting {
                return Some(lead);
            }
            let greeted = self.buffered == 0
                && self
                    .last_agent_play
                    .is_some_and(|t| at.saturating_duration_since(t) >= REPLY_SETTLE);
            if at >= lead && greeted {
                return Some(at);
            }
            if at.saturating_duration_since(self.started) >= self.plan.reply_timeout {
                self.errors.push(format!(
                    "no greeting within {} ms",
                    self.plan.reply_timeout.as_millis()
                ));
                return Some(at);
            }
            return None;
        }
        let interrupt = self.plan.turns.get(next).and_then(|t| t.interrupt_after);
        let (turn, trace) = self.reply.as_ref()?;
        let waited = at.saturating_duration_since(trace.speech_end);
        if let Some(after) = interrupt {
            if self.reply_played >= after {
                return Some(at);
            }
        } else if trace.first_audio.is_some()
            && self.buffered == 0
            && self
                .last_agent_play
                .is_some_and(|t| at.saturating_duration_since(t) >= REPLY_SETTLE)
        {
            let pause = if next < self.plan.turns.len() {
                self.plan.turns[next].pause
            } else {
                self.plan.tail
            };
            return Some(at + pause);
        }
        if waited >= self.plan.reply_timeout {
            let turn = *turn;
            self.errors.push(format!(
                "turn {turn}: no complete reply within {} ms",
                self.plan.reply_timeout.as_millis()
            ));
            return Some(at);
        }
        None
    }

    fn finish_reply(&mut self) {
        if let Some((turn, trace)) = self.reply.take()
            && let Some(r) = self.turns.get_mut(turn)
        {
            r.apply_reply(&trace, self.plan.send_ahead, self.plan.playout_buffer);
        }
    }

    /// Agent audio arrived: traced, and queued to play.
    pub(crate) fn on_agent_audio(&mut self, samples: Vec<i16>, now: Instant) {
        let dur = self.samples_duration(samples.len());
        if let Some((_, trace)) = self.reply.as_mut() {
            trace.arrivals.push((now, dur));
            trace.first_audio.get_or_insert(now);
        } else if self.turns.is_empty() {
            self.greeting_audio.get_or_insert(now);
        }
        // Agent audio arriving after a clear while the caller is still talking over it
        // is audio that should have been cancelled.
        if let Phase::Speaking { turn, .. } = self.phase
            && self.turns[turn].clear_ms.is_some()
        {
            self.turns[turn].frames_after_clear += 1;
        }
        if self.buffered == 0 {
            self.buffered_since = Some(now);
        }
        self.buffered += samples.len();
        self.buffer.push_back(Queued::Audio(samples));
    }

    fn on_message(&mut self, msg: &Message, now: Instant) -> anyhow::Result<Vec<Message>> {
        let mut out = Vec::new();
        match self.carrier.parse(msg)? {
            None => {}
            Some(FromAgent::Audio(samples)) => self.on_agent_audio(samples, now),
            Some(FromAgent::Mark(name)) => {
                self.marks_received += 1;
                if let Some(seq) = name
                    .rsplit_once(':')
                    .and_then(|(_, s)| s.parse::<u64>().ok())
                {
                    match self.last_mark_seq {
                        Some(last) if seq <= last => self.marks_out_of_order += 1,
                        Some(last) => self.missing_frames += seq - last - 1,
                        None => {}
                    }
                    self.last_mark_seq = Some(seq);
                }
                if self.buffered == 0 {
                    // Nothing ahead of it: reached at once.
                    out.push(self.carrier.mark_reached(&name));
                    self.marks_echoed += 1;
                } else {
                    self.buffer.push_back(Queued::Mark(name));
                }
            }
            Some(FromAgent::Clear) => {
                self.clears += 1;
                if let Some((turn, onset)) = self.barge_in {
                    self.turns[turn]
                        .clear_ms
                        .get_or_insert(ms(now.saturating_duration_since(onset)));
                }
                // The buffered audio is dropped; the carrier says so in its own way.
                let mut dropped = Vec::new();
                for q in std::mem::take(&mut self.buffer) {
                    if let Queued::Mark(name) = q {
                        dropped.push(name);
                    }
                }
                if !matches!(self.carrier.dialect, SimDialect::Plivo | SimDialect::Vonage) {
                    self.marks_cleared += dropped.len() as u64;
                }
                out.extend(self.carrier.cleared(dropped));
                self.buffered = 0;
                self.front_offset = 0;
            }
        }
        Ok(out)
    }

    fn into_report(mut self, index: usize, close: Option<(u16, String)>) -> CallReport {
        self.finish_reply();
        let mut seen = std::collections::BTreeSet::new();
        for v in std::mem::take(&mut self.carrier.violations) {
            if seen.insert(v.clone()) {
                self.errors
                    .push(format!("{}: {v}", self.carrier.dialect.name()));
            }
        }
        let pending_marks = self
            .buffer
            .iter()
            .filter(|q| matches!(q, Queued::Mark(_)))
            .count() as u64;
        CallReport::build(
            index,
            self.turns,
            crate::report::Counters {
                marks_received: self.marks_received,
                marks_echoed: self.marks_echoed,
                marks_cleared: self.marks_cleared,
                marks_pending: pending_marks,
                marks_out_of_order: self.marks_out_of_order,
                missing_frames: self.missing_frames,
                clears: self.clears,
                sim_late_ticks: self.sim_late_ticks,
                duration_ms: ms(self.started.elapsed()),
                greeting_ms: self
                    .greeting_audio
                    .map(|g| ms(g.saturating_duration_since(self.started))),
            },
            close,
            self.errors,
        )
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}
