//! Vox's added voice-to-voice latency with providers that take no time.
//!
//! The fake OpenAI-compatible server answers at zero latency (transcription, first token,
//! first speech byte); `vox sim` plays 21 caller turns in real time and measures, per turn,
//! caller end of speech -> first agent audio received. Subtracting the configured endpointing
//! wait (VAD release + minimum endpointing window, measured in the same run's configuration)
//! leaves what Vox itself adds: DSP, the VAD's view of the end of speech, engine, provider
//! round trips over loopback, TTS framing and pacing. `cargo bench --bench voice_latency`.

use std::path::Path;

use serde_json::{Value, json};
use vox_testkit::{ChatReply, FakeOpenAi, FakeTiming, VoxServer, repo_root};

const BIN: &str = env!("CARGO_BIN_EXE_vox");
const TURNS: usize = 21;
const VAD_STOP_MS: u64 = 400;
const MIN_ENDPOINTING_MS: u64 = 300;

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

#[allow(clippy::print_stdout)]
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let fake = FakeOpenAi::start(FakeTiming::default()).await;
        for _ in 0..TURNS {
            fake.push_transcript("That is all I needed.");
            fake.push_chat(ChatReply::text("Alright, noted."));
        }
        let dir = std::env::temp_dir().join(format!("vox-bench-latency-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let agent = json!({
            "agent": {"id": "bench", "name": "Bench", "conversationFlow": "Acknowledge briefly."},
            "llm": {"baseUrl": fake.base_url(), "model": "fake"},
            "asr": {"baseUrl": fake.base_url(), "model": "fake"},
            "tts": {"baseUrl": fake.base_url(), "model": "fake"}
        });
        let agent_path = dir.join("agent.json");
        std::fs::write(&agent_path, agent.to_string()).expect("write");
        let mut script = String::from("agent_id = \"bench\"\nlead_in_ms = 300\ntail_ms = 300\n");
        let wav = repo_root().join("tests/data/audio/bye-1.wav");
        for _ in 0..TURNS {
            script.push_str(&format!("\n[[turn]]\nwav = {:?}\npause_ms = 300\n", wav.display().to_string()));
        }
        let script_path = dir.join("script.toml");
        std::fs::write(&script_path, script).expect("write");
        let a = agent_path.display().to_string();
        let stop = VAD_STOP_MS.to_string();
        let min = MIN_ENDPOINTING_MS.to_string();
        let server = tokio::task::spawn_blocking(move || {
            VoxServer::start(Path::new(BIN), &["--agent", &a], &[("VOX__VAD__STOP_MS", &stop), ("VOX__CONVERSATION__MIN_ENDPOINTING_MS", &min)])
        })
        .await
        .expect("server");
        let report = dir.join("report.json");
        let out = tokio::process::Command::new(BIN)
            .args(["sim", "--quiet", "--url", &server.twilio_url(), "--script"])
            .arg(&script_path)
            .arg("--report")
            .arg(&report)
            .output()
            .await
            .expect("sim");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
        let mut v2v: Vec<f64> = r["calls"][0]["turns"].as_array().expect("turns").iter().filter_map(|t| t["response_latency_ms"].as_f64()).collect();
        let (_, metrics) = vox_testkit::http_get(server.addr, "/metrics").expect("metrics");
        drop(server);
        let wait = (VAD_STOP_MS + MIN_ENDPOINTING_MS) as f64;
        let n = v2v.len();
        let (p50, p95) = (pct(&mut v2v, 0.5), pct(&mut v2v, 0.95));
        println!("voice-to-voice with zero-latency providers, {n} turns");
        println!("  configured endpointing wait (VAD release {VAD_STOP_MS} ms + min endpointing {MIN_ENDPOINTING_MS} ms): {wait:.0} ms");
        println!("  external voice-to-voice  p50 {p50:.1} ms   p95 {p95:.1} ms");
        println!("  added by Vox             p50 {:.1} ms   p95 {:.1} ms   (ratio to the wait: {:.2} / {:.2})", p50 - wait, p95 - wait, (p50 - wait) / wait, (p95 - wait) / wait);
        println!("  Vox's own milestones after the VAD's end of speech (means from /metrics):");
        for stage in ["end_of_turn", "asr_final", "first_llm_token", "first_tts_audio", "first_audio_sent"] {
            let get = |suffix: &str| {
                metrics
                    .lines()
                    .find(|l| l.starts_with(&format!("vox_turn_latency_seconds_{suffix}{{milestone=\"{stage}\"}}")))
                    .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            };
            if let (Some(sum), Some(count)) = (get("sum"), get("count")) {
                println!("    {stage:<18} {:.1} ms  (n={count})", sum / count * 1000.0);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}
