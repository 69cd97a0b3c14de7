//! `vox-fake`: the fake carriers of vox-testkit as a command, so the control plane can be
//! tried by hand (and by `scripts/seed-walkthrough.sh`) without a carrier account; and
//! `vox-fake openai`, a model server with scripted replies (`scripts/voice-ai-walkthrough.sh`:
//! the agent's decisions are the same every run).
//!
//! `vox-fake twilio --port 9010 --turn caller-turn.wav --turn press:4 ...` serves Twilio's
//! REST Calls API on loopback; every call Vox places through it is answered: the TwiML's media
//! stream is opened and the caller turns are played on it (as `vox sim` plays them: speech
//! from a WAV file, or `press:KEYS` as DTMF events), then the signed status callback is
//! posted. `--callee NUMBER=TURN,TURN` gives one number turns of its own; `--busy-once NUMBER`
//! and `--unanswered NUMBER` make a number busy on its first call, or never answer. `POST /fake/ring` with `{voxBase, from, to}` makes an inbound
//! call instead: Twilio's signed voice webhook to `{voxBase}/twilio/voice`, then the same. It
//! prints one JSON line with its account when it is ready, then one line per finished call.

// stdout is this command's interface: the JSON lines above
#![allow(clippy::print_stdout)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use vox_testkit::{CallerScript, CallerTurn, ChatReply, FakeOpenAi, FakeTiming, FakeTwilio};

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
        /// "arguments"}]}`; then `--otherwise` to every request.
        #[arg(long)]
        replies: Option<PathBuf>,
        /// The chat reply once the scripted ones are used up, in the same JSON form.
        #[arg(long, default_value = r#"{"text": "Okay."}"#)]
        otherwise: String,
        /// The JSON object post-call extraction requests get.
        #[arg(long, default_value = "{}")]
        extraction: String,
    },
    /// Twilio: the REST Calls API (Basic auth) and, for each call, its media stream.
    Twilio(TwilioArgs),
}

/// `vox-fake twilio`'s options.
#[derive(Args, Debug)]
struct TwilioArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 9010)]
    port: u16,
    /// The account SID Vox must authenticate with (its pool's `account_sid`).
    #[arg(long, default_value = "AC00000000000000000000000000000001")]
    account_sid: String,
    /// The auth token (the pool's `auth_token`): checks Vox's requests, signs callbacks.
    #[arg(long, default_value = "fake-twilio-auth-token")]
    auth_token: String,
    /// A callee's turn, in order: a WAV file to say, or `press:KEYS` (0-9, *, #, A-D).
    #[arg(
        long = "turn",
        visible_alias = "wav",
        value_name = "TURN",
        required = true
    )]
    turns: Vec<String>,
    /// `NUMBER=TURN,TURN,...`: what the callee at NUMBER says instead (repeatable).
    #[arg(long = "callee", value_name = "NUMBER=TURNS")]
    callees: Vec<String>,
    /// The first call to NUMBER is busy; the later ones are answered (repeatable).
    #[arg(long = "busy-once", value_name = "NUMBER")]
    busy_once: Vec<String>,
    /// Calls to NUMBER ring until no-answer (repeatable).
    #[arg(long = "unanswered", value_name = "NUMBER")]
    unanswered: Vec<String>,
    /// Start talking at once instead of waiting for the agent's greeting.
    #[arg(long)]
    no_greeting: bool,
    /// Write each call's stereo recording (left: callee, right: agent) here.
    #[arg(long)]
    record: Option<PathBuf>,
}

/// A scripted chat reply: `{"text", "toolCalls": [{"name", "arguments"}]}`.
fn chat_reply(r: &serde_json::Value) -> ChatReply {
    let tool_calls = r["toolCalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["name"].as_str()?.to_owned(), c["arguments"].clone())))
        .collect();
    ChatReply {
        text: r["text"].as_str().unwrap_or_default().to_owned(),
        tool_calls,
    }
}

/// Serves the scripted model until interrupted (see `CarrierCmd::Openai`).
async fn openai(
    port: u16,
    replies: Option<&std::path::Path>,
    otherwise: &str,
    extraction: &str,
) -> std::process::ExitCode {
    let script: Vec<serde_json::Value> = match replies.map(|replies| {
        std::fs::read_to_string(replies)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            .map_err(|e| format!("{}: {e}", replies.display()))
    }) {
        None => Vec::new(),
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            eprintln!("vox-fake: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let Ok(extraction) = serde_json::from_str::<serde_json::Value>(extraction) else {
        eprintln!("vox-fake: --extraction is not JSON");
        return std::process::ExitCode::from(2);
    };
    let Ok(otherwise) = serde_json::from_str::<serde_json::Value>(otherwise) else {
        eprintln!("vox-fake: --otherwise is not JSON");
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
    ai.set_defaults("", chat_reply(&otherwise));
    for r in &script {
        ai.push_chat(chat_reply(r));
    }
    println!("{}", json!({"model": "openai", "baseUrl": ai.base_url()}));
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}

/// A caller turn from the command line: `press:KEYS`, or a WAV file's path.
fn turn(arg: &str) -> Result<CallerTurn, String> {
    if let Some(keys) = arg.strip_prefix("press:") {
        let valid = |c: char| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D');
        if keys.is_empty() || !keys.chars().all(valid) {
            return Err(format!("{arg:?}: keys must be 0-9, *, #, A-D"));
        }
        return Ok(CallerTurn::Press(keys.to_owned()));
    }
    match std::fs::canonicalize(arg) {
        Ok(p) if p.is_file() => Ok(CallerTurn::Say(p)),
        _ => Err(format!("no such WAV file: {arg}")),
    }
}

/// The turns of a script: each argument a turn.
fn turns<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<Vec<CallerTurn>, String> {
    args.into_iter().map(turn).collect()
}

/// `NUMBER=TURN,TURN,...`
fn callee(arg: &str) -> Result<(String, Vec<CallerTurn>), String> {
    let Some((number, list)) = arg.split_once('=') else {
        return Err(format!("--callee {arg:?}: expected NUMBER=TURN,TURN,..."));
    };
    let turns = turns(list.split(','))?;
    Ok((number.to_owned(), turns))
}

/// Serves the fake Twilio until interrupted, printing each finished call.
async fn twilio(args: TwilioArgs) -> std::process::ExitCode {
    let TwilioArgs {
        port,
        account_sid,
        auth_token,
        turns: default_turns,
        callees,
        busy_once,
        unanswered,
        no_greeting,
        record,
    } = args;
    let script = |turns| CallerScript {
        turns,
        greeting: !no_greeting,
        record_dir: record.clone(),
    };
    let parsed = turns(default_turns.iter().map(String::as_str)).and_then(|t| {
        Ok((
            t,
            callees
                .iter()
                .map(|c| callee(c))
                .collect::<Result<Vec<_>, _>>()?,
        ))
    });
    let (default_turns, callees) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("vox-fake: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let twilio =
        match FakeTwilio::start_on(addr, &account_sid, &auth_token, script(default_turns)).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!("vox-fake: cannot listen on {addr}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
    for (number, turns) in callees {
        twilio.script_for(&number, script(turns));
    }
    for n in &busy_once {
        twilio.busy_once(n);
    }
    for n in &unanswered {
        twilio.unanswered(n);
    }
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match Cli::parse().carrier {
        CarrierCmd::Openai {
            port,
            replies,
            otherwise,
            extraction,
        } => openai(port, replies.as_deref(), &otherwise, &extraction).await,
        CarrierCmd::Twilio(args) => twilio(args).await,
    }
}
