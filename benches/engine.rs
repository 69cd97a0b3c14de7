//! The conversation engine's throughput: how many inputs per second one core pushes through
//! a [`VoiceAgent`], in virtual time, with no I/O.
//!
//! Two measures, as ratios within this run:
//! - the hot path: one 20 ms caller frame while the agent listens (50 of these per call-second),
//!   against the frame's 20 ms real-time budget and against a baseline (cloning the VAD verdict);
//! - whole turns: caller speech, end of speech, transcript, endpointing timers, a streamed LLM
//!   reply cut into sentences for TTS, TTS progress, playback marks, on a 20-turn call that is
//!   restarted (so the history stays call-sized): inputs per second and turns per second.
//!
//! `cargo bench --bench engine`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use vox_core::{AudioFrame, TurnId, VadEvent, VadOutput};
use vox_engine::{Action, AgentSpec, Conversation, EngineConfig, Input, LlmEvent, VoiceAgent};

const FRAME_NS: f64 = 20_000_000.0;
const TURNS_PER_CALL: usize = 20;
const REPLY: [&str; 12] = [
    "Sure. ", "I ", "can ", "book ", "that ", "for ", "you. ", "Which ", "day ", "works ",
    "best? ", "",
];

fn agent() -> AgentSpec {
    let a: AgentSpec = serde_json::from_value(json!({
        "id": "bench", "name": "Bench", "conversationFlow": "Help the caller book an appointment.",
        "firstMessage": "Hello, thanks for calling.",
        "tools": [{"name": "endCall", "type": "endCall"}]
    }))
    .expect("agent");
    a.validate().expect("valid");
    a
}

/// A call driven the way the call actor drives it, counting inputs.
struct Call {
    e: VoiceAgent,
    now: Instant,
    inputs: u64,
    frame: AudioFrame,
    llm_turn: Option<TurnId>,
    segments: Vec<(TurnId, u32)>,
}

impl Call {
    fn new() -> Self {
        let mut c = Self {
            e: VoiceAgent::new(agent(), EngineConfig::default()),
            now: Instant::now(),
            inputs: 0,
            frame: AudioFrame::silence(),
            llm_turn: None,
            segments: Vec::new(),
        };
        c.input(Input::Tick);
        c
    }

    fn input(&mut self, i: Input<'_>) {
        self.inputs += 1;
        self.e.handle_input(self.now, i);
        while let Some(a) = self.e.poll_action() {
            match a {
                Action::StartLlm { turn, call } => {
                    black_box(&call);
                    self.llm_turn = Some(turn);
                }
                Action::SpeakText {
                    turn,
                    segment,
                    text,
                } => {
                    black_box(&text);
                    self.segments.push((turn, segment));
                }
                other => {
                    black_box(&other);
                }
            }
        }
    }

    fn frames(&mut self, n: usize, speaking: bool, first: Option<VadEvent>) {
        for i in 0..n {
            let frame = std::mem::replace(&mut self.frame, AudioFrame::silence());
            self.input(Input::CallerAudio {
                frame: &frame,
                vad: VadOutput {
                    probability: if speaking { 0.9 } else { 0.05 },
                    speaking,
                    quiet: !speaking,
                    event: if i == 0 { first } else { None },
                },
            });
            self.frame = frame;
            self.now += Duration::from_millis(20);
            if self.e.poll_timeout().is_some_and(|t| t <= self.now) {
                self.input(Input::Tick);
            }
        }
    }

    /// One caller turn and the agent's reply, played to the end.
    fn turn(&mut self) {
        self.frames(60, true, Some(VadEvent::SpeechStart));
        self.frames(1, false, Some(VadEvent::SpeechEnd));
        self.input(Input::AsrFinal {
            text: "I would like to book an appointment for Tuesday.".into(),
        });
        let mut waited = 0;
        while self.llm_turn.is_none() && waited < 200 {
            self.frames(1, false, None);
            waited += 1;
        }
        let Some(turn) = self.llm_turn.take() else {
            panic!("no LLM request after the caller's turn")
        };
        for t in REPLY {
            if !t.is_empty() {
                self.input(Input::Llm {
                    turn,
                    event: LlmEvent::Text(t.into()),
                });
            }
        }
        self.input(Input::LlmDone { turn });
        for (t, segment) in std::mem::take(&mut self.segments) {
            self.input(Input::TtsAudio {
                turn: t,
                segment,
                audio: Duration::from_millis(1200),
                complete: true,
            });
        }
        self.input(Input::PlaybackStarted { turn });
        for k in 1..=12u64 {
            self.frames(10, false, None);
            self.input(Input::PlaybackProgress {
                turn,
                played: Duration::from_millis(200 * k),
            });
        }
        self.input(Input::PlaybackFinished { turn });
        self.frames(15, false, None);
    }
}

/// Median of 15 batches: (ns per unit, units per batch).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[allow(clippy::print_stdout)]
fn main() {
    // baseline: what the actor does for a frame anyway (build the VAD verdict)
    let mut base = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        for i in 0..200_000u32 {
            black_box(VadOutput {
                probability: black_box(i as f32),
                speaking: false,
                quiet: true,
                event: None,
            });
        }
        base.push(t.elapsed().as_nanos() as f64 / 200_000.0);
    }
    let base = median(base).max(0.1);

    // hot path: a listening agent gets a quiet frame
    let mut c = Call::new();
    c.frames(100, false, None);
    let mut hot = Vec::new();
    for _ in 0..15 {
        let n0 = c.inputs;
        let t = Instant::now();
        c.frames(5_000, false, None);
        hot.push(t.elapsed().as_nanos() as f64 / (c.inputs - n0) as f64);
        // keep the idle reminders from turning into a hang-up
        c = Call::new();
    }
    let hot = median(hot);

    // whole turns on 20-turn calls
    let mut per_input = Vec::new();
    let mut per_turn = Vec::new();
    let mut inputs_per_turn = 0.0;
    for _ in 0..15 {
        let mut c = Call::new();
        let t = Instant::now();
        for _ in 0..TURNS_PER_CALL {
            c.turn();
        }
        let ns = t.elapsed().as_nanos() as f64;
        per_input.push(ns / c.inputs as f64);
        per_turn.push(ns / TURNS_PER_CALL as f64);
        inputs_per_turn = c.inputs as f64 / TURNS_PER_CALL as f64;
    }
    let (per_input, per_turn) = (median(per_input), median(per_turn));

    println!("engine (VoiceAgent, virtual time, one core), median of 15 batches");
    println!("  baseline (build a VAD verdict)            {base:>9.1} ns");
    println!(
        "  listening, one 20 ms caller frame         {hot:>9.1} ns   {:>7.0}x baseline   {:.5}% of the frame's real time   {:>9.0} frames per 20 ms",
        hot / base,
        hot / FRAME_NS * 100.0,
        FRAME_NS / hot
    );
    println!(
        "  whole turns: {inputs_per_turn:.0} inputs per turn (frames, VAD events, transcript, LLM tokens, TTS, marks)"
    );
    println!(
        "    per input                               {per_input:>9.1} ns   {:>7.0}x baseline   {:>12.0} inputs/s",
        per_input / base,
        1e9 / per_input
    );
    println!(
        "    per turn                                {:>9.1} us   {:>12.0} turns/s",
        per_turn / 1000.0,
        1e9 / per_turn
    );
}
