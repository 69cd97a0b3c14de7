use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use vox_audio::{g711, wav};
use vox_core::{dbfs, SampleRate};

use crate::report::{CallReport, ReplyTrace, TurnReport};
use crate::{Script, SimArgs};

/// Twilio's rate and frame: 8 kHz mu-law, 20 ms = 160 bytes.
const RATE: SampleRate = SampleRate(8000);
const FRAME: usize = 160;
const TICK: Duration = Duration::from_millis(20);
/// A frame louder than this is speech when locating speech in a caller WAV.
const SPEECH_DBFS: f32 = -40.0;
/// The agent's reply is over once nothing has played for this long.
const REPLY_SETTLE: Duration = Duration::from_millis(400);

/// Everything shared by all calls of a run: decoded audio and settings.
#[derive(Debug)]
pub(crate) struct Plan {
    url: String,
    params: BTreeMap<String, String>,
    lead_in: Duration,
    greeting: bool,
    tail: Duration,
    turns: Vec<PlannedTurn>,
    record: Option<PathBuf>,
    send_ahead: Duration,
    reply_timeout: Duration,
}

#[derive(Debug)]
struct PlannedTurn {
    /// Mu-law frames of the turn.
    frames: Vec<[u8; FRAME]>,
    /// First and last frames with speech in them.
    speech: (usize, usize),
    pause: Duration,
    interrupt_after: Option<Duration>,
}

impl Plan {
    pub(crate) fn new(script: &Script, args: &SimArgs) -> anyhow::Result<Self> {
        let mut turns = Vec::new();
        for t in &script.turns {
            let pcm = wav::read_mono_at(&t.wav, RATE).with_context(|| format!("caller turn {}", t.wav.display()))?;
            let frames: Vec<[u8; FRAME]> = pcm
                .chunks(FRAME)
                .map(|c| {
                    let mut f = [g711::mulaw_encode(0); FRAME];
                    for (o, s) in f.iter_mut().zip(c) {
                        *o = g711::mulaw_encode(*s);
                    }
                    f
                })
                .collect();
            let loud: Vec<usize> = pcm.chunks(FRAME).enumerate().filter(|(_, c)| dbfs(c) > SPEECH_DBFS).map(|(i, _)| i).collect();
            let (Some(&first), Some(&last)) = (loud.first(), loud.last()) else {
                anyhow::bail!("caller turn {} has no speech louder than {SPEECH_DBFS} dBFS", t.wav.display());
            };
            turns.push(PlannedTurn {
                frames,
                speech: (first, last),
                pause: Duration::from_millis(t.pause_ms),
                interrupt_after: t.interrupt_after_ms.map(Duration::from_millis),
            });
        }
        let mut params = script.params.clone();
        if let Some(agent) = &script.agent_id {
            params.insert("agentId".into(), agent.clone());
        }
        Ok(Self {
            url: args.url.clone(),
            params,
            lead_in: Duration::from_millis(script.lead_in_ms),
            greeting: script.greeting,
            tail: Duration::from_millis(script.tail_ms),
            turns,
            record: args.record.clone(),
            send_ahead: Duration::from_millis(args.send_ahead_ms),
            reply_timeout: Duration::from_millis(args.reply_timeout_ms),
        })
    }
}

/// What the simulated carrier has buffered from the agent, in playback order.
enum Queued {
    Audio(Vec<u8>),
    Mark(String),
}

/// The caller's script position.
enum Phase {
    /// Waiting before turn `next` (or before hanging up when `next == turns.len()`).
    Waiting { next: usize, ready_at: Option<Instant> },
    /// Sending turn `turn`, at frame `pos`.
    Speaking { turn: usize, pos: usize },
    /// Hanging up.
    Done,
}

