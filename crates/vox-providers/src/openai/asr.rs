use std::collections::VecDeque;

use futures::stream::FuturesOrdered;
use futures::StreamExt;
use tokio::sync::mpsc;
use vox_core::{AudioFrame, VadEvent, VadOutput, INTERNAL_RATE};

use super::{http_client, OpenAiEndpoint};
use crate::{AsrEvent, AsrProvider, AsrSession, ProviderError};

/// Frames kept from before the VAD's onset decision, so a segment includes its start.
const PREROLL_FRAMES: usize = 10;
/// A segment longer than this is sent even while speech continues (30 s).
const MAX_SEGMENT_FRAMES: usize = 1500;

/// `POST /audio/transcriptions` on each VAD segment (multipart WAV, 16 kHz mono). Replies
/// are read as plain JSON `{"text": ...}`, which every compatible server returns. Segments
/// are transcribed concurrently and reported in order.
#[derive(Debug, Clone)]
pub struct OpenAiAsr {
    http: reqwest::Client,
    endpoint: OpenAiEndpoint,
}

impl OpenAiAsr {
    /// An adapter for `endpoint`.
    pub fn new(endpoint: &OpenAiEndpoint) -> Self {
        Self { http: http_client(), endpoint: endpoint.clone() }
    }
}

impl AsrProvider for OpenAiAsr {
    fn session(&self) -> AsrSession {
        // 2 s of audio may queue while we are busy; the actor drops (and counts) beyond.
        let (audio_tx, audio_rx) = mpsc::channel(100);
        let (events_tx, events_rx) = mpsc::channel(16);
        tokio::spawn(run_session(self.clone(), audio_rx, events_tx));
        AsrSession { audio: audio_tx, events: events_rx }
    }
}

async fn run_session(asr: OpenAiAsr, mut audio: mpsc::Receiver<(AudioFrame, VadOutput)>, events: mpsc::Sender<AsrEvent>) {
    let mut preroll: VecDeque<AudioFrame> = VecDeque::with_capacity(PREROLL_FRAMES);
    let mut segment: Option<Vec<AudioFrame>> = None;
    let mut inflight = FuturesOrdered::new();
    loop {
        tokio::select! {
            item = audio.recv() => {
                let Some((frame, vad)) = item else { break };
                if vad.event == Some(VadEvent::SpeechStart) && segment.is_none() {
                    segment = Some(preroll.drain(..).collect());
                }
                match segment.as_mut() {
                    Some(seg) => seg.push(frame),
                    None => {
                        if preroll.len() == PREROLL_FRAMES {
                            preroll.pop_front();
                        }
                        preroll.push_back(frame);
                    }
                }
                let long = segment.as_ref().is_some_and(|s| s.len() >= MAX_SEGMENT_FRAMES);
                if (vad.event == Some(VadEvent::SpeechEnd) || long)
                    && let Some(seg) = segment.take() {
                        inflight.push_back(transcribe(asr.clone(), seg));
                    }
            }
            Some(result) = inflight.next(), if !inflight.is_empty() => {
                let event = match result {
                    Ok(text) => AsrEvent::Final(text),
                    Err(e) => AsrEvent::Error(e),
                };
                if events.send(event).await.is_err() {
                    return;
                }
            }
        }
    }
    // The call ended: finish what was already sent so nothing heard is lost.
    while let Some(result) = inflight.next().await {
        let _ = events.send(result.map_or_else(AsrEvent::Error, AsrEvent::Final)).await;
    }
}

fn wav_bytes(frames: &[AudioFrame]) -> Vec<u8> {
    let n = frames.len() * vox_core::FRAME_SAMPLES;
    let data_len = (n * 2) as u32;
    let rate = INTERNAL_RATE.hz();
    let mut out = Vec::with_capacity(44 + n * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for f in frames {
        for s in f.samples() {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    out
}

async fn transcribe(asr: OpenAiAsr, frames: Vec<AudioFrame>) -> Result<String, ProviderError> {
    let part = reqwest::multipart::Part::bytes(wav_bytes(&frames))
        .file_name("segment.wav")
        .mime_str("audio/wav")
        .map_err(|e| ProviderError::new("asr", e.to_string(), false))?;
    let form = reqwest::multipart::Form::new().text("model", asr.endpoint.model.clone()).text("response_format", "json").part("file", part);
    let mut req = asr.http.post(asr.endpoint.url("audio/transcriptions")).multipart(form);
    if !asr.endpoint.api_key.is_empty() {
        req = req.bearer_auth(asr.endpoint.api_key.expose());
    }
    let resp = req.send().await.map_err(|e| ProviderError::new("asr", e.to_string(), true))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| ProviderError::new("asr", e.to_string(), true))?;
    if !status.is_success() {
        return Err(ProviderError::from_status("asr", status.as_u16(), &body));
    }
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| ProviderError::new("asr", format!("reply is not JSON: {e}"), false))?;
    Ok(v.get("text").and_then(|t| t.as_str()).unwrap_or_default().trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_header_is_valid() {
        let bytes = wav_bytes(&[AudioFrame::silence(), AudioFrame::silence()]);
        assert_eq!(bytes.len(), 44 + 2 * 640);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]), 16_000);
        assert_eq!(u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]), 1280);
    }
}
