//! Headless Chromium as a test's browser: opens one page with a WAV file as its microphone,
//! and lets the test read the page (JavaScript evaluated through the DevTools protocol over
//! its WebSocket) and photograph it.
//!
//! Chromium comes from the system (Debian `chromium`); [`Chromium::binary_or_skip`] says why a
//! test skips without it, or fails under `VOX_REQUIRE_CHROMIUM`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A headless Chromium showing one page. Killed on drop.
pub struct Chromium {
    child: Child,
    profile: PathBuf,
    page: Socket,
    next_id: u64,
}

impl std::fmt::Debug for Chromium {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chromium")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Chromium {
    /// The browser to run (`VOX_CHROMIUM`, else `chromium` or `chromium-browser` on the
    /// PATH), or `None` after printing why the test skips; with `VOX_REQUIRE_CHROMIUM` set,
    /// a missing browser fails the test instead.
    pub fn binary_or_skip() -> Option<PathBuf> {
        let candidates: Vec<PathBuf> = match std::env::var_os("VOX_CHROMIUM") {
            Some(p) => vec![PathBuf::from(p)],
            None => ["chromium", "chromium-browser"]
                .iter()
                .map(PathBuf::from)
                .collect(),
        };
        for bin in candidates {
            let ok = Command::new(&bin)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Some(bin);
            }
        }
        assert!(
            std::env::var_os("VOX_REQUIRE_CHROMIUM").is_none(),
            "VOX_REQUIRE_CHROMIUM is set but no chromium runs (apt-get install chromium)"
        );
        eprintln!("SKIP: no chromium on the PATH (apt-get install chromium)");
        None
    }

    /// Opens `url` in a new headless browser whose microphone plays `microphone` (a WAV file,
    /// once; silence after it), with media permissions granted and autoplay allowed.
    pub async fn open(bin: &Path, url: &str, microphone: &Path) -> Self {
        let profile =
            std::env::temp_dir().join(format!("vox-chromium-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).expect("a browser profile directory");
        let child = Command::new(bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--no-first-run",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
                // Vox listens on loopback in tests; Chrome leaves loopback out of ICE otherwise
                "--allow-loopback-in-peer-connection",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!(
                "--use-file-for-fake-audio-capture={}%noloop",
                microphone.display()
            ))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // the browser writes its DevTools port into the profile once it listens
        let port_file = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port: u16 = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
            {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "chromium did not open its DevTools port within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let page_ws = loop {
            let targets: Value = crate::http_client()
                .get(format!("http://127.0.0.1:{port}/json/list"))
                .send()
                .await
                .expect("DevTools target list")
                .json()
                .await
                .expect("DevTools targets as JSON");
            let page = targets.as_array().and_then(|all| {
                all.iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                    .map(str::to_owned)
            });
            if let Some(p) = page {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "chromium opened no page within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (page, _) = tokio_tungstenite::connect_async(page_ws)
            .await
            .expect("the page's DevTools WebSocket");
        Self {
            child,
            profile,
            page,
            next_id: 1,
        }
    }

    /// Sends a DevTools command to the page; its result.
    pub async fn command(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params});
        self.page
            .send(Message::text(msg.to_string()))
            .await
            .expect("send a DevTools command");
        loop {
            let next = tokio::time::timeout(Duration::from_secs(30), self.page.next())
                .await
                .unwrap_or_else(|_| panic!("no DevTools answer to {method} in 30 s"));
            let text = match next {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(_)) => continue,
                other => panic!("the DevTools connection ended: {other:?}"),
            };
            let v: Value = serde_json::from_str(&text).expect("DevTools JSON");
            if v["id"] != id {
                continue; // an event
            }
            if let Some(e) = v.get("error") {
                panic!("DevTools {method} failed: {e}");
            }
            return v["result"].clone();
        }
    }

    /// Evaluates `expression` in the page (promises awaited); its value as JSON. A thrown
    /// exception fails the test with its text.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .command(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("the page threw evaluating {expression:?}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Polls `expression` every 100 ms until it is truthy (its value) or `timeout` passes
    /// (`None`).
    pub async fn wait_for(&mut self, expression: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.eval(expression).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return Some(v);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the page as it is now, written to `path`.
    pub async fn screenshot(&mut self, path: &Path) {
        let r = self
            .command("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("screenshot base64");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
