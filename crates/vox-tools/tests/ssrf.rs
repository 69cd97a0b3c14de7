//! The outbound guard against requests to internal addresses, over real HTTP on loopback.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vox_tools::{HttpGuard, Resolve};

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

/// A resolver the test controls: lookup n gets `answers[n]` (the last one repeats), and every
/// lookup is counted.
#[derive(Debug)]
struct Scripted {
    answers: Vec<Vec<IpAddr>>,
    asked: AtomicUsize,
}

impl Scripted {
    fn new(answers: &[&[&str]]) -> Arc<Self> {
        Arc::new(Self {
            answers: answers
                .iter()
                .map(|a| a.iter().map(|ip| ip.parse().expect("ip")).collect())
                .collect(),
            asked: AtomicUsize::new(0),
        })
    }
}

impl Resolve for Scripted {
    fn resolve<'a>(
        &'a self,
        _host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        let n = self.asked.fetch_add(1, Ordering::SeqCst);
        let ips = &self.answers[n.min(self.answers.len() - 1)];
        let addrs = ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
        Box::pin(async move { Ok(addrs) })
    }
}

/// Counts the connections a listener on loopback accepts (answering each with 200).
async fn counting_loopback() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await;
        }
    });
    (port, count)
}

#[tokio::test]
async fn dns_rebinding_cannot_move_the_connection_inside() {
    // the name is public when checked and loopback on every later lookup: a client that looked
    // it up again to connect would land on the loopback listener
    let (port, inside) = counting_loopback().await;
    let resolver = Scripted::new(&[&["8.8.8.8"], &["127.0.0.1"]]);
    let guard = HttpGuard {
        resolver: resolver.clone(),
        ..HttpGuard::default()
    };
    let url = format!("http://rebind.attacker.test:{port}/latest/meta-data/");
    // the public address is not reachable from here (or does not speak HTTP on that port):
    // what matters is where the connection went, not how it ended
    let outcome = guard
        .send_raw("GET", &url, &[], None, Duration::from_millis(1500))
        .await;
    assert_eq!(resolver.asked.load(Ordering::SeqCst), 1, "looked up once");
    assert_eq!(
        inside.load(Ordering::SeqCst),
        0,
        "the connection went inside: {outcome:?}"
    );
    assert!(outcome.is_err(), "{outcome:?}");
}

#[tokio::test]
async fn a_name_with_any_internal_address_is_refused() {
    let (port, inside) = counting_loopback().await;
    for answer in [
        &["8.8.8.8", "169.254.169.254"][..],
        &["127.0.0.1"],
        &["::ffff:127.0.0.1"],
        &["64:ff9b::a9fe:a9fe"],
        &["192.0.0.170"],
        &["2002:7f00:1::1"],
        &["fec0::1"],
    ] {
        let resolver = Scripted::new(&[answer]);
        let guard = HttpGuard {
            resolver: resolver.clone(),
            ..HttpGuard::default()
        };
        let url = format!("http://innocent.example.com:{port}/");
        let err = guard
            .send_raw("GET", &url, &[], None, T)
            .await
            .expect_err("refused");
        assert!(
            err.contains("internal address; refused"),
            "{answer:?}: {err}"
        );
        assert_eq!(resolver.asked.load(Ordering::SeqCst), 1);
    }
    assert_eq!(inside.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_checked_address_is_the_one_connected_to() {
    // with internal addresses allowed (development), the name still goes where it resolved
    let (port, inside) = counting_loopback().await;
    let resolver = Scripted::new(&[&["127.0.0.1"], &["127.0.0.2"]]);
    let guard = HttpGuard {
        allow_private: true,
        resolver: resolver.clone(),
        ..HttpGuard::default()
    };
    let reply = guard
        .send_raw("GET", &format!("http://svc.internal:{port}/"), &[], None, T)
        .await
        .expect("reaches the listener");
    assert_eq!(reply.status, 200);
    assert_eq!(inside.load(Ordering::SeqCst), 1);
    assert_eq!(resolver.asked.load(Ordering::SeqCst), 1);
}
