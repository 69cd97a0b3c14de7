use std::time::{Duration, Instant};

use vox_core::{AudioFrame, ChatMessage, Role, ToolCall, ToolSpec, TurnId, TurnLatency, VadOutput};

/// A piece of the LLM's streamed reply (the engine's own copy of the provider type, so the
/// engine depends on nothing but vox-core).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmEvent {
    /// More text.
    Text(String),
    /// A fragment of tool call `index`.
    ToolCall {
        /// Which call of this reply.
        index: usize,
        /// The call id, when first seen.
        id: Option<String>,
        /// The tool name, when first seen.
        name: Option<String>,
        /// The next piece of the JSON arguments.
        arguments: String,
    },
}

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
    /// A partial transcript of the caller's speech in progress.
    AsrInterim {
        /// Text so far.
        text: String,
    },
    /// The final transcript of a stretch of the caller's speech.
    AsrFinal {
        /// The text (may be empty: noise).
        text: String,
    },
    /// An end-of-turn model's probability that the caller has finished (0..=1).
    EndOfTurn {
        /// Probability the turn is complete.
        probability: f32,
    },
    /// The LLM streamed more of `turn`'s reply.
    Llm {
        /// The turn it belongs to (stale turns are ignored).
        turn: TurnId,
        /// What arrived.
        event: LlmEvent,
    },
    /// The LLM finished `turn`'s reply (this round).
    LlmDone {
        /// The turn.
        turn: TurnId,
    },
    /// The LLM failed.
    LlmFailed {
        /// The turn.
        turn: TurnId,
        /// Whether retrying may help.
        retryable: bool,
    },
    /// TTS produced `audio` more of segment `segment` of `turn`; `complete` once it is done.
    TtsAudio {
        /// The turn.
        turn: TurnId,
        /// The segment (as numbered in [`Action::SpeakText`]).
        segment: u32,
        /// Audio added.
        audio: Duration,
        /// Segment fully synthesized.
        complete: bool,
    },
    /// Similarity of the caller's words to each option of a [`Action::ChooseEdge`] (0..=1,
    /// in the order given), from an embedding model.
    EdgeScores {
        /// The turn.
        turn: TurnId,
        /// One score per option; empty if scoring failed.
        scores: Vec<f32>,
    },
    /// A tool call finished.
    ToolResult {
        /// The turn.
        turn: TurnId,
        /// The call id.
        call_id: String,
        /// The result, as text for the model.
        content: String,
        /// The tool ends the call (a transfer): say what is queued, then hang up with this
        /// reason instead of asking the model again.
        end_call: Option<String>,
    },
    /// The first audio of `turn` was sent to the carrier.
    PlaybackStarted {
        /// The turn.
        turn: TurnId,
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

/// What the engine asks the model.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmCall {
    /// The conversation, system prompt first.
    pub messages: Vec<ChatMessage>,
    /// Tools offered.
    pub tools: Vec<ToolSpec>,
}

/// One line of the call's transcript.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TranscriptEntry {
    /// Who.
    pub role: Role,
    /// What was said (for the agent: what the caller heard).
    pub text: String,
    /// Cut off by the caller.
    pub interrupted: bool,
    /// The agent turn it belongs to, if any.
    pub turn: Option<u64>,
    /// When it was added, ms from the call's start (stamped by the call actor; 0 from the
    /// engine itself, which has no notion of the call's start).
    pub at_ms: u64,
}

/// Something the engine wants done.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Play this audio to the caller as turn `turn` (prerecorded audio; the echo agent).
    Speak {
        /// The new turn.
        turn: TurnId,
        /// The audio, in the internal format.
        audio: Vec<AudioFrame>,
    },
    /// Synthesize and play `text` as segment `segment` of `turn`, after its earlier segments.
    SpeakText {
        /// The turn.
        turn: TurnId,
        /// Segment number within the turn, from 0.
        segment: u32,
        /// The text.
        text: String,
    },
    /// No more segments will follow for `turn`.
    EndOfSpeech {
        /// The turn.
        turn: TurnId,
    },
    /// Ask the LLM (a new request for `turn`; an earlier one for it is finished).
    StartLlm {
        /// The turn.
        turn: TurnId,
        /// The request.
        call: LlmCall,
    },
    /// Score how well the caller's words match each option (agents without an LLM choose
    /// workflow edges this way); answer with [`Input::EdgeScores`].
    ChooseEdge {
        /// The turn.
        turn: TurnId,
        /// What the caller said.
        text: String,
        /// The edges' conditions.
        options: Vec<String>,
    },
    /// Run a tool call.
    RunTool {
        /// The turn.
        turn: TurnId,
        /// The call.
        call: ToolCall,
    },
    /// Caller speech over the agent: stop sending audio and clear the carrier's buffer,
    /// keeping what was not yet heard, in case it was only a cough or a backchannel.
    PausePlayout,
    /// It was: play on from where it stopped.
    ResumePlayout,
    /// Stop speaking now: cancel the turn's LLM, TTS and tools, drop queued audio and clear
    /// the carrier's buffer.
    StopSpeaking {
        /// The turn being cut off.
        turn: TurnId,
    },
    /// A line for the call's transcript.
    Transcript(TranscriptEntry),
    /// A turn's latency milestones (emitted once its first audio has been sent).
    TurnMetrics(TurnLatency),
    /// Words of the caller's that will not be answered, and why (for the log: nothing the
    /// caller said disappears silently).
    CallerWordsDropped {
        /// The words.
        text: String,
        /// Why.
        reason: DropReason,
    },
    /// The post-call survey's result as it stands (after each answer, and at its end).
    Survey(crate::survey::SurveyResult),
    /// End the call.
    Hangup {
        /// Why, for the call record.
        reason: String,
    },
}

/// Why words of the caller's are not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Said over the agent, too few real words to interrupt it ("mm-hm", "okay"): the agent
    /// went on.
    Backchannel,
    /// The call ended before they could be answered.
    CallEnded,
}

impl DropReason {
    /// For logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backchannel => "backchannel",
            Self::CallEnded => "call ended",
        }
    }
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
