//! The outbound guard against requests to internal addresses, over real HTTP on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vox_tools::HttpGuard;

const T: Duration = Duration::from_secs(5);

/// Answers every request on loopback with a redirect to the cloud metadata address.
async fn redirecting_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(
                    b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\n\
                      Content-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    });
    addr
}

#[tokio::test]
async fn internal_addresses_in_any_spelling_are_refused() {
    let guard = HttpGuard::default();
    for url in [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.0.0.1/",
        "http://127.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:7f00:1::1]/",
        "http://[fec0::1]/",
        "http://0.0.0.0/",
        "http://localhost/",
    ] {
        let err = guard
            .send_raw("GET", url, &[], None, T)
            .await
            .expect_err(url);
        assert!(err.contains("internal address; refused"), "{url}: {err}");
    }
}

#[tokio::test]
async fn a_redirect_inside_is_not_followed() {
    let addr = redirecting_server().await;
    let guard = HttpGuard {
        allow_private: true,
        ..HttpGuard::default()
    };
    let reply = guard
        .send_raw("GET", &format!("http://{addr}/start"), &[], None, T)
        .await
        .expect("the redirect itself is the reply");
    assert_eq!(reply.status, 302);
}

#[tokio::test]
async fn errors_carry_no_credentials_or_query_secrets() {
    // a port nothing listens on: bind, note the port, close
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let guard = HttpGuard {
        allow_private: true,
        ..HttpGuard::default()
    };
    let url = format!("http://alice:hunter2@127.0.0.1:{port}/hook?api_key=sk-live-123");
    let err = guard
        .send_raw("POST", &url, &[], Some(b"{}"), T)
        .await
        .expect_err("nothing listens there");
    for secret in ["hunter2", "sk-live-123", "alice"] {
        assert!(!err.contains(secret), "{secret} leaked: {err}");
    }
    assert!(!err.is_empty());
}
