use futures::{StreamExt, TryFutureExt};
use serde_json::json;
use vox_audio::StreamResampler;
use vox_core::{INTERNAL_RATE, SampleRate};

use super::{OpenAiEndpoint, http_client};
use crate::{ProviderError, TtsProvider, TtsStream};

/// `POST /audio/speech` with `response_format: "pcm"`, streamed: raw 16-bit little-endian
/// mono at the server's rate (OpenAI: 24 kHz), resampled to 16 kHz as it arrives.
#[derive(Debug, Clone)]
pub struct OpenAiTts {
    http: reqwest::Client,
    endpoint: OpenAiEndpoint,
}

impl OpenAiTts {
    /// An adapter for `endpoint` (its `voice` and `sample_rate` apply).
    pub fn new(endpoint: &OpenAiEndpoint) -> Self {
        Self {
            http: http_client(endpoint),
            endpoint: endpoint.clone(),
        }
    }
}

impl TtsProvider for OpenAiTts {
    fn synthesize(&self, text: String) -> TtsStream {
        let e = &self.endpoint;
        let body = json!({
            "model": e.model,
            "input": text,
            "voice": e.voice.clone().unwrap_or_else(|| "alloy".into()),
            "response_format": "pcm"
        });
        let mut req = self.http.post(e.url("audio/speech")).json(&body);
        if !e.api_key.is_empty() {
            req = req.bearer_auth(e.api_key.expose());
        }
        let rate = SampleRate(e.sample_rate.unwrap_or(24_000));
        let connect = async move {
            let resp = req
                .send()
                .await
                .map_err(|err| ProviderError::new("tts", err.to_string(), true))?;
            let status = resp.status();
            if !status.is_success() {
                let body = resp.text().await.unwrap_or_default();
                return Err(ProviderError::from_status("tts", status.as_u16(), &body));
            }
            let mut resampler = StreamResampler::new(rate, INTERNAL_RATE)
                .map_err(|err| ProviderError::new("tts", err.to_string(), false))?;
            let mut odd: Option<u8> = None;
            let mut flushed = false;
            let body = resp
                .bytes_stream()
                .map(Some)
                .chain(futures::stream::once(async { None }));
            Ok(body.filter_map(move |item| {
                let out = match item {
                    Some(Ok(bytes)) => {
                        let mut samples = Vec::with_capacity(bytes.len() / 2 + 1);
                        let mut rest: &[u8] = &bytes;
                        if let Some(lo) = odd.take()
                            && let Some((&hi, tail)) = rest.split_first()
                        {
                            samples.push(i16::from_le_bytes([lo, hi]));
                            rest = tail;
                        }
                        let pairs = rest.chunks_exact(2);
                        odd = pairs.remainder().first().copied();
                        samples.extend(pairs.map(|p| i16::from_le_bytes([p[0], p[1]])));
                        let mut out = Vec::with_capacity(samples.len());
                        resampler.process(&samples, &mut out);
                        Some(Ok(out))
                    }
                    Some(Err(err)) => Some(Err(ProviderError::new("tts", err.to_string(), true))),
                    None if !flushed => {
                        // push out what the resampler holds for its last partial chunk
                        flushed = true;
                        let mut out = Vec::new();
                        resampler.process(&vec![0; rate.samples_in_ms(20)], &mut out);
                        Some(Ok(out))
                    }
                    None => None,
                };
                std::future::ready(out.filter(|r| r.as_ref().map_or(true, |v| !v.is_empty())))
            }))
        };
        connect.try_flatten_stream().boxed()
    }
}
