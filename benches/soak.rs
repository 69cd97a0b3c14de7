//! The soak: Vox holding many concurrent calls for a long time, watched for memory growth and
//! late audio.
//!
//! `bash benches/soak.sh` runs this (`cargo bench --bench soak`). One fake OpenAI-compatible
//! server (vox-testkit) with the fixed latencies of the side-by-side comparison serves an LLM
//! agent (`vox serve --agent`, Silero VAD when the local models are installed); `vox sim`
//! (a process of its own) keeps `--calls` Twilio callers in progress, in rounds of about
//! seven minutes, each caller speaking six turns, until `--minutes` have passed. Every 10 s
//! the server's RSS and CPU come from /proc, and the simulator's CPU per round.
//!
//! Reported: RSS growth (the median of the last round's samples over the median of the
//! second round's: the first round warms caches and pools), late frames (and where in the
//! replies they came) and simulator lateness, failed calls and unanswered turns, response latency per round. The run passes
//! when RSS grows less than 5%, no frame is late and every call succeeds.
//!
//! Flags (after `--`): `--minutes N` (default 60), `--calls N` (concurrent, default 100),
//! `--out DIR` (default `bench-report/soak`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vox_testkit::{ChatReply, FakeOpenAi, FakeTiming, repo_root};

const BIN: &str = env!("CARGO_BIN_EXE_vox");
const GREETING: &str = "Hello, thanks for calling Acme Dental.";
const REPLY: &str = "Sure. Let me check that for you.";
/// Turns per caller.
const TURNS: usize = 6;
/// Calls per round, as a multiple of the concurrency (a call lasts ~40 s: ~5 minutes).
const CALLS_PER_ROUND: usize = 8;

struct Opts {
    minutes: u64,
    calls: usize,
    out: PathBuf,
}