struct CallState<'p> {
    plan: &'p Plan,
    started: Instant,
    phase: Phase,
    buffer: VecDeque<Queued>,
    /// Bytes of agent audio buffered and not yet played, and the read offset in the front.
    buffered_bytes: usize,
    front_offset: usize,
    turns: Vec<TurnReport>,
    /// The reply being traced (to the last completed turn), with its turn index.
    reply: Option<(usize, ReplyTrace)>,
    /// Agent audio played since the last caller turn ended (for interrupt_after).
    reply_played: Duration,
    last_agent_play: Option<Instant>,
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
    seq: u64,
    chunk: u64,
    stream_sid: String,
    call_sid: String,
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
        if let Err(e) = wav::write_stereo(&path, RATE, &st.caller_rec, &st.agent_rec) {
            st.errors.push(format!("recording: {e}"));
        }
    }
    st.into_report(index, close)
}

impl<'p> CallState<'p> {
    fn new(plan: &'p Plan) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            plan,
            started: Instant::now(),
            phase: Phase::Waiting { next: 0, ready_at: None },
            buffer: VecDeque::new(),
            buffered_bytes: 0,
            front_offset: 0,
            turns: Vec::new(),
            reply: None,
            reply_played: Duration::ZERO,
            greeting_audio: None,
            last_agent_play: None,
            barge_in: None,
            marks_received: 0,
            marks_echoed: 0,
            marks_cleared: 0,
            marks_out_of_order: 0,
            missing_frames: 0,
            last_mark_seq: None,
            clears: 0,
            sim_late_ticks: 0,
            seq: 0,
            chunk: 0,
            stream_sid: format!("MZ{id}"),
            call_sid: format!("CA{id}"),
            caller_rec: Vec::new(),
            agent_rec: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn next_seq(&mut self) -> String {
        self.seq += 1;
        self.seq.to_string()
    }

    /// Runs the call; returns the server's close frame, if it sent one.
    async fn run(&mut self) -> anyhow::Result<Option<(u16, String)>> {
        // disable_nagle: a carrier sends small real-time messages and does the same.
        let (ws, _) = tokio_tungstenite::connect_async_with_config(&self.plan.url, None, true).await.with_context(|| format!("cannot connect to {}", self.plan.url))?;
        let (mut sink, mut stream) = ws.split();
        sink.send(text(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}))).await?;
        let seq = self.next_seq();
        let account = "AC00000000000000000000000000000000";
        sink.send(text(json!({
            "event": "start",
            "sequenceNumber": seq,
            "start": {
                "accountSid": account,
                "streamSid": self.stream_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "customParameters": self.plan.params,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
            },
            "streamSid": self.stream_sid
        })))
        .await?;
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
                    Some(Ok(Message::Text(t))) => {
                        let out = self.on_message(t.as_str(), Instant::now())?;
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
            let seq = self.next_seq();
            sink.send(text(json!({
                "event": "stop", "sequenceNumber": seq, "streamSid": self.stream_sid,
                "stop": {"accountSid": account, "callSid": self.call_sid}
            })))
            .await?;
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
            // After the caller's last turn, the agent hanging up (1000) is how a call ends.
            let script_done = match self.phase {
                Phase::Done => true,
                Phase::Waiting { next, .. } => next == self.plan.turns.len(),
                Phase::Speaking { .. } => false,
            };
            if !(script_done && *code == 1000) {
                self.errors.push(format!("server closed the stream early: {code} {reason}"));
            }
        }
        Ok(server_close)
    }

    /// One 20 ms tick: play agent audio, echo marks that are reached, send caller audio.
    fn on_tick(&mut self, at: Instant) -> Vec<Message> {
        let mut out = Vec::new();
        // 1. Playback of the agent's audio: 160 bytes from the buffer.
        let mut played = 0usize;
        let mut agent = [0i16; FRAME];
        while played < FRAME {
            match self.buffer.front() {
                Some(Queued::Mark(_)) => {
                    if let Some(Queued::Mark(name)) = self.buffer.pop_front() {
                        out.push(self.mark_echo(&name));
                        self.marks_echoed += 1;
                    }
                }
                Some(Queued::Audio(bytes)) => {
                    let take = (bytes.len() - self.front_offset).min(FRAME - played);
                    for (i, b) in bytes[self.front_offset..self.front_offset + take].iter().enumerate() {
                        agent[played + i] = g711::mulaw_decode(*b);
                    }
                    played += take;
                    self.front_offset += take;
                    self.buffered_bytes -= take;
                    if self.front_offset == bytes.len() {
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
                out.push(self.mark_echo(&name));
                self.marks_echoed += 1;
            }
        }
        if played > 0 {
            self.reply_played += Duration::from_millis((played as u64 * 1000) / u64::from(RATE.hz()));
            self.last_agent_play = Some(at + TICK);
        } else if let Some((turn, onset)) = self.barge_in {
            // First silent tick after a barge-in onset: the caller hears the agent stop.
            self.turns[turn].barge_in_to_silence_ms = Some(ms(at.saturating_duration_since(onset)));
            self.barge_in = None;
        }
        self.agent_rec.extend_from_slice(&agent);

        // 2. The caller's side.
        let frame = self.caller_frame(at);
        self.caller_rec.extend(frame.iter().map(|&b| g711::mulaw_decode(b)));
        self.chunk += 1;
        let seq = self.next_seq();
        out.push(text(json!({
            "event": "media",
            "sequenceNumber": seq,
            "media": {
                "track": "inbound",
                "chunk": self.chunk.to_string(),
                "timestamp": ((self.chunk - 1) * 20).to_string(),
                "payload": B64.encode(frame)
            },
            "streamSid": self.stream_sid
        })));
        out
    }

    /// The caller's next 20 ms, advancing the script.
    fn caller_frame(&mut self, at: Instant) -> [u8; FRAME] {
        let silence = [g711::mulaw_encode(0); FRAME];
        loop {
            match self.phase {
                Phase::Done => return silence,
                Phase::Speaking { turn, pos } => {
                    let t = &self.plan.turns[turn];
                    if pos == t.speech.0 {
                        self.turns[turn].onset_ms = Some(ms(at - self.started));
                        if t.interrupt_after.is_some() && self.agent_is_playing() {
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
                    let frame = t.frames[pos];
                    self.phase = if pos + 1 < t.frames.len() {
                        Phase::Speaking { turn, pos: pos + 1 }
                    } else {
                        Phase::Waiting { next: turn + 1, ready_at: None }
                    };
                    return frame;
                }
                Phase::Waiting { next, ready_at: Some(ready) } => {
                    if at < ready {
                        return silence;
                    }
                    if next == self.plan.turns.len() {
                        self.finish_reply();
                        self.phase = Phase::Done;
                        return silence;
                    }
                    self.turns.push(TurnReport::new(next));
                    self.phase = Phase::Speaking { turn: next, pos: 0 };
                }
                Phase::Waiting { next, ready_at: None } => {
                    let Some(ready) = self.ready_time(next, at) else { return silence };
                    self.phase = Phase::Waiting { next, ready_at: Some(ready) };
                }
            }
        }
    }

    fn agent_is_playing(&self) -> bool {
        self.buffered_bytes > 0
    }

    /// When turn `next` may start (or the call may end), if its condition is met at `at`.
    fn ready_time(&mut self, next: usize, at: Instant) -> Option<Instant> {
        if next == 0 {
            let lead = self.started + self.plan.lead_in;
            if !self.plan.greeting {
                return Some(lead);
            }
            let greeted = self.buffered_bytes == 0 && self.last_agent_play.is_some_and(|t| at.saturating_duration_since(t) >= REPLY_SETTLE);
            if at >= lead && greeted {
                return Some(at);
            }
            if at.saturating_duration_since(self.started) >= self.plan.reply_timeout {
                self.errors.push(format!("no greeting within {} ms", self.plan.reply_timeout.as_millis()));
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
            && self.buffered_bytes == 0
            && self.last_agent_play.is_some_and(|t| at.saturating_duration_since(t) >= REPLY_SETTLE)
        {
            let pause = if next < self.plan.turns.len() { self.plan.turns[next].pause } else { self.plan.tail };
            return Some(at + pause);
        }
        if waited >= self.plan.reply_timeout {
            let turn = *turn;
            self.errors.push(format!("turn {turn}: no complete reply within {} ms", self.plan.reply_timeout.as_millis()));
            return Some(at);
        }
        None
    }

    fn finish_reply(&mut self) {
        if let Some((turn, trace)) = self.reply.take()
            && let Some(r) = self.turns.get_mut(turn) {
                r.apply_reply(&trace, self.plan.send_ahead);
            }
    }

    fn mark_echo(&mut self, name: &str) -> Message {
        let seq = self.next_seq();
        text(json!({"event": "mark", "sequenceNumber": seq, "streamSid": self.stream_sid, "mark": {"name": name}}))
    }

    fn on_message(&mut self, t: &str, now: Instant) -> anyhow::Result<Vec<Message>> {
        let v: Value = serde_json::from_str(t).with_context(|| format!("server sent invalid JSON: {t:.80}"))?;
        let event = v.get("event").and_then(Value::as_str).unwrap_or_default();
        if v.get("streamSid").and_then(Value::as_str) != Some(self.stream_sid.as_str()) {
            self.errors.push(format!("{event} message with a wrong or missing streamSid"));
        }
        let mut out = Vec::new();
        match event {
            "media" => {
                let payload = v.pointer("/media/payload").and_then(Value::as_str).unwrap_or_default();
                let bytes = B64.decode(payload).context("server sent invalid base64")?;
                if let Some((_, trace)) = self.reply.as_mut() {
                    trace.arrivals.push((now, bytes.len()));
                    trace.first_audio.get_or_insert(now);
                } else if self.turns.is_empty() {
                    self.greeting_audio.get_or_insert(now);
                }
                // Agent audio arriving after a clear while the caller is still talking over it
                // is audio that should have been cancelled.
                if let Phase::Speaking { turn, .. } = self.phase
                    && self.turns[turn].clear_ms.is_some() {
                        self.turns[turn].frames_after_clear += 1;
                    }
                self.buffered_bytes += bytes.len();
                self.buffer.push_back(Queued::Audio(bytes));
            }
            "mark" => {
                let name = v.pointer("/mark/name").and_then(Value::as_str).unwrap_or_default().to_owned();
                self.marks_received += 1;
                if let Some(seq) = name.rsplit_once(':').and_then(|(_, s)| s.parse::<u64>().ok()) {
                    match self.last_mark_seq {
                        Some(last) if seq <= last => self.marks_out_of_order += 1,
                        Some(last) => self.missing_frames += seq - last - 1,
                        None => {}
                    }
                    self.last_mark_seq = Some(seq);
                }
                if self.buffered_bytes == 0 {
                    // Nothing ahead of it: reached at once.
                    out.push(self.mark_echo(&name));
                    self.marks_echoed += 1;
                } else {
                    self.buffer.push_back(Queued::Mark(name));
                }
            }
            "clear" => {
                self.clears += 1;
                if let Some((turn, onset)) = self.barge_in {
                    self.turns[turn].clear_ms.get_or_insert(ms(now.saturating_duration_since(onset)));
                }
                // Twilio drops the buffered audio and sends back the pending marks.
                for q in std::mem::take(&mut self.buffer) {
                    if let Queued::Mark(name) = q {
                        out.push(self.mark_echo(&name));
                        self.marks_cleared += 1;
                    }
                }
                self.buffered_bytes = 0;
                self.front_offset = 0;
            }
            other => self.errors.push(format!("server sent an unknown event {other:?}")),
        }
        Ok(out)
    }

    fn into_report(mut self, index: usize, close: Option<(u16, String)>) -> CallReport {
        self.finish_reply();
        let pending_marks = self.buffer.iter().filter(|q| matches!(q, Queued::Mark(_))).count() as u64;
        CallReport::build(index, self.turns, crate::report::Counters {
            marks_received: self.marks_received,
            marks_echoed: self.marks_echoed,
            marks_cleared: self.marks_cleared,
            marks_pending: pending_marks,
            marks_out_of_order: self.marks_out_of_order,
            missing_frames: self.missing_frames,
            clears: self.clears,
            sim_late_ticks: self.sim_late_ticks,
            duration_ms: ms(self.started.elapsed()),
            greeting_ms: self.greeting_audio.map(|g| ms(g.saturating_duration_since(self.started))),
        }, close, self.errors)
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}
