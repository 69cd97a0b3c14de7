//! The tools of agents made through the control-plane API, run for one call.
//!
//! [`ApiTool::from_records`] (`api/tool.rs`) turns the stored tool instances into what runs;
//! [`CallTools`] is the per-call runner: it knows the call (ids, numbers) and carries out
//! transfers (by recording the order the carrier side executes once the agent has spoken),
//! calendar bookings, knowledge-base queries, and the developer's `function` and
//! `apiRequest` endpoints.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use vox_core::ToolCall;
use vox_engine::ToolDef;

use crate::calendar::{AppointmentConfig, CalendarBackend, HORIZON_DAYS};
use crate::http::HttpGuard;
use crate::knowledge::KnowledgeBases;
use crate::template;
use crate::{ToolOutcome, ToolRunner};

mod calendar_ops;
mod tool;

pub use tool::{ApiTool, Destination};

/// Longest tool result handed to the model.
const MAX_RESULT_CHARS: usize = 4000;
/// Open slots offered to the model at call start.
pub const SLOTS_IN_PROMPT: usize = 12;

/// Who and what the call is.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The call record's id.
    pub call_id: String,
    /// The business.
    pub business_id: String,
    /// The agent.
    pub agent_id: String,
    /// The other party.
    pub customer_number: Option<String>,
    /// The agent's number.
    pub phone_number: Option<String>,
    /// Whether the carrier side can transfer this call.
    pub can_transfer: bool,
    /// The business's Google Calendar id (its integration), for the Google backend.
    pub calendar_id: Option<String>,
}

/// A transfer the tool accepted, for the carrier side to carry out after the agent spoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferOrder {
    /// Where.
    pub destination: Destination,
    /// The briefing for a warm transfer.
    pub summary: String,
    /// On-hold audio URL.
    pub hold_audio: Option<String>,
}

/// Told of each tool call (for call-event webhooks): `(tool name, arguments, result)`.
pub type ToolEvents = Arc<dyn Fn(&str, &Value, &str) + Send + Sync>;

/// Where the built-in and Google calendars come from.
pub type CalendarFactory = Arc<dyn Fn(&CallContext) -> Arc<dyn CalendarBackend> + Send + Sync>;

/// What every call's tools share.
#[derive(Clone)]
pub struct ToolEnv {
    /// Outbound requests.
    pub http: HttpGuard,
    /// Default limit per request.
    pub timeout: Duration,
    /// Knowledge-base indexes.
    pub knowledge: Arc<KnowledgeBases>,
    /// The calendar backend for a call.
    pub calendar: CalendarFactory,
}

impl std::fmt::Debug for ToolEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolEnv")
            .field("http", &self.http)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// One call's tools. See the module docs.
pub struct CallTools {
    env: ToolEnv,
    ctx: CallContext,
    tools: Vec<ApiTool>,
    calendar: Option<(AppointmentConfig, Arc<dyn CalendarBackend>)>,
    transfer: Mutex<Option<TransferOrder>>,
    events: Option<ToolEvents>,
}

impl std::fmt::Debug for CallTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallTools")
            .field("call", &self.ctx.call_id)
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_RESULT_CHARS {
        s.to_owned()
    } else {
        format!(
            "{}... (cut)",
            s.chars().take(MAX_RESULT_CHARS).collect::<String>()
        )
    }
}

impl CallTools {
    /// The runner for one call.
    pub fn new(
        env: ToolEnv,
        ctx: CallContext,
        tools: Vec<ApiTool>,
        events: Option<ToolEvents>,
    ) -> Self {
        let calendar = tools.iter().find_map(|t| match t {
            ApiTool::Calendar { config } => Some(config.clone()),
            _ => None,
        });
        let calendar = calendar.map(|c| (c, (env.calendar)(&ctx)));
        Self {
            env,
            ctx,
            tools,
            calendar,
            transfer: Mutex::new(None),
            events,
        }
    }

    /// Every definition for the engine, without duplicate names (the first wins).
    pub fn defs(&self) -> Vec<ToolDef> {
        let mut seen = std::collections::BTreeSet::new();
        self.tools
            .iter()
            .flat_map(ApiTool::defs)
            .filter(|d| seen.insert(d.name.clone()))
            .collect()
    }

