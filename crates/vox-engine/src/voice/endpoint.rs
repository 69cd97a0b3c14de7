//! The caller's side: when they start and stop speaking, their transcripts, and the decision
//! that their turn is over (after the endpointing wait, once every segment of the turn is
//! transcribed or the ASR timeout passed). Words that come late are never lost: with the
//! agent listening they make a turn at once; while the answer to the words before them has
//! not started playing, that answer is taken back and all the words are answered together;
//! while the agent speaks, they are answered when it is done.

use std::time::{Duration, Instant};

use vox_core::{ChatMessage, Role};

use super::state::{AgentState, Caller, CallerTurnEnd, Phase, TurnKind};
use super::{Mode, VoiceAgent};
use crate::io::{Action, DropReason};
use crate::text::{looks_unfinished, meaningful_words, words_of};

/// An interim older than this at the end of speech does not stand for the segment's final.
const INTERIM_BEFORE_END: Duration = Duration::from_millis(500);

impl VoiceAgent {
    pub(super) fn on_speech_start(&mut self, now: Instant) {
        self.caller = Caller::Speaking;
        self.words.eot = None;
        // interims from here on are of the new segment
        self.words.interim = None;
        self.last_caller_activity = Some(now);
        self.reminders = 0;
        if matches!(self.state, AgentState::Listening { .. }) {
            return;
        }
        // The caller went on talking before we answered: take the answer back, and let their
        // words so far join what they are saying now.
        if self.take_back_answer(now) {
            return;
        }
        self.pause(now);
    }

    pub(super) fn on_speech_end(&mut self, now: Instant) {
        if self.caller != Caller::Speaking {
            return; // an end without a start: no segment was cut
        }
        self.caller = Caller::Pausing { end: now };
        self.words.pending += 1;
        self.words.last_end = Some(now);
        self.last_caller_activity = Some(now);
        if let AgentState::PausedForPossibleInterrupt { speech_ended, .. } = &mut self.state {
            *speech_ended = Some(now);
        }
    }

    /// An interim transcript: the words so far of the segment being transcribed (those of a
    /// segment already answered on its interim are not).
    pub(super) fn on_interim_words(&mut self, now: Instant, text: &str) {
        let text = text.trim();
        if !text.is_empty() && (self.words.guess.is_none() || self.caller == Caller::Speaking) {
            self.words.interim = Some((text.to_owned(), now));
        }
    }

    /// The interim of the last segment, if it may stand for its final: only that final is
    /// missing, and the interim came no more than [`INTERIM_BEFORE_END`] before the end of
    /// speech (an older one misses the words said since).
    fn usable_interim(&self) -> Option<&str> {
        let (text, at) = self.words.interim.as_ref()?;
        let end = self.words.last_end?;
        (self.words.pending == 1 && self.words.guess.is_none() && *at + INTERIM_BEFORE_END >= end)
            .then_some(text.as_str())
    }

    pub(super) fn on_final(&mut self, now: Instant, text: &str) {
        self.words.final_at = Some(now);
        self.words.interim = None;
        let text = text.trim();
        if let Some(guess) = self.words.guess.take() {
            // its segment was counted out when it was answered on the interim
            if self.settle_guess(now, guess, text) {
                return;
            }
        } else {
            self.words.pending = self.words.pending.saturating_sub(1);
        }
        if matches!(self.state, AgentState::PausedForPossibleInterrupt { .. }) {
            if meaningful_words(text) >= self.cfg.min_interrupt_words {
                // theirs before the interruption, so they are answered (or, if it ends the
                // call, reported) with the rest
                self.words.push(text);
                self.interrupt(now);
            } else {
                if !text.is_empty() {
                    self.emit(Action::CallerWordsDropped {
                        text: text.to_owned(),
                        reason: DropReason::Backchannel,
                    });
                }
                if self.caller != Caller::Speaking {
                    self.resume();
                }
            }
            return;
        }
        if text.is_empty() {
            return; // noise
        }
        self.words.push(text);
        if self.caller != Caller::Silent {
            return; // the endpointing decision will take them
        }
        // A transcript after the endpointing decision gave up on it: the caller has been
        // silent all along, so answer now rather than lose their words...
        if matches!(self.state, AgentState::Listening { .. }) {
            let end = self.words.last_end.unwrap_or(now);
            self.user_turn(now, end);
        } else if self.words.pending == 0 && self.take_back_answer(now) {
            // ... or while the answer to the words before them was still being prepared:
            // answer all of them together instead
            let end = self.words.last_end.unwrap_or(now);
            self.user_turn(now, end);
        }
    }

