//! The tool runtime: carries out the tool calls an agent's model makes.
//!
//! [`ToolRunner`] is what the call actor sees. Two runners:
//! - [`AgentTools`] for agents defined in files: `function` tools POST their JSON arguments
//!   to the developer's URL and hand the response body to the model.
//! - [`api::CallTools`] for agents made through the API, one per call: transfer, calendar
//!   (built-in or Google), knowledge base (hybrid BM25 + embeddings), function and
//!   apiRequest tools.
//!
//! Every outbound request goes through [`http::HttpGuard`]: loopback, private, link-local
//! and other internal addresses are refused unless allowed in configuration, and the
//! address that was checked is the one connected to. Results are text for the model;
//! failures are described in it (the model can apologise or try something else), never
//! thrown.

pub mod api;
pub mod calendar;
pub mod http;
pub mod knowledge;
pub mod template;

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use vox_core::ToolCall;
use vox_engine::{ToolDef, ToolKind};

pub use http::{HttpGuard, Resolve, SystemResolver, is_internal};

/// What a tool call gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutcome {
    /// The result, as text for the model.
    pub content: String,
    /// The call is to end once the agent has spoken (a transfer), with this reason.
    pub end_call: Option<String>,
}

impl ToolOutcome {
    /// A plain result.
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            end_call: None,
        }
    }
}

/// Runs tool calls.
pub trait ToolRunner: Send + Sync + std::fmt::Debug {
    /// Runs one call.
    fn run(&self, call: ToolCall) -> BoxFuture<'static, ToolOutcome>;
}

/// An agent's tools (agents defined in files).
#[derive(Debug, Clone)]
pub struct AgentTools {
    defs: Vec<ToolDef>,
    guard: HttpGuard,
    timeout: Duration,
}

impl AgentTools {
    /// Runs `defs`; `allow_private` permits internal addresses (for development only).
    pub fn new(defs: Vec<ToolDef>, allow_private: bool, timeout: Duration) -> Self {
        Self {
            defs,
            guard: HttpGuard {
                allow_private,
                ..HttpGuard::default()
            },
            timeout,
        }
    }
}

impl ToolRunner for AgentTools {
    fn run(&self, call: ToolCall) -> BoxFuture<'static, ToolOutcome> {
        let def = self.defs.iter().find(|d| d.name == call.name).cloned();
        let (guard, timeout) = (self.guard.clone(), self.timeout);
        async move {
            let Some(def) = def else {
                return ToolOutcome::text(format!(
                    "Error: there is no tool named {:?}.",
                    call.name
                ));
            };
            match def.kind {
                ToolKind::Function => {
                    let args: serde_json::Value =
                        match serde_json::from_str(if call.arguments.trim().is_empty() {
                            "{}"
                        } else {
                            &call.arguments
                        }) {
                            Ok(v) => v,
                            Err(e) => {
                                return ToolOutcome::text(format!(
                                    "Error: the arguments are not JSON: {e}"
                                ));
                            }
                        };
                    let url = def.url.clone().unwrap_or_default();
                    match guard.send("POST", &url, &[], Some(&args), timeout).await {
                        Ok(r) if (200..300).contains(&r.status) => ToolOutcome::text(r.body),
                        Ok(r) => ToolOutcome::text(format!(
                            "Error: the {} tool failed: HTTP {}: {}",
                            def.name, r.status, r.body
                        )),
                        Err(e) => {
                            tracing::warn!(tool = %def.name, error = %e, "function tool failed");
                            ToolOutcome::text(format!("Error: the {} tool failed: {e}", def.name))
                        }
                    }
                }
                ToolKind::EndCall => ToolOutcome::text("Ending the call."),
                _ => ToolOutcome::text(format!(
                    "Error: {} is only available to agents made through the API.",
                    def.name
                )),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(url: &str) -> ToolDef {
        serde_json::from_value(
            serde_json::json!({"name": "lookup", "type": "function", "url": url}),
        )
        .expect("def")
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "192.0.0.170",
            "240.0.0.1",
            "255.255.255.255",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "fec0::1",
            "2001:db8::1",
            "100::1",
        ] {
            assert!(is_internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_by_default() {
        let tools = AgentTools::new(
            vec![def("http://127.0.0.1:9/x")],
            false,
            Duration::from_secs(1),
        );
        let out = tools
            .run(ToolCall {
                id: "1".into(),
                name: "lookup".into(),
                arguments: "{}".into(),
            })
            .await
            .content;
        assert!(out.contains("internal address; refused"), "{out}");
        let out = tools
            .run(ToolCall {
                id: "2".into(),
                name: "nope".into(),
                arguments: "{}".into(),
            })
            .await
            .content;
        assert!(out.contains("no tool named"), "{out}");
    }
}
