//! `vox sim`: a simulated carrier that calls a media URL the way a carrier does, in any of
//! the dialects (`--dialect twilio|telnyx|plivo|vonage|exotel`).
//!
//! Per call it sends the dialect's opening (Twilio's `connected` and `start` with custom
//! parameters; Vonage's `websocket:connected` with them as headers; ...), then caller audio
//! in real time (a 20 ms `media` message per tick with correct sequence numbers, chunks and
//! timestamps; Vonage binary frames; Exotel 100 ms chunks), key presses of DTMF turns,
//! silence between turns, and the dialect's `stop` at the end. It buffers the agent's audio
//! and plays it at real-time rate, answers each mark (`mark`, Plivo `checkpoint`, Vonage
//! `notify`) only once the audio before it has played, and honours the clear (`clear`,
//! `clearAudio`, `{"action":"clear"}`: dropping buffered audio, then echoing pending marks
//! as Twilio does, or confirming as Plivo and Vonage do). What a carrier would refuse (a
//! wrong stream id, Exotel chunks of the wrong size, Plivo audio in another format) is
//! reported as an error of the call. It records both sides to a stereo WAV and reports per
//! turn the response latency and barge-in-to-silence time, and per call jitter, late and
//! missing frames.
//!
//! With `--webrtc` it calls as a browser instead: a WHIP offer (RFC 9725) to `--url`, then
//! Opus over DTLS-SRTP (vox-webrtc's client), the same script, the same report (no marks or
//! clears: the agent's audio stops when the server stops sending it).
//!
//! Deliberately absent: any knowledge of Vox internals. It speaks only the wire protocols
//! (written from the carriers' documents in `dialect`), so it can be pointed at any server.

mod browser;
mod call;
mod dialect;
mod report;
mod script;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Semaphore;

pub use dialect::{SimCodec, SimDialect};
pub use report::{CallReport, Summary, TurnReport};
pub use script::{Script, Turn};

/// Command-line arguments of `vox sim`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// The media WebSocket URL to call (default ws://127.0.0.1:8080/media/DIALECT); with
    /// --webrtc, the WHIP URL (default http://127.0.0.1:8080/whip/AGENT).
    #[arg(long)]
    pub url: Option<String>,
    /// Call as a browser over WebRTC (WHIP, Opus, DTLS-SRTP) instead of as a carrier. An API
    /// agent's web call: --param callId=ID --param token=TOKEN from `POST .../web-call`.
    #[arg(long, conflicts_with_all = ["dialect", "codec", "rate", "reorder"])]
    pub webrtc: bool,
    /// The carrier dialect to speak.
    #[arg(long, value_enum, default_value_t = SimDialect::Twilio)]
    pub dialect: SimDialect,
    /// The audio encoding (default: the dialect's usual one; Vonage and Exotel: l16).
    #[arg(long, value_enum)]
    pub codec: Option<SimCodec>,
    /// The sample rate (default 8000; 16000 for L16 on Telnyx, Plivo and Vonage).
    #[arg(long)]
    pub rate: Option<u32>,
    /// Telnyx: deliver some caller frames out of order (Telnyx does not guarantee order).
    #[arg(long)]
    pub reorder: bool,
    /// A TOML script of caller turns (see tests/data/scripts/ for examples).
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Caller turns as WAV files, in order (a shorthand for a script). Any rate, mono.
    #[arg(long = "wav")]
    pub wavs: Vec<PathBuf>,
    /// With --wav: every turn after the first barges in after this much agent audio (ms).
    #[arg(long)]
    pub interrupt_after_ms: Option<u64>,
    /// The agent to ask for (`agentId` custom parameter); overrides the script's.
    #[arg(long)]
    pub agent_id: Option<String>,
    /// Extra custom parameters, `key=value`, repeatable.
    #[arg(long = "param")]
    pub params: Vec<String>,
    /// Number of calls to place.
    #[arg(long, default_value_t = 1)]
    pub calls: usize,
    /// Calls in progress at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Spread the first wave of call starts over this many ms.
    #[arg(long, default_value_t = 1000)]
    pub ramp_ms: u64,
    /// Directory to write one stereo WAV per call (left: caller, right: agent as played).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Also write the whole JSON report (calls and summary) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The server's send-ahead in ms, to compute pacing jitter against the ideal schedule
    /// (a carrier call's; a WebRTC call is paced with none).
    #[arg(long, default_value_t = 200)]
    pub send_ahead_ms: u64,
    /// Longest wait for the agent to answer a turn before it is counted as unanswered.
    #[arg(long, default_value_t = 10_000)]
    pub reply_timeout_ms: u64,
    /// Print only the summary line, not one line per call.
    #[arg(long)]
    pub quiet: bool,
    /// Print nothing: the caller embeds the simulator and reads `report` (the fake carriers,
    /// whose own stdout is their interface).
    #[arg(skip)]
    pub silent: bool,
}