    /// The final of words answered on their interim came: the same words leave the answer
    /// as it is; other words replace them where they are, and an answer nothing of which was
    /// heard yet is made again. Either way the final is what the transcript shows. Whether
    /// it is settled (if the interim's words are nowhere to be found, the final is handled
    /// as any other).
    fn settle_guess(&mut self, now: Instant, guess: String, text: &str) -> bool {
        let same = words_of(&guess) == words_of(text);
        let Some(msg) = self
            .history
            .iter_mut()
            .rev()
            .find(|m| m.role == Role::User && m.content.ends_with(&guess))
        else {
            return false;
        };
        let keep = msg.content.len() - guess.len();
        msg.content.truncate(keep);
        msg.content.push_str(text);
        self.transcript(Role::User, text, false, None);
        if !same && self.take_back_answer(now) {
            // every word of it is in the transcript now
            self.words.shown = self.words.text.len();
            let end = self.words.last_end.unwrap_or(now);
            self.user_turn(now, end);
        }
        true
    }

    /// Drops the answer being prepared to the caller's last words, if nothing of it has been
    /// played or committed, and puts those words back in front of what waits. Whether it did.
    pub(super) fn take_back_answer(&mut self, now: Instant) -> bool {
        let AgentState::Responding(t) = &self.state else {
            return false;
        };
        if !t.kind.answers_caller() || t.is_committed() {
            return false;
        }
        let turn = t.id;
        self.state = AgentState::Listening { since: now };
        self.emit(Action::StopSpeaking { turn });
        if self.history.last().is_some_and(|m| m.role == Role::User) {
            let mut before = self.history.pop().map(|m| m.content).unwrap_or_default();
            if let Some(rest) = self
                .words
                .guess
                .take()
                .and_then(|g| before.strip_suffix(g.as_str()).map(str::to_owned))
            {
                // answered on an interim whose final has not come: the final brings those
                // words again, as for any segment still being transcribed
                before = rest.trim_end().to_owned();
                self.words.pending += 1;
            }
            let after = std::mem::take(&mut self.words.text);
            self.words.text = before;
            self.words.shown = self.words.text.len();
            self.words.push(&after);
        }
        true
    }

