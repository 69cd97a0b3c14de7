//! Hosted streaming recognizers: the caller's speech goes over a WebSocket as they say it,
//! the vendor's interim words come back while they speak, and when Vox's VAD ends a segment
//! the vendor is asked to flush (Deepgram's `Finalize`, OpenAI Realtime's `commit`), so the
//! final words come one round trip after the end of speech instead of a whole upload and
//! transcription later.
//!
//! Vox's VAD owns the segmentation, as with the per-segment adapter: one final (or error)
//! per segment, in order, which is what the engine counts on. Between segments only a
//! keep-alive goes out (hosted recognizers bill for the audio they are sent); each segment
//! starts with a short pre-roll so its first syllable is not cut.
//!
//! A dropped or refused connection fails the segments waiting on it (the engine answers
//! without their words rather than wait) and is opened again at the next segment.

mod deepgram;
mod openai_realtime;
mod socket;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, warn};
use vox_core::{AudioFrame, VadEvent, VadOutput};

use crate::{AsrEvent, AsrProvider, AsrSession, OpenAiEndpoint, ProviderError};

/// Frames kept from before the VAD's onset decision and sent at a segment's start (200 ms).
const PREROLL_FRAMES: usize = 10;
/// A segment's final words must come within this after it ended (the engine's own ASR
/// timeout is 3 s); later, what the vendor has said so far is taken as final.
const FINAL_TIMEOUT: Duration = Duration::from_millis(2500);
/// Between segments, a keep-alive this often (Deepgram closes a stream idle for 10 s).
const KEEP_ALIVE: Duration = Duration::from_secs(4);

/// The wire protocol of a hosted streaming recognizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveProtocol {
    /// Deepgram's live API (`/v1/listen`): raw 16 kHz PCM up, `Results` down.
    Deepgram,
    /// OpenAI's Realtime API in transcription mode (`/v1/realtime?intent=transcription`).
    OpenaiRealtime,
}

impl LiveProtocol {
    /// The name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Deepgram => "deepgram",
            Self::OpenaiRealtime => "openai-realtime",
        }
    }

    /// The vendor's public endpoint.
    pub fn default_url(self) -> &'static str {
        match self {
            Self::Deepgram => deepgram::DEFAULT_URL,
            Self::OpenaiRealtime => openai_realtime::DEFAULT_URL,
        }
    }

    fn wire(self, endpoint: &OpenAiEndpoint) -> Box<dyn Wire> {
        match self {
            Self::Deepgram => Box::new(deepgram::Deepgram::new(endpoint)),
            Self::OpenaiRealtime => Box::new(openai_realtime::Realtime::new(endpoint)),
        }
    }
}

