//! The LLM-driven voice agent as a sans-IO state machine.
//!
//! The caller's side is a [`Caller`] state with the [`Words`] that wait for an answer; the
//! agent's side an [`AgentState`] holding the turn in progress and its [`Phase`]. The
//! concerns live apart: when the caller's turn is over (`endpoint.rs`), speech over the agent
//! (`barge_in.rs`), the model's reply and its tools (`reply.rs`), workflow graphs
//! (`graph.rs`), and the timers (`timers.rs`). Every input goes through
//! [`Conversation::handle_input`] here, which routes it, then lets the timers act.

mod barge_in;
mod config;
mod endpoint;
mod graph;
mod reply;
mod state;
mod timers;

use std::collections::VecDeque;
use std::time::Instant;

use vox_core::{ChatMessage, Role, ToolCall, TurnId, VadEvent};

pub use config::EngineConfig;
use state::{After, AgentState, AgentTurn, Caller, Keypad, Phase, TurnKind, Words};

use crate::agent::AgentSpec;
use crate::io::{Action, Conversation, DropReason, Input, TranscriptEntry};
use crate::text::{Segmenter, SpokenSegment};

/// How the agent decides what to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The model answers.
    Llm,
    /// No model: the workflow graph is followed by the similarity of the caller's words to
    /// each edge's condition.
    WorkflowByEmbedding,
}

/// The voice agent: see the module docs and [`EngineConfig`].
#[derive(Debug)]
pub struct VoiceAgent {
    cfg: EngineConfig,
    agent: AgentSpec,
    mode: Mode,
    /// The workflow node the conversation is at.
    node: Option<String>,
    /// The conversation as the model sees it (without the system prompt).
    history: Vec<ChatMessage>,
    /// The call's first input, and the time limit's deadline until it passes.
    started: Option<Instant>,
    deadline: Option<Instant>,
    caller: Caller,
    words: Words,
    keypad: Option<Keypad>,
    state: AgentState,
    last_caller_activity: Option<Instant>,
    /// Reminders said in the current stretch of silence.
    reminders: u32,
    last_turn: TurnId,
    actions: VecDeque<Action>,
}

impl VoiceAgent {
    /// A conversation with `agent` (validate it first: see [`AgentSpec::validate`]).
    pub fn new(agent: AgentSpec, cfg: EngineConfig) -> Self {
        Self::with_mode(agent, cfg, Mode::Llm)
    }

    /// A conversation that follows the agent's workflow without an LLM: each caller turn
    /// takes the edge whose condition is most similar to what they said (scored by the
    /// actor's embedding model), and nodes speak their first message (or prompt).
    pub fn without_llm(agent: AgentSpec, cfg: EngineConfig) -> Self {
        Self::with_mode(agent, cfg, Mode::WorkflowByEmbedding)
    }

    fn with_mode(agent: AgentSpec, cfg: EngineConfig, mode: Mode) -> Self {
        let cfg = cfg.for_agent(&agent);
        let node = agent.workflow.as_ref().map(|w| w.start_node.clone());
        Self {
            cfg,
            agent,
            mode,
            node,
            history: Vec::new(),
            started: None,
            deadline: None,
            caller: Caller::Silent,
            words: Words::default(),
            keypad: None,
            // replaced at the first input, which starts the call
            state: AgentState::HungUp,
            last_caller_activity: None,
            reminders: 0,
            last_turn: TurnId::default(),
            actions: VecDeque::new(),
        }
    }

    /// The conversation so far, as the model sees it (without the system prompt).
    pub fn history(&self) -> &[ChatMessage] {
        &self.history
    }

    /// The workflow node the conversation is at, if the agent has a workflow.
    pub fn current_node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    fn emit(&mut self, a: Action) {
        self.actions.push_back(a);
    }

    fn transcript(&mut self, role: Role, text: &str, interrupted: bool, turn: Option<TurnId>) {
        let text = text.trim();
        if !text.is_empty() {
            self.emit(Action::Transcript(TranscriptEntry {
                role,
                text: text.to_owned(),
                interrupted,
                turn: turn.map(|t| t.0),
                at_ms: 0,
            }));
        }
    }

