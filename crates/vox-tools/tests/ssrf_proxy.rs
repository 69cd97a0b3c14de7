//! A guarded request never goes through a proxy from the environment: the proxy would connect
//! wherever it likes, not to the address the guard checked. The test runs itself again as a
//! child process with the proxy variables set (they are process-wide).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vox_tools::HttpGuard;

/// A listener that counts connections and answers each with `status`.
async fn counting_server(status: u16) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    (addr, serve_counting(listener, status))
}

/// The same, on `addr`.
async fn counting_server_at(addr: std::net::SocketAddr, status: u16) -> Arc<AtomicUsize> {
    serve_counting(TcpListener::bind(addr).await.expect("bind"), status)
}

fn serve_counting(listener: TcpListener, status: u16) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let reply =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });
    count
}

const CHILD: &str = "VOX_TEST_PROXY_CHILD";

#[test]
fn proxies_from_the_environment_are_not_used() {
    if let Ok(proxy) = std::env::var(CHILD) {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        return rt.block_on(check_direct(proxy.parse().expect("proxy addr")));
    }
    // the proxy is a counting listener the child opens on this port
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let proxy_url = format!("http://127.0.0.1:{port}");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"));
    child
        .args([
            "proxies_from_the_environment_are_not_used",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, format!("127.0.0.1:{port}"))
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        child.env(var, &proxy_url);
    }
    let out = child.output().expect("run the child");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran the check"
    );
}

/// In the child: a request to a target on loopback reaches the target, not the proxy.
async fn check_direct(proxy: std::net::SocketAddr) {
    let via_proxy = counting_server_at(proxy, 200).await;
    let (target, direct) = counting_server(204).await;
    let guard = HttpGuard {
        allow_private: true,
        ..HttpGuard::default()
    };
    let reply = guard
        .send_raw(
            "GET",
            &format!("http://{target}/x"),
            &[],
            None,
            Duration::from_secs(5),
        )
        .await
        .expect("reply");
    assert_eq!(reply.status, 204, "answered by the target, not the proxy");
    assert_eq!(direct.load(Ordering::SeqCst), 1);
    assert_eq!(via_proxy.load(Ordering::SeqCst), 0);
}
