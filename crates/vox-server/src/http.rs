//! The one HTTP listener, with the limits `axum::serve` does not offer: a deadline for a
//! request's headers (slowloris, idle keep-alive), a deadline for the whole request, a cap
//! on open connections, and each request's peer address for the routes (media admission).
//!
//! hyper's HTTP/1.1 connection is used directly (axum's own server has no header deadline);
//! WebSocket upgrades leave it once upgraded, so media streams are bounded by the call
//! admission and `media.max_pending_per_source`, not by the connection cap.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;
use tracing::{debug, warn};

/// `[server]`'s HTTP limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Longest a client may take to send a request's headers (also: to start the next
    /// request on a kept-alive connection).
    pub header_read_timeout: Duration,
    /// Longest a request may take, body included, before it is answered 503.
    pub request_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
}

/// Describes the listener's metrics.
pub(crate) fn describe_metrics() {
    metrics::describe_counter!(
        "vox_http_connections_refused_total",
        "Connections closed on accept because server.max_connections were open."
    );
    metrics::describe_counter!(
        "vox_http_requests_timed_out_total",
        "Requests answered 503 after server.request_timeout_secs."
    );
}

/// Answers 503 to a request that runs past `limit` (reading its body included).
pub(crate) async fn request_deadline(
    State(limit): State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("vox_http_requests_timed_out_total").increment(1);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the request took longer than {} s (server.request_timeout_secs)\n",
                    limit.as_secs()
                ),
            )
                .into_response()
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting and lets the
/// requests in flight finish (upgraded WebSockets are the call registry's to drain).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let stop = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // out of file descriptors and the like: back off instead of spinning
                    warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics::counter!("vox_http_connections_refused_total").increment(1);
            debug!(%peer, "refusing a connection: server.max_connections are open");
            continue;
        };
        // Media messages are small and latency-bound: never let Nagle hold one back waiting
        // for the previous one's ACK (measured: +19 ms on the second frame of every reply).
        if let Err(e) = tcp.set_nodelay(true) {
            warn!(error = %e, "cannot set TCP_NODELAY");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            tokio::pin!(conn);
            let done = tokio::select! {
                done = conn.as_mut() => done,
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = done {
                debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
}
