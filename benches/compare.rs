//! Vox and Pipecat side by side, measured from the caller's side.
//!
//! `bash benches/compare.sh` runs this (`cargo bench --bench compare`) after preparing
//! Pipecat's virtualenv. One fake OpenAI-compatible server (vox-testkit) with fixed latencies
//! serves both runtimes; `vox sim` (in this process) plays the same scripted callers over the
//! same Twilio Media Streams dialect to each, records what it hears, and reports per turn the
//! response latency (caller end of speech -> first agent audio received) and the barge-in time
//! (caller onset over the agent -> agent audio stops). CPU and memory of each runtime's process
//! come from /proc. Nothing is read from the runtimes' own logs or metrics.
//!
//! Phases per runtime: a single call of several turns (voice-to-voice, greeting latency); a
//! call whose turns barge in; then a concurrency sweep (1, 2, 4, ... calls at once) until the
//! voice-to-voice p95 is more than 20% above the sweep's single-call p95 or a call fails.
//!
//! A fourth runtime, `vox-webrtc`, is the same Vox server called as a browser (`vox sim
//! --webrtc`: WHIP, Opus, DTLS-SRTP), so browser calls are measured against the Twilio
//! WebSocket path in the same run; the report has a section for it.
//!
//! Flags (after `--`): `--out DIR` (default `bench-report`), `--only NAME[,NAME...]` (vox,
//! pipecat, vox-energy-vad, vox-webrtc),
//! `--max-level N` (largest concurrency tried, default 256), `--turns N` (single-call turns,
//! default 12), `--split-cores` (each runtime on CPU 0 alone and this process on CPU 1, so a
//! concurrency limit is the runtime's on one core, not the simulator's). Pipecat needs `VOX_BENCH_PYTHON` (the venv's python) and the bot at
//! benches/peers/pipecat/bot.py.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vox_testkit::{ChatReply, FakeOpenAi, FakeTiming, repo_root};

#[path = "compare/report.rs"]
mod report;
use report::markdown;

const BIN: &str = env!("CARGO_BIN_EXE_vox");

/// The fake models' fixed latencies (both runtimes see the same).
const ASR_MS: u64 = 150;
const TTFT_MS: u64 = 250;
const TOKENS_PER_SEC: f64 = 40.0;
const TTS_TTFB_MS: u64 = 120;
/// Endpointing, the same on both: Silero's speech threshold (Pipecat's `confidence`; Vox's
/// `vad.threshold`, with its release threshold 0.1 below), VAD start/stop and the silence wait
/// after the VAD stop.
const VAD_THRESHOLD: f32 = 0.7;
const VAD_START_MS: u64 = 60;
const VAD_STOP_MS: u64 = 200;
const SILENCE_WAIT_MS: u64 = 300;
/// Barge in after this much agent audio has played.
const INTERRUPT_AFTER_MS: u64 = 1500;
/// p95 may grow this much over the single-call figure in the sweep.
const SWEEP_TOLERANCE: f64 = 1.2;

const GREETING: &str = "Hello, thanks for calling Acme Dental.";
const SHORT_REPLY: &str = "Sure. Let me check that for you.";
const LONG_REPLY: &str = "Sure. I can help you with that. Let me look at the calendar for this week and find the earliest open appointment that works for you, and then I will read the options back.";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Runtime {
    Vox,
    Pipecat,
    /// Vox with its default energy VAD instead of Silero: latency phases only, to show how
    /// much of the voice-to-voice time is the VAD model's.
    VoxEnergy,
    /// The same Vox server called as a browser: WHIP, Opus over DTLS-SRTP (`vox sim
    /// --webrtc`), every phase.
    VoxWebRtc,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Runtime::Vox => "vox",
            Runtime::Pipecat => "pipecat",
            Runtime::VoxEnergy => "vox-energy-vad",
            Runtime::VoxWebRtc => "vox-webrtc",
        }
    }
}

