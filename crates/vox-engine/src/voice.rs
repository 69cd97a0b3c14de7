//! The LLM-driven voice agent as a sans-IO state machine.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use vox_core::{ChatMessage, Role, ToolCall, TurnId, TurnLatency, VadEvent};

use crate::agent::{AgentSpec, ToolKind};
use crate::io::{Action, Conversation, Input, LlmCall, LlmEvent, TranscriptEntry};
use crate::text::{Segmenter, SpokenSegment, heard_text, looks_unfinished, meaningful_words};
use crate::workflow::{NodeType, TRANSITION_TOOL};

/// Turn-taking and conversation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Wait after the VAD's end of speech before answering, when the turn looks complete.
    pub min_endpointing: Duration,
    /// Wait when it looks unfinished (a number being dictated, a trailing "and") or the
    /// end-of-turn model says the caller is not done.
    pub max_endpointing: Duration,
    /// End-of-turn model probability below which the caller is taken as not done.
    pub end_of_turn_threshold: f32,
    /// Longest wait for the transcript after speech ends.
    pub asr_final_timeout: Duration,
    /// Caller speech over the agent for this long is an interruption.
    pub min_interrupt: Duration,
    /// ...as are this many words that are not backchannels ("mm-hm", "okay").
    pub min_interrupt_words: usize,
    /// After caller speech over the agent ends without being an interruption, resume.
    pub false_interrupt_timeout: Duration,
    /// Caller silence before a reminder.
    pub idle_reminder_after: Duration,
    /// Reminders per stretch of silence.
    pub max_reminders: u32,
    /// What a reminder says.
    pub reminder_message: String,
    /// Caller silence that ends the call.
    pub silence_timeout: Duration,
    /// Said before hanging up for silence.
    pub silence_message: String,
    /// Longest call.
    pub max_duration: Duration,
    /// Said before hanging up at the maximum duration.
    pub max_duration_message: String,
    /// Keypad digits are sent as a turn after this pause (or at `#`).
    pub dtmf_timeout: Duration,
    /// Said when the LLM fails for good.
    pub error_message: String,
    /// Retries of a retryable LLM failure before giving up.
    pub llm_retries: u32,
    /// Without an LLM: the least similarity for a workflow edge to be taken.
    pub edge_threshold: f32,
    /// Without an LLM: said when no edge matches the caller's words.
    pub no_match_message: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            min_endpointing: Duration::from_millis(300),
            max_endpointing: Duration::from_millis(1500),
            end_of_turn_threshold: 0.5,
            asr_final_timeout: Duration::from_secs(3),
            min_interrupt: Duration::from_millis(500),
            min_interrupt_words: 1,
            false_interrupt_timeout: Duration::from_millis(800),
            idle_reminder_after: Duration::from_secs(8),
            max_reminders: 2,
            reminder_message: "Are you still there?".into(),
            silence_timeout: Duration::from_secs(30),
            silence_message: "I haven't heard from you, so I'll end the call now. Goodbye!".into(),
            max_duration: Duration::from_secs(30 * 60),
            max_duration_message:
                "We've reached the time limit for this call. Thank you for calling, goodbye!".into(),
            dtmf_timeout: Duration::from_secs(2),
            error_message:
                "Sorry, I'm having trouble right now. Could you say that again in a moment?".into(),
            llm_retries: 2,
            edge_threshold: 0.35,
            no_match_message: "Sorry, I didn't get that. Could you say it another way?".into(),
        }
    }
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum TurnKind {
    /// Fixed text (first message, reminders, goodbyes).
    Scripted,
    /// An LLM reply.
    Llm,
}

#[derive(Debug)]
struct AgentTurn {
    id: TurnId,
    kind: TurnKind,
    segments: Vec<SpokenSegment>,
    /// Segments before this were committed with an earlier round (before tool calls).
    round_first_segment: usize,
    segmenter: Segmenter,
    tool_calls: BTreeMap<usize, ToolCall>,
    pending_tools: BTreeSet<String>,
    llm_active: bool,
    speech_done: bool,
    started_playing: bool,
    played: Duration,
    attempts: u32,
    anchor: Option<Instant>,
    latency: TurnLatency,
    metrics_sent: bool,
}

