//! Fake hosted streaming recognizers on loopback, speaking the vendors' wire protocols over
//! a real WebSocket, for tests and benchmarks:
//!
//! - `GET /v1/listen` (Deepgram live): binary 16 kHz PCM in; `Results` with
//!   `is_final: false` as words are "recognized", and `is_final` + `from_finalize` after a
//!   `Finalize`; `KeepAlive` and `CloseStream` are taken.
//! - `GET /v1/realtime?intent=transcription` (OpenAI Realtime): `session.update`,
//!   `input_audio_buffer.append` (base64 24 kHz PCM) and `.commit` in; deltas while the
//!   caller speaks (as a streaming model sends them), `input_audio_buffer.committed`, then
//!   `conversation.item.input_audio_transcription.completed` after the commit.
//!
//! What the caller "says" is scripted, as with the fake OpenAI server: each segment's
//! transcript is the next queued one (or the default). Its words are revealed one more per
//! 300 ms of loud audio received, so interims come while the caller speaks and only then;
//! the final comes `final_latency` after the segment is flushed. Every connection's request
//! line, authorization header and control messages are logged.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Loud audio per revealed word.
const MS_PER_WORD: u64 = 300;

#[derive(Default)]
struct Script {
    transcripts: VecDeque<String>,
    default: String,
    log: Vec<String>,
    final_latency: Duration,
    /// Audio received, in ms, over all connections.
    audio_ms: u64,
}

type Shared = Arc<Mutex<Script>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Script> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fake recognizers (both protocols on one port).
pub struct FakeLiveAsr {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeLiveAsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeLiveAsr")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for FakeLiveAsr {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLiveAsr {
    /// Starts on a free loopback port (inside a tokio runtime); finals come `final_latency`
    /// after a segment is flushed.
    pub async fn start(final_latency: Duration) -> Self {
        let shared: Shared = Arc::new(Mutex::new(Script {
            final_latency,
            ..Script::default()
        }));
        let app = Router::new()
            .route("/v1/listen", get(deepgram))
            .route("/v1/realtime", get(realtime))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake recognizer");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// The Deepgram-style endpoint (`ws://127.0.0.1:PORT/v1/listen`).
    pub fn deepgram_url(&self) -> String {
        format!("ws://{}/v1/listen", self.addr)
    }

    /// The OpenAI Realtime endpoint (`ws://127.0.0.1:PORT/v1/realtime`).
    pub fn realtime_url(&self) -> String {
        format!("ws://{}/v1/realtime", self.addr)
    }

    /// Queues the transcript of the next segment.
    pub fn push_transcript(&self, text: &str) {
        lock(&self.shared).transcripts.push_back(text.into());
    }

    /// What a segment's transcript is when none is queued.
    pub fn set_default(&self, text: &str) {
        lock(&self.shared).default = text.into();
    }

    /// Connections and control messages so far, e.g. `GET /v1/listen?model=...`,
    /// `auth Token k`, `Finalize`, `KeepAlive`, `session.update`, `commit`.
    pub fn log(&self) -> Vec<String> {
        lock(&self.shared).log.clone()
    }

    /// Audio received so far, over all connections, in ms.
    pub fn audio_ms(&self) -> u64 {
        lock(&self.shared).audio_ms
    }
}

/// The segment being spoken on one connection.
#[derive(Default)]
struct Segment {
    loud_ms: u64,
    revealed: usize,
}

impl Segment {
    /// Counts `samples` (at `rate`); the number of words now revealed of `words`, if it grew.
    fn hear(&mut self, samples: &[i16], rate: u64, words: usize) -> Option<usize> {
        let ms = samples.len() as u64 * 1000 / rate;
        let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        let rms = (sum / samples.len().max(1) as f64).sqrt();
        if rms > 300.0 {
            self.loud_ms += ms;
        }
        let n = (self.loud_ms / MS_PER_WORD) as usize;
        let n = n.min(words);
        (n > self.revealed).then(|| {
            self.revealed = n;
            n
        })
    }
}

fn note(shared: &Shared, what: String) {
    lock(shared).log.push(what);
}

/// The transcript the current segment will have (the head of the queue, kept until flushed).
fn upcoming(shared: &Shared) -> String {
    let s = lock(shared);
    s.transcripts
        .front()
        .cloned()
        .unwrap_or_else(|| s.default.clone())
}

/// The current segment's transcript, taken.
fn take(shared: &Shared) -> String {
    let mut s = lock(shared);
    let d = s.default.clone();
    s.transcripts.pop_front().unwrap_or(d)
}

fn first_words(text: &str, n: usize) -> String {
    text.split_whitespace()
        .take(n)
        .collect::<Vec<_>>()
        .join(" ")
}

fn pcm(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn connected(shared: &Shared, path: &str, query: Option<String>, headers: &HeaderMap) {
    note(shared, format!("GET {path}?{}", query.unwrap_or_default()));
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    note(shared, format!("auth {auth}"));
}

/// A socket's writer: the handlers send through a channel so delayed finals can be spawned.
fn writer(
    socket: WebSocket,
) -> (
    mpsc::Sender<String>,
    futures::stream::SplitStream<WebSocket>,
) {
    let (mut sink, stream) = socket.split();
    // bounded: a test's stream sends far fewer; beyond 256 waiting, messages are dropped
    let (tx, mut rx) = mpsc::channel::<String>(256);
    tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
    });
    (tx, stream)
}