struct Opts {
    out: PathBuf,
    only: Option<String>,
    max_level: usize,
    turns: usize,
    /// The runtime on CPU 0, this process (simulator, fake models) on CPU 1.
    split_cores: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        out: PathBuf::from("bench-report"),
        only: None,
        max_level: 256,
        turns: 12,
        split_cores: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let val = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--out" => o.out = PathBuf::from(val()),
            "--only" => o.only = Some(val()),
            "--max-level" => o.max_level = val().parse().expect("--max-level N"),
            "--turns" => o.turns = val().parse().expect("--turns N"),
            "--split-cores" => {
                o.split_cores = true;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// A runtime's server process, with its log in a file.
struct Proc {
    child: Child,
    port: u16,
    /// Called over WebRTC (WHIP) rather than the Twilio WebSocket.
    webrtc: bool,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What `vox sim` calls: the Twilio media WebSocket, or the bench agent's WHIP URL.
    fn url(&self) -> String {
        if self.webrtc {
            format!("http://127.0.0.1:{}/whip/bench", self.port)
        } else {
            format!("ws://127.0.0.1:{}/media/twilio", self.port)
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_healthy(proc: &mut Proc, path: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], proc.port).into();
    loop {
        if matches!(vox_testkit::http_get(addr, path), Ok((200, _))) {
            return;
        }
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!(
                "server exited with {status} before becoming healthy; see {}",
                log.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "server not healthy within 120 s; see {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `cmd` run on the given CPUs only (`taskset` execs it: the pid stays the program's).
fn pinned(cmd: &Command, cpus: &str) -> Command {
    let mut c = Command::new("taskset");
    c.args(["-c", cpus])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

/// Pins every thread of this process to `cpus` (threads started later inherit it).
fn pin_self(cpus: &str) {
    let ok = Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "taskset could not pin the bench to CPU {cpus}");
}

fn start(rt: Runtime, fake: &FakeOpenAi, dir: &Path, silero: bool, split: bool) -> Proc {
    let port = free_port();
    let log_path = dir.join(format!("{}.log", rt.name()));
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut cmd = match rt {
        Runtime::Vox | Runtime::VoxEnergy | Runtime::VoxWebRtc => {
            let silero = silero && rt != Runtime::VoxEnergy;
            let agent = json!({
                "agent": {"id": "bench", "name": "Bench", "conversationFlow": "Help the caller book a dental appointment.", "firstMessage": GREETING},
                "llm": {"baseUrl": fake.base_url(), "model": "fake-llm"},
                "asr": {"baseUrl": fake.base_url(), "model": "fake-asr"},
                "tts": {"baseUrl": fake.base_url(), "model": "fake-tts"}
            });
            let agent_path = dir.join("agent.json");
            std::fs::write(&agent_path, agent.to_string()).expect("agent");
            let mut c = Command::new(BIN);
            c.args([
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--agent",
            ])
            .arg(&agent_path);
            c.env(
                "VOX__STORE__URL",
                format!("sqlite://{}/vox.db", dir.display()),
            )
            .env("VOX__API__FILES_DIR", dir.join("files"))
            .env("VOX__VAD__KIND", if silero { "silero" } else { "energy" })
            .env("VOX__VAD__THRESHOLD", VAD_THRESHOLD.to_string())
            .env("VOX__VAD__NEG_THRESHOLD", (VAD_THRESHOLD - 0.1).to_string())
            .env("VOX__VAD__START_MS", VAD_START_MS.to_string())
            .env("VOX__VAD__STOP_MS", VAD_STOP_MS.to_string())
            .env(
                "VOX__CONVERSATION__MIN_ENDPOINTING_MS",
                SILENCE_WAIT_MS.to_string(),
            )
            .env("VOX__SERVER__MAX_CONCURRENT_CALLS", "2000")
            .env("VOX__LOG__LEVEL", "warn")
            .env_remove("RUST_LOG");
            if let Some(m) = std::env::var_os("VOX_MODELS_DIR") {
                c.env("VOX__MODELS__DIR", m);
            } else {
                c.env("VOX__MODELS__DIR", repo_root().join("models"));
            }
            c
        }
        Runtime::Pipecat => {
            let python = std::env::var("VOX_BENCH_PYTHON").expect("VOX_BENCH_PYTHON: the python of the venv with pipecat-ai (benches/compare.sh sets it)");
            let mut c = Command::new(python);
            c.arg(repo_root().join("benches/peers/pipecat/bot.py"))
                .args([
                    "--port",
                    &port.to_string(),
                    "--openai-base",
                    &fake.base_url(),
                ])
                .args(["--vad-confidence", &VAD_THRESHOLD.to_string()])
                .args([
                    "--vad-start-ms",
                    &VAD_START_MS.to_string(),
                    "--vad-stop-ms",
                    &VAD_STOP_MS.to_string(),
                    "--speech-timeout-ms",
                    &SILENCE_WAIT_MS.to_string(),
                ])
                .args(["--greeting", GREETING]);
            c
        }
    };
    if split {
        cmd = pinned(&cmd, "0");
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    let child = cmd.spawn().expect("spawn runtime");
    let mut p = Proc {
        child,
        port,
        webrtc: rt == Runtime::VoxWebRtc,
    };
    wait_healthy(
        &mut p,
        if rt == Runtime::Pipecat {
            "/health"
        } else {
            "/healthz"
        },
        &log_path,
    );
    p
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU seconds used by the process so far (user + system, its threads and waited-for children).
fn cpu_secs(pid: u32, tck: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // fields after the command name (which may hold spaces) in parentheses
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // rest[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17
    if f.len() < 15 {
        return 0.0;
    }
    (f[11] + f[12] + f[13] + f[14]) / tck
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A script: greeting first, then `turns` turns of `wav`, barging in after `interrupt` ms.
fn script(dir: &Path, name: &str, turns: usize, interrupt: Option<u64>) -> PathBuf {
    let wav = repo_root().join("tests/data/audio/book-1.wav");
    let mut s =
        String::from("agent_id = \"bench\"\ngreeting = true\nlead_in_ms = 300\ntail_ms = 500\n");
    for i in 0..turns {
        s.push_str(&format!(
            "\n[[turn]]\nwav = {:?}\npause_ms = 300\n",
            wav.display().to_string()
        ));
        if let (Some(ms), true) = (interrupt, i > 0) {
            s.push_str(&format!("interrupt_after_ms = {ms}\n"));
        }
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, s).expect("script");
    path
}

async fn sim(url: &str, script: &Path, calls: usize, report: &Path) -> Value {
    let args = vox_sim::SimArgs {
        // a WHIP URL is a browser call
        webrtc: url.starts_with("http://"),
        calls,
        concurrency: calls,
        report: Some(report.to_owned()),
        reply_timeout_ms: 20_000,
        ..vox_sim::SimArgs::new(url, script)
    };
    if let Err(e) = vox_sim::run(args).await {
        return json!({"error": format!("{e:#}")});
    }
    serde_json::from_str(&std::fs::read_to_string(report).unwrap_or_default())
        .unwrap_or(Value::Null)
}

fn values(report: &Value, f: impl Fn(&Value) -> Vec<f64>) -> Vec<f64> {
    report["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(f)
        .collect()
}

fn turn_values(report: &Value, key: &str) -> Vec<f64> {
    values(report, |c| {
        c["turns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t[key].as_f64())
            .collect()
    })
}

fn pct(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    Some(s[((s.len() - 1) as f64 * q).round() as usize])
}

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs every phase against one runtime.
async fn measure(
    rt: Runtime,
    fake: &FakeOpenAi,
    dir: &Path,
    o: &Opts,
    silero: bool,
    tck: f64,
) -> Value {
    let rdir = dir.join(rt.name());
    std::fs::create_dir_all(&rdir).expect("dir");
    let proc = start(rt, fake, &rdir, silero, o.split_cores);
    let pid = proc.pid();
    say(&format!(
        "[{}] started (pid {pid}, RSS {:.0} MB)",
        rt.name(),
        rss_mb(pid)
    ));

    // warm-up call (first-call costs: connection pools, model sessions)
    fake.set_defaults(
        "I would like to book an appointment.",
        ChatReply::text(SHORT_REPLY),
    );
    let warm = script(&rdir, "warmup", 1, None);
    sim(&proc.url(), &warm, 1, &rdir.join("warmup.json")).await;
    let idle_rss = rss_mb(pid);

    // 1. one call, several turns: voice-to-voice and the greeting
    let single = script(&rdir, "single", o.turns, None);
    let r1 = sim(&proc.url(), &single, 1, &rdir.join("single.json")).await;
    let v2v = turn_values(&r1, "response_latency_ms");
    let greeting = values(&r1, |c| c["greeting_ms"].as_f64().into_iter().collect());
    say(&format!(
        "[{}] single call: {} turns, v2v p50 {:?} p95 {:?}, greeting {:?}",
        rt.name(),
        v2v.len(),
        pct(&v2v, 0.5),
        pct(&v2v, 0.95),
        greeting.first()
    ));

    // 2. barge-in: every turn after the first interrupts a long reply
    fake.set_defaults(
        "Actually, wait a moment please.",
        ChatReply::text(LONG_REPLY),
    );
    let barge = script(&rdir, "barge", 7, Some(INTERRUPT_AFTER_MS));
    let r2 = sim(&proc.url(), &barge, 1, &rdir.join("barge.json")).await;
    let barge_ms = turn_values(&r2, "barge_in_to_silence_ms");
    let clear_ms = turn_values(&r2, "clear_ms");
    say(&format!(
        "[{}] barge-in: {} interruptions, to silence p50 {:?}",
        rt.name(),
        barge_ms.len(),
        pct(&barge_ms, 0.5)
    ));

    if rt == Runtime::VoxEnergy {
        drop(proc);
        return json!({
            "runtime": rt.name(),
            "voice_to_voice_ms": {"n": v2v.len(), "p50": pct(&v2v, 0.5), "p95": pct(&v2v, 0.95), "samples": v2v},
            "greeting_ms": {"n": greeting.len(), "p50": pct(&greeting, 0.5), "samples": greeting},
            "barge_in_to_silence_ms": {"n": barge_ms.len(), "p50": pct(&barge_ms, 0.5), "p95": pct(&barge_ms, 0.95), "samples": barge_ms},
            "sweep": [],
        });
    }

    // 3. concurrency sweep
    fake.set_defaults(
        "I would like to book an appointment.",
        ChatReply::text(SHORT_REPLY),
    );
    let sweep_script = script(&rdir, "sweep", 3, None);
    let mut levels = Vec::new();
    let mut base_p95: Option<f64> = None;
    let mut best = 0usize;
    let mut level = 1usize;
    // doubling until a level fails, then two bisection steps between the last good and the
    // first bad level
    let mut bad: Option<usize> = None;
    let mut refinements = 0;
    let mut largest_run = 0usize;
    while level <= o.max_level && level > best {
        // memory per call is only meaningful for a level larger than any before it (the
        // allocator keeps what a larger level took)
        let fresh = level > largest_run;
        largest_run = largest_run.max(level);
        let rss_before = rss_mb(pid);
        let cpu_before = cpu_secs(pid, tck);
        // sample the peak RSS while the level runs
        let peak = std::sync::Arc::new(std::sync::Mutex::new(rss_before));
        let sampler = {
            let peak = peak.clone();
            tokio::spawn(async move {
                loop {
                    let r = rss_mb(pid);
                    if let Ok(mut p) = peak.lock() {
                        *p = p.max(r);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        };
        let r = sim(
            &proc.url(),
            &sweep_script,
            level,
            &rdir.join(format!("sweep-{level}.json")),
        )
        .await;
        sampler.abort();
        let cpu = cpu_secs(pid, tck) - cpu_before;
        let peak_rss = *peak.lock().expect("peak");
        let lat = turn_values(&r, "response_latency_ms");
        let call_minutes: f64 = values(&r, |c| c["duration_ms"].as_f64().into_iter().collect())
            .iter()
            .sum::<f64>()
            / 60_000.0;
        let failed = r["summary"]["calls_failed"]
            .as_u64()
            .unwrap_or(level as u64);
        let late = r["summary"]["late_frames"].as_u64().unwrap_or(0);
        let sim_late = r["summary"]["sim_late_ticks"].as_u64().unwrap_or(0);
        let p95 = pct(&lat, 0.95);
        if level == 1 {
            base_p95 = p95;
        }
        let within = matches!((p95, base_p95), (Some(p), Some(b)) if p <= b * SWEEP_TOLERANCE)
            && failed == 0;
        say(&format!(
            "[{}] {level:>4} calls: v2v p50 {:?} p95 {:?}, failed {failed}, late frames {late} (simulator late ticks {sim_late}), CPU {:.2} s/call-min, +{:.1} MB/call {}",
            rt.name(),
            pct(&lat, 0.5),
            p95,
            cpu / call_minutes.max(1e-9),
            (peak_rss - rss_before).max(0.0) / level as f64,
            if within { "ok" } else { "-> beyond the limit" }
        ));
        levels.push(json!({
            "calls": level, "v2v_p50_ms": pct(&lat, 0.5), "v2v_p95_ms": p95, "turns": lat.len(), "calls_failed": failed, "late_frames": late,
            "cpu_seconds": cpu, "call_minutes": call_minutes, "cpu_seconds_per_call_minute": cpu / call_minutes.max(1e-9),
            "rss_before_mb": rss_before, "rss_peak_mb": peak_rss, "memory_per_call_mb": if fresh { json!((peak_rss - rss_before).max(0.0) / level as f64) } else { Value::Null },
            "within_limit": within, "sim_late_ticks": sim_late, "errors": r["summary"]["errors"],
        }));
        if within {
            best = level;
        } else {
            bad = Some(level);
        }
        level = match bad {
            None => level * 2,
            Some(b) if refinements < 2 && b - best > 1 => {
                refinements += 1;
                best + (b - best) / 2
            }
            Some(_) => break,
        };
    }
    levels.sort_by_key(|l| l["calls"].as_u64());
    // cost figures at the largest level within the limit (steady load), else at one call
    let at = levels
        .iter()
        .filter(|l| l["within_limit"] == true)
        .max_by_key(|l| l["calls"].as_u64())
        .or(levels.first())
        .cloned()
        .unwrap_or(Value::Null);
    let mem_at = levels
        .iter()
        .filter(|l| l["within_limit"] == true && !l["memory_per_call_mb"].is_null())
        .max_by_key(|l| l["calls"].as_u64())
        .cloned()
        .unwrap_or(Value::Null);
    drop(proc);
    json!({
        "runtime": rt.name(),
        "idle_rss_mb": idle_rss,
        "voice_to_voice_ms": {"n": v2v.len(), "p50": pct(&v2v, 0.5), "p95": pct(&v2v, 0.95), "samples": v2v},
        "greeting_ms": {"n": greeting.len(), "p50": pct(&greeting, 0.5), "samples": greeting},
        "barge_in_to_silence_ms": {"n": barge_ms.len(), "p50": pct(&barge_ms, 0.5), "p95": pct(&barge_ms, 0.95), "samples": barge_ms},
        "barge_in_to_clear_ms": {"n": clear_ms.len(), "p50": pct(&clear_ms, 0.5)},
        "single_call_errors": r1["summary"]["errors"],
        "barge_in_errors": r2["summary"]["errors"],
        "max_concurrent_calls_within_20pct": best,
        "cpu_seconds_per_call_minute": at["cpu_seconds_per_call_minute"],
        "memory_per_call_mb": mem_at["memory_per_call_mb"],
        "memory_measured_at_calls": mem_at["calls"],
        "cost_measured_at_calls": at["calls"],
        "sweep": levels,
    })
}

fn main() {
    let o = opts();
    let dir = std::env::temp_dir().join(format!("vox-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::create_dir_all(&o.out).expect("out dir");
    let models = std::env::var_os("VOX_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models"));
    let silero = vox_models::fetch::is_complete(&models);
    if !silero {
        say(
            "NOTE: local models absent (`vox models fetch`): Vox uses its energy VAD, Pipecat its bundled Silero; VAD results are then not like for like",
        );
    }
    let tck = clock_ticks();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    if o.split_cores {
        assert!(cores >= 2, "--split-cores needs two CPUs");
        pin_self("1");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(async {
        let fake = FakeOpenAi::start(FakeTiming {
            ttft: Duration::from_millis(TTFT_MS),
            tokens_per_sec: TOKENS_PER_SEC,
            asr_latency: Duration::from_millis(ASR_MS),
            tts_ttfb: Duration::from_millis(TTS_TTFB_MS),
            tts_ms_per_char: 60,
        })
        .await;
        let mut runtimes = Vec::new();
        for r in [
            Runtime::Vox,
            Runtime::Pipecat,
            Runtime::VoxEnergy,
            Runtime::VoxWebRtc,
        ] {
            if o
                .only
                .as_deref()
                .is_some_and(|x| !x.split(',').any(|n| n == r.name()))
            {
                continue;
            }
            runtimes.push(measure(r, &fake, &dir, &o, silero, tck).await);
        }
        let floor = (VAD_STOP_MS + SILENCE_WAIT_MS.max(ASR_MS) + TTFT_MS + TTS_TTFB_MS) as f64;
        let pipecat_version = std::env::var("VOX_BENCH_PYTHON")
            .ok()
            .and_then(|py| Command::new(py).args(["-c", "import importlib.metadata as m; print(m.version('pipecat-ai'))"]).output().ok())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned());
        let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<f64>().unwrap_or(0.0) / 1_048_576.0)).unwrap_or(0.0);
        let date = Command::new("date").arg("+%Y-%m-%d %H:%M").output().ok().and_then(|o| String::from_utf8(o.stdout).ok()).unwrap_or_default();
        let commit = Command::new("git").args(["-C", &repo_root().display().to_string(), "rev-parse", "--short", "HEAD"]).output().ok().and_then(|o| String::from_utf8(o.stdout).ok()).unwrap_or_default();
        json!({
            "date": date.trim(), "commit": commit.trim(),
            "machine": if o.split_cores {
                format!("{cores} cores, {mem:.0} GiB; each runtime pinned to CPU 0, the simulator and fake models to CPU 1 (--split-cores)")
            } else {
                format!("{cores} cores, {mem:.0} GiB; runtimes, simulator and fake models on the same machine")
            },
            "pipecat_version": pipecat_version,
            "vad": if silero { "Silero VAD on both;" } else { "Vox energy VAD, Pipecat Silero VAD (models absent);" },
            "fake_models": {"asr_ms": ASR_MS, "ttft_ms": TTFT_MS, "tokens_per_sec": TOKENS_PER_SEC, "tts_ttfb_ms": TTS_TTFB_MS},
            "endpointing": {"vad_threshold": VAD_THRESHOLD, "vad_start_ms": VAD_START_MS, "vad_stop_ms": VAD_STOP_MS, "silence_wait_ms": SILENCE_WAIT_MS},
            "floor_ms": floor,
            "runtimes": runtimes,
        })
    });
    std::fs::write(
        o.out.join("report.json"),
        serde_json::to_string_pretty(&report).expect("json"),
    )
    .expect("write report.json");
    let md = markdown(&report);
    std::fs::write(o.out.join("report.md"), &md).expect("write report.md");
    say(&md);
    say(&format!(
        "written: {}/report.json, report.md",
        o.out.display()
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
