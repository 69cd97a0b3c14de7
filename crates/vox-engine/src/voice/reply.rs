//! The model's reply: streamed text cut into segments for TTS as it comes, tool calls run
//! and their results fed back for the next round, retries of retryable failures, an apology
//! when the model gives up; and the end of a turn, when everything has played: the reply
//! goes into the model's history and the transcript, and words the caller said meanwhile are
//! answered.

use std::time::Instant;

use vox_core::{ChatMessage, Role, ToolCall};

use super::state::{After, AgentState, Caller, Part, Phase};
use super::{VoiceAgent, with_id};
use crate::agent::ToolKind;
use crate::io::{Action, LlmCall, LlmEvent};
use crate::text::Segmenter;
use crate::workflow::TRANSITION_TOOL;

/// The most rounds of tool calls and replies the model gets in one turn.
pub(super) const MAX_ROUNDS: u32 = 8;

impl VoiceAgent {
    fn llm_call(&self) -> LlmCall {
        let workflow = self.agent.workflow.as_ref();
        let node = self.node.as_deref().and_then(|n| workflow?.node(n));
        let transitions = match (workflow, &self.node) {
            (Some(w), Some(n)) => w.choices(n),
            _ => Vec::new(),
        };
        let system = self
            .agent
            .system_prompt(node.map(|n| n.prompt.as_str()), &transitions);
        let mut messages = vec![ChatMessage::text(Role::System, system)];
        messages.extend(self.history.iter().cloned());
        let mut tools: Vec<_> = self.agent.tools.iter().map(|t| t.spec()).collect();
        if let (Some(w), Some(n)) = (workflow, &self.node) {
            tools.extend(w.transition_tool(n));
        }
        LlmCall { messages, tools }
    }

    /// Asks the model for (the next round of) the current turn's reply.
    pub(super) fn start_llm(&mut self) {
        let call = self.llm_call();
        let Some(t) = self.state.turn_mut() else {
            return;
        };
        let attempts = match t.phase {
            Phase::Generating { attempts } => attempts + 1,
            _ => 1,
        };
        t.phase = Phase::Generating { attempts };
        t.segmenter = Segmenter::default();
        let turn = t.id;
        self.emit(Action::StartLlm { turn, call });
    }

