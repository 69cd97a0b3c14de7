//! `vox-fake`: the fake carriers of vox-testkit as a command, so the control plane can be
//! tried by hand (and by `scripts/seed-walkthrough.sh`) without a carrier account; and
//! `vox-fake openai`, a model server with scripted replies (`scripts/voice-ai-walkthrough.sh`:
//! the agent's decisions are the same every run).
//!
//! `vox-fake twilio --port 9010 --wav caller-turn.wav ...` serves Twilio's REST Calls API on
//! loopback; every call Vox places through it is answered: the TwiML's media stream is
//! opened and the caller turns are played on it (as `vox sim` plays them), then the signed
//! status callback is posted. `POST /fake/ring` with `{voxBase, from, to}` makes an inbound
//! call instead: Twilio's signed voice webhook to `{voxBase}/twilio/voice`, then the same. It
//! prints one JSON line with its account when it is ready, then one line per finished call.

// stdout is this command's interface: the JSON lines above
#![allow(clippy::print_stdout)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::json;
use vox_testkit::{CallerScript, ChatReply, FakeOpenAi, FakeTiming, FakeTwilio};

#[derive(Parser, Debug)]
#[command(
    name = "vox-fake",
    about = "Fake carriers and a fake model server speaking the real wire protocols on loopback"
)]
struct Cli {
    #[command(subcommand)]
    carrier: CarrierCmd,
}

#[derive(Subcommand, Debug)]
enum CarrierCmd {
    /// An OpenAI-compatible model server whose chat replies are scripted (the agent's
    /// decisions, so a walk-through is the same every run), with transcription and speech.
    Openai {
        /// Port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 9020)]
        port: u16,
        /// A JSON file: the chat replies in order, each `{"text", "toolCalls": [{"name",
        /// "arguments"}]}`; then "Okay." to every request.
        #[arg(long)]
        replies: PathBuf,
        /// The JSON object post-call extraction requests get.
        #[arg(long, default_value = "{}")]
        extraction: String,
    },
    /// Twilio: the REST Calls API (Basic auth) and, for each call, its media stream.
    Twilio {
        /// Port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 9010)]
        port: u16,
        /// The account SID Vox must authenticate with (its pool's `account_sid`).
        #[arg(long, default_value = "AC00000000000000000000000000000001")]
        account_sid: String,
        /// The auth token (the pool's `auth_token`): checks Vox's requests, signs callbacks.
        #[arg(long, default_value = "fake-twilio-auth-token")]
        auth_token: String,
        /// The callee's turns (WAV files), in order.
        #[arg(long = "wav", required = true)]
        wavs: Vec<PathBuf>,
        /// Start talking at once instead of waiting for the agent's greeting.
        #[arg(long)]
        no_greeting: bool,
        /// Write each call's stereo recording (left: callee, right: agent) here.
        #[arg(long)]
        record: Option<PathBuf>,
    },
}

/// Serves the scripted model until interrupted.
async fn openai(port: u16, replies: &std::path::Path, extraction: &str) -> std::process::ExitCode {
    let script: Vec<serde_json::Value> = match std::fs::read_to_string(replies)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("vox-fake: {}: {e}", replies.display());
            return std::process::ExitCode::from(2);
        }
    };
    let Ok(extraction) = serde_json::from_str::<serde_json::Value>(extraction) else {
        eprintln!("vox-fake: --extraction is not JSON");
        return std::process::ExitCode::from(2);
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let ai = match FakeOpenAi::start_on(addr, FakeTiming::default()).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("vox-fake: cannot listen on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    ai.set_extraction(extraction);
    for r in &script {
        let tool_calls = r["toolCalls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c["name"].as_str()?.to_owned(), c["arguments"].clone())))
            .collect();
        ai.push_chat(ChatReply {
            text: r["text"].as_str().unwrap_or_default().to_owned(),
            tool_calls,
        });
    }
    println!("{}", json!({"model": "openai", "baseUrl": ai.base_url()}));
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let (port, account_sid, auth_token, wavs, no_greeting, record) = match cli.carrier {
        CarrierCmd::Openai {
            port,
            replies,
            extraction,
        } => return openai(port, &replies, &extraction).await,
        CarrierCmd::Twilio {
            port,
            account_sid,
            auth_token,
            wavs,
            no_greeting,
            record,
        } => (port, account_sid, auth_token, wavs, no_greeting, record),
    };
    let mut turns = Vec::new();
    for w in &wavs {
        match std::fs::canonicalize(w) {
            Ok(p) if p.is_file() => turns.push(p),
            _ => {
                eprintln!("vox-fake: no such WAV file: {}", w.display());
                return std::process::ExitCode::from(2);
            }
        }
    }
    let wavs = turns;
    let script = CallerScript {
        wavs,
        greeting: !no_greeting,
        record_dir: record,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let twilio = match FakeTwilio::start_on(addr, &account_sid, &auth_token, script).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("vox-fake: cannot listen on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!(
        "{}",
        json!({"carrier": "twilio", "apiBase": twilio.api_base(), "accountSid": twilio.account_sid(), "authToken": twilio.auth_token()})
    );
    let mut shown = HashSet::new();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return std::process::ExitCode::SUCCESS,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        for c in twilio.calls() {
            if c.finished && shown.insert(c.sid.clone()) {
                // the media leg as the callee's side saw it: the simulator's summary, or why it failed
                let sim = c.report.as_ref().map(|r| {
                    if r["summary"].is_null() {
                        r.clone()
                    } else {
                        r["summary"].clone()
                    }
                });
                println!(
                    "{}",
                    json!({"callSid": c.sid, "to": c.to, "from": c.from, "finalStatus": c.final_status, "stream": c.stream.map(|s| s.0), "statusCallback": c.status_callback, "sim": sim})
                );
            }
        }
    }
}
