//! `vox serve` and `vox sim` over loopback with the echo agent: the echo matches the
//! caller's audio, marks come back in order and complete, and a barge-in produces `clear`
//! and silence. Real processes, real WebSockets, real time (~12 s).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use vox_testkit::audio::{best_match, dbfs, read_stereo};
use vox_testkit::{VoxServer, repo_root, scratch_dir};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

fn f(v: &Value, ptr: &str) -> f64 {
    v.pointer(ptr)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{ptr} missing in {v}"))
}

#[test]
fn echo_call_with_barge_in() {
    let server = VoxServer::start(PathBuf::from(BIN).as_path(), &[], &[]);
    let dir = scratch_dir("e2e-echo");
    let report_path = dir.join("report.json");
    let script = repo_root().join("tests/data/scripts/echo-barge-in.toml");
    let out = Command::new(BIN)
        .args(["sim", "--url", &server.twilio_url(), "--script"])
        .arg(&script)
        .arg("--record")
        .arg(&dir)
        .arg("--report")
        .arg(&report_path)
        .output()
        .expect("run vox sim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vox sim failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("report"))
            .expect("json");
    let call = &report["calls"][0];
    assert_eq!(call["ok"], Value::Bool(true), "{call}");
    assert_eq!(
        call["close_code"], 1000,
        "the server ends the call normally after stop"
    );

    // Marks: every mark came back, in order, nothing lost or left pending.
    let received = f(call, "/marks_received");
    assert!(
        received > 100.0,
        "an echo of ~2 s is >100 frames, each marked: {received}"
    );
    assert_eq!(f(call, "/marks_out_of_order"), 0.0);
    assert_eq!(f(call, "/missing_frames"), 0.0);
    assert_eq!(f(call, "/marks_pending"), 0.0);
    assert_eq!(
        f(call, "/marks_echoed") + f(call, "/marks_cleared"),
        received
    );

    // Turn 0: answered after the turn-end silence with an echo as long as the utterance.
    let t0 = &call["turns"][0];
    let latency = f(t0, "/response_latency_ms");
    assert!((300.0..1500.0).contains(&latency), "latency {latency}");
    let spoken = f(t0, "/speech_end_ms") - f(t0, "/onset_ms");
    let echoed = f(t0, "/reply_audio_ms");
    assert!(
        echoed >= spoken && echoed <= spoken + 1000.0,
        "echo {echoed} ms for {spoken} ms of speech"
    );

    // Turn 1 waits for the echo: no barge-in, no clear. Turn 2 barges in.
    assert_eq!(call["turns"][1]["barged_in"], Value::Bool(false));
    let t2 = &call["turns"][2];
    assert_eq!(t2["barged_in"], Value::Bool(true), "{t2}");
    assert_eq!(
        f(call, "/clears"),
        1.0,
        "exactly one clear, for the one barge-in"
    );
    let to_silence = f(t2, "/barge_in_to_silence_ms");
    assert!(
        to_silence <= 200.0,
        "agent audio stopped {to_silence} ms after the barge-in"
    );
    assert_eq!(
        f(t2, "/frames_after_clear"),
        0.0,
        "no agent audio after the clear"
    );

    // The recording: the echo is the caller's audio, and the barge-in leaves silence.
    let (caller, agent, rate) = read_stereo(&dir.join("call-0.wav"));
    let at = |ms: f64| (ms * f64::from(rate) / 1000.0) as usize;
    let reply_start = f(t0, "/speech_end_ms") + latency;
    let needle = &agent[at(reply_start + 300.0)..at(reply_start + 1100.0)];
    assert!(
        dbfs(needle) > -40.0,
        "the echo is audible: {} dBFS",
        dbfs(needle)
    );
    let (offset, corr) = best_match(needle, &caller[..at(f(t0, "/speech_end_ms"))]);
    assert!(
        corr > 0.9,
        "echo correlates with the caller's speech: {corr:.3}"
    );
    let found_ms = offset as f64 * 1000.0 / f64::from(rate);
    assert!(
        found_ms >= f(t0, "/onset_ms") - 300.0,
        "the echo matches turn 0's speech, found at {found_ms} ms"
    );
    let silent_from = f(t2, "/onset_ms") + to_silence + 20.0;
    let silent_to = f(t2, "/speech_end_ms");
    let gap = &agent[at(silent_from)..at(silent_to)];
    assert!(
        dbfs(gap) < -60.0,
        "agent silent while the caller talks over it: {} dBFS",
        dbfs(gap)
    );

    let _ = server.wait(Duration::ZERO);
    let _ = std::fs::remove_dir_all(&dir);
}
