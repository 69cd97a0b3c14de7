//! The tool runtime: carries out the tool calls an agent's model makes.
//!
//! [`ToolRunner`] is what the call actor sees. [`AgentTools`] runs an agent's tool
//! definitions: `function` tools POST their JSON arguments to the developer's URL and hand
//! the response body to the model. Requests to loopback, private, link-local and other
//! internal addresses are refused unless allowed in configuration, and the address that was
//! checked is the one connected to (no DNS rebinding between check and use).
//!
//! Deliberately absent: transfer and calendar (they need carrier call control and storage;
//! they answer "not available" until then), and conversation policy.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use vox_core::ToolCall;
use vox_engine::{ToolDef, ToolKind};

/// Runs tool calls. The result is text for the model; failures are described in it (the
/// model can apologise or try something else), never thrown.
pub trait ToolRunner: Send + Sync + std::fmt::Debug {
    /// Runs one call.
    fn run(&self, call: ToolCall) -> BoxFuture<'static, String>;
}

/// Longest tool result handed to the model.
const MAX_RESULT: usize = 8 * 1024;

/// An agent's tools.
#[derive(Debug, Clone)]
pub struct AgentTools {
    defs: Vec<ToolDef>,
    allow_private: bool,
    timeout: Duration,
}

impl AgentTools {
    /// Runs `defs`; `allow_private` permits internal addresses (for development only).
    pub fn new(defs: Vec<ToolDef>, allow_private: bool, timeout: Duration) -> Self {
        Self { defs, allow_private, timeout }
    }
}

impl ToolRunner for AgentTools {
    fn run(&self, call: ToolCall) -> BoxFuture<'static, String> {
        let def = self.defs.iter().find(|d| d.name == call.name).cloned();
        let allow_private = self.allow_private;
        let timeout = self.timeout;
        async move {
            let Some(def) = def else {
                return match call.name.as_str() {
                    "transferCall" | "scheduleAppointment" => format!("Error: {} is not available on this server yet.", call.name),
                    other => format!("Error: there is no tool named {other:?}."),
                };
            };
            match def.kind {
                ToolKind::Function => match call_function(&def, &call.arguments, allow_private, timeout).await {
                    Ok(body) => body,
                    Err(e) => {
                        tracing::warn!(tool = %def.name, error = %e, "function tool failed");
                        format!("Error: the {} tool failed: {e}", def.name)
                    }
                },
                ToolKind::EndCall => "Ending the call.".into(),
                ToolKind::TransferCall | ToolKind::ScheduleAppointment => format!("Error: {} is not available on this server yet.", def.name),
            }
        }
        .boxed()
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
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

async fn call_function(def: &ToolDef, arguments: &str, allow_private: bool, timeout: Duration) -> Result<String, String> {
    let url = def.url.as_deref().ok_or("no url")?;
    let url = reqwest::Url::parse(url).map_err(|e| format!("bad url: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https urls are allowed".into());
    }
    let host = url.host_str().ok_or("url has no host")?.to_owned();
    let port = url.port_or_known_default().ok_or("url has no port")?;
    let lookup_host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((lookup_host.as_str(), port)).await.map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
    let addr = *addrs.first().ok_or_else(|| format!("{host} has no address"))?;
    if !allow_private && addrs.iter().any(|a| is_internal(a.ip())) {
        return Err(format!("{host} resolves to an internal address; refused (set tools.allow_private_networks to allow)"));
    }
    let args: serde_json::Value = serde_json::from_str(if arguments.trim().is_empty() { "{}" } else { arguments }).map_err(|e| format!("arguments are not JSON: {e}"))?;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&lookup_host, addr)
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client.post(url).json(&args).send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| e.to_string())?;
    let mut body: String = body.chars().take(MAX_RESULT).collect();
    if !status.is_success() {
        body = format!("HTTP {status}: {body}");
        return Err(body);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(url: &str) -> ToolDef {
        serde_json::from_value(serde_json::json!({"name": "lookup", "type": "function", "url": url})).expect("def")
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1"] {
            assert!(is_internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_by_default() {
        let tools = AgentTools::new(vec![def("http://127.0.0.1:9/x")], false, Duration::from_secs(1));
        let out = tools.run(ToolCall { id: "1".into(), name: "lookup".into(), arguments: "{}".into() }).await;
        assert!(out.contains("internal address; refused"), "{out}");
        let out = tools.run(ToolCall { id: "2".into(), name: "nope".into(), arguments: "{}".into() }).await;
        assert!(out.contains("no tool named"), "{out}");
    }
}
