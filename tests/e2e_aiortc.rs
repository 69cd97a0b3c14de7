//! An independent WebRTC implementation calls Vox: aiortc (Python, PyPI) posts a WHIP offer
//! to an LLM agent on the fake providers, hears the greeting, asks a question, hears the
//! answer, and talks over it; the agent falls silent while the caller speaks.
//!
//! Needs a python3 with aiortc (`pip install aiortc`; VOX_AIORTC_PYTHON names the
//! interpreter, default `python3`); without it the test says so and skips, unless
//! VOX_REQUIRE_AIORTC is set (CI installs it in a venv and sets both).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use vox_testkit::{ChatReply, FakeOpenAi, FakeTiming, VoxServer, repo_root, scratch_dir};

const BIN: &str = env!("CARGO_BIN_EXE_vox");
const GREETING: &str = "Hello, thanks for calling Acme Dental.";
/// Long enough (~10 s of speech) that only a barge-in stops it early.
const ANSWER: &str = "Sure, I can help you book a cleaning. We have openings on Monday morning, Tuesday afternoon and Thursday at nine. Which of those works best for you, and may I have your name please?";

fn python() -> String {
    std::env::var("VOX_AIORTC_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn have_aiortc() -> bool {
    Command::new(python())
        .args(["-c", "import aiortc"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Loud frames heard (arrival times, seconds since the call began) in `[from, to)`.
fn loud_in(heard: &[(f64, f64)], from: f64, to: f64) -> Vec<f64> {
    heard
        .iter()
        .filter(|(t, level)| *t >= from && *t < to && *level > 300.0)
        .map(|(t, _)| *t)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiortc_calls_an_llm_agent_hears_it_and_barges_in() {
    if !have_aiortc() {
        assert!(
            std::env::var_os("VOX_REQUIRE_AIORTC").is_none(),
            "VOX_REQUIRE_AIORTC is set but {} cannot import aiortc",
            python()
        );
        eprintln!(
            "SKIP: {} cannot import aiortc (pip install aiortc)",
            python()
        );
        return;
    }
    let fake = FakeOpenAi::start(FakeTiming {
        ttft: Duration::from_millis(200),
        tokens_per_sec: 40.0,
        asr_latency: Duration::from_millis(100),
        tts_ttfb: Duration::from_millis(100),
        tts_ms_per_char: 60,
    })
    .await;
    fake.set_defaults("I would like to book a cleaning.", ChatReply::text(ANSWER));
    let dir = scratch_dir("e2e-aiortc");
    let agent = json!({
        "agent": {"id": "desk", "name": "Desk", "conversationFlow": "Help the caller book.", "firstMessage": GREETING},
        "llm": {"baseUrl": fake.base_url(), "model": "fake-llm"},
        "asr": {"baseUrl": fake.base_url(), "model": "fake-asr"},
        "tts": {"baseUrl": fake.base_url(), "model": "fake-tts"}
    });
    let agent_path = dir.join("agent.json");
    std::fs::write(&agent_path, agent.to_string()).expect("agent");
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            PathBuf::from(BIN).as_path(),
            &["--agent", &agent_path.display().to_string()],
            &[],
        )
    })
    .await
    .expect("server");
    let url = format!("http://{}/whip/desk", server.addr);
    let audio = repo_root().join("tests/data/audio");
    let out = tokio::process::Command::new(python())
        .arg(repo_root().join("tests/webrtc/aiortc_call.py"))
        .arg(&url)
        .arg(audio.join("book-1.wav"))
        .arg(audio.join("bye-1.wav"))
        .output()
        .await
        .expect("run python3");
    assert!(
        out.status.success(),
        "aiortc client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("report");
    let t0 = r["t0"].as_f64().expect("t0");
    let heard: Vec<(f64, f64)> = r["heard"]
        .as_array()
        .expect("heard")
        .iter()
        .map(|h| {
            (
                h[0].as_f64().unwrap_or(0.0) - t0,
                h[1].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let spoke: Vec<(f64, f64)> = r["spoke"]
        .as_array()
        .expect("spoke")
        .iter()
        .map(|s| {
            (
                s[0].as_f64().unwrap_or(0.0) - t0,
                s[1].as_f64().unwrap_or(0.0) - t0,
            )
        })
        .collect();
    assert_eq!(spoke.len(), 2, "asked, then barged in: {spoke:?}");
    let ((ask, asked), (barge, barged)) = (spoke[0], spoke[1]);

    // the greeting (2.3 s of speech at 60 ms a character) before the caller spoke
    let greeting = loud_in(&heard, 0.0, ask);
    assert!(
        greeting.len() >= 60,
        "greeting: {} loud frames",
        greeting.len()
    );
    // the answer, after the question
    let answer = loud_in(&heard, asked, barge);
    assert!(answer.len() >= 40, "answer: {} loud frames", answer.len());
    let first = answer[0] - asked;
    assert!(
        first < 3.0,
        "the answer began {first:.2} s after the question ended"
    );
    // talked over, the agent falls silent within a second and stays so while the caller
    // speaks (its ~10 s answer would otherwise have gone on)
    let over = loud_in(&heard, barge + 1.0, barged);
    assert!(
        over.is_empty(),
        "the agent kept talking over the caller: loud at {over:?} (barge-in {barge:.2}-{barged:.2})"
    );
    let stopped = loud_in(&heard, barge, barge + 1.0)
        .last()
        .map_or(0.0, |t| t - barge);
    eprintln!(
        "aiortc: greeting {} frames, answer {:.0} ms after the question, agent silent {:.0} ms after the barge-in began",
        greeting.len(),
        first * 1000.0,
        stopped * 1000.0
    );
}
