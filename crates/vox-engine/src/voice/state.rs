//! The states of a voice conversation: the caller's side ([`Caller`], with the [`Words`] of
//! theirs that wait for an answer), the agent's side ([`AgentState`]) and an agent turn's
//! progress ([`Phase`]). Each variant holds only what that state needs, so a combination that
//! cannot happen cannot be written down (the agent cannot be "paused" without a turn to
//! resume, a turn cannot be running tools and streaming the model at once).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use vox_core::{ToolCall, TurnId, TurnLatency};

use crate::text::{SpokenSegment, heard_per_segment};

/// What the caller is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// Not speaking, and no end of speech is being weighed.
    Silent,
    /// Speaking (the VAD's start of speech, not yet its end).
    Speaking,
    /// Stopped at `end`: the endpointing wait runs, and the turn's transcripts come in.
    Pausing {
        /// The VAD's end of speech.
        end: Instant,
    },
}

/// The caller's words that wait for an answer, and what is known about them.
#[derive(Debug, Default)]
pub(crate) struct Words {
    /// Transcribed and not yet answered.
    pub text: String,
    /// How much of `text` is already in the call's transcript (words answered once, then
    /// taken back to be answered again together with what the caller went on to say).
    pub shown: usize,
    /// Speech segments (VAD ends of speech) whose transcript has not arrived: a turn of
    /// several segments is answered only once all are transcribed, or the ASR timeout passed.
    pub pending: u32,
    /// The last end of speech (kept after the endpointing decision, so a late transcript
    /// still makes a turn from the right moment).
    pub last_end: Option<Instant>,
    /// The end-of-turn model's latest probability that the caller is done.
    pub eot: Option<f32>,
    /// When the last transcript arrived.
    pub final_at: Option<Instant>,
    /// The latest interim transcript since the last final, and when it came: the words so
    /// far of the segment being transcribed.
    pub interim: Option<(String, Instant)>,
    /// The words of a segment answered before its final came (its interim), at the end of
    /// the last caller message of the history: the final confirms or corrects them.
    pub guess: Option<String>,
}

impl Words {
    /// Appends `more` (trimmed) to the words waiting.
    pub fn push(&mut self, more: &str) {
        let more = more.trim();
        if more.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(more);
    }
}

/// Keys pressed and not yet sent as a turn.
#[derive(Debug)]
pub(crate) struct Keypad {
    /// The digits so far.
    pub digits: String,
    /// When the last one came.
    pub last: Instant,
}

/// What the agent is doing.
#[derive(Debug)]
pub(crate) enum AgentState {
    /// Nothing to say; quiet since `since`.
    Listening {
        /// When it last stopped speaking (or the call started).
        since: Instant,
    },
    /// A turn is being prepared or spoken.
    Responding(AgentTurn),
    /// The caller spoke over the turn: playout is paused until it is clear whether that was a
    /// cough or a backchannel (resume) or an interruption (stop).
    PausedForPossibleInterrupt {
        /// The turn, kept whole so it can go on where the caller stopped hearing it.
        turn: AgentTurn,
        /// When the caller started speaking over it.
        since: Instant,
        /// When they stopped, if they have.
        speech_ended: Option<Instant>,
    },
    /// The call is over: nothing else happens.
    HungUp,
}

impl AgentState {
    /// The turn in progress, paused or not.
    pub fn turn(&self) -> Option<&AgentTurn> {
        match self {
            Self::Responding(t) | Self::PausedForPossibleInterrupt { turn: t, .. } => Some(t),
            Self::Listening { .. } | Self::HungUp => None,
        }
    }

    /// The same, to change it.
    pub fn turn_mut(&mut self) -> Option<&mut AgentTurn> {
        match self {
            Self::Responding(t) | Self::PausedForPossibleInterrupt { turn: t, .. } => Some(t),
            Self::Listening { .. } | Self::HungUp => None,
        }
    }

    /// Whether `turn` is the turn in progress.
    pub fn is_current(&self, turn: TurnId) -> bool {
        self.turn().is_some_and(|t| t.id == turn)
    }
}

/// Why a turn is spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TurnKind {
    /// On the agent's initiative (first message, reminders, goodbyes, a workflow node after a
    /// move): never taken back.
    Prompt,
    /// Answers the caller's words with fixed text (a workflow choice being scored, "say it
    /// another way").
    ScriptedAnswer,
    /// Answers the caller's words with the model's reply.
    LlmAnswer,
}

impl TurnKind {
    /// Whether it answers the caller's last words (so, until it plays, more words of theirs
    /// make it answer again with all of them).
    pub fn answers_caller(self) -> bool {
        matches!(self, Self::ScriptedAnswer | Self::LlmAnswer)
    }
}

