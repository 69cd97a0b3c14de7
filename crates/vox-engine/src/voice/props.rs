//! The conversation engine against random input tapes (firezone-style: random transitions
//! in virtual time, invariants checked after every step, counterexamples shrunk to the
//! shortest tape).
//!
//! A tape mixes caller speech and silence, interim, final (late, empty, backchannel) and
//! duplicate transcripts, end-of-turn probabilities, model text, tool calls, completions and
//! failures, tool results, edge scores, TTS audio, playback marks, inputs for turns that are
//! over, key presses and waits, on three agents (a model with tools, a model with a workflow,
//! a workflow without a model). After every step:
//! - no action after the hang-up;
//! - the engine's own invariants (never speaking with nothing queued, ...);
//! - every assistant line committed to the transcript is a stretch of what the turn
//!   generated, and a turn never commits more words than its marks prove were heard;
//! - timers make progress: ticking at a deadline never leaves the same deadline due.
//!
//! At the end the tape settles (outstanding model, tool, scoring, TTS and playback work is
//! completed and time runs until the call ends), and every word the caller said before the
//! hang-up was answered (it is in a user message of the model's history) or dropped with a
//! stated reason.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::json;
use vox_core::{AudioFrame, Role, TurnId, VadEvent, VadOutput};

use super::*;
use crate::io::{LlmCall, LlmEvent};
use crate::text::heard_text;

#[derive(Debug, Clone)]
enum Step {
    /// The caller speaks for `ms` (a start of speech, frames, an end of speech).
    Speech {
        ms: u16,
    },
    /// Silent caller frames for `ms`.
    Quiet {
        ms: u16,
    },
    /// A final transcript of `words` new words (0: noise).
    Final {
        words: u8,
    },
    /// The same final as the last one, again.
    DuplicateFinal,
    /// "mm-hm".
    Backchannel,
    Interim {
        words: u8,
    },
    EndOfTurn {
        percent: u8,
    },
    LlmText {
        words: u8,
        sentence: bool,
    },
    /// 0 lookupHours (with a spoken message), 1 endCall, 2 unknown, 3 transition.
    LlmTool {
        kind: u8,
    },
    LlmDone,
    LlmFailed {
        retryable: bool,
    },
    /// TTS audio for one of the turn's segments.
    Tts {
        segment: u8,
        ms: u16,
        complete: bool,
    },
    ToolResult {
        end_call: bool,
    },
    EdgeScores {
        best: u8,
    },
    PlaybackStarted,
    PlaybackProgress {
        ms: u16,
    },
    PlaybackFinished,
    /// An input for a turn that is over.
    Stale,
    Dtmf {
        digit: u8,
    },
    Wait {
        ms: u16,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (100u16..1200).prop_map(|ms| Step::Speech { ms }),
        3 => (20u16..1000).prop_map(|ms| Step::Quiet { ms }),
        4 => (0u8..4).prop_map(|words| Step::Final { words }),
        1 => Just(Step::DuplicateFinal),
        1 => Just(Step::Backchannel),
        1 => (0u8..3).prop_map(|words| Step::Interim { words }),
        1 => (0u8..=100).prop_map(|percent| Step::EndOfTurn { percent }),
        4 => (1u8..6, any::<bool>()).prop_map(|(words, sentence)| Step::LlmText { words, sentence }),
        1 => (0u8..4).prop_map(|kind| Step::LlmTool { kind }),
        3 => Just(Step::LlmDone),
        1 => any::<bool>().prop_map(|retryable| Step::LlmFailed { retryable }),
        4 => (0u8..4, 50u16..1500, any::<bool>()).prop_map(|(segment, ms, complete)| Step::Tts { segment, ms, complete }),
        2 => any::<bool>().prop_map(|end_call| Step::ToolResult { end_call }),
        1 => (0u8..3).prop_map(|best| Step::EdgeScores { best }),
        2 => Just(Step::PlaybackStarted),
        3 => (20u16..3000).prop_map(|ms| Step::PlaybackProgress { ms }),
        2 => Just(Step::PlaybackFinished),
        1 => Just(Step::Stale),
        1 => (0u8..13).prop_map(|digit| Step::Dtmf { digit }),
        2 => (1u16..10_000).prop_map(|ms| Step::Wait { ms }),
    ]
}

