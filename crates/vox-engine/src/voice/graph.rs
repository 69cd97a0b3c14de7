//! Workflow graphs: "always" edges taken on the caller's next turn, tool nodes run on the
//! way, endCall nodes end the call; and, without a model, the caller's words scored against
//! each edge's condition (by the actor's embedding model) to choose where to go.

use std::time::Instant;

use vox_core::ToolCall;

use super::VoiceAgent;
use super::state::{After, AgentState, AgentTurn, CallerTurnEnd, Phase, TurnKind};
use crate::io::Action;
use crate::workflow::NodeType;

/// Where entering a node led.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NodeOutcome {
    /// A conversation node (or the end of the graph): the conversation goes on there.
    Stay,
    /// An endCall node: say goodbye and hang up, for this reason.
    EndCall(String),
}

impl VoiceAgent {
    /// Moves the workflow to `id`; tool nodes run their tool (under the turn in progress, if
    /// any) and move on.
    pub(super) fn enter_node(&mut self, id: &str) -> NodeOutcome {
        let Some(w) = self.agent.workflow.clone() else {
            return NodeOutcome::Stay;
        };
        let mut current = id.to_owned();
        for _ in 0..w.nodes.len() {
            let Some(node) = w.node(&current) else {
                return NodeOutcome::Stay;
            };
            self.node = Some(current.clone());
            if node.node_type == NodeType::Conversation {
                return NodeOutcome::Stay;
            }
            match node.prompt.as_str() {
                "endCall" => return NodeOutcome::EndCall("agent ended the call (workflow)".into()),
                tool => {
                    if let Some(turn) = self.state.turn().map(|t| t.id) {
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
                None => return NodeOutcome::Stay,
            }
        }
        NodeOutcome::Stay
    }

    /// After a move without a model: an endCall node says goodbye and hangs up; any other
    /// node speaks. `answers`: the caller's turn that made the move, if one did (the reply
    /// is timed from it).
    pub(super) fn after_move(
        &mut self,
        now: Instant,
        outcome: NodeOutcome,
        answers: Option<CallerTurnEnd>,
    ) {
        match outcome {
            NodeOutcome::EndCall(reason) => self.say_answering(
                now,
                "Goodbye!",
                TurnKind::Prompt,
                After::HangUp(reason),
                answers,
            ),
            NodeOutcome::Stay => self.speak_node(now, answers),
        }
    }

    /// Says what the current node says when entered without a model.
    fn speak_node(&mut self, now: Instant, answers: Option<CallerTurnEnd>) {
        let Some(node) = self
            .node
            .as_deref()
            .and_then(|n| self.agent.workflow.as_ref()?.node(n))
        else {
            return;
        };
        let text = node
            .first_message
            .clone()
            .unwrap_or_else(|| node.prompt.clone());
        self.say_answering(now, &text, TurnKind::Prompt, After::Listen, answers);
    }

    /// Without a model: the caller's words are scored against the node's edges (the turn
    /// waits for the scores; more words before they come are answered together).
    pub(super) fn workflow_turn(&mut self, now: Instant, text: String, end: CallerTurnEnd) {
        let Some(node) = self.node.clone() else {
            let msg = self.cfg.no_match_message.clone();
            self.say_answering(
                now,
                &msg,
                TurnKind::ScriptedAnswer,
                After::Listen,
                Some(end),
            );
            return;
        };
        let choices = self
            .agent
            .workflow
            .as_ref()
            .map(|w| w.choices(&node))
            .unwrap_or_default();
        if choices.is_empty() {
            // nothing to choose: the node speaks again
            self.speak_node(now, Some(end));
            return;
        }
        let (targets, options): (Vec<String>, Vec<String>) = choices
            .into_iter()
            .map(|(to, when)| (to, crate::text::caller_view(&when)))
            .unzip();
        let id = self.next_turn_id();
        let mut choosing = AgentTurn::new(
            id,
            TurnKind::ScriptedAnswer,
            Phase::ChoosingEdge { targets },
        );
        choosing.answering(end);
        self.state = AgentState::Responding(choosing);
        self.emit(Action::ChooseEdge {
            turn: id,
            text,
            options,
        });
    }

    pub(super) fn on_edge_scores(&mut self, now: Instant, scores: &[f32]) {
        let Some(Phase::ChoosingEdge { targets }) = self.state.turn().map(|t| &t.phase) else {
            return;
        };
        let best = scores
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| *i < targets.len())
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let target = match best {
            Some((i, score)) if score >= self.cfg.edge_threshold => Some(targets[i].clone()),
            _ => None,
        };
        let answers = self.state.turn().and_then(|t| t.answers);
        self.state = AgentState::Listening { since: now };
        match target {
            Some(target) => {
                let outcome = self.enter_node(&target);
                self.after_move(now, outcome, answers);
            }
            None => {
                // the node did not change: more words may still find an edge
                let msg = self.cfg.no_match_message.clone();
                self.say_answering(now, &msg, TurnKind::ScriptedAnswer, After::Listen, answers);
            }
        }
    }
}
