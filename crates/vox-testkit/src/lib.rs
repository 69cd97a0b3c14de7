//! Test helpers for Vox. Only ever a dev-dependency.
//!
//! - [`VoxServer`]: runs the real `vox serve` binary on a free loopback port, waits until it
//!   is healthy, and kills it when dropped.
//! - [`ApiClient`]: the control-plane API with a client-credentials token.
//! - [`http_get`]: a minimal HTTP/1.1 GET over a plain TCP socket (real HTTP, no client
//!   library needed).
//! - [`audio`]: comparing recordings (normalised cross-correlation, levels).
//!
//! - [`FakeOpenAi`]: an OpenAI-compatible chat/transcription/speech server with scripted
//!   replies and configurable latencies, logging every request.
//!
//! - [`FakeTwilio`]: Twilio's REST Calls API and voice webhooks; it answers placed calls by
//!   opening the TwiML's media stream and playing a caller script.
//!
//! - [`FakeCarrier`]: the same for Telnyx, Plivo, Vonage and Exotel, each with its own REST
//!   API, authentication, signed webhooks and media dialect.
//!
//! - [`Chromium`]: headless Chromium with a WAV file as its microphone, read and
//!   photographed through the DevTools protocol.
//!
//! - [`FakeGoogleCalendar`]: Google Calendar's events list/insert/delete with bearer auth.
//!
//! Fakes of things outside the project speak their real wire protocols over loopback.

mod api_client;
pub mod audio;
mod chromium;
pub mod fake_carriers;
pub mod fake_google_calendar;
pub mod fake_live_asr;
pub mod fake_openai;
pub mod fake_twilio;
mod http;
mod server;
mod with_fakes;

pub use api_client::ApiClient;
pub use chromium::Chromium;
pub use fake_carriers::{CarrierKind, FakeCarrier, Replays};
pub use fake_google_calendar::FakeGoogleCalendar;
pub use fake_live_asr::FakeLiveAsr;
pub use fake_openai::{ChatReply, FakeOpenAi, FakeTiming};
pub use fake_twilio::{CallerScript, CallerTurn, FakeCall, FakeTwilio};
pub use http::{Ws, close_of, http_get};
pub use server::{VoxServer, admin_create};
pub use with_fakes::{ServedWithFakes, serve_with_fakes};

/// An HTTP client as the fakes and tests use it: pooled connections are dropped after 5 s
/// idle, well before Vox closes an idle kept-alive connection
/// (`server.header_read_timeout_secs`). A client that keeps them longer can send a request
/// on a connection at the moment the server closes it, and lose the request.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}

/// The models directory when every local model is fetched and espeak-ng (Piper's phonemes)
/// is installed; otherwise prints why the test skips and gives `None` (or, under
/// `VOX_REQUIRE_MODELS=1`, fails the test).
pub fn local_models_or_skip() -> Option<std::path::PathBuf> {
    let models = vox_models::testing::models_dir();
    if !vox_models::fetch::is_complete(&models) {
        return vox_models::testing::skip(&format!(
            "the local models are not all in {}",
            models.display()
        ));
    }
    if std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_err()
    {
        return vox_models::testing::skip("espeak-ng is not installed");
    }
    Some(models)
}

/// What the caller heard on a `vox sim` recording (its right channel), as Whisper tiny.en
/// transcribes it, lower-cased. The channel is cut at silences of 400 ms or more and each
/// stretch of speech transcribed apart, so the transcript does not depend on how the
/// replies fell in time (only on what they sounded like).
pub fn heard_on_recording(recording: &std::path::Path, models: &std::path::Path) -> String {
    let (_, agent, rate) = audio::read_stereo(recording);
    let mut at16 = Vec::new();
    let mut rs =
        vox_audio::StreamResampler::new(vox_core::SampleRate(rate), vox_core::INTERNAL_RATE)
            .expect("rates");
    rs.process(&agent, &mut at16);
    let whisper = vox_models::WhisperLocal::load(&vox_models::Models::new(models), 1, 2, false)
        .expect("whisper");
    let mut heard = String::new();
    for stretch in speech_stretches(&at16, 16_000) {
        for chunk in stretch.chunks(25 * 16_000) {
            heard.push_str(
                &whisper
                    .transcribe_blocking(chunk)
                    .expect("transcribe")
                    .to_lowercase(),
            );
            heard.push(' ');
        }
    }
    heard
}

/// The stretches of `samples` between silences (10 ms windows quieter than -50 dBFS) of at
/// least 400 ms, each with 100 ms of the silence around it.
fn speech_stretches(samples: &[i16], rate: usize) -> Vec<&[i16]> {
    let window = rate / 100;
    let loud: Vec<bool> = samples
        .chunks(window)
        .map(|w| {
            let energy =
                w.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / w.len().max(1) as f64;
            energy.sqrt() > 32768.0 * 10f64.powf(-50.0 / 20.0)
        })
        .collect();
    let (gap, pad) = (40, 10);
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut quiet = 0;
    for (i, &l) in loud.iter().enumerate() {
        if l {
            start.get_or_insert(i);
            quiet = 0;
        } else if let Some(s) = start {
            quiet += 1;
            if quiet >= gap {
                let end = i + 1 - quiet;
                out.push(
                    &samples
                        [s.saturating_sub(pad) * window..((end + pad) * window).min(samples.len())],
                );
                start = None;
            }
        }
    }
    if let Some(s) = start {
        out.push(&samples[s.saturating_sub(pad) * window..]);
    }
    out
}

/// An empty directory for one test's files: `{tmp}/vox-{label}-{pid}`, emptied first so a
/// failed earlier run of the same process id leaves nothing behind in it.
pub fn scratch_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vox-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// Runs `vox sim --quiet --url URL --script SCRIPT` to the end and returns its JSON report
/// (written beside the script); panics with the simulator's output if it fails.
pub async fn sim_report(
    bin: &std::path::Path,
    url: &str,
    script: &std::path::Path,
) -> serde_json::Value {
    let report = script.with_extension("report.json");
    let out = tokio::process::Command::new(bin)
        .args(["sim", "--quiet", "--url", url, "--script"])
        .arg(script)
        .arg("--report")
        .arg(&report)
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "vox sim failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("reading {}: {e}", report.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the report is not JSON ({e}): {text}"))
}

/// The repository root (for test data paths).
pub fn repo_root() -> std::path::PathBuf {
    // At run time first: cargo sets it for every test process to the package under test
    // (all of them two levels below the root), and a build cached from another checkout of
    // the repository (a shared target directory) must not point back into that checkout.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    dir.join("../..")
}
