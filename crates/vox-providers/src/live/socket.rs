//! The WebSocket to a hosted recognizer: `ws://` as is, `wss://` through rustls on aws-lc-rs
//! with the platform's roots (the TLS stack reqwest already builds), so no second TLS
//! library is compiled for tokio-tungstenite.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_util::either::Either;

use crate::ProviderError;

/// A plain or TLS connection.
pub(crate) type Stream = Either<TcpStream, tokio_rustls::client::TlsStream<TcpStream>>;

/// An open WebSocket.
pub(crate) type Socket = WebSocketStream<Stream>;

/// How long connecting (TCP, TLS and the WebSocket handshake) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn asr_error(message: impl Into<String>, retryable: bool) -> ProviderError {
    ProviderError::new("asr", message, retryable)
}

/// Opens `url` with the extra `headers` (their values are never logged or put in errors).
pub(crate) async fn connect(
    url: &str,
    headers: &[(&'static str, String)],
) -> Result<Socket, ProviderError> {
    tokio::time::timeout(CONNECT_TIMEOUT, open(url, headers))
        .await
        .map_err(|_| asr_error(format!("connecting to {url} timed out"), true))?
}

async fn open(url: &str, headers: &[(&'static str, String)]) -> Result<Socket, ProviderError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| asr_error(format!("bad streaming URL {url}: {e}"), false))?;
    for (name, value) in headers {
        let value = HeaderValue::from_str(value)
            .map_err(|_| asr_error(format!("the {name} header is not valid"), false))?;
        request.headers_mut().insert(*name, value);
    }
    let uri = request.uri().clone();
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(asr_error(format!("{url}: expected ws:// or wss://"), false)),
    };
    let host = uri
        .host()
        .ok_or_else(|| asr_error(format!("{url} has no host"), false))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| asr_error(format!("cannot reach {host}:{port}: {e}"), true))?;
    let _ = tcp.set_nodelay(true);
    let stream = if tls {
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|_| asr_error(format!("{host} is not a valid TLS server name"), false))?;
        let connector = tokio_rustls::TlsConnector::from(tls_config()?);
        Either::Right(
            connector
                .connect(name, tcp)
                .await
                .map_err(|e| asr_error(format!("TLS with {host}: {e}"), true))?,
        )
    } else {
        Either::Left(tcp)
    };
    let (socket, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| handshake_error(url, &e))?;
    Ok(socket)
}

/// A refused handshake says why: a 401 or 403 is a bad key (not retryable).
fn handshake_error(url: &str, e: &tokio_tungstenite::tungstenite::Error) -> ProviderError {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let mut err = ProviderError::from_status("asr", status, &body);
            err.message = format!("{url} refused the stream: {}", err.message);
            err
        }
        other => asr_error(format!("WebSocket handshake with {url}: {other}"), true),
    }
}

/// rustls with aws-lc-rs (the provider already in the build) and the platform's roots.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, ProviderError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| asr_error(format!("TLS roots: {e}"), false))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| asr_error(format!("TLS: {e}"), false))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}
