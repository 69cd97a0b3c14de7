//! The webhook outbox against real HTTP endpoints over loopback: one business's slow
//! endpoint does not hold up another business's events.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use vox_agents::{EventKind, Events};
use vox_store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_delays_only_its_own_business() {
    // the endpoints: /slow answers after 3 s, /fast at once; arrivals are noted
    let arrivals: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let note = |path: &'static str, wait: Duration| {
        let arrivals = arrivals.clone();
        axum::routing::post(move || {
            let arrivals = arrivals.clone();
            async move {
                arrivals
                    .lock()
                    .expect("lock")
                    .push((path.to_owned(), Instant::now()));
                tokio::time::sleep(wait).await;
                "ok"
            }
        })
    };
    let app = axum::Router::new()
        .route("/slow", note("slow", Duration::from_secs(3)))
        .route("/fast", note("fast", Duration::ZERO));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = std::env::temp_dir().join(format!("vox-outbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::connect(&format!("sqlite://{}/vox.db", dir.display()))
        .await
        .expect("store");
    let org = store.create_organization("Acme").await.expect("org");
    let slow = store
        .create_business(&org.id, "Slow Co", None)
        .await
        .expect("biz");
    let fast = store
        .create_business(&org.id, "Fast Co", None)
        .await
        .expect("biz");
    store
        .set_webhook(
            &slow.id,
            &format!("http://{addr}/slow"),
            "secret-slow-0123456",
        )
        .await
        .expect("hook");
    store
        .set_webhook(
            &fast.id,
            &format!("http://{addr}/fast"),
            "secret-fast-0123456",
        )
        .await
        .expect("hook");
    let tasks = vox_call::Tasks::default();
    let events = Events::new(
        store.clone(),
        tasks.clone(),
        true, // loopback endpoints
        3,
        Duration::from_secs(1),
        Duration::from_secs(10),
    );
    events.start();
    let t0 = Instant::now();
    events.emit(&slow.id, EventKind::CallStarted, json!({"callId": "c1"}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    events.emit(&fast.id, EventKind::CallStarted, json!({"callId": "c2"}));
    events.emit(&fast.id, EventKind::CallEnded, json!({"callId": "c2"}));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = arrivals.lock().expect("lock").clone();
        let fast_done: Vec<Instant> = seen
            .iter()
            .filter(|(p, _)| p == "fast")
            .map(|(_, t)| *t)
            .collect();
        if fast_done.len() == 2 {
            let slow_at = seen
                .iter()
                .find(|(p, _)| p == "slow")
                .map(|(_, t)| *t)
                .expect("slow asked first");
            assert!(slow_at < fast_done[0], "the slow endpoint was asked first");
            let waited = fast_done[1] - t0;
            assert!(
                waited < Duration::from_millis(2_500),
                "the other business's events waited {waited:?} behind a 3 s endpoint"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fast business's events never came: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tasks.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
