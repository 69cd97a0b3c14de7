//! The tools of agents made through the control-plane API, run for one call.
//!
//! [`ApiTool::from_records`] (`api/tool.rs`) turns the stored tool instances into what runs;
//! [`CallTools`] is the per-call runner: it knows the call (ids, numbers) and carries out
//! transfers (by recording the order the carrier side executes once the agent has spoken),
//! calendar bookings, knowledge-base queries, the developer's `function` and `apiRequest`
//! endpoints, data the caller gives kept with the call (`captureData`), and workflow
//! triggers (an event). Each run is told to [`ToolEvents`] with the record it came from.

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

mod actions;
mod calendar_ops;
mod tool;

pub use tool::{ApiTool, Destination, LoadedTool, POST_CALL_RECORDS, Source};

/// Longest tool result handed to the model.
const MAX_RESULT_CHARS: usize = 4000;
/// Open slots offered to the model at call start.
pub const SLOTS_IN_PROMPT: usize = 12;

/// Sends text messages through the carrier of a number (the carriers' side implements it).
pub trait Messenger: Send + Sync + std::fmt::Debug {
    /// Sends `body` from our number `from` to `to`; the carrier's id for the message, or why
    /// it was not sent.
    fn send_sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
    ) -> BoxFuture<'static, Result<String, String>>;
}

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
    /// Text messages through the call's carrier (none: the carrier cannot send them).
    pub messenger: Option<Arc<dyn Messenger>>,
}

/// A transfer the tool accepted, for the carrier side to carry out after the agent spoke.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferOrder {
    /// Where.
    pub destination: Destination,
    /// The briefing for a warm transfer.
    pub summary: String,
    /// On-hold audio URL.
    pub hold_audio: Option<String>,
}

/// What a tool run did beyond its answer to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The developer's workflow is to start (`workflow.triggered`).
    WorkflowTriggered {
        /// Which.
        workflow_id: String,
    },
    /// A value the caller gave was kept in the call's data.
    DataCaptured {
        /// Under which key.
        key: String,
        /// What.
        value: String,
    },
}

/// One tool run, as it is told to [`ToolEvents`].
#[derive(Debug)]
pub struct ToolEvent<'a> {
    /// The name the model called.
    pub name: &'a str,
    /// Its arguments.
    pub arguments: &'a Value,
    /// What the model was answered.
    pub result: &'a str,
    /// The record it came from (`None`: no such tool).
    pub source: Option<&'a Source>,
    /// What it did beyond its answer.
    pub effect: Option<&'a Effect>,
    /// When the model asked for it, Unix ms.
    pub started_ms: i64,
    /// When it was done, Unix ms.
    pub finished_ms: i64,
}

/// Told of each tool run (call-event webhooks, the call's log of actions).
pub type ToolEvents = Arc<dyn Fn(&ToolEvent<'_>) + Send + Sync>;

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
    tools: Vec<LoadedTool>,
    calendar: Option<(AppointmentConfig, Arc<dyn CalendarBackend>)>,
    transfer: Mutex<Option<TransferOrder>>,
    captured: tokio::sync::watch::Sender<serde_json::Map<String, Value>>,
    events: Option<ToolEvents>,
}

/// An outbound request of a tool.
struct Request<'a> {
    method: &'a str,
    url: &'a str,
    headers: &'a [(String, String)],
    body: Option<&'a Value>,
    timeout: Option<Duration>,
}

