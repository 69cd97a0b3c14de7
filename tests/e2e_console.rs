//! The console (`GET /console`) as a developer uses it: headless Chromium opens it on `vox
//! serve --demo` (the README's run command) with a WAV file as its microphone, calls the
//! demo agent, asks to book an appointment, and talks over the answer. The page must show the
//! caller's words and the agent's answer, stop playing the agent's audio when the caller
//! barges in, and time the turn (its own "first audio played" included).
//!
//! Needs chromium (`apt-get install chromium`) and the local models; skips with a printed
//! reason without them, unless VOX_REQUIRE_CHROMIUM / VOX_REQUIRE_MODELS is set (CI).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use vox_testkit::{Chromium, VoxServer, repo_root, scratch_dir};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

/// `GET /console/agents` as `client`'s address sees it.
async fn agents_seen_by(client: &reqwest::Client, base: &str) -> Value {
    client
        .get(format!("{base}/console/agents"))
        .send()
        .await
        .expect("GET /console/agents")
        .json()
        .await
        .expect("JSON")
}

/// The page's files and its agent list, to a trusted and to an untrusted address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_and_lists_file_agents_to_trusted_addresses_only() {
    // only 127.0.0.1 trusted, so a client on 127.0.0.2 plays an outsider
    let dir = scratch_dir("console-files");
    let config = dir.join("vox.toml");
    std::fs::write(&config, "[media]\ntrusted_sources = [\"127.0.0.1/32\"]\n").expect("config");
    let config = config.display().to_string();
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(Path::new(BIN), &["--config", &config], &[])
    })
    .await
    .expect("server");
    let base = format!("http://{}", server.addr);
    let client = vox_testkit::http_client();
    for (path, kind) in [
        ("/console", "text/html"),
        ("/console/console.js", "text/javascript"),
        ("/console/console.css", "text/css"),
    ] {
        let res = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("GET");
        assert_eq!(res.status(), 200, "{path}");
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-type").starts_with(kind), "{path}");
        // only the page's own files run, and it talks only to its own origin
        let policy = header("content-security-policy");
        assert!(
            policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"),
            "{path}: {policy}"
        );
        let body = res.text().await.expect("body");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} refers to another origin (the console must work offline)"
        );
    }
    let trusted = agents_seen_by(&client, &base).await;
    assert_eq!(trusted["fileAgents"], true, "{trusted}");
    assert_eq!(trusted["webrtc"], true, "{trusted}");
    assert!(
        trusted["agents"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["id"] == "echo")),
        "{trusted}"
    );
    let outsider = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().ok())
        .build()
        .expect("client");
    let untrusted = agents_seen_by(&outsider, &base).await;
    assert_eq!(untrusted["fileAgents"], false, "{untrusted}");
    assert_eq!(untrusted["agents"], serde_json::json!([]), "{untrusted}");
    assert_eq!(
        untrusted["iceServers"],
        serde_json::json!([]),
        "{untrusted}"
    );
}

/// A microphone for the page (48 kHz mono WAV, the rate Chromium captures at, so its own
/// resampler is not in the way): each turn's WAV after its own silence, then 6 s of silence.
fn microphone(path: &Path, parts: &[(f64, PathBuf)]) {
    const RATE: u32 = 48_000;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("microphone WAV");
    let silence = |w: &mut hound::WavWriter<_>, secs: f64| {
        for _ in 0..(secs * f64::from(RATE)) as usize {
            w.write_sample(0i16).expect("sample");
        }
    };
    for (pause, wav) in parts {
        silence(&mut w, *pause);
        let speech = vox_audio::wav::read_mono_at(wav, vox_core::SampleRate(RATE))
            .unwrap_or_else(|e| panic!("{}: {e}", wav.display()));
        for s in speech {
            w.write_sample(s).expect("sample");
        }
    }
    silence(&mut w, 6.0);
    w.finalize().expect("microphone WAV");
}

