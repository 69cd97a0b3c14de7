//! What a browser call tells its page as it happens, on the page's data channel: each
//! transcript line (the agent's as the caller heard it, so a barge-in trims it), each turn's
//! latency milestones, and how the call ended. JSON text messages, one event each:
//!
//! - `{"type":"transcript","role":"caller"|"agent","text":..,"interrupted":bool,"turn":n|null,"atMs":n}`
//! - `{"type":"interim","text":..}`: the caller's words so far while they speak (streaming
//!   recognizers only); their `transcript` line follows when the turn is taken
//! - `{"type":"speaking","turn":n,"segment":k,"text":..}`: what the agent is about to say, a
//!   sentence at a time; the turn's `transcript` line then says what of it was heard
//! - `{"type":"latency","turn":n,"endOfTurnMs":..,"asrFinalMs":..,"firstTokenMs":..,"firstTtsAudioMs":..,"firstAudioSentMs":..}`
//!   (ms after the caller's end of speech; null when a milestone did not happen)
//! - `{"type":"tool","phase":"called","id":..,"name":..,"arguments":{..}}` and
//!   `{"type":"tool","phase":"result","id":..,"result":..}` (the result's first 500 characters)
//! - `{"type":"ended","reason":..}`

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use vox_call::{CallObserver, CallSummary};
use vox_core::{Role, TurnLatency};
use vox_engine::TranscriptEntry;
use vox_webrtc::Command;

/// Sends the events to the page, then tells the call's own observer (its record), if any.
pub(crate) struct PageEvents {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) inner: Option<Arc<dyn CallObserver>>,
}

impl PageEvents {
    /// Never waits (this runs on the call's loop): an event that finds the queue full is
    /// dropped, the audio it would delay is not.
    fn send(&self, event: &Value) {
        let _ = self.commands.try_send(Command::Send(event.to_string()));
    }
}

/// The transcript event of one line.
pub(crate) fn transcript_event(e: &TranscriptEntry) -> Value {
    let role = match e.role {
        Role::User => "caller",
        Role::Assistant => "agent",
        Role::System => "system",
        Role::Tool => "tool",
    };
    json!({"type": "transcript", "role": role, "text": e.text, "interrupted": e.interrupted, "turn": e.turn, "atMs": e.at_ms})
}

/// The latency event of one turn.
pub(crate) fn latency_event(m: &TurnLatency) -> Value {
    json!({
        "type": "latency", "turn": m.turn, "endOfTurnMs": m.end_of_turn_ms, "asrFinalMs": m.asr_final_ms,
        "firstTokenMs": m.first_llm_token_ms, "firstTtsAudioMs": m.first_tts_audio_ms,
        "firstAudioSentMs": m.first_audio_sent_ms,
    })
}

impl CallObserver for PageEvents {
    fn transcript(&self, all: &[TranscriptEntry]) {
        if let Some(last) = all.last() {
            self.send(&transcript_event(last));
        }
        if let Some(o) = &self.inner {
            o.transcript(all);
        }
    }

    fn latency(&self, turn: &TurnLatency) {
        self.send(&latency_event(turn));
        if let Some(o) = &self.inner {
            o.latency(turn);
        }
    }

    fn tool_called(&self, call: &vox_core::ToolCall) {
        let arguments: Value =
            serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!(call.arguments));
        self.send(&json!({"type": "tool", "phase": "called", "id": call.id, "name": call.name, "arguments": arguments}));
        if let Some(o) = &self.inner {
            o.tool_called(call);
        }
    }

    fn tool_result(&self, id: &str, result: &str) {
        let shown: String = result.chars().take(500).collect();
        self.send(&json!({"type": "tool", "phase": "result", "id": id, "result": shown}));
        if let Some(o) = &self.inner {
            o.tool_result(id, result);
        }
    }

    fn interim(&self, text: &str) {
        self.send(&json!({"type": "interim", "text": text}));
        if let Some(o) = &self.inner {
            o.interim(text);
        }
    }

    fn speaking(&self, turn: vox_core::TurnId, segment: u32, text: &str) {
        self.send(&json!({"type": "speaking", "turn": turn.0, "segment": segment, "text": text}));
        if let Some(o) = &self.inner {
            o.speaking(turn, segment, text);
        }
    }

    fn ended(&self, summary: Option<&CallSummary>) {
        let reason = summary.map_or("internal_error", |s| s.end.kind());
        self.send(&json!({"type": "ended", "reason": reason}));
        if let Some(o) = &self.inner {
            o.ended(summary);
        }
    }
}
