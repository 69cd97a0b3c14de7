//! The server as a library: `vox_server::serve(listener, config, agent_files, shutdown)` in
//! this test's own process, on a port it bound, stopped by a future it controls; a call in
//! flight is hung up by the shutdown and the function returns.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use vox_server::{Config, Overrides};
use vox_testkit::{http_get, scratch_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_in_process_and_stops_when_told() {
    let dir = scratch_dir("serve-in-process");
    let mut cfg = Config::load(None, &Overrides::default()).expect("the defaults");
    cfg.store.url = format!("sqlite://{}/vox.db", dir.display());
    cfg.api.files_dir = dir.join("files");
    cfg.api.recordings_dir = dir.join("recordings");
    cfg.server.shutdown_grace_secs = 1;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(vox_server::serve(listener, cfg, &[], async {
        let _ = stopped.await;
    }));

    let health = tokio::task::spawn_blocking(move || {
        for _ in 0..200 {
            if let Ok((200, body)) = http_get(addr, "/healthz") {
                return Some(body);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    })
    .await
    .expect("poll");
    assert_eq!(health.as_deref(), Some("ok\n"));

    // a call to the echo agent, in flight when the server is told to stop
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/media/twilio"))
        .await
        .expect("connect");
    let start = json!({"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1",
        "accountSid":"AC1","tracks":["inbound"],"customParameters":{},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}});
    ws.send(Message::text(start.to_string()))
        .await
        .expect("start");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).expect("the server is running");

    // after the grace period the call is hung up with 1001, and serve returns Ok
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(frame) = m {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("closed within 10 s");
    assert_eq!(close, Some(1001), "server shutting down");
    let result = tokio::time::timeout(Duration::from_secs(40), server)
        .await
        .expect("serve returned")
        .expect("task");
    assert!(result.is_ok(), "{result:?}");
    assert!(
        http_get(addr, "/healthz").is_err(),
        "the listener is closed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
