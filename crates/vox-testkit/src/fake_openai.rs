//! A fake OpenAI-compatible server on loopback, for tests and benchmarks.
//!
//! - `POST /v1/chat/completions` (streaming SSE): scripted replies, text and/or tool calls,
//!   after a time-to-first-token, at a given tokens per second.
//! - `POST /v1/audio/transcriptions`: scripted transcripts after a latency.
//! - `POST /v1/audio/speech`: raw 24 kHz 16-bit PCM (a tone as long as the text would take to
//!   say) after a time-to-first-byte.
//! - `POST /fn/{name}`: a developer's function-tool endpoint, answering scripted JSON; `GET`
//!   too, its query logged as a JSON object of strings.
//!
//! Every request is logged (path and JSON body, or byte count for audio uploads).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};

/// Latencies and rates of the fake.
#[derive(Debug, Clone)]
pub struct FakeTiming {
    /// Chat: delay before the first token.
    pub ttft: Duration,
    /// Chat: tokens (words) per second after the first; 0 = all at once.
    pub tokens_per_sec: f64,
    /// Transcription: delay before answering.
    pub asr_latency: Duration,
    /// Speech: delay before the first audio byte.
    pub tts_ttfb: Duration,
    /// Speech: audio length per character of text.
    pub tts_ms_per_char: u64,
}

impl Default for FakeTiming {
    fn default() -> Self {
        Self {
            ttft: Duration::ZERO,
            tokens_per_sec: 0.0,
            asr_latency: Duration::ZERO,
            tts_ttfb: Duration::ZERO,
            tts_ms_per_char: 60,
        }
    }
}

/// The fake's answer to Vox's post-call summary request.
pub const POST_CALL_SUMMARY: &str = "The caller spoke with the agent about their appointment.";

/// One scripted chat reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatReply {
    /// Text, streamed word by word.
    pub text: String,
    /// Tool calls after the text: (name, JSON arguments).
    pub tool_calls: Vec<(String, Value)>,
}

impl ChatReply {
    /// A text-only reply.
    pub fn text(t: &str) -> Self {
        Self {
            text: t.into(),
            tool_calls: vec![],
        }
    }

    /// A reply that calls one tool.
    pub fn tool(name: &str, args: Value) -> Self {
        Self {
            text: String::new(),
            tool_calls: vec![(name.into(), args)],
        }
    }
}

/// A logged request.
#[derive(Debug, Clone)]
pub struct Logged {
    /// Path.
    pub path: String,
    /// JSON body (or `{"bytes": n}` for uploads).
    pub body: Value,
}

#[derive(Default)]
struct Script {
    chat: VecDeque<ChatReply>,
    transcripts: VecDeque<String>,
    functions: BTreeMap<String, Value>,
    /// The JSON object the extraction request gets (inside some prose, as models do).
    extraction: Value,
    /// Answered when no transcript is queued (empty by default).
    default_transcript: String,
    /// Answered when no chat reply is queued ("Okay." by default).
    default_chat: Option<ChatReply>,
}

struct Shared {
    timing: Mutex<FakeTiming>,
    script: Mutex<Script>,
    log: Mutex<Vec<Logged>>,
    /// Post-call requests (summary, extraction) wait while this is set.
    hold_post_call: std::sync::atomic::AtomicBool,
}

/// The running fake. Stops when dropped.
pub struct FakeOpenAi {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeOpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOpenAi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeOpenAi {
    /// While `hold` is set, post-call requests (summary, data extraction) get no answer
    /// (they wait, as a slow model would).
    pub fn hold_post_call(&self, hold: bool) {
        self.shared
            .hold_post_call
            .store(hold, std::sync::atomic::Ordering::SeqCst);
    }

    /// Starts on a free loopback port (inside a tokio runtime).
    pub async fn start(timing: FakeTiming) -> Self {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), timing)
            .await
            .expect("bind fake server")
    }

    /// Starts on `addr` (the `vox-fake openai` command).
    pub async fn start_on(addr: SocketAddr, timing: FakeTiming) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            timing: Mutex::new(timing),
            script: Mutex::new(Script::default()),
            log: Mutex::new(Vec::new()),
            hold_post_call: std::sync::atomic::AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/audio/transcriptions", post(transcribe))
            .route("/v1/audio/speech", post(speech))
            .route("/fn/{name}", post(function).get(function_get))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// Base URL for OpenAI clients (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Sets what the post-call extraction request gets.
    pub fn set_extraction(&self, data: Value) {
        lock(&self.shared.script).extraction = data;
    }

    /// Queues a chat reply (used in order; when none is queued the reply is "Okay.").
    pub fn push_chat(&self, reply: ChatReply) {
        lock(&self.shared.script).chat.push_back(reply);
    }

    /// What every transcription and chat request gets when nothing is queued (benchmarks:
    /// a caller who always says the same and an agent that always answers the same).
    pub fn set_defaults(&self, transcript: &str, chat: ChatReply) {
        let mut s = lock(&self.shared.script);
        s.default_transcript = transcript.into();
        s.default_chat = Some(chat);
    }

    /// Queues a transcript (used in order; when none is queued the transcript is empty).
    pub fn push_transcript(&self, text: &str) {
        lock(&self.shared.script).transcripts.push_back(text.into());
    }

    /// Sets what `POST /fn/{name}` answers.
    pub fn set_function(&self, name: &str, result: Value) {
        lock(&self.shared.script)
            .functions
            .insert(name.into(), result);
    }

    /// Changes the timing.
    pub fn set_timing(&self, timing: FakeTiming) {
        *lock(&self.shared.timing) = timing;
    }

    /// Requests received on `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<Value> {
        lock(&self.shared.log)
            .iter()
            .filter(|l| l.path == path)
            .map(|l| l.body.clone())
            .collect()
    }
}