/// The three agents a tape may talk to.
fn agent(which: u8) -> VoiceAgent {
    let tools = json!([{"name": "lookupHours", "type": "function", "url": "http://example.com/hours",
                        "description": "Opening hours", "message": "One moment."},
                       {"name": "endCall", "type": "endCall"}]);
    let workflow = json!({"startNode": "greet", "nodes": [
        {"id": "greet", "type": "conversation", "prompt": "Greet and ask how to help.", "firstMessage": "Hello, how can I help?"},
        {"id": "book", "type": "conversation", "prompt": "Book a visit.", "firstMessage": "When would you like to come?"},
        {"id": "hours", "type": "conversation", "prompt": "Give the hours.", "firstMessage": "We are open nine to five."},
        {"id": "bye", "type": "tool", "prompt": "endCall"}
    ], "edges": [
        {"from": "greet", "to": "book", "when": "if the caller wants to book"},
        {"from": "greet", "to": "hours", "when": "if the caller asks about hours"},
        {"from": "greet", "to": "bye", "when": "if the caller says goodbye"},
        {"from": "book", "to": "bye", "when": "always"},
        {"from": "hours", "to": "greet", "when": "always"}
    ]});
    let spec = match which {
        0 => {
            json!({"id": "a", "name": "Tools", "conversationFlow": "Answer questions.", "firstMessage": "Hi there.", "tools": tools})
        }
        _ => json!({"id": "a", "name": "Graph", "workflow": workflow, "tools": tools}),
    };
    let spec: AgentSpec = serde_json::from_value(spec).expect("agent");
    spec.validate().expect("valid agent");
    let cfg = EngineConfig {
        max_duration: Duration::from_secs(if which == 1 { 40 } else { 600 }),
        ..EngineConfig::default()
    };
    if which == 2 {
        VoiceAgent::without_llm(spec, cfg)
    } else {
        VoiceAgent::new(spec, cfg)
    }
}

/// What the harness knows of a turn from the actions it saw and the inputs it gave.
#[derive(Debug, Default)]
struct TurnLog {
    segments: Vec<crate::text::SpokenSegment>,
    end_of_speech: bool,
    played: Duration,
    finished: bool,
    committed_words: usize,
}

struct Harness {
    e: VoiceAgent,
    now: Instant,
    turns: BTreeMap<u64, TurnLog>,
    /// The turn the engine is on, as its actions tell.
    current: Option<TurnId>,
    llm: Option<TurnId>,
    choosing: Option<(TurnId, usize)>,
    tools: VecDeque<(TurnId, String)>,
    hung_up: bool,
    /// Finals given before the hang-up, their text.
    said: Vec<String>,
    dropped: Vec<String>,
    next_word: u32,
}

impl Harness {
    fn new(which: u8) -> Self {
        let mut h = Self {
            e: agent(which),
            now: Instant::now(),
            turns: BTreeMap::new(),
            current: None,
            llm: None,
            choosing: None,
            tools: VecDeque::new(),
            hung_up: false,
            said: Vec::new(),
            dropped: Vec::new(),
            next_word: 0,
        };
        h.input(Input::Tick).expect("start");
        h
    }