async fn deepgram(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    State(shared): State<Shared>,
) -> Response {
    connected(&shared, "/v1/listen", query, &headers);
    ws.on_upgrade(move |socket| deepgram_session(socket, shared))
}

fn results(words: &str, is_final: bool, from_finalize: bool) -> String {
    json!({
        "type": "Results", "is_final": is_final, "speech_final": false, "from_finalize": from_finalize,
        "channel": {"alternatives": [{"transcript": words, "confidence": 0.99}]}
    })
    .to_string()
}

async fn deepgram_session(socket: WebSocket, shared: Shared) {
    let (out, mut incoming) = writer(socket);
    let mut seg = Segment::default();
    while let Some(Ok(msg)) = incoming.next().await {
        match msg {
            Message::Binary(bytes) => {
                let samples = pcm(&bytes);
                lock(&shared).audio_ms += samples.len() as u64 / 16;
                let text = upcoming(&shared);
                let words = text.split_whitespace().count();
                if let Some(n) = seg.hear(&samples, 16_000, words) {
                    let _ = out.try_send(results(&first_words(&text, n), false, false));
                }
            }
            Message::Text(t) => {
                let kind = serde_json::from_str::<Value>(&t)
                    .ok()
                    .and_then(|v| v["type"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                note(&shared, kind.clone());
                match kind.as_str() {
                    "Finalize" => {
                        seg = Segment::default();
                        let text = take(&shared);
                        let latency = lock(&shared).final_latency;
                        let out = out.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(latency).await;
                            let _ = out.try_send(results(&text, true, true));
                        });
                    }
                    "CloseStream" => break,
                    _ => {}
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
}

async fn realtime(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    State(shared): State<Shared>,
) -> Response {
    connected(&shared, "/v1/realtime", query, &headers);
    ws.on_upgrade(move |socket| realtime_session(socket, shared))
}

async fn realtime_session(socket: WebSocket, shared: Shared) {
    let (out, mut incoming) = writer(socket);
    let _ = out.try_send(
        json!({"type": "session.created", "session": {"type": "transcription"}}).to_string(),
    );
    let mut seg = Segment::default();
    let mut items = 0u32;
    let item_id = |n: u32| format!("item_{n}");
    while let Some(Ok(msg)) = incoming.next().await {
        let Message::Text(t) = msg else {
            if matches!(msg, Message::Close(_)) {
                break;
            }
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&t) else {
            continue;
        };
        let kind = v["type"].as_str().unwrap_or_default().to_owned();
        match kind.as_str() {
            "input_audio_buffer.append" => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v["audio"].as_str().unwrap_or_default())
                    .unwrap_or_default();
                let samples = pcm(&bytes);
                lock(&shared).audio_ms += samples.len() as u64 / 24;
                let text = upcoming(&shared);
                let words = text.split_whitespace().count();
                let before = seg.revealed;
                if let Some(n) = seg.hear(&samples, 24_000, words) {
                    let delta: Vec<&str> = text
                        .split_whitespace()
                        .skip(before)
                        .take(n - before)
                        .collect();
                    let delta = format!(" {}", delta.join(" "));
                    let _ = out.try_send(json!({"type": "conversation.item.input_audio_transcription.delta", "item_id": item_id(items), "content_index": 0, "delta": delta}).to_string());
                }
            }
            "input_audio_buffer.commit" => {
                note(&shared, "commit".into());
                let id = item_id(items);
                items += 1;
                seg = Segment::default();
                let _ = out.try_send(json!({"type": "input_audio_buffer.committed", "item_id": id, "previous_item_id": null}).to_string());
                let text = take(&shared);
                let latency = lock(&shared).final_latency;
                let out = out.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(latency).await;
                    let _ = out.try_send(json!({"type": "conversation.item.input_audio_transcription.completed", "item_id": id, "content_index": 0, "transcript": text}).to_string());
                });
            }
            "session.update" => {
                note(&shared, format!("session.update {}", v["session"]));
                let _ = out.try_send(
                    json!({"type": "session.updated", "session": v["session"]}).to_string(),
                );
            }
            other => note(&shared, other.to_owned()),
        }
    }
}
