//! Vox's added voice-to-voice latency, and each speech recognizer's place in it.
//!
//! The fake OpenAI-compatible server answers the first chat token and the first speech byte
//! at once; `vox sim` plays 21 caller turns in real time and measures, per turn, caller end
//! of speech -> first agent audio received, and Vox's own milestones after the VAD's end of
//! speech (end-of-turn decision, final transcript, first token, first TTS audio, first audio
//! sent) come from /metrics. Once per recognizer, in one run:
//!
//! - the hosted ones, each answering its final [`HOSTED_LATENCY`] after it can (the fakes of
//!   vox-testkit): per segment (`/audio/transcriptions`, the whole segment posted at its
//!   end), Deepgram's live protocol and OpenAI Realtime transcription (audio streamed while
//!   the caller speaks, the final after the flush);
//! - the local Whisper (tiny.en) per segment (before) and streaming (after), when the models
//!   are fetched.
//!
//! Subtracting the configured endpointing wait (VAD release + minimum endpointing window)
//! from the voice-to-voice time leaves what Vox itself adds. `cargo bench --bench
//! voice_latency`.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use vox_testkit::{ChatReply, FakeLiveAsr, FakeOpenAi, FakeTiming, VoxServer, repo_root};

const BIN: &str = env!("CARGO_BIN_EXE_vox");
const TURNS: usize = 21;
const VAD_STOP_MS: u64 = 400;
const MIN_ENDPOINTING_MS: u64 = 300;
/// The hosted fakes' time to a final once they can give it.
const HOSTED_LATENCY: Duration = Duration::from_millis(100);
const SAID: &str = "That is all I needed.";
const MILESTONES: [&str; 5] = [
    "end_of_turn",
    "asr_final",
    "first_llm_token",
    "first_tts_audio",
    "first_audio_sent",
];

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// A recognizer to measure: its name, the agent's `asr`, and the server's environment.
type Variant<'a> = (String, Value, Vec<(&'a str, &'a str)>);

/// One recognizer's turns: voice-to-voice p50 / p95 and the milestones' means.
struct Row {
    p50: f64,
    p95: f64,
    milestones: Vec<Option<f64>>,
}

async fn measure(asr: Value, env: &[(&str, &str)]) -> Row {
    let fake = FakeOpenAi::start(FakeTiming {
        asr_latency: HOSTED_LATENCY,
        ..FakeTiming::default()
    })
    .await;
    fake.set_defaults(SAID, ChatReply::text("Alright, noted."));
    let dir = std::env::temp_dir().join(format!("vox-bench-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let asr = if asr.is_null() {
        json!({"baseUrl": fake.base_url(), "model": "fake"})
    } else {
        asr
    };
    let agent = json!({
        "agent": {"id": "bench", "name": "Bench", "conversationFlow": "Acknowledge briefly."},
        "llm": {"baseUrl": fake.base_url(), "model": "fake"},
        "asr": asr,
        "tts": {"baseUrl": fake.base_url(), "model": "fake"}
    });
    let agent_path = dir.join("agent.json");
    std::fs::write(&agent_path, agent.to_string()).expect("write");
    let mut script = String::from("agent_id = \"bench\"\nlead_in_ms = 300\ntail_ms = 300\n");
    let wav = repo_root().join("tests/data/audio/bye-1.wav");
    for _ in 0..TURNS {
        script.push_str(&format!(
            "\n[[turn]]\nwav = {:?}\npause_ms = 300\n",
            wav.display().to_string()
        ));
    }
    let script_path = dir.join("script.toml");
    std::fs::write(&script_path, script).expect("write");
    let a = agent_path.display().to_string();
    let stop = VAD_STOP_MS.to_string();
    let min = MIN_ENDPOINTING_MS.to_string();
    let mut vars: Vec<(String, String)> = vec![
        ("VOX__VAD__STOP_MS".into(), stop),
        ("VOX__CONVERSATION__MIN_ENDPOINTING_MS".into(), min),
    ];
    vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let server = tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        VoxServer::start(Path::new(BIN), &["--agent", &a], &vars)
    })
    .await
    .expect("server");
    let r = vox_testkit::sim_report(Path::new(BIN), &server.twilio_url(), &script_path).await;
    let mut v2v: Vec<f64> = r["calls"][0]["turns"]
        .as_array()
        .expect("turns")
        .iter()
        .filter_map(|t| t["response_latency_ms"].as_f64())
        .collect();
    let (_, metrics) = vox_testkit::http_get(server.addr, "/metrics").expect("metrics");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let milestones = MILESTONES
        .iter()
        .map(|stage| {
            let get = |suffix: &str| {
                metrics
                    .lines()
                    .find(|l| {
                        l.starts_with(&format!(
                            "vox_turn_latency_seconds_{suffix}{{milestone=\"{stage}\"}}"
                        ))
                    })
                    .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            };
            match (get("sum"), get("count")) {
                (Some(sum), Some(count)) if count > 0.0 => Some(sum / count * 1000.0),
                _ => None,
            }
        })
        .collect();
    assert!(!v2v.is_empty(), "no turn was answered");
    Row {
        p50: pct(&mut v2v, 0.5),
        p95: pct(&mut v2v, 0.95),
        milestones,
    }
}