    fn words(&mut self, n: u8) -> String {
        (0..n)
            .map(|_| {
                self.next_word += 1;
                format!("w{}", self.next_word)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Feeds one input at `now`, takes the actions and checks what can be checked.
    fn input(&mut self, input: Input<'_>) -> Result<(), String> {
        let before = self.hung_up;
        self.e.handle_input(self.now, input);
        while let Some(a) = self.e.poll_action() {
            if before {
                return Err(format!("an action after the hang-up: {a:?}"));
            }
            self.observe(a)?;
        }
        self.e.check_invariants()
    }

    fn observe(&mut self, a: Action) -> Result<(), String> {
        match a {
            Action::SpeakText {
                turn,
                segment,
                text,
            } => {
                let log = self.turns.entry(turn.0).or_default();
                if segment as usize != log.segments.len() {
                    return Err(format!("turn {turn}: segment {segment} out of order"));
                }
                log.segments.push(crate::text::SpokenSegment {
                    text,
                    audio: Duration::ZERO,
                    complete: false,
                });
                self.current = Some(turn);
            }
            Action::EndOfSpeech { turn } => {
                self.turns.entry(turn.0).or_default().end_of_speech = true;
                self.current = Some(turn);
            }
            Action::StartLlm { turn, call } => {
                check_call(&call)?;
                self.llm = Some(turn);
                self.current = Some(turn);
            }
            Action::ChooseEdge { turn, options, .. } => {
                self.choosing = Some((turn, options.len()));
                self.current = Some(turn);
            }
            Action::RunTool { turn, call } => self.tools.push_back((turn, call.id)),
            Action::StopSpeaking { turn } => {
                self.turns.entry(turn.0).or_default().finished = true;
            }
            Action::Transcript(entry) if entry.role == Role::Assistant => {
                let turn = entry.turn.ok_or("an assistant line without its turn")?;
                let log = self.turns.entry(turn).or_default();
                let generated = log
                    .segments
                    .iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                if !generated.contains(&entry.text) {
                    return Err(format!(
                        "turn {turn} committed {:?}, which it never generated ({generated:?})",
                        entry.text
                    ));
                }
                log.committed_words += entry.text.split_whitespace().count();
                let heard = if log.finished_by_playback() {
                    generated.clone()
                } else {
                    heard_text(&log.segments, log.played)
                };
                if log.committed_words > heard.split_whitespace().count() {
                    return Err(format!(
                        "turn {turn} committed {} words, the marks prove {heard:?} was heard",
                        log.committed_words
                    ));
                }
            }
            Action::CallerWordsDropped { text, .. } => self.dropped.push(text),
            Action::Hangup { .. } => self.hung_up = true,
            _ => {}
        }
        Ok(())
    }

    /// Lets time pass to `until`, firing the engine's timers on the way.
    fn advance(&mut self, until: Instant) -> Result<(), String> {
        while !self.hung_up
            && let Some(t) = self.e.poll_timeout().filter(|t| *t <= until)
        {
            self.now = self.now.max(t);
            self.tick()?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// A timer tick; the deadline that was due must not stay due (no driver may spin).
    fn tick(&mut self) -> Result<(), String> {
        for _ in 0..20 {
            self.input(Input::Tick)?;
            if self.hung_up || self.e.poll_timeout().is_none_or(|t| t > self.now) {
                return Ok(());
            }
        }
        Err(format!(
            "the timer at {:?} stays due after 20 ticks",
            self.e.poll_timeout()
        ))
    }

    fn frames(
        &mut self,
        ms: u16,
        first: Option<VadEvent>,
        speaking: bool,
        last: Option<VadEvent>,
    ) -> Result<(), String> {
        let frame = AudioFrame::silence();
        let n = (ms / 20).max(1);
        for i in 0..n {
            let event = if i == 0 {
                first
            } else if i == n - 1 {
                last
            } else {
                None
            };
            self.input(Input::CallerAudio {
                frame: &frame,
                vad: VadOutput {
                    probability: 0.0,
                    speaking,
                    quiet: !speaking,
                    event,
                },
            })?;
            let next = self.now + Duration::from_millis(20);
            self.advance(next)?;
        }
        Ok(())
    }

    fn turn(&self) -> TurnId {
        self.current.unwrap_or_default()
    }

    fn run(&mut self, s: &Step) -> Result<(), String> {
        match *s {
            Step::Speech { ms } => self.frames(
                ms,
                Some(VadEvent::SpeechStart),
                true,
                Some(VadEvent::SpeechEnd),
            ),
            Step::Quiet { ms } => self.frames(ms, None, false, None),
            Step::Final { words } => {
                let text = self.words(words);
                self.final_text(text)
            }
            Step::DuplicateFinal => {
                let text = self.said.last().cloned().unwrap_or_default();
                self.final_text(text)
            }
            Step::Backchannel => self.final_text("mm-hm".into()),
            Step::Interim { words } => {
                let text = self.words(words);
                self.input(Input::AsrInterim { text })
            }
            Step::EndOfTurn { percent } => self.input(Input::EndOfTurn {
                probability: f32::from(percent) / 100.0,
            }),
            Step::LlmText { words, sentence } => {
                let mut text = self.words(words);
                text.push_str(if sentence { ". " } else { " " });
                let turn = self.llm.unwrap_or_default();
                self.input(Input::Llm {
                    turn,
                    event: LlmEvent::Text(text),
                })
            }
            Step::LlmTool { kind } => {
                let (name, args) = match kind {
                    0 => ("lookupHours", "{}".to_owned()),
                    1 => ("endCall", "{}".to_owned()),
                    2 => ("noSuchTool", "{}".to_owned()),
                    _ => ("transition", json!({"next": "book"}).to_string()),
                };
                let turn = self.llm.unwrap_or_default();
                let index = usize::from(kind);
                self.input(Input::Llm {
                    turn,
                    event: LlmEvent::ToolCall {
                        index,
                        id: None,
                        name: Some(name.into()),
                        arguments: args,
                    },
                })
            }
            Step::LlmDone => {
                let turn = self.llm.take().unwrap_or_default();
                self.input(Input::LlmDone { turn })
            }
            Step::LlmFailed { retryable } => {
                let turn = self.llm.take().unwrap_or_default();
                self.input(Input::LlmFailed { turn, retryable })
            }
            Step::Tts {
                segment,
                ms,
                complete,
            } => {
                let turn = self.turn();
                let Some(log) = self.turns.get_mut(&turn.0) else {
                    return Ok(());
                };
                if log.segments.is_empty() {
                    return Ok(());
                }
                let index = usize::from(segment) % log.segments.len();
                let audio = Duration::from_millis(u64::from(ms));
                log.segments[index].audio += audio;
                log.segments[index].complete |= complete;
                let segment = index as u32;
                self.input(Input::TtsAudio {
                    turn,
                    segment,
                    audio,
                    complete,
                })
            }
            Step::ToolResult { end_call } => {
                let Some((turn, call_id)) = self.tools.pop_front() else {
                    return Ok(());
                };
                let end_call = end_call.then(|| "transferred".to_owned());
                self.input(Input::ToolResult {
                    turn,
                    call_id,
                    content: "Nine to five.".into(),
                    end_call,
                })
            }
            Step::EdgeScores { best } => {
                let Some((turn, n)) = self.choosing.take() else {
                    return Ok(());
                };
                let scores = (0..n)
                    .map(|i| if i == usize::from(best) { 0.9 } else { 0.1 })
                    .collect();
                self.input(Input::EdgeScores { turn, scores })
            }
            Step::PlaybackStarted => {
                let turn = self.turn();
                self.input(Input::PlaybackStarted { turn })
            }
            Step::PlaybackProgress { ms } => {
                let turn = self.turn();
                let log = self.turns.entry(turn.0).or_default();
                log.played = log.played.max(Duration::from_millis(u64::from(ms)));
                let played = log.played;
                self.input(Input::PlaybackProgress { turn, played })
            }
            Step::PlaybackFinished => self.playback_finished(),
            Step::Stale => {
                let turn = TurnId(self.turn().0.saturating_sub(1));
                self.input(Input::LlmDone { turn })?;
                self.input(Input::PlaybackFinished { turn })
            }
            Step::Dtmf { digit } => {
                let digit = b"0123456789*#A"[usize::from(digit)] as char;
                self.input(Input::Dtmf { digit })
            }
            Step::Wait { ms } => {
                let until = self.now + Duration::from_millis(u64::from(ms));
                self.advance(until)
            }
        }
    }

    fn final_text(&mut self, text: String) -> Result<(), String> {
        if !self.hung_up && !text.is_empty() {
            self.said.push(text.clone());
        }
        self.input(Input::AsrFinal { text })
    }

    /// The carrier played everything queued for the current turn (only once its speech
    /// ended: before that, more may come).
    fn playback_finished(&mut self) -> Result<(), String> {
        let turn = self.turn();
        let Some(log) = self.turns.get_mut(&turn.0) else {
            return Ok(());
        };
        if !log.end_of_speech {
            return Ok(());
        }
        log.finished = true;
        log.played = Duration::MAX;
        self.input(Input::PlaybackFinished { turn })
    }

    /// Completes what is outstanding and lets time run until the call ends.
    fn settle(&mut self) -> Result<(), String> {
        for _ in 0..500 {
            if self.hung_up {
                return Ok(());
            }
            if let Some(turn) = self.llm.take() {
                self.input(Input::LlmDone { turn })?;
            } else if let Some((turn, call_id)) = self.tools.pop_front() {
                self.input(Input::ToolResult {
                    turn,
                    call_id,
                    content: "Done.".into(),
                    end_call: None,
                })?;
            } else if let Some((turn, n)) = self.choosing.take() {
                self.input(Input::EdgeScores {
                    turn,
                    scores: vec![0.1; n],
                })?;
            } else if let Some(log) = self
                .turns
                .get(&self.turn().0)
                .filter(|l| l.end_of_speech && !l.finished)
            {
                let (turn, n) = (self.turn(), log.segments.len());
                for segment in 0..n as u32 {
                    self.input(Input::TtsAudio {
                        turn,
                        segment,
                        audio: Duration::from_millis(300),
                        complete: true,
                    })?;
                }
                self.playback_finished()?;
            } else if let Some(t) = self.e.poll_timeout() {
                let until = t.max(self.now);
                self.advance(until)?;
            } else {
                return Err("the call neither ends nor waits for anything".into());
            }
        }
        Err("the call did not end after 500 steps of settling".into())
    }

    /// Every word said before the hang-up was answered or dropped with a reason.
    fn check_words(&self) -> Result<(), String> {
        let answered: Vec<&str> = self
            .e
            .history()
            .iter()
            .filter(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .collect();
        let known = format!("{} {}", answered.join(" "), self.dropped.join(" "));
        for said in &self.said {
            if !known.contains(said.as_str()) {
                return Err(format!(
                    "{said:?} was neither answered nor dropped; answered: {answered:?}, dropped: {:?}",
                    self.dropped
                ));
            }
        }
        Ok(())
    }
}

impl TurnLog {
    fn finished_by_playback(&self) -> bool {
        self.played == Duration::MAX
    }
}

/// A model request's history is valid: every tool result answers a call made before it.
fn check_call(call: &LlmCall) -> Result<(), String> {
    let mut open = std::collections::BTreeSet::new();
    for m in &call.messages {
        for c in &m.tool_calls {
            open.insert(c.id.clone());
        }
        if let Some(id) = &m.tool_call_id
            && !open.remove(id)
        {
            return Err(format!(
                "a tool result for {id}, which no call made or was answered twice"
            ));
        }
    }
    Ok(())
}

fn run_tape(which: u8, steps: &[Step]) -> Result<(), String> {
    let mut h = Harness::new(which);
    for (i, s) in steps.iter().enumerate() {
        h.run(s).map_err(|e| format!("step {i} ({s:?}): {e}"))?;
    }
    h.settle().map_err(|e| format!("settling: {e}"))?;
    h.check_words()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(10_000),
        max_shrink_iters: 20_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_tapes_keep_the_invariants(which in 0u8..3, steps in proptest::collection::vec(step(), 1..60)) {
        if let Err(e) = run_tape(which, &steps) {
            prop_assert!(false, "agent {which}: {e}");
        }
    }
}