impl AgentTurn {
    fn new(id: TurnId, kind: TurnKind) -> Self {
        Self {
            id,
            kind,
            segments: Vec::new(),
            round_first_segment: 0,
            segmenter: Segmenter::default(),
            tool_calls: BTreeMap::new(),
            pending_tools: BTreeSet::new(),
            llm_active: false,
            speech_done: false,
            started_playing: false,
            played: Duration::ZERO,
            attempts: 0,
            anchor: None,
            latency: TurnLatency {
                turn: id.0,
                ..TurnLatency::default()
            },
            metrics_sent: false,
        }
    }

    fn ms(&self, now: Instant) -> Option<f64> {
        self.anchor
            .map(|a| (now.saturating_duration_since(a).as_secs_f64() * 1e4).round() / 10.0)
    }

    /// Text of the current round's segments.
    fn round_text(&self) -> String {
        self.segments[self.round_first_segment..]
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What the caller heard of the current round.
    fn round_heard(&self) -> String {
        let before: Duration = self.segments[..self.round_first_segment]
            .iter()
            .map(|s| s.audio)
            .sum();
        heard_text(
            &self.segments[self.round_first_segment..],
            self.played.saturating_sub(before),
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Pause {
    since: Instant,
    speech_ended: Option<Instant>,
}

/// The voice agent: see the crate docs and [`EngineConfig`].
#[derive(Debug)]
pub struct VoiceAgent {
    cfg: EngineConfig,
    agent: AgentSpec,
    node: Option<String>,
    history: Vec<ChatMessage>,
    started: Option<Instant>,
    caller_speaking: bool,
    speech_end: Option<Instant>,
    /// The last end of speech, kept after the endpointing decision gave up waiting for its
    /// transcript, so a late transcript still makes a turn.
    last_speech_end: Option<Instant>,
    /// Speech segments whose transcript has not arrived: every VAD end of speech is one, and
    /// a turn of several segments is answered only once all of them are transcribed (a slow
    /// recognizer may finish the first while the caller is still saying the second).
    finals_pending: u32,
    asr_final_at: Option<Instant>,
    pending_text: String,
    eot_probability: Option<f32>,
    last_caller_activity: Option<Instant>,
    last_agent_done: Option<Instant>,
    reminders: u32,
    turn: Option<AgentTurn>,
    last_turn: TurnId,
    paused: Option<Pause>,
    ending: Option<String>,
    hung_up: bool,
    max_duration_hit: bool,
    dtmf: String,
    dtmf_at: Option<Instant>,
    /// No LLM: the workflow graph is followed by similarity of the caller's words.
    without_llm: bool,
    /// The edge choice being scored: (turn, target node ids).
    choosing: Option<(TurnId, Vec<String>)>,
    /// The turn that answers the caller's last words (an LLM reply, an edge being chosen,
    /// the workflow's "say it another way"): while it has not started playing, words of the
    /// same caller turn that are transcribed late make it answer again with all of them.
    answer_turn: Option<TurnId>,
    actions: VecDeque<Action>,
}

impl VoiceAgent {
    /// A conversation with `agent` (validate it first: see [`AgentSpec::validate`]).
    pub fn new(agent: AgentSpec, cfg: EngineConfig) -> Self {
        let node = agent.workflow.as_ref().map(|w| w.start_node.clone());
        Self {
            cfg,
            agent,
            node,
            history: Vec::new(),
            started: None,
            caller_speaking: false,
            speech_end: None,
            last_speech_end: None,
            finals_pending: 0,
            asr_final_at: None,
            pending_text: String::new(),
            eot_probability: None,
            last_caller_activity: None,
            last_agent_done: None,
            reminders: 0,
            turn: None,
            last_turn: TurnId::default(),
            paused: None,
            ending: None,
            hung_up: false,
            max_duration_hit: false,
            dtmf: String::new(),
            dtmf_at: None,
            without_llm: false,
            choosing: None,
            answer_turn: None,
            actions: VecDeque::new(),
        }
    }

    /// A conversation that follows the agent's workflow without an LLM: each caller turn
    /// takes the edge whose condition is most similar to what they said (scored by the
    /// actor's embedding model), and nodes speak their first message (or prompt).
    pub fn without_llm(agent: AgentSpec, cfg: EngineConfig) -> Self {
        let mut s = Self::new(agent, cfg);
        s.without_llm = true;
        s
    }

    /// After moving along an edge without an LLM: an endCall node says goodbye and hangs up;
    /// any other node speaks.
    fn after_move(&mut self) {
        if let Some(reason) = self.ending.take() {
            self.turn = None;
            self.speak_scripted("Goodbye!", Some(reason));
        } else {
            self.speak_node();
        }
    }

    /// Speaks what a node says when entered without an LLM; tool nodes run.
    fn speak_node(&mut self) {
        let Some(node) = self
            .node
            .as_deref()
            .and_then(|n| self.agent.workflow.as_ref()?.node(n))
            .cloned()
        else {
            return;
        };
        let text = node.first_message.clone().unwrap_or(node.prompt.clone());
        let hangup = self.ending.take();
        self.turn = None;
        self.speak_scripted(&text, hangup);
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

    fn new_turn(&mut self, kind: TurnKind) -> AgentTurn {
        self.last_turn = self.last_turn.next();
        AgentTurn::new(self.last_turn, kind)
    }

    fn add_segment(&mut self, text: String) {
        let Some(t) = self.turn.as_mut() else { return };
        let segment = t.segments.len() as u32;
        t.segments.push(SpokenSegment {
            text: text.clone(),
            audio: Duration::ZERO,
            complete: false,
        });
        let turn = t.id;
        self.emit(Action::SpeakText {
            turn,
            segment,
            text,
        });
    }

    fn end_speech(&mut self) {
        if let Some(t) = self.turn.as_mut()
            && !t.speech_done
        {
            t.speech_done = true;
            let turn = t.id;
            self.emit(Action::EndOfSpeech { turn });
        }
    }

    /// Says fixed text as a turn of its own; hangs up after it if `hangup` is set.
    fn speak_scripted(&mut self, text: &str, hangup: Option<String>) {
        let t = self.new_turn(TurnKind::Scripted);
        self.turn = Some(t);
        let mut seg = Segmenter::default();
        let mut parts = seg.push(text);
        parts.extend(seg.flush());
        for p in parts {
            self.add_segment(p);
        }
        self.end_speech();
        if hangup.is_some() {
            self.ending = hangup;
        }
    }

    fn start(&mut self, now: Instant) {
        self.started = Some(now);
        self.last_caller_activity = Some(now);
        self.last_agent_done = Some(now);
        let node_first = self
            .node
            .as_ref()
            .and_then(|n| self.agent.workflow.as_ref()?.node(n)?.first_message.clone());
        if let Some(text) = self.agent.first_message.clone().or(node_first) {
            self.speak_scripted(&text, None);
        }
    }

    fn llm_call(&self) -> LlmCall {
        let workflow = self.agent.workflow.as_ref();
        let node = self.node.as_deref().and_then(|n| workflow?.node(n));
        let transitions = match (workflow, &self.node) {
            (Some(w), Some(n)) => w.choices(n),
            _ => Vec::new(),
        };
        let mut messages = vec![ChatMessage::text(
            Role::System,
            self.agent
                .system_prompt(node.map(|n| n.prompt.as_str()), &transitions),
        )];
        messages.extend(self.history.iter().cloned());
        let mut tools: Vec<_> = self.agent.tools.iter().map(|t| t.spec()).collect();
        if let (Some(w), Some(n)) = (workflow, &self.node) {
            tools.extend(w.transition_tool(n));
        }
        LlmCall { messages, tools }
    }

    fn start_llm(&mut self) {
        let call = self.llm_call();
        let Some(t) = self.turn.as_mut() else { return };
        t.llm_active = true;
        t.attempts += 1;
        t.segmenter = Segmenter::default();
        let turn = t.id;
        self.emit(Action::StartLlm { turn, call });
    }

    fn user_turn(&mut self, now: Instant, speech_end: Instant) {
        let text = std::mem::take(&mut self.pending_text);
        self.speech_end = None;
        self.eot_probability = None;
        self.history
            .push(ChatMessage::text(Role::User, text.clone()));
        self.transcript(Role::User, &text, false, None);
        let always = self
            .node
            .as_deref()
            .and_then(|n| self.agent.workflow.as_ref()?.always_from(n))
            .map(str::to_owned);
        if let Some(next) = &always {
            self.enter_node(next);
        }
        if self.without_llm && always.is_some() && !self.hung_up {
            self.after_move();
            return;
        }
        if self.hung_up || self.ending.is_some() && self.turn.is_some() {
            return;
        }
        if self.without_llm {
            self.workflow_turn(now, speech_end, text);
            return;
        }
        let mut t = self.new_turn(TurnKind::Llm);
        t.anchor = Some(speech_end);
        t.latency.end_of_turn_ms = t.ms(now);
        t.latency.asr_final_ms = self
            .asr_final_at
            .filter(|a| *a >= speech_end)
            .and_then(|a| t.ms(a));
        self.answer_turn = Some(t.id);
        self.turn = Some(t);
        self.start_llm();
    }

    /// Without an LLM: move along an "always" edge, or ask for the edges to be scored.
    fn workflow_turn(&mut self, now: Instant, speech_end: Instant, text: String) {
        let _ = (now, speech_end);
        let Some(node) = self.node.clone() else {
            let msg = self.cfg.no_match_message.clone();
            self.speak_scripted(&msg, None);
            return;
        };
        let choices = self
            .agent
            .workflow
            .as_ref()
            .map(|w| w.choices(&node))
            .unwrap_or_default();
        if choices.is_empty() {
            // nothing to choose: the node speaks again (enter_node already took "always" edges)
            self.speak_node();
            return;
        }
        // a turn that only waits for the scores (it speaks once they arrive)
        let t = self.new_turn(TurnKind::Scripted);
        let turn = t.id;
        self.turn = Some(t);
        self.answer_turn = Some(turn);
        let (targets, options): (Vec<String>, Vec<String>) = choices
            .into_iter()
            .map(|(to, when)| (to, crate::text::caller_view(&when)))
            .unzip();
        self.choosing = Some((turn, targets));
        self.emit(Action::ChooseEdge {
            turn,
            text,
            options,
        });
    }

    fn on_edge_scores(&mut self, turn: TurnId, scores: &[f32]) {
        let Some((t, targets)) = self.choosing.take() else {
            return;
        };
        if t != turn {
            return;
        }
        self.turn = None;
        let best = scores
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| *i < targets.len())
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, score)) if score >= self.cfg.edge_threshold => {
                let target = targets[i].clone();
                self.enter_node(&target);
                if !self.hung_up {
                    self.after_move();
                }
            }
            _ => {
                let msg = self.cfg.no_match_message.clone();
                self.speak_scripted(&msg, None);
                // the node did not change: later words may still find an edge
                self.answer_turn = self.turn.as_ref().map(|t| t.id);
            }
        }
    }

    /// Moves the workflow to `id`; tool nodes run their tool and move on.
    fn enter_node(&mut self, id: &str) {
        let Some(w) = self.agent.workflow.clone() else {
            return;
        };
        let mut current = id.to_owned();
        for _ in 0..w.nodes.len() {
            let Some(node) = w.node(&current) else { return };
            self.node = Some(current.clone());
            if node.node_type == NodeType::Conversation {
                return;
            }
            match node.prompt.as_str() {
                "endCall" => {
                    self.ending = Some("agent ended the call (workflow)".into());
                    return;
                }
                tool => {
                    if let Some(turn) = self.turn.as_ref().map(|t| t.id) {
                        let call = ToolCall {
                            id: format!("node-{}", node.id),
                            name: tool.to_owned(),
                            arguments: "{}".into(),
                        };
                        self.emit(Action::RunTool { turn, call });
                    }
                }
            }
            match w.next_after(&current) {
                Some(next) => current = next.to_owned(),
                None => return,
            }
        }
    }

    fn on_llm_done(&mut self) {
        let Some(t) = self.turn.as_mut() else { return };
        t.llm_active = false;
        let rest = t.segmenter.flush();
        let calls: Vec<ToolCall> = std::mem::take(&mut t.tool_calls)
            .into_iter()
            .map(|(i, mut c)| {
                if c.id.is_empty() {
                    c.id = format!("call_{}_{i}", t.id.0);
                }
                c
            })
            .collect();
        if let Some(rest) = rest {
            self.add_segment(rest);
        }
        if calls.is_empty() {
            let nothing = self.turn.as_ref().is_some_and(|t| t.segments.is_empty());
            self.end_speech();
            if nothing {
                // The model had nothing to say: the turn is over.
                self.finish_turn(None);
            }
            return;
        }
        let Some(t) = self.turn.as_mut() else { return };
        let text = t.round_text();
        let turn = t.id;
        t.round_first_segment = t.segments.len();
        let mut msg = ChatMessage::text(Role::Assistant, text.clone());
        msg.tool_calls = calls.clone();
        self.history.push(msg);
        self.transcript(Role::Assistant, &text, false, Some(turn));
        for call in calls {
            self.on_tool_call(turn, call);
        }
        self.after_tools();
    }

    fn on_tool_call(&mut self, turn: TurnId, call: ToolCall) {
        if call.name == TRANSITION_TOOL && self.agent.workflow.is_some() {
            let next = serde_json::from_str::<serde_json::Value>(&call.arguments)
                .ok()
                .and_then(|v| v.get("next").and_then(|n| n.as_str()).map(str::to_owned));
            let choices = self
                .node
                .as_deref()
                .map(|n| {
                    self.agent
                        .workflow
                        .as_ref()
                        .map(|w| w.choices(n))
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            let result = match next {
                Some(n) if choices.iter().any(|(to, _)| *to == n) => {
                    self.enter_node(&n);
                    format!("Moved to step {n}.")
                }
                other => format!(
                    "Error: {other:?} is not one of the options {:?}.",
                    choices.iter().map(|c| &c.0).collect::<Vec<_>>()
                ),
            };
            self.history.push(ChatMessage::tool_result(call.id, result));
            return;
        }
        let def = self
            .agent
            .tools
            .iter()
            .find(|t| t.name == call.name)
            .cloned();
        match def {
            Some(def) if def.kind == ToolKind::EndCall => {
                self.history.push(ChatMessage::tool_result(
                    call.id,
                    "Ending the call after your last words.",
                ));
                self.ending = Some("agent ended the call".into());
            }
            Some(def) => {
                if let Some(t) = self.turn.as_mut() {
                    t.pending_tools.insert(call.id.clone());
                }
                self.emit(Action::RunTool { turn, call });
                if let Some(msg) = def.message {
                    // the caller hears it: it is part of the transcript (not of the model's context)
                    self.transcript(Role::Assistant, &msg, false, Some(turn));
                    self.add_segment(msg);
                    if let Some(t) = self.turn.as_mut() {
                        t.round_first_segment = t.segments.len();
                    }
                }
            }
            None => {
                let result = format!("Error: there is no tool named {:?}.", call.name);
                self.history.push(ChatMessage::tool_result(call.id, result));
            }
        }
    }

    /// Continues the reply once every tool call of the round has its result.
    fn after_tools(&mut self) {
        let Some(t) = self.turn.as_ref() else { return };
        if !t.pending_tools.is_empty() || t.llm_active {
            return;
        }
        if self.ending.is_some() {
            self.end_speech();
            let nothing = self.turn.as_ref().is_some_and(|t| t.segments.is_empty());
            if nothing {
                self.finish_turn(None);
            }
            return;
        }
        self.start_llm();
    }

    /// The turn's audio has all played (or there was none): commit it and move on.
    fn finish_turn(&mut self, now: Option<Instant>) {
        let Some(t) = self.turn.take() else { return };
        let text = t.round_text();
        if !text.is_empty() {
            self.history
                .push(ChatMessage::text(Role::Assistant, text.clone()));
            self.transcript(Role::Assistant, &text, false, Some(t.id));
        }
        if let Some(now) = now {
            self.last_agent_done = Some(now);
        }
        if let Some(reason) = self.ending.take() {
            self.hang_up(reason);
            return;
        }
        // words transcribed while the agent was speaking (too late to join the turn it was
        // answering) are answered now, rather than left unanswered
        if let Some(now) = now
            && !self.pending_text.is_empty()
            && self.speech_end.is_none()
            && !self.caller_speaking
            && self.paused.is_none()
            && self.finals_pending == 0
        {
            let end = self.last_speech_end.unwrap_or(now);
            self.user_turn(now, end);
        }
    }

    /// The caller cut the agent off: stop, and keep only what they heard.
    fn interrupt(&mut self, now: Instant) {
        self.paused = None;
        let Some(t) = self.turn.take() else { return };
        self.emit(Action::StopSpeaking { turn: t.id });
        let heard = t.round_heard();
        if !heard.is_empty() {
            let mut msg = ChatMessage::text(Role::Assistant, heard.clone());
            msg.interrupted = true;
            self.history.push(msg);
            self.transcript(Role::Assistant, &heard, true, Some(t.id));
        }
        for id in &t.pending_tools {
            self.history.push(ChatMessage::tool_result(
                id.clone(),
                "Cancelled: the caller interrupted.",
            ));
        }
        self.last_agent_done = Some(now);
        if let Some(reason) = self.ending.take() {
            self.hang_up(reason);
        }
    }

    fn hang_up(&mut self, reason: String) {
        if !self.hung_up {
            self.hung_up = true;
            self.emit(Action::Hangup { reason });
        }
    }

    fn on_speech_start(&mut self, now: Instant) {
        self.caller_speaking = true;
        self.speech_end = None;
        self.eot_probability = None;
        self.last_caller_activity = Some(now);
        self.reminders = 0;
        if self.turn.is_none() {
            return;
        }
        // The caller went on talking before we answered: drop the answer, and let their
        // words so far join what they are saying now.
        if self.take_back_answer() {
            return;
        }
        if self.paused.is_none() {
            self.paused = Some(Pause {
                since: now,
                speech_ended: None,
            });
            self.emit(Action::PausePlayout);
        }
    }

    fn on_speech_end(&mut self, now: Instant) {
        self.caller_speaking = false;
        self.speech_end = Some(now);
        self.last_speech_end = Some(now);
        self.finals_pending += 1;
        self.last_caller_activity = Some(now);
        if let Some(p) = self.paused.as_mut() {
            p.speech_ended = Some(now);
        }
    }

    fn on_final(&mut self, now: Instant, text: String) {
        self.finals_pending = self.finals_pending.saturating_sub(1);
        self.asr_final_at = Some(now);
        let text = text.trim().to_owned();
        if self.paused.is_some() {
            if meaningful_words(&text) >= self.cfg.min_interrupt_words {
                self.interrupt(now);
                self.pending_text = join(&self.pending_text, &text);
            } else if !self.caller_speaking {
                self.resume();
            }
            return;
        }
        if !text.is_empty() {
            self.pending_text = join(&self.pending_text, &text);
            // A transcript that arrives after the endpointing gave up on it: the caller has
            // been silent all along, so answer now rather than lose their words.
            if self.speech_end.is_none() && !self.caller_speaking && self.turn.is_none() {
                let end = self.last_speech_end.unwrap_or(now);
                self.user_turn(now, end);
            } else if self.speech_end.is_none()
                && !self.caller_speaking
                && self.finals_pending == 0
                && self.take_back_answer()
            {
                // ... or while the answer to the words before them was still being prepared:
                // answer all of them together instead
                let end = self.last_speech_end.unwrap_or(now);
                self.user_turn(now, end);
            }
        }
    }

    /// Drops the answer being prepared to the caller's last words, if nothing of it has played
    /// yet, and puts those words back with what is pending. Whether it did.
    fn take_back_answer(&mut self) -> bool {
        let Some(t) = self.turn.as_ref() else {
            return false;
        };
        if self.answer_turn != Some(t.id)
            || t.started_playing
            || t.round_first_segment != 0
            || self.paused.is_some()
        {
            return false;
        }
        let turn = t.id;
        self.turn = None;
        self.choosing = None;
        self.answer_turn = None;
        self.emit(Action::StopSpeaking { turn });
        if let Some(last) = self.history.last()
            && last.role == Role::User
        {
            let before = self.history.pop().map(|m| m.content).unwrap_or_default();
            self.pending_text = join(&before, &self.pending_text);
        }
        true
    }

    fn resume(&mut self) {
        if self.paused.take().is_some() {
            self.emit(Action::ResumePlayout);
        }
    }

    fn endpoint_wait(&self) -> Duration {
        let unfinished = looks_unfinished(&self.pending_text)
            || self
                .eot_probability
                .is_some_and(|p| p < self.cfg.end_of_turn_threshold);
        if unfinished {
            self.cfg.max_endpointing
        } else {
            self.cfg.min_endpointing
        }
    }

    fn idle(&self) -> bool {
        self.turn.is_none()
            && !self.caller_speaking
            && self.pending_text.is_empty()
            && self.finals_pending == 0
            && self.paused.is_none()
            && self.dtmf.is_empty()
    }

    fn check_timers(&mut self, now: Instant) {
        if self.hung_up {
            return;
        }
        if let (Some(started), false) = (self.started, self.max_duration_hit)
            && now >= started + self.cfg.max_duration
        {
            self.max_duration_hit = true;
            if self.turn.is_some() {
                self.interrupt(now);
            }
            let msg = self.cfg.max_duration_message.clone();
            self.speak_scripted(&msg, Some("maximum call duration reached".into()));
            return;
        }
        if let Some(p) = self.paused
            && !self.caller_speaking
            && p.speech_ended
                .is_some_and(|e| now >= e + self.cfg.false_interrupt_timeout)
        {
            self.resume();
        }
        if let Some(at) = self.dtmf_at
            && (self.dtmf.ends_with('#') || now >= at + self.cfg.dtmf_timeout)
        {
            let digits: String = std::mem::take(&mut self.dtmf)
                .trim_end_matches('#')
                .to_owned();
            self.dtmf_at = None;
            if !digits.is_empty() {
                self.pending_text = join(
                    &self.pending_text,
                    &format!("(The caller pressed the keys: {digits})"),
                );
                // A key press is an explicit end of turn: no endpointing wait.
                if self.turn.is_none() && self.paused.is_none() && !self.caller_speaking {
                    self.user_turn(now, now);
                    return;
                }
                self.speech_end = Some(now);
            }
        }
        if self.turn.is_none()
            && self.paused.is_none()
            && !self.caller_speaking
            && let Some(end) = self.speech_end
        {
            let waited = now.saturating_duration_since(end);
            let final_missing = self.finals_pending > 0 && waited < self.cfg.asr_final_timeout;
            if !final_missing && waited >= self.endpoint_wait() {
                if self.pending_text.is_empty() {
                    self.speech_end = None; // noise: nothing was said
                    self.finals_pending = 0;
                } else {
                    // answered: a transcript still missing (past the timeout) will make
                    // a turn of its own when it comes
                    self.finals_pending = 0;
                    self.user_turn(now, end);
                    return;
                }
            }
        }
        if self.idle() {
            let caller = self.last_caller_activity.unwrap_or(now);
            if now >= caller + self.cfg.silence_timeout {
                let msg = self.cfg.silence_message.clone();
                self.speak_scripted(&msg, Some("caller silent".into()));
            } else if self.reminders < self.cfg.max_reminders {
                let quiet_since = caller.max(self.last_agent_done.unwrap_or(caller));
                if now >= quiet_since + self.cfg.idle_reminder_after {
                    self.reminders += 1;
                    let msg = self.cfg.reminder_message.clone();
                    self.speak_scripted(&msg, None);
                }
            }
        }
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a} {b}"),
    }
}

impl Conversation for VoiceAgent {
    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if self.hung_up {
            return;
        }
        if self.started.is_none() {
            self.start(now);
        }
        let current = self.turn.as_ref().map(|t| t.id);
        match input {
            Input::CallerAudio { vad, .. } => {
                match vad.event {
                    Some(VadEvent::SpeechStart) => self.on_speech_start(now),
                    Some(VadEvent::SpeechEnd) => self.on_speech_end(now),
                    None => {}
                }
                if self.caller_speaking {
                    self.last_caller_activity = Some(now);
                    if self
                        .paused
                        .is_some_and(|p| now >= p.since + self.cfg.min_interrupt)
                    {
                        self.interrupt(now);
                    }
                }
            }
            Input::AsrInterim { text }
                if self.paused.is_some()
                    && meaningful_words(&text) >= self.cfg.min_interrupt_words =>
            {
                self.interrupt(now);
            }
            Input::AsrFinal { text } => self.on_final(now, text),
            Input::EndOfTurn { probability } => self.eot_probability = Some(probability),
            Input::Llm { turn, event } if Some(turn) == current => {
                let Some(t) = self.turn.as_mut() else { return };
                if !t.llm_active {
                    return;
                }
                if t.latency.first_llm_token_ms.is_none() {
                    t.latency.first_llm_token_ms = t.ms(now);
                }
                match event {
                    LlmEvent::Text(text) => {
                        let segments = t.segmenter.push(&text);
                        for s in segments {
                            self.add_segment(s);
                        }
                    }
                    LlmEvent::ToolCall {
                        index,
                        id,
                        name,
                        arguments,
                    } => {
                        let c = t.tool_calls.entry(index).or_insert_with(|| ToolCall {
                            id: String::new(),
                            name: String::new(),
                            arguments: String::new(),
                        });
                        if let Some(id) = id {
                            c.id = id;
                        }
                        if let Some(name) = name {
                            c.name.push_str(&name);
                        }
                        c.arguments.push_str(&arguments);
                    }
                }
            }
            Input::LlmDone { turn }
                if Some(turn) == current && self.turn.as_ref().is_some_and(|t| t.llm_active) =>
            {
                self.on_llm_done();
            }
            Input::LlmFailed { turn, retryable } if Some(turn) == current => {
                let Some(t) = self.turn.as_mut() else { return };
                t.llm_active = false;
                let said_nothing = t.segments.len() == t.round_first_segment;
                if retryable && said_nothing && t.attempts <= self.cfg.llm_retries {
                    self.start_llm();
                } else {
                    if let Some(rest) = t.segmenter.flush() {
                        self.add_segment(rest);
                    }
                    if said_nothing {
                        let msg = self.cfg.error_message.clone();
                        self.add_segment(msg);
                    }
                    self.end_speech();
                }
            }
            Input::TtsAudio {
                turn,
                segment,
                audio,
                complete,
            } if Some(turn) == current => {
                if let Some(t) = self.turn.as_mut() {
                    if t.latency.first_tts_audio_ms.is_none() {
                        t.latency.first_tts_audio_ms = t.ms(now);
                    }
                    if let Some(s) = t.segments.get_mut(segment as usize) {
                        s.audio += audio;
                        s.complete |= complete;
                    }
                }
            }
            Input::EdgeScores { turn, scores } if Some(turn) == current => {
                self.on_edge_scores(turn, &scores)
            }
            Input::ToolResult {
                turn,
                call_id,
                content,
                end_call,
            } if Some(turn) == current => {
                let Some(t) = self.turn.as_mut() else { return };
                if t.pending_tools.remove(&call_id) {
                    self.history
                        .push(ChatMessage::tool_result(call_id, content));
                    if let Some(reason) = end_call {
                        self.ending = Some(reason);
                    }
                    self.after_tools();
                }
            }
            Input::PlaybackStarted { turn } if Some(turn) == current => {
                let Some(t) = self.turn.as_mut() else { return };
                t.started_playing = true;
                if t.kind == TurnKind::Llm && !t.metrics_sent && t.anchor.is_some() {
                    t.latency.first_audio_sent_ms = t.ms(now);
                    t.metrics_sent = true;
                    let m = t.latency.clone();
                    self.emit(Action::TurnMetrics(m));
                }
            }
            Input::PlaybackProgress { turn, played } if Some(turn) == current => {
                if let Some(t) = self.turn.as_mut() {
                    t.started_playing = true;
                    t.played = t.played.max(played);
                }
            }
            Input::PlaybackFinished { turn }
                if Some(turn) == current
                    && self.turn.as_ref().is_some_and(|t| {
                        t.speech_done && t.pending_tools.is_empty() && !t.llm_active
                    }) =>
            {
                self.finish_turn(Some(now));
            }
            Input::Dtmf { digit } => {
                self.dtmf.push(digit);
                self.dtmf_at = Some(now);
                self.last_caller_activity = Some(now);
            }
            _ => {}
        }
        self.check_timers(now);
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.hung_up {
            return None;
        }
        let mut t: Vec<Instant> = Vec::new();
        if let (Some(s), false) = (self.started, self.max_duration_hit) {
            t.push(s + self.cfg.max_duration);
        }
        if let Some(e) = self.paused.and_then(|p| p.speech_ended) {
            t.push(e + self.cfg.false_interrupt_timeout);
        }
        if let Some(at) = self.dtmf_at {
            t.push(at + self.cfg.dtmf_timeout);
        }
        if let (Some(end), true) = (self.speech_end, self.turn.is_none()) {
            t.push(end + self.endpoint_wait());
            if self.finals_pending > 0 {
                t.push(end + self.cfg.asr_final_timeout);
            }
        }
        if self.idle()
            && let Some(caller) = self.last_caller_activity
        {
            t.push(caller + self.cfg.silence_timeout);
            if self.reminders < self.cfg.max_reminders {
                t.push(
                    caller.max(self.last_agent_done.unwrap_or(caller))
                        + self.cfg.idle_reminder_after,
                );
            }
        }
        t.into_iter().min()
    }
}

#[cfg(test)]
#[path = "voice_tests.rs"]
mod tests;