#[allow(clippy::print_stdout)]
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let models = repo_root().join("models");
    let local = models.join("whisper").is_dir();
    let models_dir = models.display().to_string();
    rt.block_on(async {
        let live = FakeLiveAsr::start(HOSTED_LATENCY).await;
        live.set_default(SAID);
        let ms = HOSTED_LATENCY.as_millis();
        let mut variants: Vec<Variant> = vec![
            (
                format!("hosted, per segment (fake, {ms} ms)"),
                Value::Null,
                vec![],
            ),
            (
                format!("hosted, Deepgram live (fake, {ms} ms)"),
                json!({"protocol": "deepgram", "baseUrl": live.deepgram_url(), "apiKey": "k", "model": "fake"}),
                vec![],
            ),
            (
                format!("hosted, OpenAI Realtime (fake, {ms} ms)"),
                json!({"protocol": "openai-realtime", "baseUrl": live.realtime_url(), "apiKey": "k", "model": "fake"}),
                vec![],
            ),
        ];
        if local {
            variants.push((
                "local Whisper tiny.en, per segment (before)".into(),
                json!("whisper-tiny.en"),
                vec![
                    ("VOX__MODELS__DIR", models_dir.as_str()),
                    ("VOX__MODELS__WHISPER_STREAMING", "false"),
                    ("VOX__MODELS__WHISPER_IDLE_THREADS", "1"),
                ],
            ));
            variants.push((
                "local Whisper tiny.en, streaming (default)".into(),
                json!("whisper-tiny.en"),
                vec![("VOX__MODELS__DIR", models_dir.as_str())],
            ));
        } else {
            println!("local Whisper not measured: no models/ (run `vox models fetch`)");
        }
        let wait = (VAD_STOP_MS + MIN_ENDPOINTING_MS) as f64;
        println!(
            "{TURNS} turns per recognizer; configured endpointing wait (VAD release {VAD_STOP_MS} ms + min endpointing {MIN_ENDPOINTING_MS} ms): {wait:.0} ms"
        );
        let mut rows = Vec::new();
        for (name, asr, env) in variants {
            let r = measure(asr, &env).await;
            let m: Vec<String> = r
                .milestones
                .iter()
                .map(|v| v.map_or("-".into(), |v| format!("{v:.1} ms")))
                .collect();
            rows.push(format!(
                "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
                r.p50,
                r.p95,
                r.p50 - wait,
                m.join(" | ")
            ));
            println!("{}", rows.last().map_or("", String::as_str));
        }
        println!();
        println!(
            "| recognizer | voice-to-voice p50 | p95 | added by Vox, p50 | end of turn | final transcript | first token | first TTS audio | first audio sent |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for r in rows {
            println!("{r}");
        }
    });
}
