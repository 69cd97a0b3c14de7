//! The engine's settings (the `[conversation]` section becomes these).

use std::time::Duration;

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
    /// A turn whose last segment's final is still missing this long after the endpointing
    /// wait is answered on that segment's interim transcript, if there is one; the final
    /// then confirms it, or corrects it (the answer is taken back and made again if none of
    /// it was heard). At `asr_final_timeout` or more the final is waited for.
    pub interim_answer_after: Duration,
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
            interim_answer_after: Duration::from_millis(200),
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

impl EngineConfig {
    /// These settings with the agent's own call settings applied (its maximum duration, idle
    /// reminders and patience).
    pub fn for_agent(&self, agent: &crate::AgentSpec) -> Self {
        let mut cfg = self.clone();
        if let Some(secs) = agent.max_call_duration {
            cfg.max_duration = Duration::from_secs(u64::from(secs));
        }
        match agent.send_user_idle_reminders {
            Some(false) => cfg.max_reminders = 0,
            Some(true) if cfg.max_reminders == 0 => cfg.max_reminders = 1,
            _ => {}
        }
        if let Some(secs) = agent.reminder_after_idle_time_seconds {
            cfg.idle_reminder_after = Duration::from_secs(u64::from(secs));
        }
        match agent.patience_level {
            Some(crate::agent::Patience::Low) => {
                cfg.min_endpointing /= 2;
                cfg.max_endpointing = cfg.max_endpointing * 2 / 3;
            }
            Some(crate::agent::Patience::High) => {
                cfg.min_endpointing *= 2;
                cfg.max_endpointing = cfg.max_endpointing * 3 / 2;
            }
            Some(crate::agent::Patience::Medium) | None => {}
        }
        // a caller who pauses is never waited for longer than the longest wait
        cfg.max_endpointing = cfg.max_endpointing.max(cfg.min_endpointing);
        cfg
    }
}
