//! `vox serve` as a process: health, readiness and metrics; every kind of bad carrier input
//! closes only its own stream with a reason; the admission limit; graceful shutdown on
//! SIGTERM; configuration errors; secrets sealed at rest. Real processes, real WebSockets over
//! loopback.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use vox_testkit::{ApiClient, VoxServer, Ws, admin_create, close_of, http_get, scratch_dir};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

fn server(args: &[&str], env: &[(&str, &str)]) -> VoxServer {
    VoxServer::start(Path::new(BIN), args, env)
}

async fn connect(s: &VoxServer) -> Ws {
    tokio_tungstenite::connect_async(s.twilio_url())
        .await
        .expect("connect")
        .0
}

fn start_msg(agent: &str) -> Message {
    Message::text(
        json!({"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1","accountSid":"AC1",
            "tracks":["inbound"],"customParameters":{"agentId":agent},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}})
        .to_string(),
    )
}

/// Reads until the server closes; returns (code, reason).

#[test]
fn health_ready_and_metrics() {
    let s = server(&[], &[]);
    assert_eq!(
        http_get(s.addr, "/healthz").expect("healthz"),
        (200, "ok\n".into())
    );
    assert_eq!(
        http_get(s.addr, "/readyz").expect("readyz"),
        (200, "ready\n".into())
    );
    let (code, body) = http_get(s.addr, "/metrics").expect("metrics");
    assert_eq!(code, 200);
    assert!(body.contains("vox_calls_active"), "{body}");
    assert_eq!(http_get(s.addr, "/nope").expect("404").0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_closes_only_that_stream_with_a_reason() {
    let s = server(&[], &[]);
    let cases: Vec<(&str, Vec<Message>, u16, &str)> = vec![
        (
            "malformed",
            vec![Message::text("{not json")],
            1002,
            "malformed",
        ),
        (
            "unknown_event",
            vec![Message::text(r#"{"event":"hello"}"#)],
            1002,
            "unknown event",
        ),
        (
            "before_start",
            vec![Message::text(
                r#"{"event":"media","media":{"payload":"AAAA"}}"#,
            )],
            1002,
            "before start",
        ),
        (
            "bad_base64",
            vec![
                start_msg("echo"),
                Message::text(r#"{"event":"media","media":{"payload":"@@@@"}}"#),
            ],
            1002,
            "base64",
        ),
        (
            "too_large",
            vec![
                start_msg("echo"),
                Message::text(format!(
                    r#"{{"event":"media","media":{{"payload":"{}"}}}}"#,
                    "A".repeat(70_000)
                )),
            ],
            1009,
            "exceeds",
        ),
        (
            "unexpected_binary",
            vec![start_msg("echo"), Message::binary(vec![1u8, 2, 3])],
            1002,
            "binary",
        ),
        (
            "unknown_agent",
            vec![start_msg("nope")],
            1008,
            "unknown agent",
        ),
    ];
    // One healthy call stays up through all of it.
    let mut healthy = connect(&s).await;
    healthy.send(start_msg("echo")).await.expect("send");
    for (kind, msgs, code, reason) in &cases {
        let mut ws = connect(&s).await;
        for m in msgs {
            ws.send(m.clone()).await.expect("send");
        }
        let (got_code, got_reason) = close_of(&mut ws).await;
        assert_eq!(got_code, *code, "{kind}: {got_reason}");
        assert!(
            got_reason.contains(reason),
            "{kind}: reason {got_reason:?} should mention {reason:?}"
        );
    }
    let media = json!({"event":"media","sequenceNumber":"2","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"/////w=="}});
    healthy
        .send(Message::text(media.to_string()))
        .await
        .expect("the healthy call is still up");
    healthy
        .send(Message::text(
            r#"{"event":"stop","sequenceNumber":"3","streamSid":"MZ1","stop":{}}"#,
        ))
        .await
        .expect("send stop");
    assert_eq!(close_of(&mut healthy).await.0, 1000);
    let (_, metrics) = http_get(s.addr, "/metrics").expect("metrics");
    for kind in [
        "malformed",
        "unknown_event",
        "before_start",
        "bad_base64",
        "too_large",
        "unexpected_binary",
    ] {
        let line = format!("vox_protocol_errors_total{{dialect=\"twilio\",kind=\"{kind}\"}} 1");
        assert!(metrics.contains(&line), "missing {line}:\n{metrics}");
    }
    assert!(
        metrics.contains("vox_calls_rejected_total{reason=\"unknown_agent\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_admission_limit_a_stream_is_refused() {
    let s = server(&["--max-calls", "1"], &[]);
    let mut first = connect(&s).await;
    first.send(start_msg("echo")).await.expect("send");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // refused once it says which call it is: before its start a stream holds no slot
    let mut second = connect(&s).await;
    second.send(start_msg("echo")).await.expect("send");
    let (code, reason) = close_of(&mut second).await;
    assert_eq!(code, 1013, "{reason}");
    assert!(
        reason.contains("at capacity: 1 concurrent calls"),
        "{reason}"
    );
    let (_, metrics) = http_get(s.addr, "/metrics").expect("metrics");
    assert!(
        metrics.contains("vox_calls_rejected_total{reason=\"capacity\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("vox_calls_active 1"), "{metrics}");
    // Once the first call ends, a new one is admitted.
    first
        .send(Message::text(r#"{"event":"stop","stop":{}}"#))
        .await
        .expect("stop");
    assert_eq!(close_of(&mut first).await.0, 1000);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = connect(&s).await;
    third.send(start_msg("echo")).await.expect("send");
    let r = tokio::time::timeout(Duration::from_millis(500), third.next()).await;
    assert!(r.is_err(), "the third call is up (no close): {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_hangs_up_and_exits_cleanly() {
    let s = server(&[], &[("VOX__SERVER__SHUTDOWN_GRACE_SECS", "1")]);
    let mut call = connect(&s).await;
    call.send(start_msg("echo")).await.expect("send");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = std::time::Instant::now();
    s.terminate();
    let (code, reason) = close_of(&mut call).await;
    let waited = t.elapsed();
    assert_eq!(code, 1001, "{reason}");
    assert!(reason.contains("shutting down"), "{reason}");
    assert!(
        waited >= Duration::from_millis(900),
        "calls get the grace period: {waited:?}"
    );
    let addr = s.addr;
    let (status, stderr) = s
        .wait(Duration::from_secs(10))
        .expect("exits after the grace period");
    assert!(status.success(), "exit status {status}: {stderr}");
    assert!(stderr.contains("hung up the remaining calls"), "{stderr}");
    assert!(http_get(addr, "/healthz").is_err(), "no longer listening");
}

#[test]
fn configuration_errors_name_the_problem() {
    let dir = scratch_dir("cfg");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[server]\nportt = 1\n").expect("write");
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("portt") && err.contains("unknown field"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["serve", "--print-config"])
        .env("VOX__MEDIA__SEND_AHEAD_MS", "120")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("send_ahead_ms = 120"));
    let out = Command::new(BIN)
        .args(["serve"])
        .env("VOX__VAD__START_MS", "soon")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .to_lowercase()
            .contains("vad.start_ms")
    );
    // a value out of its range is refused with the range
    let out = Command::new(BIN)
        .args(["serve"])
        .env("VOX__API__SIGNED_LINK_TTL_SECS", "0")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("api.signed_link_ttl_secs must be from 1 to 604800"),
        "{err}"
    );
}

/// Reads from `s` until EOF or error; how long that took, and what was read.
fn read_until_closed(s: &mut std::net::TcpStream) -> (Duration, String) {
    use std::io::Read as _;
    let t = std::time::Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    (t.elapsed(), String::from_utf8_lossy(&buf).into_owned())
}

#[test]
fn slow_and_excess_http_clients_are_cut_off() {
    use std::io::Write as _;
    use std::net::TcpStream;
    let s = server(
        &[],
        &[
            ("VOX__SERVER__MAX_CONNECTIONS", "3"),
            ("VOX__SERVER__HEADER_READ_TIMEOUT_SECS", "3"),
            ("VOX__SERVER__REQUEST_TIMEOUT_SECS", "3"),
        ],
    );
    // The deadlines are 3 s, not 1, so that a test thread descheduled for a second on a
    // loaded machine (CI runs this file's servers side by side on 2 cores) does not see
    // one of the three freed before the fourth connects.
    // headers that never finish (slowloris), and a connection that never says anything
    let mut slow = TcpStream::connect(s.addr).expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    let mut idle = TcpStream::connect(s.addr).expect("connect");
    // a body that never finishes
    let mut trickle = TcpStream::connect(s.addr).expect("connect");
    trickle
        .write_all(b"POST /v1/oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=")
        .expect("write");
    std::thread::sleep(Duration::from_millis(200));
    // the cap: a fourth connection is closed at once, without an answer
    let mut excess = TcpStream::connect(s.addr).expect("connect");
    let _ = excess.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let (waited, answer) = read_until_closed(&mut excess);
    assert!(answer.is_empty(), "over the cap: {answer:?}");
    assert!(
        waited < Duration::from_millis(2000),
        "closed at once, well before a deadline: {waited:?}"
    );
    // the deadlines free the three
    let (waited, answer) = read_until_closed(&mut trickle);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("request_timeout_secs"), "{answer}");
    assert!(waited < Duration::from_secs(6), "{waited:?}");
    for (what, conn) in [("slow headers", &mut slow), ("idle", &mut idle)] {
        let (waited, _) = read_until_closed(conn);
        assert!(
            waited < Duration::from_secs(6),
            "{what}: closed after {waited:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    let (code, metrics) = http_get(s.addr, "/metrics").expect("served again");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("vox_http_connections_refused_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vox_http_requests_timed_out_total 1"),
        "{metrics}"
    );
}

/// No configured secret shows in `--print-config`, in the log, or in a refusal's answer.
#[test]
fn configured_secrets_never_show() {
    let dir = scratch_dir("secrets");
    let config = dir.join("vox.toml");
    let llm_key = "sk-llm-key-4f1e9a2b7c";
    let twilio_token = "twilio-token-9d8c7b6a5f";
    let plivo_token = "plivo-token-1a2b3c4d5e";
    let turn_credential = "turn-credential-5e4d3c2b1a";
    let links_key = "c2lnbmVkLWxpbmtzLWtleS0wMTIzNDU2Nzg5YWJjZGU=";
    std::fs::write(
        &config,
        format!(
            "[[telephony.pools]]\ncarrier = \"twilio\"\nnumbers = [\"+15125550100\"]\naccount_sid = \"AC1\"\nauth_token = \"env:VOX_TEST_TWILIO_TOKEN\"\n\
             [[telephony.pools]]\ncarrier = \"plivo\"\nnumbers = [\"+15125550101\"]\naccount_sid = \"MA1\"\nauth_token = \"{plivo_token}\"\n\
             [voice_agents]\nllm = {{ baseUrl = \"http://127.0.0.1:9/v1\", apiKey = \"{llm_key}\", model = \"m\" }}\n\
             [[webrtc.ice_servers]]\nurls = [\"turn:turn.example.org:3478\"]\nusername = \"vox\"\ncredential = \"{turn_credential}\"\n\
             [api]\nsigned_links_key = \"{links_key}\"\n"
        ),
    )
    .expect("config");
    let config = config.display().to_string();
    let secrets = [
        llm_key,
        twilio_token,
        plivo_token,
        turn_credential,
        links_key,
    ];
    let out = Command::new(BIN)
        .args(["serve", "--print-config", "--config", &config])
        .env("VOX_TEST_TWILIO_TOKEN", twilio_token)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("auth_token"), "{printed}");
    for s in secrets {
        assert!(!printed.contains(s), "--print-config shows {s}:\n{printed}");
    }
    let s = server(
        &["--config", &config],
        &[
            ("VOX_TEST_TWILIO_TOKEN", twilio_token),
            ("RUST_LOG", "debug"),
        ],
    );
    // a forged webhook is refused and logged (a careless log would show the expected
    // signature, or the token it is made with)
    {
        use std::io::{Read as _, Write as _};
        let body = "To=%2B15125550100&From=%2B15125550188&CallSid=CA1";
        let mut tcp = std::net::TcpStream::connect(s.addr).expect("connect");
        write!(
            tcp,
            "POST /twilio/voice HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: forged\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            s.addr,
            body.len()
        )
        .expect("write");
        let mut answer = String::new();
        let _ = tcp.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        for secret in secrets {
            assert!(!answer.contains(secret), "the refusal shows {secret}");
        }
    }
    let (_, metrics) = http_get(s.addr, "/metrics").expect("metrics");
    s.terminate();
    let (_, log) = s.wait(Duration::from_secs(20)).expect("exits");
    assert!(log.contains("listening"), "{log}");
    for secret in secrets {
        assert!(!log.contains(secret), "the log shows {secret}");
        assert!(!metrics.contains(secret), "the metrics show {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_secrets_are_sealed_under_a_key_file_of_its_own() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = scratch_dir("sealed");
    let config = dir.join("vox.toml");
    std::fs::write(&config, "").expect("config");
    let db = format!("sqlite://{}/vox.db", dir.display());
    let env = [("VOX__STORE__URL", db.as_str())];
    let creds = admin_create(Path::new(BIN), &config, &env, "Acme", "Acme Plumbing", None);
    let config_arg = config.display().to_string();
    let db2 = db.clone();
    let s = tokio::task::spawn_blocking(move || {
        server(
            &["--config", &config_arg],
            &[("VOX__STORE__URL", db2.as_str())],
        )
    })
    .await
    .expect("server");
    let key = dir.join("secrets.key");
    let mode = std::fs::metadata(&key)
        .expect("a key file beside the database")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    let api = ApiClient::login(
        &format!("http://{}", s.addr),
        creds["clientId"].as_str().expect("id"),
        creds["clientSecret"].as_str().expect("secret"),
    )
    .await;
    let secret = "whsec-sealed-at-rest-0123456789";
    let hook = format!(
        "/v1/businesses/{}/webhook",
        creds["businessId"].as_str().expect("biz")
    );
    let (status, body) = api
        .send(
            reqwest::Method::PUT,
            &hook,
            Some(json!({"url": "https://hooks.example.com/vox", "secret": secret})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    s.terminate();
    s.wait(Duration::from_secs(20)).expect("exits");
    for file in std::fs::read_dir(&dir).expect("dir").flatten() {
        let bytes = std::fs::read(file.path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{} holds the webhook secret in plain text",
            file.path().display()
        );
    }
    // the key file is what opens them: with another one, the server refuses to start
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).expect("another key");
    let out = Command::new(BIN)
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--config",
            &config.display().to_string(),
        ])
        .env("VOX__STORE__URL", &db)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with another key: {stderr}");
    assert!(stderr.contains("secrets_key"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
