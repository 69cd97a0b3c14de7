use std::time::{Duration, Instant};

use vox_core::{AudioFrame, TurnId, VadOutput};

/// Something that happened on the call, handed to the engine with the time it happened.
#[derive(Debug)]
pub enum Input<'a> {
    /// One 20 ms caller frame with the VAD's verdict on it.
    CallerAudio {
        /// The audio.
        frame: &'a AudioFrame,
        /// The VAD's decision for this frame.
        vad: VadOutput,
    },
    /// The carrier confirmed (by marks) that `played` of the turn's audio has been heard.
    PlaybackProgress {
        /// The turn whose audio is playing.
        turn: TurnId,
        /// Audio of this turn played so far.
        played: Duration,
    },
    /// Everything queued for `turn` has been played.
    PlaybackFinished {
        /// The turn.
        turn: TurnId,
    },
    /// The caller pressed a key.
    Dtmf {
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
    },
    /// A timer the engine asked for (see [`Conversation::poll_timeout`]) is due.
    Tick,
}

/// Something the engine wants done.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Play this audio to the caller as turn `turn`.
    Speak {
        /// The new turn.
        turn: TurnId,
        /// The audio, in the internal format.
        audio: Vec<AudioFrame>,
    },
    /// Stop speaking now: drop queued audio and clear the carrier's buffer.
    StopSpeaking {
        /// The turn being cut off.
        turn: TurnId,
    },
    /// End the call.
    Hangup {
        /// Why, for the call record.
        reason: String,
    },
}

/// A conversation policy, driven in (possibly virtual) time by the call actor.
pub trait Conversation: Send + std::fmt::Debug {
    /// Feeds one input observed at `now`.
    fn handle_input(&mut self, now: Instant, input: Input<'_>);
    /// The next action to carry out, if any. Call until `None` after each input.
    fn poll_action(&mut self) -> Option<Action>;
    /// When the engine next needs an [`Input::Tick`], if ever.
    fn poll_timeout(&self) -> Option<Instant>;
}