    /// The words the decision weighs: those transcribed, and the interim words of a segment
    /// whose final has not come.
    fn words_so_far(&self) -> std::borrow::Cow<'_, str> {
        match self.usable_interim() {
            Some(i) => format!("{} {i}", self.words.text).into(),
            None => self.words.text.as_str().into(),
        }
    }

    /// How long to wait after the end of speech before answering.
    pub(super) fn endpoint_wait(&self) -> Duration {
        let unfinished = looks_unfinished(&self.words_so_far())
            || self
                .words
                .eot
                .is_some_and(|p| p < self.cfg.end_of_turn_threshold);
        if unfinished {
            self.cfg.max_endpointing
        } else {
            self.cfg.min_endpointing
        }
    }

    /// When the endpointing decision is due, if one is being weighed: after the wait, and
    /// once every segment is transcribed or the ASR timeout passed.
    pub(super) fn endpoint_due(&self) -> Option<Instant> {
        let (Caller::Pausing { end }, AgentState::Listening { .. }) = (self.caller, &self.state)
        else {
            return None;
        };
        let wait = self.endpoint_wait();
        let until_final = wait.max(self.cfg.asr_final_timeout);
        Some(
            end + match self.words.pending {
                0 => wait,
                1 if self.usable_interim().is_some() => {
                    (wait + self.cfg.interim_answer_after).min(until_final)
                }
                _ => until_final,
            },
        )
    }

    /// Decides the caller's turn is over if it is due: their words make a turn, or, if there
    /// are none, it was noise. Whether a turn was made.
    pub(super) fn endpoint(&mut self, now: Instant) -> bool {
        let Caller::Pausing { end } = self.caller else {
            return false;
        };
        if self.endpoint_due().is_none_or(|due| now < due) {
            return false;
        }
        self.caller = Caller::Silent;
        if let Some(interim) = self.usable_interim().map(str::to_owned) {
            // the last segment's final is late: its interim is answered, and the final will
            // confirm or correct it
            self.words.interim = None;
            self.words.push(&interim);
            self.words.guess = Some(interim);
        }
        // a transcript still missing (past the timeout) makes a turn of its own when it comes
        self.words.pending = 0;
        if self.words.text.is_empty() {
            return false; // noise: nothing was said
        }
        self.user_turn(now, end);
        true
    }

    /// The caller's turn is over: their words go to the model (or the workflow), and the
    /// agent answers.
    pub(super) fn user_turn(&mut self, now: Instant, speech_end: Instant) {
        let end = CallerTurnEnd {
            speech_end,
            decided: now,
            asr_final: self.words.final_at.filter(|a| *a >= speech_end),
        };
        let text = std::mem::take(&mut self.words.text);
        // words answered on their interim are shown once their final comes
        let held = match &self.words.guess {
            Some(g) => text.len().saturating_sub(g.len()),
            None => text.len(),
        };
        let new = text.get(self.words.shown..held).unwrap_or("").to_owned();
        self.words.shown = 0;
        self.words.eot = None;
        self.history
            .push(ChatMessage::text(Role::User, text.clone()));
        self.transcript(Role::User, &new, false, None);
        let always = self
            .node
            .as_deref()
            .and_then(|n| self.agent.workflow.as_ref()?.always_from(n))
            .map(str::to_owned);
        let moved = always.map(|next| self.enter_node(&next));
        match (self.mode, moved) {
            (Mode::WorkflowByEmbedding, Some(outcome)) => self.after_move(now, outcome, Some(end)),
            (Mode::WorkflowByEmbedding, None) => self.workflow_turn(now, text, end),
            (Mode::Llm, outcome) => {
                self.answer_with_llm(end);
                if let (Some(super::graph::NodeOutcome::EndCall(reason)), Some(t)) =
                    (outcome, self.state.turn_mut())
                {
                    t.then = super::state::After::HangUp(reason);
                }
            }
        }
    }

    /// Keys pressed and then a pause (or `#`): the digits are the caller's words, and an
    /// explicit end of turn. Whether a turn was made.
    pub(super) fn keypad_due(&mut self, now: Instant) -> bool {
        let Some(k) = &self.keypad else { return false };
        if !(k.digits.ends_with('#') || now >= k.last + self.cfg.dtmf_timeout) {
            return false;
        }
        let digits = self.keypad.take().map(|k| k.digits).unwrap_or_default();
        let digits = digits.trim_end_matches('#');
        if digits.is_empty() {
            return false;
        }
        self.words
            .push(&format!("(The caller pressed the keys: {digits})"));
        match (self.caller, &self.state) {
            (Caller::Silent, AgentState::Listening { .. }) => {
                self.user_turn(now, now);
                true
            }
            // answered when the agent is done, or with what the caller is saying
            (Caller::Silent, _) => {
                self.caller = Caller::Pausing { end: now };
                false
            }
            _ => false,
        }
    }

    /// Answers the caller's words with the model: a new turn, anchored at their end of speech.
    fn answer_with_llm(&mut self, end: CallerTurnEnd) {
        let id = self.next_turn_id();
        let mut t = super::state::AgentTurn::new(
            id,
            TurnKind::LlmAnswer,
            Phase::Generating { attempts: 0 },
        );
        t.answering(end);
        self.state = AgentState::Responding(t);
        self.start_llm();
    }
}
