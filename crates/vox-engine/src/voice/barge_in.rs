//! Speech over the agent. The first frame of it pauses playout (clear, keep what was not yet
//! heard); `min_interrupt` of speech, or `min_interrupt_words` words that are not
//! backchannels, make it an interruption: the turn stops, and only what the marks prove the
//! caller heard is committed (to the model's history and the transcript, flagged
//! interrupted). A cough or an "mm-hm" resumes the turn where the caller stopped hearing it.

use std::time::Instant;

use vox_core::{ChatMessage, Role};

use super::VoiceAgent;
use super::state::{After, AgentState, Caller, Phase};
use crate::io::Action;
use crate::text::meaningful_words;

impl VoiceAgent {
    /// The caller started speaking over the turn: pause it.
    pub(super) fn pause(&mut self, now: Instant) {
        match std::mem::replace(&mut self.state, AgentState::HungUp) {
            AgentState::Responding(turn) => {
                self.state = AgentState::PausedForPossibleInterrupt {
                    turn,
                    since: now,
                    speech_ended: None,
                };
                self.emit(Action::PausePlayout);
            }
            AgentState::PausedForPossibleInterrupt { turn, since, .. } => {
                // speaking again while still paused: wait for this speech's end
                self.state = AgentState::PausedForPossibleInterrupt {
                    turn,
                    since,
                    speech_ended: None,
                };
            }
            other => self.state = other,
        }
    }

    /// It was a cough or a backchannel: play on.
    pub(super) fn resume(&mut self) {
        match std::mem::replace(&mut self.state, AgentState::HungUp) {
            AgentState::PausedForPossibleInterrupt { turn, .. } => {
                self.state = AgentState::Responding(turn);
                self.emit(Action::ResumePlayout);
            }
            other => self.state = other,
        }
    }

    /// Speech over the agent has lasted long enough to be an interruption.
    pub(super) fn interrupt_if_long(&mut self, now: Instant) {
        if let AgentState::PausedForPossibleInterrupt { since, .. } = self.state
            && now >= since + self.cfg.min_interrupt
        {
            self.interrupt(now);
        }
    }

    /// A partial transcript over the agent with enough real words is an interruption.
    pub(super) fn on_interim(&mut self, now: Instant, text: &str) {
        if matches!(self.state, AgentState::PausedForPossibleInterrupt { .. })
            && meaningful_words(text) >= self.cfg.min_interrupt_words
        {
            self.interrupt(now);
        }
    }

    /// A pause is over without an interruption once the caller has been quiet long enough.
    pub(super) fn resume_due(&self) -> Option<Instant> {
        match self.state {
            AgentState::PausedForPossibleInterrupt {
                speech_ended: Some(end),
                ..
            } if self.caller != Caller::Speaking => Some(end + self.cfg.false_interrupt_timeout),
            _ => None,
        }
    }

    /// The caller cut the agent off (or the call ran out of time): stop, and keep only what
    /// they heard.
    pub(super) fn interrupt(&mut self, now: Instant) {
        let turn = match std::mem::replace(&mut self.state, AgentState::Listening { since: now }) {
            AgentState::Responding(t) | AgentState::PausedForPossibleInterrupt { turn: t, .. } => t,
            other => {
                self.state = other;
                return;
            }
        };
        self.emit(Action::StopSpeaking { turn: turn.id });
        // parts committed before tool calls: trimmed to what was heard of them
        for part in &turn.parts {
            let (heard, all) = turn.heard_of(part.segments);
            if let Some(msg) = part.history.and_then(|i| self.history.get_mut(i)) {
                msg.content = heard.clone();
                msg.interrupted |= !all;
            }
            self.transcript(Role::Assistant, &heard, !all, Some(turn.id));
        }
        let (heard, _) = turn.heard_of(turn.round());
        if !heard.is_empty() {
            let mut msg = ChatMessage::text(Role::Assistant, heard.clone());
            msg.interrupted = true;
            self.history.push(msg);
        }
        self.transcript(Role::Assistant, &heard, true, Some(turn.id));
        if let Phase::AwaitingTools { pending } = &turn.phase {
            for id in pending {
                self.history.push(ChatMessage::tool_result(
                    id.clone(),
                    "Cancelled: the caller interrupted.",
                ));
            }
        }
        if let After::HangUp(reason) = turn.then {
            self.hang_up(reason);
        }
    }
}