fn log(shared: &Shared, path: &str, body: Value) {
    lock(&shared.log).push(Logged {
        path: path.into(),
        body,
    });
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

async fn chat(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "body is not JSON").into_response();
    };
    // Vox's post-call requests (summary, data extraction) are answered apart, so they never
    // take a reply scripted for a conversation
    let system = req["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    log(&shared, "/v1/chat/completions", req);
    let post_call =
        system.starts_with("You summarise phone calls") || system.starts_with("You extract data");
    while post_call
        && shared
            .hold_post_call
            .load(std::sync::atomic::Ordering::SeqCst)
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let reply = if system.starts_with("You summarise phone calls") {
        ChatReply::text(POST_CALL_SUMMARY)
    } else if system.starts_with("You extract data") {
        ChatReply::text(&format!("Here it is: {}", lock(&shared.script).extraction))
    } else {
        let mut s = lock(&shared.script);
        s.chat
            .pop_front()
            .or_else(|| s.default_chat.clone())
            .unwrap_or_else(|| ChatReply::text("Okay."))
    };
    let timing = lock(&shared.timing).clone();
    let mut events: Vec<Bytes> = Vec::new();
    for (i, word) in reply.text.split_inclusive(' ').enumerate() {
        let delta = if i == 0 {
            json!({"role": "assistant", "content": word})
        } else {
            json!({"content": word})
        };
        events.push(sse(&chunk(delta, None)));
    }
    for (i, (name, args)) in reply.tool_calls.iter().enumerate() {
        let id = format!("call_{i}_{name}");
        events.push(sse(&chunk(json!({"tool_calls": [{"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}), None)));
        let args = args.to_string();
        let (a, b) = args.split_at(args.len() / 2);
        for piece in [a, b] {
            events.push(sse(&chunk(
                json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                None,
            )));
        }
    }
    let finish = if reply.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    events.push(sse(&chunk(json!({}), Some(finish))));
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    let gap = if timing.tokens_per_sec > 0.0 {
        Duration::from_secs_f64(1.0 / timing.tokens_per_sec)
    } else {
        Duration::ZERO
    };
    let stream =
        futures::stream::iter(events.into_iter().enumerate()).then(move |(i, b)| async move {
            let wait = if i == 0 { timing.ttft } else { gap };
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            Ok::<_, std::convert::Infallible>(b)
        });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn transcribe(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    log(
        &shared,
        "/v1/audio/transcriptions",
        json!({"bytes": body.len()}),
    );
    let latency = lock(&shared.timing).asr_latency;
    tokio::time::sleep(latency).await;
    let text = {
        let mut s = lock(&shared.script);
        s.transcripts
            .pop_front()
            .unwrap_or_else(|| s.default_transcript.clone())
    };
    axum::Json(json!({"text": text})).into_response()
}

async fn speech(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "body is not JSON").into_response();
    };
    let text = req
        .get("input")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    log(&shared, "/v1/audio/speech", req);
    let timing = lock(&shared.timing).clone();
    let samples = (text.chars().count() as u64 * timing.tts_ms_per_char * 24) as usize;
    // a 300 Hz tone with a gentle envelope, 100 ms per chunk
    let pcm: Vec<u8> = (0..samples)
        .flat_map(|i| {
            let t = i as f32 / 24_000.0;
            let env = (i.min(samples - i) as f32 / 240.0).min(1.0);
            (((t * 300.0 * std::f32::consts::TAU).sin() * 8000.0 * env) as i16).to_le_bytes()
        })
        .collect();
    let chunks: Vec<Bytes> = pcm.chunks(4800).map(Bytes::copy_from_slice).collect();
    let stream =
        futures::stream::iter(chunks.into_iter().enumerate()).then(move |(i, b)| async move {
            if i == 0 && !timing.tts_ttfb.is_zero() {
                tokio::time::sleep(timing.tts_ttfb).await;
            }
            Ok::<_, std::convert::Infallible>(b)
        });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn function_get(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    axum::extract::Query(query): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    function(
        State(shared),
        Path(name),
        Bytes::from(serde_json::to_vec(&query).unwrap_or_default()),
    )
    .await
}

async fn function(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let args = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    log(&shared, &format!("/fn/{name}"), args);
    let result = lock(&shared.script)
        .functions
        .get(&name)
        .cloned()
        .unwrap_or(json!({"ok": true}));
    axum::Json(result).into_response()
}