    /// The words waiting are not going to be answered, for `reason`: said so, and cleared.
    fn drop_words(&mut self, reason: DropReason) {
        let text = std::mem::take(&mut self.words.text);
        self.words.shown = 0;
        if !text.is_empty() {
            self.emit(Action::CallerWordsDropped { text, reason });
        }
    }

    fn next_turn_id(&mut self) -> TurnId {
        self.last_turn = self.last_turn.next();
        self.last_turn
    }

    /// Starts the call: the time limit runs, and the agent says its first message.
    fn start(&mut self, now: Instant) {
        self.started = Some(now);
        self.deadline = Some(now + self.cfg.max_duration);
        self.last_caller_activity = Some(now);
        self.state = AgentState::Listening { since: now };
        let node_first = self
            .node
            .as_ref()
            .and_then(|n| self.agent.workflow.as_ref()?.node(n)?.first_message.clone());
        if let Some(text) = self.agent.first_message.clone().or(node_first) {
            self.say(now, &text, TurnKind::Prompt, After::Listen);
        }
    }

    /// Says fixed text as a turn of its own, then does `then`.
    fn say(&mut self, now: Instant, text: &str, kind: TurnKind, then: After) {
        self.say_answering(now, text, kind, then, None);
    }

    /// [`say`](Self::say) in answer to the caller's turn that ended as `answers` says, if it
    /// answers one: its latency milestones count from their end of speech.
    fn say_answering(
        &mut self,
        now: Instant,
        text: &str,
        kind: TurnKind,
        then: After,
        answers: Option<state::CallerTurnEnd>,
    ) {
        let id = self.next_turn_id();
        let mut turn = AgentTurn::new(id, kind, Phase::Delivering);
        turn.then = then;
        if let Some(end) = answers {
            turn.answering(end);
        }
        let mut seg = Segmenter::default();
        let mut parts = seg.push(text);
        parts.extend(seg.flush());
        for (segment, text) in parts.into_iter().enumerate() {
            turn.segments.push(SpokenSegment {
                text: text.clone(),
                audio: std::time::Duration::ZERO,
                complete: false,
            });
            self.emit(Action::SpeakText {
                turn: id,
                segment: segment as u32,
                text,
            });
        }
        if turn.segments.is_empty() {
            // nothing to say: the turn is over before it began
            self.state = AgentState::Responding(turn);
            self.finish_turn(now);
            return;
        }
        self.emit(Action::EndOfSpeech { turn: id });
        self.state = AgentState::Responding(turn);
    }

    /// Adds a segment to the current turn and asks for it to be spoken.
    fn add_segment(&mut self, text: String) {
        let Some(t) = self.state.turn_mut() else {
            return;
        };
        let segment = t.segments.len() as u32;
        t.segments.push(SpokenSegment {
            text: text.clone(),
            audio: std::time::Duration::ZERO,
            complete: false,
        });
        let turn = t.id;
        self.emit(Action::SpeakText {
            turn,
            segment,
            text,
        });
    }

    /// Nothing more will be said this turn: it only has to play.
    fn end_speech(&mut self, now: Instant) {
        let Some(t) = self.state.turn_mut() else {
            return;
        };
        if matches!(t.phase, Phase::Delivering) {
            return;
        }
        t.phase = Phase::Delivering;
        let (turn, empty) = (t.id, t.segments.is_empty());
        if empty {
            // nothing was said: the turn is over
            self.finish_turn(now);
        } else {
            self.emit(Action::EndOfSpeech { turn });
        }
    }

    fn hang_up(&mut self, reason: String) {
        if !matches!(self.state, AgentState::HungUp) {
            self.drop_words(DropReason::CallEnded);
            self.state = AgentState::HungUp;
            self.emit(Action::Hangup { reason });
        }
    }
}