    pub(super) fn on_llm_event(&mut self, now: Instant, event: LlmEvent) {
        let Some(t) = self.state.turn_mut() else {
            return;
        };
        if !matches!(t.phase, Phase::Generating { .. }) {
            return;
        }
        if t.latency.first_llm_token_ms.is_none() {
            t.latency.first_llm_token_ms = t.ms(now);
        }
        match event {
            LlmEvent::Text(text) => {
                for s in t.segmenter.push(&text) {
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

    pub(super) fn on_llm_failed(&mut self, now: Instant, retryable: bool) {
        let Some(t) = self.state.turn_mut() else {
            return;
        };
        let Phase::Generating { attempts } = t.phase else {
            return;
        };
        let said_nothing = t.segments.len() == t.round_start;
        if retryable && said_nothing && attempts <= self.cfg.llm_retries {
            self.start_llm();
            return;
        }
        if let Some(rest) = t.segmenter.flush() {
            self.add_segment(rest);
        }
        if said_nothing {
            let msg = self.cfg.error_message.clone();
            self.add_segment(msg);
        }
        self.end_speech(now);
    }

    pub(super) fn on_llm_done(&mut self, now: Instant) {
        let Some(t) = self.state.turn_mut() else {
            return;
        };
        if !matches!(t.phase, Phase::Generating { .. }) {
            return;
        }
        let rest = t.segmenter.flush();
        let id = t.id;
        let calls: Vec<ToolCall> = std::mem::take(&mut t.tool_calls)
            .into_iter()
            .map(|(i, c)| with_id(id, i, c))
            .collect();
        if let Some(rest) = rest {
            self.add_segment(rest);
        }
        if calls.is_empty() {
            self.end_speech(now);
            return;
        }
        // the round so far goes into the history with its tool calls (the model's protocol
        // wants them there before their results); cut back to what was heard if the caller
        // interrupts later
        let Some(t) = self.state.turn_mut() else {
            return;
        };
        let round = t.round();
        let mut msg = ChatMessage::text(Role::Assistant, t.text_of(round));
        msg.tool_calls = calls.clone();
        t.parts.push(Part {
            segments: round,
            history: Some(self.history.len()),
        });
        t.round_start = t.segments.len();
        t.phase = Phase::AwaitingTools {
            pending: Default::default(),
        };
        self.history.push(msg);
        for call in calls {
            self.on_tool_call(id, call);
        }
        self.after_tools(now);
    }

    fn on_tool_call(&mut self, turn: vox_core::TurnId, call: ToolCall) {
        if call.name == TRANSITION_TOOL && self.agent.workflow.is_some() {
            let next = serde_json::from_str::<serde_json::Value>(&call.arguments)
                .ok()
                .and_then(|v| v.get("next").and_then(|n| n.as_str()).map(str::to_owned));
            let choices = self
                .node
                .as_deref()
                .and_then(|n| Some(self.agent.workflow.as_ref()?.choices(n)))
                .unwrap_or_default();
            let result = match next {
                Some(n) if choices.iter().any(|(to, _)| *to == n) => {
                    if let super::graph::NodeOutcome::EndCall(reason) = self.enter_node(&n)
                        && let Some(t) = self.state.turn_mut()
                    {
                        t.then = After::HangUp(reason);
                    }
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
                if let Some(t) = self.state.turn_mut() {
                    t.then = After::HangUp("agent ended the call".into());
                }
            }
            Some(def) => {
                if let Some(t) = self.state.turn_mut()
                    && let Phase::AwaitingTools { pending } = &mut t.phase
                {
                    pending.insert(call.id.clone());
                }
                self.emit(Action::RunTool { turn, call });
                if let Some(msg) = def.message {
                    // the caller hears it while the tool runs: a part of the turn's speech, in
                    // the transcript but not in the model's context
                    self.add_segment(msg);
                    if let Some(t) = self.state.turn_mut() {
                        t.parts.push(Part {
                            segments: t.round(),
                            history: None,
                        });
                        t.round_start = t.segments.len();
                    }
                }
            }
            None => {
                let result = format!("Error: there is no tool named {:?}.", call.name);
                self.history.push(ChatMessage::tool_result(call.id, result));
            }
        }
    }

    pub(super) fn on_tool_result(
        &mut self,
        now: Instant,
        call_id: String,
        content: String,
        end_call: Option<String>,
    ) {
        let Some(t) = self.state.turn_mut() else {
            return;
        };
        let Phase::AwaitingTools { pending } = &mut t.phase else {
            return;
        };
        if !pending.remove(&call_id) {
            return;
        }
        if let Some(reason) = end_call {
            t.then = After::HangUp(reason);
        }
        self.history
            .push(ChatMessage::tool_result(call_id, content));
        self.after_tools(now);
    }

    /// Once every tool call of the round has its result: the next round of the reply, or, if
    /// the call is ending, only what is queued is said.
    fn after_tools(&mut self, now: Instant) {
        let Some(t) = self.state.turn_mut() else {
            return;
        };
        if let Phase::AwaitingTools { pending } = &t.phase
            && !pending.is_empty()
        {
            return;
        }
        t.rounds += 1;
        if matches!(t.then, After::HangUp(_)) || t.rounds >= MAX_ROUNDS {
            // a model that keeps calling tools (one that does not exist, say) is not asked
            // again and again: the turn ends with what it has said
            self.end_speech(now);
        } else {
            self.start_llm();
        }
    }

    /// The turn is over (everything played, or there was nothing to say): commit it, then
    /// hang up if it was the last, or answer the words the caller said meanwhile.
    pub(super) fn finish_turn(&mut self, now: Instant) {
        let turn = match std::mem::replace(&mut self.state, AgentState::Listening { since: now }) {
            AgentState::Responding(t) | AgentState::PausedForPossibleInterrupt { turn: t, .. } => t,
            other => {
                self.state = other;
                return;
            }
        };
        for part in &turn.parts {
            self.transcript(
                Role::Assistant,
                &turn.text_of(part.segments),
                false,
                Some(turn.id),
            );
        }
        let text = turn.text_of(turn.round());
        if !text.is_empty() {
            self.history
                .push(ChatMessage::text(Role::Assistant, text.clone()));
            self.transcript(Role::Assistant, &text, false, Some(turn.id));
        }
        if let After::HangUp(reason) = turn.then {
            self.hang_up(reason);
            return;
        }
        // words transcribed while the agent was speaking (too late to join the turn it was
        // answering) are answered now, rather than left unanswered
        if !self.words.text.is_empty() && self.caller == Caller::Silent && self.words.pending == 0 {
            let end = self.words.last_end.unwrap_or(now);
            self.user_turn(now, end);
        }
    }
}
