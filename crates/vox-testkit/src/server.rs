use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::http_get;

/// A running `vox serve` process on a loopback port. Killed on drop.
///
/// Its stderr is drained all along by a thread of its own: a server whose log pipe fills
/// up blocks on its next log line, which under load looks exactly like a deadlock.
#[derive(Debug)]
pub struct VoxServer {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Option<Child>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// Reads `pipe` to its end on a thread; the text when joined.
fn drain(pipe: Option<std::process::ChildStderr>) -> Option<std::thread::JoinHandle<String>> {
    let mut pipe = pipe?;
    Some(std::thread::spawn(move || {
        let mut raw = Vec::new();
        let _ = pipe.read_to_end(&mut raw);
        String::from_utf8_lossy(&raw).into_owned()
    }))
}

fn joined(handle: Option<std::thread::JoinHandle<String>>) -> String {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

impl VoxServer {
    /// Starts `bin serve --host 127.0.0.1 --port P` plus `args`, with `env` set, and waits
    /// (up to 60 s: servers with local models load and verify them first) for `/healthz`. Panics with the server's stderr if it does not come up.
    pub fn start(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args);
        // a database of its own, outside the source tree (tests may override)
        let db = std::env::temp_dir().join(format!("vox-test-{}-{port}", std::process::id()));
        cmd.env(
            "VOX__STORE__URL",
            format!("sqlite://{}/vox.db", db.display()),
        );
        cmd.env("VOX__API__FILES_DIR", db.join("files"));
        cmd.env("VOX__API__RECORDINGS_DIR", db.join("recordings"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn vox serve");
        let stderr = drain(child.stderr.take());
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if matches!(http_get(addr, "/healthz"), Ok((200, _))) {
                return Self {
                    addr,
                    child: Some(child),
                    stderr,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                let err = joined(stderr);
                panic!("vox serve exited with {status} before becoming healthy:\n{err}");
            }
            assert!(
                Instant::now() < deadline,
                "vox serve did not become healthy within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The Twilio media WebSocket URL.
    pub fn twilio_url(&self) -> String {
        format!("ws://{}/media/twilio", self.addr)
    }

    /// Sends SIGTERM (graceful shutdown).
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -TERM failed");
        }
    }

    /// Waits up to `timeout` for the process to exit; returns its status and stderr.
    pub fn wait(mut self, timeout: Duration) -> Option<(ExitStatus, String)> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some((status, joined(self.stderr.take())));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for VoxServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// `bin admin create --org ORG --business BUSINESS [--phone PHONE] --config CONFIG` with
/// `env` set: the credentials it prints (`organizationId`, `businessId`, `clientId`,
/// `clientSecret`). Panics with its stderr if it fails.
pub fn admin_create(
    bin: &Path,
    config: &Path,
    env: &[(&str, &str)],
    org: &str,
    business: &str,
    phone: Option<&str>,
) -> serde_json::Value {
    let mut cmd = Command::new(bin);
    cmd.args(["admin", "create", "--org", org, "--business", business]);
    if let Some(p) = phone {
        cmd.args(["--phone", p]);
    }
    let out = cmd
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
        .output()
        .expect("vox admin create");
    assert!(
        out.status.success(),
        "vox admin create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("admin create prints JSON")
}