impl SimArgs {
    /// The defaults of `vox sim` (one call, Twilio dialect, 200 ms send-ahead), calling `url`
    /// with `script`.
    pub fn new(url: &str, script: &std::path::Path) -> Self {
        Self {
            url: Some(url.to_owned()),
            webrtc: false,
            dialect: SimDialect::Twilio,
            codec: None,
            rate: None,
            reorder: false,
            script: Some(script.to_owned()),
            wavs: Vec::new(),
            interrupt_after_ms: None,
            agent_id: None,
            params: Vec::new(),
            calls: 1,
            concurrency: 1,
            ramp_ms: 1000,
            record: None,
            report: None,
            send_ahead_ms: 200,
            reply_timeout_ms: 10_000,
            quiet: true,
            silent: false,
        }
    }
}

/// Runs the simulation; prints one JSON line per call and a summary line to stdout (unless
/// `quiet`: the summary only; `silent`: nothing).
/// Returns whether every call succeeded.
pub async fn run(args: SimArgs) -> anyhow::Result<bool> {
    let mut script = match (&args.script, args.wavs.is_empty()) {
        (Some(path), true) => Script::load(path)?,
        (None, false) => Script::from_wavs(&args.wavs, args.interrupt_after_ms),
        (Some(_), false) => anyhow::bail!("give either --script or --wav, not both"),
        (None, true) => {
            anyhow::bail!("nothing to say: give --script FILE or one or more --wav FILE")
        }
    };
    if let Some(agent) = &args.agent_id {
        script.agent_id = Some(agent.clone());
    }
    for p in &args.params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--param {p:?} is not key=value"))?;
        script.params.insert(k.to_owned(), v.to_owned());
    }
    if args.calls == 0 || args.concurrency == 0 {
        anyhow::bail!("--calls and --concurrency must be at least 1");
    }
    if let Some(dir) = &args.record {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let plan = Arc::new(call::Plan::new(&script, &args)?);
    let slots = Arc::new(Semaphore::new(args.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    let ramp_step = Duration::from_millis(args.ramp_ms) / args.concurrency.max(1) as u32;
    for i in 0..args.calls {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .context("semaphore closed")?;
        if i < args.concurrency && i > 0 {
            tokio::time::sleep(ramp_step).await;
        }
        let plan = plan.clone();
        tasks.spawn(async move {
            let report = call::run(i, &plan).await;
            drop(permit);
            report
        });
    }
    let mut reports = Vec::with_capacity(args.calls);
    while let Some(r) = tasks.join_next().await {
        let r = r.context("a simulated call panicked")?;
        if !args.quiet && !args.silent {
            print_line(&serde_json::to_string(&r)?);
        }
        reports.push(r);
    }
    reports.sort_by_key(|r| r.call);
    let summary = Summary::from_calls(&reports);
    if !args.silent {
        print_line(&serde_json::to_string(
            &serde_json::json!({ "summary": summary }),
        )?);
    }
    if let Some(path) = &args.report {
        let doc = serde_json::json!({ "calls": reports, "summary": summary });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(summary.calls_failed == 0)
}

#[allow(clippy::print_stdout)]
fn print_line(s: &str) {
    println!("{s}");
}
