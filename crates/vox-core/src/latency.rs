use serde::{Deserialize, Serialize};

/// When each milestone of one agent turn happened, in ms after the caller's speech ended
/// (the VAD's decision). Computed in one place (the engine) from the inputs it is given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnLatency {
    /// The turn.
    pub turn: u64,
    /// The engine decided the caller's turn was over.
    pub end_of_turn_ms: Option<f64>,
    /// The final transcript arrived.
    pub asr_final_ms: Option<f64>,
    /// The LLM's first token (text or tool call) arrived.
    pub first_llm_token_ms: Option<f64>,
    /// The first TTS audio of the reply arrived.
    pub first_tts_audio_ms: Option<f64>,
    /// The first reply audio was sent to the carrier.
    pub first_audio_sent_ms: Option<f64>,
}
