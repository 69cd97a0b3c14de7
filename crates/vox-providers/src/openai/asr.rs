use futures::FutureExt;
use futures::future::BoxFuture;
use vox_core::{AudioFrame, INTERNAL_RATE};

use super::{OpenAiEndpoint, http_client};
use crate::{ProviderError, SegmentTranscriber};

/// `POST /audio/transcriptions` on each VAD segment (multipart WAV, 16 kHz mono). Replies
/// are read as plain JSON `{"text": ...}`, which every compatible server returns. Use it
/// through [`SegmentedAsr`](crate::SegmentedAsr).
#[derive(Debug, Clone)]
pub struct OpenAiAsr {
    http: reqwest::Client,
    endpoint: OpenAiEndpoint,
}

impl OpenAiAsr {
    /// An adapter for `endpoint`.
    pub fn new(endpoint: &OpenAiEndpoint) -> Self {
        Self {
            http: http_client(endpoint),
            endpoint: endpoint.clone(),
        }
    }
}

impl SegmentTranscriber for OpenAiAsr {
    fn transcribe(
        &self,
        frames: Vec<AudioFrame>,
    ) -> BoxFuture<'static, Result<String, ProviderError>> {
        transcribe(self.clone(), frames).boxed()
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
    let form = reqwest::multipart::Form::new()
        .text("model", asr.endpoint.model.clone())
        .text("response_format", "json")
        .part("file", part);
    let mut req = asr
        .http
        .post(asr.endpoint.url("audio/transcriptions"))
        // the whole segment's request, not only each read: a transcript late by this much
        // is no use to the turn anyway
        .timeout(asr.endpoint.read_timeout() * 2)
        .multipart(form);
    if !asr.endpoint.api_key.is_empty() {
        req = req.bearer_auth(asr.endpoint.api_key.expose());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| ProviderError::new("asr", e.to_string(), true))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| ProviderError::new("asr", e.to_string(), true))?;
    if !status.is_success() {
        return Err(ProviderError::from_status("asr", status.as_u16(), &body));
    }
    let v: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| ProviderError::new("asr", format!("reply is not JSON: {e}"), false))?;
    Ok(v.get("text")
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .trim()
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_header_is_valid() {
        let bytes = wav_bytes(&[AudioFrame::silence(), AudioFrame::silence()]);
        assert_eq!(bytes.len(), 44 + 2 * 640);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]),
            16_000
        );
        assert_eq!(
            u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]),
            1280
        );
    }
}