/// The endpoint's URL (the vendor's public one if it gives none) with `query` appended.
fn stream_url(endpoint: &OpenAiEndpoint, default: &str, query: &str) -> String {
    let base = if endpoint.base_url.is_empty() {
        default
    } else {
        endpoint.base_url.as_str()
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{query}")
}

/// The `authorization` header for `key` under `scheme` (none without a key).
fn authorization(scheme: &str, key: &str) -> Vec<(&'static str, String)> {
    if key.is_empty() {
        vec![]
    } else {
        vec![("authorization", format!("{scheme} {key}"))]
    }
}

/// What the vendor said, in the terms of Vox's segments.
#[derive(Debug, Clone, PartialEq)]
enum Heard {
    /// The words so far of the speech in progress (they may still change).
    Interim(String),
    /// The final words of the oldest segment waiting for them.
    Final(String),
    /// The vendor could not transcribe the oldest segment waiting.
    SegmentFailed(String),
    /// The vendor refused the stream or broke it off.
    Fatal(ProviderError),
}

/// One vendor's messages. Segments are ended in order and answered in order.
trait Wire: Send {
    /// The URL to open, and its headers (the key among them).
    fn request(&self) -> (String, Vec<(&'static str, String)>);
    /// Sent once the socket is open.
    fn opening(&mut self) -> Vec<Message>;
    /// One frame of the caller's speech.
    fn audio(&mut self, frame: &AudioFrame) -> Message;
    /// A segment ended: ask for its final words.
    fn end_segment(&mut self) -> Vec<Message>;
    /// Keeps an idle stream open, if the vendor needs it.
    fn keep_alive(&self) -> Option<Message>;
    /// Sent before closing.
    fn closing(&self) -> Vec<Message>;
    /// A text message from the vendor.
    fn read(&mut self, text: &str) -> Vec<Heard>;
    /// The oldest waiting segment got no final in time: what was heard of it (it is no
    /// longer waited for).
    fn give_up(&mut self) -> String;
    /// The connection is gone: forget the segments waiting on it.
    fn reset(&mut self);
}

/// An [`AsrProvider`] for a hosted streaming recognizer.
#[derive(Debug, Clone)]
pub struct LiveAsr {
    protocol: LiveProtocol,
    endpoint: Arc<OpenAiEndpoint>,
}

impl LiveAsr {
    /// A recognizer speaking `protocol` at `endpoint` (its `baseUrl` a `ws://` or `wss://`
    /// URL, its `apiKey` and `model` the vendor's).
    pub fn new(protocol: LiveProtocol, endpoint: &OpenAiEndpoint) -> Self {
        Self {
            protocol,
            endpoint: Arc::new(endpoint.clone()),
        }
    }
}

impl AsrProvider for LiveAsr {
    fn session(&self) -> AsrSession {
        // 2 s of audio may queue while connecting; the actor drops (and counts) beyond.
        let (audio_tx, audio_rx) = mpsc::channel(100);
        let (events_tx, events_rx) = mpsc::channel(32);
        let wire = self.protocol.wire(&self.endpoint);
        tokio::spawn(Session::new(self.protocol, wire, events_tx).run(audio_rx));
        AsrSession {
            audio: audio_tx,
            events: events_rx,
        }
    }
}

/// One call's stream.
struct Session {
    protocol: LiveProtocol,
    wire: Box<dyn Wire>,
    events: mpsc::Sender<AsrEvent>,
    socket: Option<socket::Socket>,
    preroll: VecDeque<AudioFrame>,
    in_segment: bool,
    /// Deadlines of the segments ended and waiting for their final words, oldest first.
    waiting: VecDeque<Instant>,
    last_sent: Instant,
}

impl Session {
    fn new(protocol: LiveProtocol, wire: Box<dyn Wire>, events: mpsc::Sender<AsrEvent>) -> Self {
        Self {
            protocol,
            wire,
            events,
            socket: None,
            preroll: VecDeque::with_capacity(PREROLL_FRAMES),
            in_segment: false,
            waiting: VecDeque::new(),
            last_sent: Instant::now(),
        }
    }

    async fn run(mut self, mut audio: mpsc::Receiver<(AudioFrame, VadOutput)>) {
        self.open().await;
        loop {
            let deadline = self.waiting.front().copied();
            let keep_alive = self.last_sent + KEEP_ALIVE;
            tokio::select! {
                item = audio.recv() => match item {
                    Some((frame, vad)) => self.on_frame(frame, vad).await,
                    None => break,
                },
                msg = next_message(&mut self.socket) => self.on_message(msg).await,
                () = sleep_until(deadline) => self.on_timeout().await,
                () = tokio::time::sleep_until(keep_alive), if self.socket.is_some() && !self.in_segment => {
                    if let Some(m) = self.wire.keep_alive() {
                        self.send(vec![m]).await;
                    }
                    self.last_sent = Instant::now();
                }
            }
            if self.events.is_closed() {
                return;
            }
        }
        // The call ended: a segment in progress is ended, and what was said is waited for.
        if self.in_segment {
            self.end_segment().await;
        }
        while let Some(&deadline) = self.waiting.front() {
            tokio::select! {
                msg = next_message(&mut self.socket) => self.on_message(msg).await,
                () = tokio::time::sleep_until(deadline) => self.on_timeout().await,
            }
        }
        let closing = self.wire.closing();
        self.send(closing).await;
        if let Some(mut s) = self.socket.take() {
            let _ = s.close(None).await;
        }
    }

    /// Connects (a failure is logged; the segments fail until a connect succeeds).
    async fn open(&mut self) {
        let (url, headers) = self.wire.request();
        match socket::connect(&url, &headers).await {
            Ok(s) => {
                debug!(
                    protocol = self.protocol.name(),
                    "streaming recognizer connected"
                );
                self.socket = Some(s);
                let opening = self.wire.opening();
                self.send(opening).await;
            }
            Err(e) => {
                warn!(protocol = self.protocol.name(), error = %e, "streaming recognizer unavailable");
            }
        }
    }

    async fn on_frame(&mut self, frame: AudioFrame, vad: VadOutput) {
        if vad.event == Some(VadEvent::SpeechStart) && !self.in_segment {
            self.in_segment = true;
            if self.socket.is_none() {
                self.open().await;
            }
            let preroll: Vec<Message> = self
                .preroll
                .drain(..)
                .map(|f| self.wire.audio(&f))
                .collect();
            self.send(preroll).await;
        }
        if self.in_segment {
            let m = self.wire.audio(&frame);
            self.send(vec![m]).await;
            if vad.event == Some(VadEvent::SpeechEnd) {
                self.end_segment().await;
            }
        } else {
            if self.preroll.len() == PREROLL_FRAMES {
                self.preroll.pop_front();
            }
            self.preroll.push_back(frame);
        }
    }

    async fn end_segment(&mut self) {
        self.in_segment = false;
        if self.socket.is_none() {
            self.emit(AsrEvent::Error(ProviderError::new(
                "asr",
                format!("the {} stream is not connected", self.protocol.name()),
                true,
            )))
            .await;
            return;
        }
        let end = self.wire.end_segment();
        self.waiting.push_back(Instant::now() + FINAL_TIMEOUT);
        self.send(end).await;
    }

    async fn on_message(&mut self, msg: Option<Result<Message, ProviderError>>) {
        let heard = match msg {
            Some(Ok(Message::Text(text))) => self.wire.read(&text),
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map(|f| format!("{} {}", f.code, f.reason));
                vec![Heard::Fatal(ProviderError::new(
                    "asr",
                    format!("the stream was closed: {}", why.unwrap_or_default()),
                    true,
                ))]
            }
            Some(Ok(_)) => vec![],
            Some(Err(e)) => vec![Heard::Fatal(e)],
            None => vec![Heard::Fatal(ProviderError::new(
                "asr",
                "the stream ended",
                true,
            ))],
        };
        for h in heard {
            match h {
                Heard::Interim(text) => self.emit(AsrEvent::Interim(text)).await,
                Heard::Final(text) => {
                    if self.waiting.pop_front().is_some() {
                        self.emit(AsrEvent::Final(text)).await;
                    } else {
                        debug!("final words without a segment waiting: dropped");
                    }
                }
                Heard::SegmentFailed(message) => {
                    if self.waiting.pop_front().is_some() {
                        self.emit(AsrEvent::Error(ProviderError::new("asr", message, true)))
                            .await;
                    }
                }
                Heard::Fatal(e) => self.lost(e).await,
            }
        }
    }

    /// The oldest segment's final is late: what was heard of it stands as final.
    async fn on_timeout(&mut self) {
        if self.waiting.pop_front().is_none() {
            return;
        }
        let text = self.wire.give_up();
        warn!(
            protocol = self.protocol.name(),
            "no final words within {FINAL_TIMEOUT:?} of the end of speech"
        );
        let event = if text.is_empty() {
            AsrEvent::Error(ProviderError::new(
                "asr",
                format!("no final words within {} ms", FINAL_TIMEOUT.as_millis()),
                true,
            ))
        } else {
            AsrEvent::Final(text)
        };
        self.emit(event).await;
    }

    /// The connection is gone: the segments waiting on it fail, the next one reconnects.
    async fn lost(&mut self, e: ProviderError) {
        warn!(protocol = self.protocol.name(), error = %e, "streaming recognizer lost");
        self.socket = None;
        self.wire.reset();
        while self.waiting.pop_front().is_some() {
            self.emit(AsrEvent::Error(e.clone())).await;
        }
    }

    async fn send(&mut self, messages: Vec<Message>) {
        let Some(s) = self.socket.as_mut() else {
            return;
        };
        for m in messages {
            if let Err(e) = s.feed(m).await {
                let e = ProviderError::new("asr", format!("sending to the stream: {e}"), true);
                return self.lost(e).await;
            }
        }
        if let Err(e) = s.flush().await {
            let e = ProviderError::new("asr", format!("sending to the stream: {e}"), true);
            return self.lost(e).await;
        }
        self.last_sent = Instant::now();
    }

    async fn emit(&mut self, event: AsrEvent) {
        let _ = self.events.send(event).await;
    }
}

/// The next message of the socket, or never if there is none.
async fn next_message(
    socket: &mut Option<socket::Socket>,
) -> Option<Result<Message, ProviderError>> {
    match socket.as_mut() {
        Some(s) => s.next().await.map(|r| {
            r.map_err(|e| ProviderError::new("asr", format!("the stream failed: {e}"), true))
        }),
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