/// Where a turn stands.
#[derive(Debug)]
pub(crate) enum Phase {
    /// The model is streaming this round of the reply.
    Generating {
        /// Requests made for this round (retries of retryable failures count).
        attempts: u32,
    },
    /// The round's tool calls are running.
    AwaitingTools {
        /// Their call ids.
        pending: BTreeSet<String>,
    },
    /// Without a model: waiting for the caller's words to be scored against the workflow's
    /// edges (`targets` are the edges' nodes, in the order of the scores).
    ChoosingEdge {
        /// The candidate nodes.
        targets: Vec<String>,
    },
    /// Everything to say is queued (the TTS was told so); waiting for it to play.
    Delivering,
}

/// What happens when a turn is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum After {
    /// Listen for the caller.
    Listen,
    /// End the call, for this reason.
    HangUp(String),
}

/// A part of a turn's speech committed before the turn ended: a round of the model's reply
/// that came with tool calls (in the model's history at `history`), or a tool's spoken
/// message (only in the transcript).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part {
    /// Its segments.
    pub segments: (usize, usize),
    /// The assistant message holding it, for rounds of the model's reply.
    pub history: Option<usize>,
}

/// One agent turn: what it says, how far that has played, and where it stands.
#[derive(Debug)]
pub(crate) struct AgentTurn {
    pub id: TurnId,
    pub kind: TurnKind,
    pub phase: Phase,
    pub then: After,
    /// Everything spoken or to be spoken, in order.
    pub segments: Vec<SpokenSegment>,
    /// Parts committed earlier in the turn (before tool calls).
    pub parts: Vec<Part>,
    /// The first segment of the current round.
    pub round_start: usize,
    pub segmenter: crate::text::Segmenter,
    /// Tool calls being streamed by the model this round, by index.
    pub tool_calls: BTreeMap<usize, ToolCall>,
    /// Rounds of the model's reply that ended with tool calls, so far.
    pub rounds: u32,
    /// The first of its audio was sent.
    pub started_playing: bool,
    /// Its audio the marks prove was played.
    pub played: Duration,
    /// The caller's end of speech this turn answers (latency milestones count from it).
    pub anchor: Option<Instant>,
    /// The caller's turn this one answers, if it answers one.
    pub answers: Option<CallerTurnEnd>,
    pub latency: TurnLatency,
    pub metrics_sent: bool,
}

/// Where the reply to a caller's turn is timed from: their end of speech, when the engine
/// decided their turn was over, and when the final transcript came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallerTurnEnd {
    pub speech_end: Instant,
    pub decided: Instant,
    pub asr_final: Option<Instant>,
}

impl AgentTurn {
    pub fn new(id: TurnId, kind: TurnKind, phase: Phase) -> Self {
        Self {
            id,
            kind,
            phase,
            then: After::Listen,
            segments: Vec::new(),
            parts: Vec::new(),
            round_start: 0,
            segmenter: crate::text::Segmenter::default(),
            tool_calls: BTreeMap::new(),
            rounds: 0,
            started_playing: false,
            played: Duration::ZERO,
            anchor: None,
            answers: None,
            latency: TurnLatency {
                turn: id.0,
                ..TurnLatency::default()
            },
            metrics_sent: false,
        }
    }

    /// This turn answers the caller's turn that ended as `end` says: its latency milestones
    /// count from their end of speech.
    pub fn answering(&mut self, end: CallerTurnEnd) {
        self.anchor = Some(end.speech_end);
        self.answers = Some(end);
        self.latency.end_of_turn_ms = self.ms(end.decided);
        self.latency.asr_final_ms = end.asr_final.and_then(|a| self.ms(a));
    }

    /// Milliseconds from the anchor to `now` (one decimal).
    pub fn ms(&self, now: Instant) -> Option<f64> {
        self.anchor
            .map(|a| (now.saturating_duration_since(a).as_secs_f64() * 1e4).round() / 10.0)
    }

    /// The text of segments `from..to`.
    pub fn text_of(&self, (from, to): (usize, usize)) -> String {
        self.segments[from..to]
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What the caller heard of segments `from..to`, and whether they heard all of it.
    pub fn heard_of(&self, (from, to): (usize, usize)) -> (String, bool) {
        let per = heard_per_segment(&self.segments, self.played);
        let heard: Vec<&str> = per[from..to]
            .iter()
            .map(String::as_str)
            .filter(|h| !h.is_empty())
            .collect();
        let all = per[from..to]
            .iter()
            .zip(&self.segments[from..to])
            .all(|(h, s)| *h == s.text);
        (heard.join(" "), all)
    }

    /// The current round's segments.
    pub fn round(&self) -> (usize, usize) {
        (self.round_start, self.segments.len())
    }

    /// Whether anything of the turn has been committed or played: then it cannot be taken
    /// back.
    pub fn is_committed(&self) -> bool {
        self.started_playing || !self.parts.is_empty() || self.round_start != 0
    }
}
