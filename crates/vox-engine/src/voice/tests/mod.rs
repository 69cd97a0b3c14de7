//! Input tapes in virtual time: each test drives the engine the way the call actor does.
//! The harness is here; the tests are by concern: turn-taking and barge-in (`turns.rs`),
//! answering on interim transcripts (`interims.rs`), tools, workflows, keys and timers
//! (`tools.rs`).

mod interims;
mod settings;
mod tools;
mod turns;

use std::time::{Duration, Instant};

use serde_json::json;
use vox_core::{AudioFrame, TurnId, VadEvent, VadOutput};

use super::*;
use crate::agent::AgentSpec;
use crate::io::{LlmCall, LlmEvent};

pub(super) fn agent(extra: serde_json::Value) -> AgentSpec {
    let mut base = json!({
        "id": "a1", "name": "Test Agent", "conversationFlow": "Answer questions about opening hours.",
        "tools": [{"name": "lookupHours", "type": "function", "url": "http://example.com/hours",
                   "description": "Opening hours for a day", "message": "One moment."},
                  {"name": "endCall", "type": "endCall"}]
    });
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let a: AgentSpec = serde_json::from_value(base).expect("agent");
    a.validate().expect("valid");
    a
}

pub(super) struct Tape {
    pub(super) e: VoiceAgent,
    pub(super) now: Instant,
    pub(super) log: Vec<(Duration, Action)>,
    pub(super) t0: Instant,
}

impl Tape {
    pub(super) fn new(a: AgentSpec, cfg: EngineConfig) -> Self {
        let now = Instant::now();
        let mut t = Self {
            e: VoiceAgent::new(a, cfg),
            now,
            log: Vec::new(),
            t0: now,
        };
        t.input(Input::Tick);
        t
    }
    pub(super) fn input(&mut self, i: Input<'_>) {
        self.e.handle_input(self.now, i);
        while let Some(a) = self.e.poll_action() {
            self.log.push((self.now - self.t0, a));
        }
    }
    /// Advances time frame by frame, firing timers like the actor does.
    pub(super) fn frames(&mut self, ms: u64, first: Option<VadEvent>, speaking: bool) {
        let frame = AudioFrame::silence();
        for i in 0..ms / 20 {
            let event = if i == 0 { first } else { None };
            self.input(Input::CallerAudio {
                frame: &frame,
                vad: VadOutput {
                    probability: 0.0,
                    speaking,
                    quiet: !speaking,
                    event,
                },
            });
            self.now += Duration::from_millis(20);
            if self.e.poll_timeout().is_some_and(|t| t <= self.now) {
                self.input(Input::Tick);
            }
        }
    }
    pub(super) fn speak(&mut self, ms: u64) {
        self.frames(ms, Some(VadEvent::SpeechStart), true);
    }
    pub(super) fn stop_speaking(&mut self) {
        self.frames(20, Some(VadEvent::SpeechEnd), false);
    }
    pub(super) fn quiet(&mut self, ms: u64) {
        self.frames(ms, None, false);
    }
    /// Virtual time passes with no caller frames (timers only).
    pub(super) fn wait(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        while let Some(t) = self.e.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.input(Input::Tick);
        }
        self.now = end;
    }
    pub(super) fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.log)
            .into_iter()
            .map(|(_, a)| a)
            .collect()
    }
    pub(super) fn text(&mut self, turn: TurnId, t: &str) {
        self.input(Input::Llm {
            turn,
            event: LlmEvent::Text(t.into()),
        });
    }
    /// TTS finishes every segment: `ms` of audio each.
    pub(super) fn synthesize(&mut self, turn: TurnId, segments: u32, ms: u64) {
        for segment in 0..segments {
            self.input(Input::TtsAudio {
                turn,
                segment,
                audio: Duration::from_millis(ms),
                complete: true,
            });
        }
    }
}

pub(super) fn last_llm(actions: &[Action]) -> Option<(TurnId, LlmCall)> {
    actions.iter().rev().find_map(|a| match a {
        Action::StartLlm { turn, call } => Some((*turn, call.clone())),
        _ => None,
    })
}

pub(super) fn spoken(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SpeakText { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn fast() -> EngineConfig {
    EngineConfig::default()
}

/// Caller asks; returns the LLM turn and request.
pub(super) fn ask(t: &mut Tape, question: &str) -> (TurnId, LlmCall) {
    t.speak(1000);
    t.stop_speaking();
    t.quiet(100);
    t.input(Input::AsrFinal {
        text: question.into(),
    });
    t.quiet(400);
    last_llm(&t.take()).expect("the caller's turn reached the LLM")
}
