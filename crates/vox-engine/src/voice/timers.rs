//! Time: the call's limit (a polite goodbye), the end of a pause that was no interruption,
//! keys pressed then a pause, the endpointing decision, reminders after silence, and the end
//! of a silent call. [`VoiceAgent::next_timer`] is the earliest of them; every timer, once
//! due, changes the state, so a driver that ticks at the deadline never spins.

use std::time::Instant;

use super::VoiceAgent;
use super::state::{After, AgentState, Caller, TurnKind};

impl VoiceAgent {
    /// Whether nothing is going on: the agent listens, the caller is silent and nothing of
    /// theirs waits.
    fn idle(&self) -> bool {
        matches!(self.state, AgentState::Listening { .. })
            && self.caller == Caller::Silent
            && self.words.text.is_empty()
            && self.words.pending == 0
            && self.keypad.is_none()
    }

    /// When a reminder or the silent call's end is due, if the call is idle.
    fn idle_due(&self) -> Option<(Instant, bool)> {
        let AgentState::Listening { since } = self.state else {
            return None;
        };
        if !self.idle() {
            return None;
        }
        let caller = self.last_caller_activity?;
        let silence = caller + self.cfg.silence_timeout;
        let reminder = (self.reminders < self.cfg.max_reminders)
            .then(|| caller.max(since) + self.cfg.idle_reminder_after);
        match reminder {
            Some(r) if r < silence => Some((r, false)),
            _ => Some((silence, true)),
        }
    }

    /// The earliest timer.
    pub(super) fn next_timer(&self) -> Option<Instant> {
        if matches!(self.state, AgentState::HungUp) {
            return None;
        }
        [
            self.deadline,
            self.resume_due(),
            self.keypad.as_ref().map(|k| k.last + self.cfg.dtmf_timeout),
            self.endpoint_due(),
            self.idle_due().map(|(at, _)| at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Acts on the timers that are due at `now` (one at a time where one changes what the
    /// next would see; the driver ticks again at the next deadline).
    pub(super) fn check_timers(&mut self, now: Instant) {
        if matches!(self.state, AgentState::HungUp) {
            return;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            if self.state.turn().is_some() {
                self.interrupt(now);
            }
            if !matches!(self.state, AgentState::HungUp) {
                let msg = self.cfg.max_duration_message.clone();
                self.say(
                    now,
                    &msg,
                    TurnKind::Prompt,
                    After::HangUp("maximum call duration reached".into()),
                );
            }
            return;
        }
        if self.resume_due().is_some_and(|at| now >= at) {
            self.resume();
        }
        if self.keypad_due(now) || self.endpoint(now) {
            return;
        }
        if let Some((at, silence)) = self.idle_due()
            && now >= at
        {
            if silence {
                let msg = self.cfg.silence_message.clone();
                self.say(
                    now,
                    &msg,
                    TurnKind::Prompt,
                    After::HangUp("caller silent".into()),
                );
            } else {
                self.reminders += 1;
                let msg = self.cfg.reminder_message.clone();
                self.say(now, &msg, TurnKind::Prompt, After::Listen);
            }
        }
    }
}