    /// The transfer accepted during the call, if any.
    pub fn transfer_order(&self) -> Option<TransferOrder> {
        self.transfer.lock().ok()?.clone()
    }

    /// Builds the knowledge-base index (run it at call start, so the first question does not
    /// wait for it).
    pub fn warm(self: &Arc<Self>) -> impl std::future::Future<Output = ()> + Send + 'static {
        let me = self.clone();
        async move {
            for t in &me.tools {
                if let ApiTool::Knowledge { file_ids } = t
                    && let Err(e) = me.env.knowledge.index(&me.ctx.business_id, file_ids).await
                {
                    tracing::warn!(error = %e, "indexing the knowledge base");
                }
            }
        }
    }

    /// The open slots, as a paragraph for the system prompt (`None` without a calendar).
    pub async fn slots_prompt(&self, now_ms: i64) -> Option<String> {
        let (cfg, backend) = self.calendar.as_ref()?;
        let horizon = now_ms + HORIZON_DAYS * 86_400_000;
        let busy = match backend.bookings(now_ms, horizon).await {
            Ok(b) => b
                .into_iter()
                .map(|b| (b.start_ms, b.end_ms))
                .collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!(error = ?e, "reading the calendar at call start");
                return Some("The calendar could not be read: apologise and offer to call back if the caller wants an appointment.".into());
            }
        };
        let slots = cfg.offered_slots(&busy, now_ms, SLOTS_IN_PROMPT);
        if slots.is_empty() {
            return Some("There are no open appointment slots in the next two weeks.".into());
        }
        let list: Vec<String> = slots
            .iter()
            .map(|s| format!("{} ({})", cfg.speak(*s), cfg.local(*s)))
            .collect();
        Some(format!(
            "Open appointment slots ({} minutes each): {}. Offer these; book with scheduleAppointment using the time in brackets.",
            cfg.slot_minutes,
            list.join("; ")
        ))
    }

    fn variables(&self, args: &Value) -> BTreeMap<String, Value> {
        let mut vars: BTreeMap<String, Value> = args
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let c = &self.ctx;
        for (k, v) in [
            ("callId", Some(&c.call_id)),
            ("businessId", Some(&c.business_id)),
            ("agentId", Some(&c.agent_id)),
            ("customerNumber", c.customer_number.as_ref()),
            ("phoneNumber", c.phone_number.as_ref()),
        ] {
            vars.insert(k.to_owned(), v.map(|s| json!(s)).unwrap_or(Value::Null));
        }
        vars
    }

    async fn run_named(&self, name: &str, args: &Value) -> ToolOutcome {
        // the first tool of a name, as in `defs`
        let tool = self.tools.iter().find(|t| t.answers_to(name));
        match tool {
            None => ToolOutcome::text(format!("Error: there is no tool named {name:?}.")),
            Some(ApiTool::EndCall { .. }) => ToolOutcome::text("Ending the call."),
            Some(ApiTool::Transfer {
                destinations,
                hold_audio,
                ..
            }) => self.transfer(destinations, hold_audio.clone(), args),
            Some(ApiTool::Calendar { .. }) => ToolOutcome::text(self.calendar_op(name, args).await),
            Some(ApiTool::Knowledge { file_ids }) => {
                ToolOutcome::text(self.knowledge(file_ids, args).await)
            }
            Some(ApiTool::Function {
                name, url, timeout, ..
            }) => {
                let body = json!({
                    "call": {"id": self.ctx.call_id, "agentId": self.ctx.agent_id, "businessId": self.ctx.business_id, "customerNumber": self.ctx.customer_number, "phoneNumber": self.ctx.phone_number},
                    "tool": name,
                    "arguments": args,
                });
                let headers = [("content-type".to_owned(), "application/json".to_owned())];
                ToolOutcome::text(
                    self.http(name, "POST", url, &headers, Some(&body), *timeout)
                        .await,
                )
            }
            Some(ApiTool::ApiRequest {
                name,
                method,
                url,
                headers,
                body,
                timeout,
                ..
            }) => {
                let vars = self.variables(args);
                let url = template::render(url, &vars, true);
                let headers: Vec<(String, String)> = headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            template::render(k, &vars, false),
                            template::render(v, &vars, false),
                        )
                    })
                    .collect();
                let body = body.as_ref().map(|b| template::render_json(b, &vars));
                ToolOutcome::text(
                    self.http(name, method, &url, &headers, body.as_ref(), *timeout)
                        .await,
                )
            }
        }
    }

    async fn http(
        &self,
        name: &str,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> String {
        match self
            .env
            .http
            .send(
                method,
                url,
                headers,
                body,
                timeout.unwrap_or(self.env.timeout),
            )
            .await
        {
            Ok(r) if (200..300).contains(&r.status) => {
                // a JSON reply with a `result` is the function-tool convention; anything else is passed on
                let text = match serde_json::from_str::<Value>(&r.body) {
                    Ok(v) if v.get("result").is_some() => match &v["result"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                    _ => r.body,
                };
                cut(&text)
            }
            Ok(r) => {
                tracing::warn!(tool = %name, status = r.status, "tool endpoint answered an error");
                format!(
                    "Error: the {name} service answered HTTP {}: {}",
                    r.status,
                    cut(&r.body)
                )
            }
            Err(e) => {
                tracing::warn!(tool = %name, error = %e, "tool request failed");
                format!("Error: the {name} service could not be reached: {e}")
            }
        }
    }

    fn transfer(
        &self,
        destinations: &[Destination],
        hold_audio: Option<String>,
        args: &Value,
    ) -> ToolOutcome {
        if !self.ctx.can_transfer {
            return ToolOutcome::text(
                "Error: this call cannot be transferred (no carrier call control); offer to take a message instead.",
            );
        }
        let wanted = args["destination"].as_str().unwrap_or_default().trim();
        let found = destinations
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(wanted))
            .or_else(|| (destinations.len() == 1 && wanted.is_empty()).then(|| &destinations[0]));
        let Some(d) = found else {
            let names: Vec<&str> = destinations.iter().map(|d| d.name.as_str()).collect();
            return ToolOutcome::text(format!(
                "Error: {wanted:?} is not a destination; choose one of {names:?}."
            ));
        };
        let summary = args["summary"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_owned();
        if let Ok(mut t) = self.transfer.lock() {
            *t = Some(TransferOrder {
                destination: d.clone(),
                summary,
                hold_audio,
            });
        }
        ToolOutcome {
            content: format!("Transferring the caller to {} now.", d.name),
            end_call: Some(format!("transfer to {}", d.name)),
        }
    }

    async fn knowledge(&self, file_ids: &[String], args: &Value) -> String {
        let query = args["query"].as_str().unwrap_or_default().trim();
        if query.is_empty() {
            return "Error: say what to look up in `query`.".into();
        }
        let kb = &self.env.knowledge;
        let index = match kb.index(&self.ctx.business_id, file_ids).await {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "knowledge base unavailable");
                return "Error: the knowledge base is unavailable right now.".into();
            }
        };
        let hits = index.search(query, kb.embedder(), 3).await;
        if hits.is_empty() {
            return "Nothing in the business's documents answers that. Say you do not know rather than guessing.".into();
        }
        let mut out =
            String::from("Answer only from these passages of the business's documents:\n");
        for h in hits {
            out.push_str(&format!("\n[{}] {}\n", h.source, h.text.trim()));
        }
        cut(&out)
    }
}

impl ToolRunner for Arc<CallTools> {
    fn run(&self, call: ToolCall) -> BoxFuture<'static, ToolOutcome> {
        let me = self.clone();
        async move {
            let args: Value = match serde_json::from_str(if call.arguments.trim().is_empty() { "{}" } else { &call.arguments }) {
                Ok(v @ Value::Object(_)) => v,
                _ => return ToolOutcome::text(format!("Error: the arguments of {} must be a JSON object.", call.name)),
            };
            let outcome = me.run_named(&call.name, &args).await;
            tracing::info!(call = %me.ctx.call_id, tool = %call.name, ok = !outcome.content.starts_with("Error"), "tool call");
            if let Some(events) = &me.events {
                events(&call.name, &args, &outcome.content);
            }
            outcome
        }
        .boxed()
    }
}