fn opts() -> Opts {
    let mut o = Opts {
        minutes: 60,
        calls: 100,
        out: repo_root().join("bench-report/soak"),
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--minutes" => o.minutes = value.parse().expect("--minutes N"),
            "--calls" => o.calls = value.parse().expect("--calls N"),
            "--out" => o.out = PathBuf::from(value),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The server process; SIGTERM then kill on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start(fake: &FakeOpenAi, dir: &Path, port: u16, silero: bool, models: &Path) -> Server {
    let agent = json!({
        "agent": {"id": "soak", "name": "Soak", "conversationFlow": "Help the caller book a dental appointment.", "firstMessage": GREETING},
        "llm": {"baseUrl": fake.base_url(), "model": "fake-llm"},
        "asr": {"baseUrl": fake.base_url(), "model": "fake-asr"},
        "tts": {"baseUrl": fake.base_url(), "model": "fake-tts"}
    });
    let agent_path = dir.join("agent.json");
    std::fs::write(&agent_path, agent.to_string()).expect("agent");
    let log = std::fs::File::create(dir.join("vox.log")).expect("log");
    let child = Command::new(BIN)
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--agent")
        .arg(&agent_path)
        .env(
            "VOX__STORE__URL",
            format!("sqlite://{}/vox.db", dir.display()),
        )
        .env("VOX__API__FILES_DIR", dir.join("files"))
        .env("VOX__VAD__KIND", if silero { "silero" } else { "energy" })
        .env("VOX__MODELS__DIR", models)
        .env("VOX__SERVER__MAX_CONCURRENT_CALLS", "2000")
        .env("VOX__LOG__LEVEL", "warn")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn vox");
    let server = Server(child);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !matches!(vox_testkit::http_get(addr, "/healthz"), Ok((200, _))) {
        assert!(
            Instant::now() < deadline,
            "vox did not come up; see {}",
            dir.join("vox.log").display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime and stime (fields 14, 15), in clock ticks (100 a second on Linux)
    if f.len() < 13 {
        0.0
    } else {
        (f[11] + f[12]) / 100.0
    }
}

/// One round of callers: `vox sim` in a process of its own (so the server's figures are not
/// mixed with the load generator's, and each can be watched apart), writing its JSON report
/// to `report`. Returns the simulator's CPU seconds.
async fn run_sim(url: &str, script: &Path, report: &Path, calls: usize) -> f64 {
    let mut child = tokio::process::Command::new(BIN)
        .args(["sim", "--url", url, "--script"])
        .arg(script)
        .args([
            "--calls",
            &(calls * CALLS_PER_ROUND).to_string(),
            "--concurrency",
            &calls.to_string(),
            "--ramp-ms",
            "10000",
            "--reply-timeout-ms",
            "20000",
            "--report",
        ])
        .arg(report)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn vox sim");
    let pid = child.id().unwrap_or(0);
    let mut cpu = 0.0;
    loop {
        // the last reading before it exits (to within a second)
        let now = cpu_secs(pid);
        if now > 0.0 {
            cpu = now;
        }
        match tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
            Ok(Ok(status)) => {
                if !status.success() {
                    say(&format!("vox sim exited with {status}"));
                }
                return cpu;
            }
            Ok(Err(e)) => {
                say(&format!("vox sim: {e}"));
                return cpu;
            }
            Err(_) => {}
        }
    }
}

fn script(dir: &Path) -> PathBuf {
    let wav = repo_root().join("tests/data/audio/book-1.wav");
    let mut s =
        String::from("agent_id = \"soak\"\ngreeting = true\nlead_in_ms = 300\ntail_ms = 500\n");
    for _ in 0..TURNS {
        s.push_str(&format!(
            "\n[[turn]]\nwav = {:?}\npause_ms = 300\n",
            wav.display().to_string()
        ));
    }
    let path = dir.join("soak.toml");
    std::fs::write(&path, s).expect("script");
    path
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[v.len() / 2])
}

/// One sample of the server: seconds since the start, round, RSS, CPU seconds so far.
#[derive(Clone, Copy)]
struct Sample {
    at_s: f64,
    round: usize,
    rss_mb: f64,
    cpu_s: f64,
}

fn main() {
    let o = opts();
    let dir = std::env::temp_dir().join(format!("vox-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::create_dir_all(&o.out).expect("out");
    let models = std::env::var_os("VOX_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models"));
    let silero = vox_models::fetch::is_complete(&models);
    if !silero {
        say("NOTE: local models absent (`vox models fetch`): the energy VAD stands in for Silero");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(async {
        let fake = FakeOpenAi::start(FakeTiming {
            ttft: Duration::from_millis(250),
            tokens_per_sec: 40.0,
            asr_latency: Duration::from_millis(150),
            tts_ttfb: Duration::from_millis(120),
            tts_ms_per_char: 60,
        })
        .await;
        fake.set_defaults("I would like to book an appointment.", ChatReply::text(REPLY));
        let port = free_port();
        let server = start(&fake, &dir, port, silero, &models);
        let pid = server.0.id();
        let url = format!("ws://127.0.0.1:{port}/media/twilio");
        let script = script(&dir);
        let begun = Instant::now();
        let round_now = Arc::new(Mutex::new(0usize));
        let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
        let sampler = {
            let (samples, round_now) = (samples.clone(), round_now.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(10));
                loop {
                    tick.tick().await;
                    let s = Sample {
                        at_s: begun.elapsed().as_secs_f64(),
                        round: *round_now.lock().expect("round"),
                        rss_mb: rss_mb(pid),
                        cpu_s: cpu_secs(pid),
                    };
                    samples.lock().expect("samples").push(s);
                }
            })
        };
        let mut rounds = Vec::new();
        let limit = Duration::from_secs(o.minutes * 60);
        let mut round = 0;
        while begun.elapsed() < limit || round < 2 {
            round += 1;
            *round_now.lock().expect("round") = round;
            let path = dir.join(format!("round-{round}.json"));
            let started = begun.elapsed().as_secs_f64();
            let sim_cpu_s = run_sim(&url, &script, &path, o.calls).await;
            let r: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
                .unwrap_or(Value::Null);
            let s = &r["summary"];
            let unanswered = r["calls"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["turns"].as_array().into_iter().flatten())
                .filter(|t| t["response_latency_ms"].is_null())
                .count();
            // where in the replies the gaps came (ms of reply audio before each)
            let gaps_at: Vec<f64> = r["calls"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["turns"].as_array().into_iter().flatten())
                .flat_map(|t| t["underrun_at_ms"].as_array().into_iter().flatten())
                .filter_map(Value::as_f64)
                .collect();
            let row = json!({
                "round": round, "started_s": started, "ended_s": begun.elapsed().as_secs_f64(),
                "calls": s["calls"], "calls_failed": s["calls_failed"], "unanswered_turns": unanswered,
                "late_frames": s["late_frames"], "sim_late_ticks": s["sim_late_ticks"],
                "missing_frames": s["missing_frames"],
                "response_p50_ms": s["response_latency_ms"]["p50"], "response_p95_ms": s["response_latency_ms"]["p95"],
                "errors": s["errors"], "underrun_at_ms": gaps_at,
                "sim_cpu_cores": sim_cpu_s / (begun.elapsed().as_secs_f64() - started).max(1e-9),
            });
            say(&format!(
                "round {round} ({:.0} min): {row}",
                begun.elapsed().as_secs_f64() / 60.0
            ));
            rounds.push(row);
        }
        sampler.abort();
        drop(server);
        let samples = samples.lock().expect("samples").clone();
        let rss_of = |round: usize| median(samples.iter().filter(|s| s.round == round).map(|s| s.rss_mb).collect());
        let (warm, last) = (rss_of(2), rss_of(round));
        let growth = match (warm, last) {
            (Some(w), Some(l)) if w > 0.0 => Some((l / w - 1.0) * 100.0),
            _ => None,
        };
        let sum = |k: &str| rounds.iter().map(|r| r[k].as_u64().unwrap_or(0)).sum::<u64>();
        let cpu_per_call_minute = samples.last().map(|s| {
            let call_minutes = o.calls as f64 * s.at_s / 60.0;
            s.cpu_s / call_minutes.max(1e-9)
        });
        let commit = Command::new("git")
            .args(["-C", &repo_root().display().to_string(), "rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .unwrap_or_default();
        let date = Command::new("date").arg("+%Y-%m-%d %H:%M").output().ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()).unwrap_or_default();
        let passed = growth.is_some_and(|g| g < 5.0)
            && sum("late_frames") == 0
            && sum("calls_failed") == 0;
        json!({
            "date": date.trim(), "commit": commit.trim(),
            "minutes": begun.elapsed().as_secs_f64() / 60.0, "concurrent_calls": o.calls,
            "vad": if silero { "silero" } else { "energy" },
            "rss_mb_round2_median": warm, "rss_mb_last_round_median": last, "rss_growth_pct": growth,
            "calls": sum("calls"), "calls_failed": sum("calls_failed"),
            "unanswered_turns": sum("unanswered_turns"), "late_frames": sum("late_frames"),
            "sim_late_ticks": sum("sim_late_ticks"), "missing_frames": sum("missing_frames"),
            "cpu_s_per_call_minute": cpu_per_call_minute,
            "passed": passed,
            "rounds": rounds,
            "samples": samples.iter().map(|s| json!([s.at_s.round(), s.round, (s.rss_mb * 10.0).round() / 10.0, s.cpu_s])).collect::<Vec<_>>(),
        })
    });
    std::fs::write(
        o.out.join("report.json"),
        serde_json::to_string_pretty(&report).expect("json"),
    )
    .expect("write report.json");
    say(&format!(
        "soak: {:.0} min at {} calls: RSS {:?} -> {:?} MB ({:?}%), {} calls, {} failed, {} late frames, {} unanswered turns: {}",
        report["minutes"].as_f64().unwrap_or(0.0),
        report["concurrent_calls"],
        report["rss_mb_round2_median"],
        report["rss_mb_last_round_median"],
        report["rss_growth_pct"]
            .as_f64()
            .map(|g| (g * 100.0).round() / 100.0),
        report["calls"],
        report["calls_failed"],
        report["late_frames"],
        report["unanswered_turns"],
        if report["passed"] == true {
            "PASS"
        } else {
            "FAIL"
        }
    ));
    say(&format!("written: {}", o.out.join("report.json").display()));
    let _ = std::fs::remove_dir_all(&dir);
}