/// The transcript as the page shows it: (role, text, interrupted).
async fn transcript(page: &mut Chromium) -> Vec<(String, String, bool)> {
    let v = page
        .eval(
            "[...document.querySelectorAll('#transcript li')].map(li => [li.dataset.role, \
             li.querySelector('.said').textContent, li.classList.contains('interrupted')])",
        )
        .await;
    v.as_array()
        .map(|all| {
            all.iter()
                .map(|l| {
                    (
                        l[0].as_str().unwrap_or_default().to_owned(),
                        l[1].as_str().unwrap_or_default().to_lowercase(),
                        l[2].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Stretches of sound the page measured, (on, off) in page ms (off: `None` while it lasts).
fn stretches(v: &Value) -> Vec<(f64, Option<f64>)> {
    v.as_array()
        .map(|all| {
            all.iter()
                .map(|s| (s["on"].as_f64().unwrap_or(0.0), s["off"].as_f64()))
                .collect()
        })
        .unwrap_or_default()
}

/// Stretches less than a second apart joined: the caller's utterances (words are separated
/// by short silences).
fn utterances(sound: &[(f64, Option<f64>)]) -> Vec<(f64, Option<f64>)> {
    let mut out: Vec<(f64, Option<f64>)> = Vec::new();
    for &(on, off) in sound {
        match out.last_mut() {
            Some(last) if last.1.is_some_and(|end| on - end < 1000.0) => last.1 = off,
            _ => out.push((on, off)),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_calls_the_demo_from_the_console_and_barges_in() {
    let Some(chromium) = Chromium::binary_or_skip() else {
        return;
    };
    let Some(models) = vox_testkit::local_models_or_skip() else {
        return;
    };
    let dir = scratch_dir("e2e-console");
    let audio = repo_root().join("tests/data/audio");
    // The greeting (~6 s) is over before the question (to book); the barge-in comes 3.2 s
    // after the question ends, well into the ~6 s answer (which starts 1-2.5 s after it).
    let mic = dir.join("microphone.wav");
    microphone(
        &mic,
        &[
            (9.0, audio.join("book-1.wav")),
            (3.2, audio.join("interrupt-1.wav")),
        ],
    );
    let m = models.display().to_string();
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            Path::new(BIN),
            &["--demo"],
            &[
                ("VOX__MODELS__DIR", &m),
                ("VOX__MODELS__TTS_NOISE", "false"),
            ],
        )
    })
    .await
    .expect("server");
    // The microphone is a clean recording, as through headphones: no echo cancellation,
    // noise suppression or gain control. Whisper tiny mishears this 8 kHz recording itself
    // ("I would like to welcome appointments...", from `vox transcribe book-1.wav`); the
    // audio Vox decoded from Chromium matches the WAV's spectrum within 0.4 dB per band up
    // to 3.4 kHz and is transcribed the same. So the checks are on the answer the agent
    // chose and a word Whisper does hear, not on the whole question.
    let url = format!(
        "http://{}/console?agent=demo&autocall=1&processing=0",
        server.addr
    );
    let mut page = Chromium::open(&chromium, &url, &mic).await;

    let connected = page
        .wait_for(
            "window.voxConsole && window.voxConsole.status === 'in call'",
            Duration::from_secs(15),
        )
        .await;
    if connected.is_none() {
        let state = page
            .eval("JSON.stringify({status: voxConsole.status, error: voxConsole.error})")
            .await;
        panic!("the console did not connect: {state}");
    }
    // the answer to the question, in the page (planned words included while it is spoken):
    // a node of the demo's graph, chosen from what Whisper heard. Mostly the offer of
    // appointments; on a loaded machine Chromium's microphone can come out rougher and
    // Whisper tiny hear "welcome pointsments for next, to make and in the morning" (seen in
    // CI), which the graph answers with its opening hours. Either shows the words reached
    // the agent; the no-match apology would not.
    const ANSWERS: &str = "/tuesday at ten|nine to five/i";
    let answered = page
        .wait_for(
            &format!("[...document.querySelectorAll('#transcript li.agent .said')].some(s => {ANSWERS}.test(s.textContent))"),
            Duration::from_secs(30),
        )
        .await;
    assert!(
        answered.is_some(),
        "no answer from the demo's graph in the page: {:?}",
        transcript(&mut page).await
    );
    // the barge-in: a line cut off by the caller
    let cut = page
        .wait_for(
            "document.querySelector('#transcript li.agent.interrupted') !== null",
            Duration::from_secs(20),
        )
        .await;
    // VOX_CONSOLE_SCREENSHOT keeps the picture (the scratch directory goes at the end)
    let shot = std::env::var_os("VOX_CONSOLE_SCREENSHOT")
        .map_or_else(|| dir.join("console-mid-call.png"), PathBuf::from);
    page.screenshot(&shot).await;
    eprintln!("screenshot mid-call: {}", shot.display());
    let lines = transcript(&mut page).await;
    eprintln!("the page's transcript: {lines:?}");
    assert!(cut.is_some(), "no agent line cut off: {lines:?}");
    assert!(
        lines
            .iter()
            .any(|(role, text, _)| role == "caller" && text.contains("morning")),
        "the caller's question is not in the page: {lines:?}"
    );
    assert!(
        lines.iter().any(|(role, text, cut)| role == "agent"
            && *cut
            && (text.contains("tuesday at ten") || text.contains("nine to five"))),
        "the cut-off line is not the answer: {lines:?}"
    );
    // what the page heard: the answer after the question, then silence soon after the
    // caller began to talk over it, for as long as they talked
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mic_sound = utterances(&stretches(&page.eval("voxConsole.mic").await));
    let agent_sound = stretches(&page.eval("voxConsole.agent").await);
    eprintln!("microphone sound (page ms): {mic_sound:?}");
    eprintln!("agent sound (page ms): {agent_sound:?}");
    assert!(mic_sound.len() >= 2, "the page heard no two utterances");
    let (_, asked) = mic_sound[0];
    let asked = asked.expect("the question ended");
    let (barge, barged) = mic_sound[1];
    let barged = barged.unwrap_or(f64::MAX);
    let answered = agent_sound
        .iter()
        .find(|(on, _)| *on > asked)
        .map(|(on, _)| *on)
        .unwrap_or_else(|| panic!("no agent audio after the question"));
    assert!(
        answered < barge,
        "the answer began after the barge-in: {answered} >= {barge}"
    );
    // the stretch of the answer playing when the caller began to talk over it (or starting
    // just then, if they began in a pause between its sentences)
    let talked_over = agent_sound
        .iter()
        .find(|(on, off)| *on < barge + 300.0 && off.is_none_or(|off| off > barge))
        .unwrap_or_else(|| panic!("the agent was not audible when the caller barged in"));
    let stopped = talked_over.1.expect("the answer's audio stopped");
    let stopped_after = stopped - barge;
    eprintln!(
        "answer heard {:.0} ms after the question; silent {stopped_after:.0} ms after the barge-in began",
        answered - asked
    );
    assert!(
        stopped_after < 1500.0,
        "the agent's audio stopped {stopped_after:.0} ms after the barge-in began"
    );
    let resumed: Vec<_> = agent_sound
        .iter()
        .filter(|(on, _)| *on > stopped && *on < barged)
        .collect();
    assert!(
        resumed.is_empty(),
        "agent audio while the caller was still talking: {resumed:?}"
    );
    // the turn's latency, the page's own "first audio played" included
    let turns = page.eval("voxConsole.turns").await;
    eprintln!("latency per turn: {turns}");
    let played: Vec<f64> = turns
        .as_object()
        .map(|t| t.values().filter_map(|t| t["playedMs"].as_f64()).collect())
        .unwrap_or_default();
    assert!(
        !played.is_empty(),
        "no turn's first audio was timed in the page: {turns}"
    );
    // what Vox's playout estimate models (vox-webrtc's playout.rs): sent to heard
    let sent_to_heard: Vec<f64> = turns
        .as_object()
        .map(|t| {
            t.values()
                .filter_map(|t| {
                    Some(t["playedMs"].as_f64()? - t["latency"]["firstAudioSentMs"].as_f64()?)
                })
                .collect()
        })
        .unwrap_or_default();
    let jitter_buffer = page.eval("voxConsole.jitterBufferMs").await;
    eprintln!(
        "first audio sent -> heard in the page: {sent_to_heard:?} ms; browser jitter buffer, per second: {jitter_buffer} ms"
    );
    let shown = page
        .eval("document.querySelector('#waterfall [data-milestone=playedMs] .ms').textContent")
        .await;
    assert!(
        shown.as_str().is_some_and(|s| s.parse::<f64>().is_ok()),
        "the waterfall shows no first audio played: {shown}"
    );
    // hang up from the page
    page.eval("document.getElementById('hangup').click()").await;
    let ended = page
        .wait_for(
            "voxConsole.status.startsWith('ended')",
            Duration::from_secs(5),
        )
        .await;
    assert!(ended.is_some(), "the page did not hang up");
    drop(page);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