impl Conversation for VoiceAgent {
    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if self.started.is_none() {
            self.start(now);
        }
        if matches!(self.state, AgentState::HungUp) {
            return;
        }
        match input {
            Input::CallerAudio { vad, .. } => {
                match vad.event {
                    Some(VadEvent::SpeechStart) => self.on_speech_start(now),
                    Some(VadEvent::SpeechEnd) => self.on_speech_end(now),
                    None => {}
                }
                if self.caller == Caller::Speaking {
                    self.last_caller_activity = Some(now);
                    self.interrupt_if_long(now);
                }
            }
            Input::AsrInterim { text } => {
                self.on_interim_words(now, &text);
                self.on_interim(now, &text)
            }
            Input::AsrFinal { text } => self.on_final(now, &text),
            Input::EndOfTurn { probability } => self.words.eot = Some(probability),
            Input::Llm { turn, event } if self.state.is_current(turn) => {
                self.on_llm_event(now, event)
            }
            Input::LlmDone { turn } if self.state.is_current(turn) => self.on_llm_done(now),
            Input::LlmFailed { turn, retryable } if self.state.is_current(turn) => {
                self.on_llm_failed(now, retryable)
            }
            Input::TtsAudio {
                turn,
                segment,
                audio,
                complete,
            } if self.state.is_current(turn) => {
                let Some(t) = self.state.turn_mut() else {
                    return;
                };
                if t.latency.first_tts_audio_ms.is_none() {
                    t.latency.first_tts_audio_ms = t.ms(now);
                }
                if let Some(s) = t.segments.get_mut(segment as usize) {
                    s.audio += audio;
                    s.complete |= complete;
                }
            }
            Input::EdgeScores { turn, scores } if self.state.is_current(turn) => {
                self.on_edge_scores(now, &scores)
            }
            Input::ToolResult {
                turn,
                call_id,
                content,
                end_call,
            } if self.state.is_current(turn) => {
                self.on_tool_result(now, call_id, content, end_call)
            }
            Input::PlaybackStarted { turn } if self.state.is_current(turn) => {
                let Some(t) = self.state.turn_mut() else {
                    return;
                };
                t.started_playing = true;
                // a reply to the caller's words (by the model or the workflow), not a prompt
                // on the agent's own initiative
                if !t.metrics_sent && t.anchor.is_some() {
                    t.latency.first_audio_sent_ms = t.ms(now);
                    t.metrics_sent = true;
                    let m = t.latency.clone();
                    self.emit(Action::TurnMetrics(m));
                }
            }
            Input::PlaybackProgress { turn, played } if self.state.is_current(turn) => {
                if let Some(t) = self.state.turn_mut() {
                    t.started_playing = true;
                    t.played = t.played.max(played);
                }
            }
            // everything queued has played: only once nothing more is coming
            Input::PlaybackFinished { turn }
                if self.state.is_current(turn)
                    && self
                        .state
                        .turn()
                        .is_some_and(|t| matches!(t.phase, Phase::Delivering)) =>
            {
                self.finish_turn(now);
            }
            Input::Dtmf { digit } => {
                let keypad = self.keypad.get_or_insert_with(|| Keypad {
                    digits: String::new(),
                    last: now,
                });
                keypad.digits.push(digit);
                keypad.last = now;
                self.last_caller_activity = Some(now);
            }
            // a timer, or something about a turn that is already over
            _ => {}
        }
        self.check_timers(now);
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next_timer()
    }
}

impl VoiceAgent {
    /// The engine's own invariants (checked after every step of the property test).
    #[cfg(test)]
    fn check_invariants(&self) -> Result<(), String> {
        if let Some(t) = self.state.turn() {
            if matches!(t.phase, Phase::Delivering) && t.segments.is_empty() {
                return Err(format!("turn {} is speaking with nothing queued", t.id));
            }
            if t.round_start > t.segments.len() {
                return Err(format!("turn {} starts its round past its segments", t.id));
            }
            if let Phase::AwaitingTools { pending } = &t.phase
                && pending.is_empty()
            {
                return Err(format!("turn {} waits for no tool", t.id));
            }
        }
        if self.words.shown > self.words.text.len() {
            return Err("more of the caller's words shown than there are".into());
        }
        Ok(())
    }
}

/// Gives tool call `i` of `turn` an id if the model gave none.
fn with_id(turn: TurnId, i: usize, mut c: ToolCall) -> ToolCall {
    if c.id.is_empty() {
        c.id = format!("call_{}_{i}", turn.0);
    }
    c
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
