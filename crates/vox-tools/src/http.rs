//! Outbound HTTP for tools: the address guard, timeouts and a response size limit.
//!
//! The host is resolved once, every address is checked (loopback, private, link-local, ...
//! are refused unless allowed), and the connection goes to the address that was checked
//! (no DNS rebinding between check and use). Redirects are not followed (a redirect could
//! point inside), and no proxy is used (it would connect wherever it likes). The body is read
//! in chunks and cut off at the limit. Errors never carry the URL (its user info or query may
//! hold secrets). Decimal, octal and hex host forms (`http://2130706433/`, `0177.0.0.1`) are
//! normalised by the URL parser before the check.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Where a host name's addresses come from. The system resolver by default; a test (or an
/// embedder with its own DNS) can put its own here. The guard asks it once per request and
/// connects only to an address it checked, whatever the resolver answers later.
pub trait Resolve: Send + Sync + std::fmt::Debug {
    /// The addresses of `host` (a name or an address literal) on `port`.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The operating system's resolver (getaddrinfo).
#[derive(Debug)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// The guard and limits every tool request goes through.
#[derive(Debug, Clone)]
pub struct HttpGuard {
    /// Permit internal addresses (development only).
    pub allow_private: bool,
    /// Largest response body read.
    pub max_response_bytes: usize,
    /// Where host names are looked up.
    pub resolver: Arc<dyn Resolve>,
}

impl Default for HttpGuard {
    fn default() -> Self {
        Self {
            allow_private: false,
            max_response_bytes: 64 * 1024,
            resolver: Arc::new(SystemResolver),
        }
    }
}

/// Whether `ip` is an address a tool must not reach by default.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || o[0] >= 240 // reserved (and broadcast)
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // IPv4-compatible (deprecated, `::a.b.c.d`): the embedded address decides
            if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_internal(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 (64:ff9b::/96, 64:ff9b:1::/48)
                || s[0] == 0x2002 // 6to4: reaches any IPv4 address, internal ones too
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard-only
        }
    }
}

/// A transport error as a sentence for the model, the log and webhooks: without the URL,
/// whose user info or query may hold secrets.
fn sentence(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// A reply: status and (possibly truncated) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body as text, at most the guard's limit.
    pub body: String,
}

impl HttpGuard {
    /// Sends one request with a JSON body; errors are sentences for the model and the log.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<Reply, String> {
        let bytes = body.map(|b| b.to_string().into_bytes());
        let mut headers = headers.to_vec();
        if bytes.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), "application/json".into()));
        }
        self.send_raw(method, url, &headers, bytes.as_deref(), timeout)
            .await
    }

    /// Sends one request with exactly these body bytes (signed webhooks).
    pub async fn send_raw(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Reply, String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("bad url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("only http and https urls are allowed".into());
        }
        let host = url.host_str().ok_or("url has no host")?.to_owned();
        let port = url.port_or_known_default().ok_or("url has no port")?;
        let lookup_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addrs: Vec<SocketAddr> =
            tokio::time::timeout(timeout, self.resolver.resolve(&lookup_host, port))
                .await
                .map_err(|_| format!("resolving {host} timed out"))?
                .map_err(|e| format!("cannot resolve {host}: {e}"))?;
        let addr = *addrs
            .first()
            .ok_or_else(|| format!("{host} has no address"))?;
        if !self.allow_private && addrs.iter().any(|a| is_internal(a.ip())) {
            return Err(format!(
                "{host} resolves to an internal address; refused (set tools.allow_private_networks to allow)"
            ));
        }
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("bad method {method:?}"))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // a proxy would connect wherever it likes, not to the address checked above
            .no_proxy()
            .resolve(&lookup_host, addr)
            .build()
            .map_err(|e| e.to_string())?;
        let mut req = client.request(method, url);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(b) = body {
            req = req.body(b.to_vec());
        }
        let mut resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                "the request timed out".to_owned()
            } else {
                sentence(e)
            }
        })?;
        let status = resp.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(sentence)? {
            let room = self.max_response_bytes.saturating_sub(bytes.len());
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                return Err(format!(
                    "the response is larger than {} bytes",
                    self.max_response_bytes
                ));
            }
        }
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}