/// What one run did: the answer, the record it came from, and its effect.
struct Ran {
    outcome: ToolOutcome,
    source: Option<Source>,
    effect: Option<Effect>,
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
        tools: Vec<LoadedTool>,
        events: Option<ToolEvents>,
    ) -> Self {
        let calendar = tools.iter().find_map(|t| match &t.tool {
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
            captured: tokio::sync::watch::Sender::new(serde_json::Map::new()),
            events,
        }
    }

    /// The runner for tools without records (tests, file agents' calendars).
    pub fn of_tools(
        env: ToolEnv,
        ctx: CallContext,
        tools: Vec<ApiTool>,
        events: Option<ToolEvents>,
    ) -> Self {
        let loaded = tools
            .into_iter()
            .map(|tool| LoadedTool {
                tool,
                sources: Vec::new(),
            })
            .collect();
        Self::new(env, ctx, loaded, events)
    }

    /// What the caller's words kept in the call's data so far (`captureData` tools).
    pub fn captured(&self) -> serde_json::Map<String, Value> {
        self.captured.borrow().clone()
    }

    /// Each change of [`captured`](Self::captured), latest first (for the call's record).
    pub fn captured_updates(&self) -> tokio::sync::watch::Receiver<serde_json::Map<String, Value>> {
        self.captured.subscribe()
    }

    /// Every definition for the engine, without duplicate names (the first wins).
    pub fn defs(&self) -> Vec<ToolDef> {
        let mut seen = std::collections::BTreeSet::new();
        self.tools
            .iter()
            .flat_map(|t| t.tool.defs())
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
                if let ApiTool::Knowledge { file_ids } = &t.tool
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

    async fn run_named(&self, name: &str, args: &Value) -> Ran {
        // the first tool of a name, as in `defs`
        let Some(loaded) = self.tools.iter().find(|t| t.tool.answers_to(name)) else {
            return Ran {
                outcome: ToolOutcome::text(format!("Error: there is no tool named {name:?}.")),
                source: None,
                effect: None,
            };
        };
        let first = loaded.sources.first().cloned();
        let text = |outcome: String| Ran {
            outcome: ToolOutcome::text(outcome),
            source: first.clone(),
            effect: None,
        };
        match &loaded.tool {
            ApiTool::EndCall { .. } => text("Ending the call.".into()),
            ApiTool::Transfer {
                destinations,
                hold_audio,
                ..
            } => {
                let (outcome, source) = self.transfer(destinations, hold_audio.clone(), args);
                Ran {
                    outcome,
                    source: source.or(first),
                    effect: None,
                }
            }
            ApiTool::Calendar { .. } => text(self.calendar_op(name, args).await),
            ApiTool::Knowledge { file_ids } => text(self.knowledge(file_ids, args).await),
            ApiTool::Function {
                name, url, timeout, ..
            } => {
                let body = json!({
                    "call": {"id": self.ctx.call_id, "agentId": self.ctx.agent_id, "businessId": self.ctx.business_id, "customerNumber": self.ctx.customer_number, "phoneNumber": self.ctx.phone_number},
                    "tool": name,
                    "arguments": args,
                });
                let headers = [("content-type".to_owned(), "application/json".to_owned())];
                let req = Request {
                    method: "POST",
                    url,
                    headers: &headers,
                    body: Some(&body),
                    timeout: *timeout,
                };
                text(self.http(name, req, &[]).await)
            }
            ApiTool::ApiRequest {
                name,
                method,
                url,
                headers,
                body,
                timeout,
                selected_paths,
                ..
            } => {
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
                let req = Request {
                    method,
                    url: &url,
                    headers: &headers,
                    body: body.as_ref(),
                    timeout: *timeout,
                };
                text(self.http(name, req, selected_paths).await)
            }
            ApiTool::CaptureData { key, overwrite, .. } => {
                let (answer, effect) = actions::capture(&self.captured, key, *overwrite, args);
                Ran {
                    outcome: ToolOutcome::text(answer),
                    source: first,
                    effect,
                }
            }
            ApiTool::SendSms { body, .. } => text(self.send_sms(body).await),
            ApiTool::TriggerWorkflow { workflow_id, .. } => Ran {
                outcome: ToolOutcome::text("Done: the workflow has been started."),
                source: first,
                effect: Some(Effect::WorkflowTriggered {
                    workflow_id: workflow_id.clone(),
                }),
            },
        }
    }

    async fn http(&self, name: &str, req: Request<'_>, select: &[String]) -> String {
        match self
            .env
            .http
            .send(
                req.method,
                req.url,
                req.headers,
                req.body,
                req.timeout.unwrap_or(self.env.timeout),
            )
            .await
        {
            Ok(r) if (200..300).contains(&r.status) => {
                // a JSON reply with a `result` is the function-tool convention; anything else is passed on
                let text = match serde_json::from_str::<Value>(&r.body) {
                    Ok(v) if !select.is_empty() => actions::select(&v, select).to_string(),
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
    ) -> (ToolOutcome, Option<Source>) {
        if !self.ctx.can_transfer {
            return (
                ToolOutcome::text(
                    "Error: this call cannot be transferred (no carrier call control); offer to take a message instead.",
                ),
                None,
            );
        }
        let wanted = args["destination"].as_str().unwrap_or_default().trim();
        let found = destinations
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(wanted))
            .or_else(|| (destinations.len() == 1 && wanted.is_empty()).then(|| &destinations[0]));
        let Some(d) = found else {
            let names: Vec<&str> = destinations.iter().map(|d| d.name.as_str()).collect();
            return (
                ToolOutcome::text(format!(
                    "Error: {wanted:?} is not a destination; choose one of {names:?}."
                )),
                None,
            );
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
        (
            ToolOutcome {
                content: format!("Transferring the caller to {} now.", d.name),
                end_call: Some(format!("transfer to {}", d.name)),
            },
            Some(d.source.clone()),
        )
    }

    /// Texts `body` to the caller from the agent's number.
    async fn send_sms(&self, body: &str) -> String {
        let (Some(m), Some(from), Some(to)) = (
            &self.ctx.messenger,
            &self.ctx.phone_number,
            &self.ctx.customer_number,
        ) else {
            return "Error: a text message cannot be sent on this call (no carrier messaging or no caller number); tell the caller.".into();
        };
        match m.send_sms(from, to, body).await {
            Ok(_) => "Sent: the caller has the text message.".into(),
            Err(e) => {
                tracing::warn!(call = %self.ctx.call_id, error = %e, "sending a text message");
                format!("Error: the text message could not be sent ({e}); tell the caller.")
            }
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
            let started_ms = vox_store::now_ms();
            let ran = me.run_named(&call.name, &args).await;
            tracing::info!(call = %me.ctx.call_id, tool = %call.name, ok = !ran.outcome.content.starts_with("Error"), "tool call");
            if let Some(events) = &me.events {
                events(&ToolEvent {
                    name: &call.name,
                    arguments: &args,
                    result: &ran.outcome.content,
                    source: ran.source.as_ref(),
                    effect: ran.effect.as_ref(),
                    started_ms,
                    finished_ms: vox_store::now_ms(),
                });
            }
            ran.outcome
        }
        .boxed()
    }
}
