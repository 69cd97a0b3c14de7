//! Calls of the agents stored in the control plane's database (made through the API):
//! when a carrier's stream for such a call connects, [`StoredAgents::open`] checks the call
//! record, moves it SCHEDULED -> IN_PROGRESS once (so one call admits one stream), and builds
//! the call's session: the stored agent as an [`AgentSpec`] on the `[voice_agents]` runtime,
//! its tools (open calendar slots put into the prompt, the knowledge index warmed), the
//! carrier's call control, a recording, and a record writer that keeps the record current.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tracing::{info, warn};
use vox_call::{AgentSession, CallControl, OpenCallError, Tasks};
use vox_engine::{AgentSpec, EngineConfig, VoiceAgent};
use vox_store::{AgentRecord, CallRecord, Store, StoreError, ToolRecord, ToolRun, now_ms};
use vox_tools::HttpGuard;
use vox_tools::api::{
    ApiTool, CalendarFactory, CallContext, CallTools, Effect, Messenger, ToolEnv, ToolEvent,
    ToolEvents,
};
use vox_tools::calendar::{
    BuiltinCalendar, CalendarBackend, GoogleAccount, GoogleCalendar, NoCalendar,
};
use vox_tools::knowledge::KnowledgeBases;

use crate::artifacts::Field;
use crate::choice::ProviderChoices;
use crate::events::{EventKind, Events};
use crate::providers::Providers;
use crate::record::{LiveCalls, RecordWriter};

mod recovery;

/// Where the googleCal tool's appointments live.
#[derive(Debug, Clone)]
pub enum CalendarChoice {
    /// Vox's own database.
    Builtin,
    /// The business's Google Calendar, through the Calendar REST API.
    Google {
        /// The API's base URL (tests point it at a fake).
        api_base: String,
        /// Vox's Google account, which businesses share their calendars with.
        account: Arc<GoogleAccount>,
    },
}

/// What stored agents' calls run on and with, from the configuration.
#[derive(Debug, Clone)]
pub struct StoredAgentsConfig {
    /// `[voice_agents]`: the providers.
    pub choices: ProviderChoices,
    /// Turn-taking settings.
    pub engine: EngineConfig,
    /// The gate of every tool request.
    pub http: HttpGuard,
    /// A tool call's time limit.
    pub tool_timeout: Duration,
    /// The googleCal tool's backend.
    pub calendar: CalendarChoice,
    /// Where recordings go (`None`: calls are not recorded).
    pub recordings_dir: Option<PathBuf>,
    /// The base URL recordings are linked under (may be empty).
    pub public_url: String,
}

impl StoredAgentsConfig {
    /// What the control plane shares businesses' calendars with (Google backend only).
    pub fn calendar_sharing(&self) -> Option<vox_tools::calendar::CalendarSharing> {
        match &self.calendar {
            CalendarChoice::Google { api_base, account } => {
                Some(vox_tools::calendar::CalendarSharing::new(
                    reqwest::Client::builder()
                        .timeout(self.tool_timeout)
                        .build()
                        .unwrap_or_default(),
                    api_base,
                    account.clone(),
                ))
            }
            CalendarChoice::Builtin => None,
        }
    }
}

/// The runtime, built at the first call (it loads models).
#[derive(Clone)]
struct Runtime {
    services: vox_call::CallServices,
    without_llm: bool,
    tools: ToolEnv,
}

/// Opens stored agents' calls. Cheap to clone.
#[derive(Clone)]
pub struct StoredAgents(Arc<Inner>);

struct Inner {
    store: Store,
    providers: Arc<Providers>,
    cfg: StoredAgentsConfig,
    events: Events,
    tasks: Tasks,
    live: LiveCalls,
    http: reqwest::Client,
    runtime: tokio::sync::OnceCell<Result<Runtime, String>>,
}

impl std::fmt::Debug for StoredAgents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAgents")
            .field("choices", &self.0.cfg.choices)
            .finish_non_exhaustive()
    }
}

/// The carrier side of a call being opened.
pub trait ControlFactory: Sync {
    /// Whether the carrier can act on this call (hang up, transfer): it knows the carrier's
    /// id for it and holds the account of its number.
    fn controls(&self, record: &CallRecord) -> bool;
    /// The call's control, once its tools exist (a transfer is ordered through them).
    fn control(&self, record: &CallRecord, tools: Arc<CallTools>) -> Option<Arc<dyn CallControl>>;
    /// Text messages through the carrier of the call's number (none: it cannot send them).
    fn messenger(&self, _record: &CallRecord) -> Option<Arc<dyn Messenger>> {
        None
    }
}

impl StoredAgents {
    /// The runtime of stored agents; nothing is loaded until the first call.
    pub fn new(
        store: Store,
        providers: Arc<Providers>,
        cfg: StoredAgentsConfig,
        events: Events,
        tasks: Tasks,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Self(Arc::new(Inner {
            store,
            providers,
            cfg,
            events,
            tasks,
            live: LiveCalls::default(),
            http,
            runtime: tokio::sync::OnceCell::new(),
        }))
    }

    /// The calls whose stream is connected.
    pub fn live(&self) -> &LiveCalls {
        &self.0.live
    }

    /// Call-event webhooks.
    pub fn events(&self) -> &Events {
        &self.0.events
    }

    /// Opens the call `call_id` of agent `agent_id` (its stream's token already checked):
    /// the session the stream runs. `carrier_call_id` is the carrier's id as the stream
    /// names it; `control` makes the carrier's call control for it.
    pub async fn open(
        &self,
        call_id: &str,
        agent_id: &str,
        carrier_call_id: &str,
        control: &dyn ControlFactory,
    ) -> Result<AgentSession, OpenCallError> {
        let store = &self.0.store;
        let internal = |e: StoreError| {
            warn!(error = %e, call = %call_id, "opening a placed call");
            OpenCallError::Internal
        };
        let mut record = store
            .call_by_id(call_id)
            .await
            .map_err(internal)?
            .ok_or(OpenCallError::UnknownCall)?;
        if record.agent_id.as_deref() != Some(agent_id) {
            return Err(OpenCallError::WrongAgent);
        }
        let agent = store
            .agent(&record.business_id, agent_id)
            .await
            .map_err(internal)?
            .ok_or(OpenCallError::AgentDeleted)?;
        let mut spec = spec_from_record(&agent).map_err(internal)?;
        // the contact the call is with: the Partner API's leadId, else the other party's number
        let contact = match (&record.lead_id, &record.customer_number) {
            (Some(lead), _) if lead.parse::<i64>().is_ok() => store
                .contact(&record.business_id, lead.parse().unwrap_or_default())
                .await
                .map_err(internal)?,
            (_, Some(number)) => store
                .contacts_at(&record.business_id, number)
                .await
                .map_err(internal)?
                .into_iter()
                .next(),
            _ => None,
        };
        crate::brief::apply(&mut spec, record.lead_context.as_ref(), contact.as_ref());
        // once: a second stream with the same token finds the call already in progress
        if !store
            .call_started(call_id, now_ms())
            .await
            .map_err(internal)?
        {
            return Err(OpenCallError::AlreadyConnected);
        }
        if record.carrier_call_id.is_none() && !carrier_call_id.is_empty() {
            record.carrier_call_id = Some(carrier_call_id.to_owned());
            if let Err(e) = store.set_call_carrier_id(call_id, carrier_call_id).await {
                // this call still has it; only carrier callbacks naming that id will not find the record
                warn!(error = %e, call = %call_id, "recording the carrier's call id");
            }
        }
        let runtime = match self.runtime().await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "the voice_agents runtime is unavailable");
                let _ = store
                    .call_ended(
                        call_id,
                        vox_store::EndedReason::RuntimeUnavailable,
                        now_ms(),
                    )
                    .await;
                return Err(OpenCallError::RuntimeUnavailable);
            }
        };
        let ctx = CallContext {
            call_id: call_id.to_owned(),
            business_id: record.business_id.clone(),
            agent_id: agent_id.to_owned(),
            customer_number: record.customer_number.clone(),
            phone_number: record.phone_number.clone(),
            can_transfer: control.controls(&record),
            calendar_id: store
                .calendar(&record.business_id)
                .await
                .map_err(internal)?
                .map(|c| c.calendar_id),
            messenger: control.messenger(&record),
        };
        let records = agent_tools(&agent, store).await.map_err(internal)?;
        let on_tool = self.tool_events(&record, agent_id);
        let tools = Arc::new(CallTools::new(
            runtime.tools.clone(),
            ctx,
            ApiTool::from_records(&records),
            Some(on_tool),
        ));
        self.0.tasks.spawn("knowledge index warm-up", tools.warm());
        if let Some(slots) = tools.slots_prompt(now_ms()).await {
            spec.custom_instructions = Some(match spec.custom_instructions.take() {
                Some(c) => format!("{c}\n\n{slots}"),
                None => slots,
            });
        }
        spec.tools = tools.defs();
        let mut services = runtime.services.clone();
        let mut conversation: Box<dyn vox_engine::Conversation> =
            if runtime.without_llm && spec.workflow.is_some() {
                Box::new(VoiceAgent::without_llm(spec, self.0.cfg.engine.clone()))
            } else {
                Box::new(VoiceAgent::new(spec, self.0.cfg.engine.clone()))
            };
        // a campaign's post-call survey, asked when the agent ends the call
        if let Some(campaign) = record.campaign_id.as_deref()
            && let Some(c) = store
                .campaign(&record.business_id, campaign)
                .await
                .map_err(internal)?
            && let Some(survey) = survey_of(&c.settings)
        {
            conversation = Box::new(vox_engine::survey::Surveyed::new(conversation, survey));
        }
        services.tools = Some(Arc::new(tools.clone()));
        services.control = control.control(&record, tools.clone());
        services.recording = self.recording_path(&record);
        let collect = collect_fields(&agent.document, &records);
        let writer = RecordWriter {
            store: store.clone(),
            events: self.0.events.clone(),
            live: self.0.live.clone(),
            llm: runtime.services.llm.clone(),
            collect,
            tools,
            end_workflows: crate::events::workflows_of(&agent.document),
            public_url: self.0.cfg.public_url.clone(),
        };
        services.observer = Some(writer.start(&self.0.tasks, record.clone()));
        self.0.events.emit(
            &record.business_id,
            EventKind::CallStarted,
            json!({"callId": call_id, "agentId": agent_id, "type": record.kind, "customerNumber": record.customer_number, "phoneNumber": record.phone_number}),
        );
        info!(call = %call_id, agent = %agent_id, "placed call connected");
        Ok(AgentSession {
            conversation,
            services,
        })
    }

    /// What a call's tool runs do beyond answering the model: the `call.tool_called` event
    /// (and `workflow.triggered` for a workflow action), and a line in the call's log of
    /// runs, written as each run ends.
    fn tool_events(&self, record: &CallRecord, agent_id: &str) -> ToolEvents {
        let (events, store, tasks) = (
            self.0.events.clone(),
            self.0.store.clone(),
            self.0.tasks.clone(),
        );
        let (biz, cid, aid) = (
            record.business_id.clone(),
            record.id.clone(),
            agent_id.to_owned(),
        );
        let customer = record.customer_number.clone();
        Arc::new(move |e: &ToolEvent<'_>| {
            events.emit(
                &biz,
                EventKind::ToolCalled,
                json!({"callId": cid, "tool": e.name, "arguments": e.arguments, "result": e.result}),
            );
            if let Some(Effect::WorkflowTriggered { workflow_id }) = e.effect {
                events.emit(
                    &biz,
                    EventKind::WorkflowTriggered,
                    json!({"workflowId": workflow_id, "callId": cid, "agentId": aid, "customerNumber": customer, "arguments": e.arguments}),
                );
            }
            let run = ToolRun {
                call_id: cid.clone(),
                tool_id: e.source.map(|s| s.tool_id.clone()),
                name: e.name.to_owned(),
                action: e.source.and_then(|s| s.action.clone()),
                arguments: e.arguments.clone(),
                result: e.result.to_owned(),
                started_at: e.started_ms,
                finished_at: e.finished_ms,
            };
            let store = store.clone();
            tasks.spawn_to_completion("tool run log", async move {
                if let Err(err) = store.add_tool_run(&run).await {
                    warn!(error = %err, call = %run.call_id, "logging a tool run");
                }
            });
        })
    }

    /// Where a call's recording is (`None`: calls are not recorded).
    fn recording_path(&self, record: &CallRecord) -> Option<PathBuf> {
        self.0.cfg.recordings_dir.as_ref().map(|d| {
            d.join(&record.business_id)
                .join(format!("{}.wav", record.id))
        })
    }

    async fn runtime(&self) -> Result<Runtime, String> {
        let me = self.clone();
        self.0
            .runtime
            .get_or_init(|| async move {
                let (providers, choices) = (me.0.providers.clone(), me.0.cfg.choices.clone());
                let loaded = tokio::task::spawn_blocking(move || {
                    let services = providers
                        .services(&choices, None, "voice_agents")
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>((services, providers.knowledge_embedder()))
                })
                .await
                .unwrap_or_else(|e| Err(format!("loading the voice_agents runtime: {e}")))?;
                let (services, embedder) = loaded;
                let cfg = &me.0.cfg;
                let calendar: CalendarFactory = match &cfg.calendar {
                    CalendarChoice::Builtin => {
                        let store = me.0.store.clone();
                        Arc::new(move |ctx: &CallContext| {
                            Arc::new(BuiltinCalendar::new(
                                store.clone(),
                                ctx.business_id.clone(),
                                Some(ctx.call_id.clone()),
                            )) as Arc<dyn CalendarBackend>
                        })
                    }
                    CalendarChoice::Google { api_base, account } => {
                        let (http, base, account) =
                            (me.0.http.clone(), api_base.clone(), account.clone());
                        Arc::new(move |ctx: &CallContext| match &ctx.calendar_id {
                            // only the business's own integration names a calendar
                            Some(calendar_id) => Arc::new(GoogleCalendar::new(
                                http.clone(),
                                &base,
                                calendar_id,
                                account.clone(),
                            ))
                                as Arc<dyn CalendarBackend>,
                            None => Arc::new(NoCalendar),
                        })
                    }
                };
                let tools = ToolEnv {
                    http: cfg.http.clone(),
                    timeout: cfg.tool_timeout,
                    knowledge: Arc::new(KnowledgeBases::new(me.0.store.clone(), embedder)),
                    calendar,
                };
                Ok(Runtime {
                    services,
                    without_llm: cfg.choices.without_llm(),
                    tools,
                })
            })
            .await
            .clone()
    }
}

/// The stored agent as the engine's [`AgentSpec`]: the seed's fields it knows (tools are
/// added from the call's [`CallTools`]).
/// A campaign's survey setting (`{questions: [{text, answerType, maxScore}],
/// questionTimeoutSecs}`, as the API validated it), if it has one.
fn survey_of(settings: &Value) -> Option<vox_engine::survey::Survey> {
    let s = settings.get("survey").filter(|s| s.is_object())?;
    let questions: Vec<vox_engine::survey::Question> =
        serde_json::from_value(s["questions"].clone()).ok()?;
    (!questions.is_empty()).then(|| vox_engine::survey::Survey {
        questions,
        timeout: Duration::from_secs(s["questionTimeoutSecs"].as_u64().unwrap_or(8)),
    })
}

/// The fields extracted after an agent's calls: its `collectFields`, and the fields of its
/// post-call extraction records (seed 000's DATA_EXTRACTION actions).
fn collect_fields(document: &Value, records: &[ToolRecord]) -> Vec<Field> {
    let mut out: Vec<Field> = document["collectFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(Field::named)
        .collect();
    for r in records
        .iter()
        .filter(|r| r.enabled && r.name == "postCallExtraction")
    {
        let o = &r.config_override;
        let Some(key) = o["key"].as_str().filter(|k| !k.is_empty()) else {
            continue;
        };
        let examples: Vec<&str> = o["examples"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut hint = o["description"].as_str().unwrap_or(key).to_owned();
        if !examples.is_empty() {
            hint.push_str(&format!(" (e.g. {})", examples.join(", ")));
        }
        out.retain(|f| f.key != key);
        out.push(Field {
            key: key.to_owned(),
            hint: Some(hint),
            action: o.get("action").map(|a| (r.id.clone(), a.clone())),
        });
    }
    out
}

fn spec_from_record(a: &AgentRecord) -> Result<AgentSpec, StoreError> {
    let doc = &a.document;
    let mut spec = json!({"id": a.id, "name": a.name, "type": a.kind, "tools": []});
    for k in [
        "conversationFlow",
        "workflow",
        "customInstructions",
        "personality",
        "firstMessage",
        "voiceId",
        "collectFields",
        "businessName",
        "language",
        "maxCallDuration",
        "sendUserIdleReminders",
        "reminderAfterIdleTimeSeconds",
        "patienceLevel",
    ] {
        if let Some(v) = doc.get(k).filter(|v| !v.is_null()) {
            spec[k] = v.clone();
        }
    }
    serde_json::from_value(spec).map_err(|e| {
        StoreError::Corrupt(format!(
            "stored agent {} does not fit the engine: {e}",
            a.id
        ))
    })
}

/// The agent's tool instances, in `toolIds` order.
async fn agent_tools(a: &AgentRecord, store: &Store) -> Result<Vec<ToolRecord>, StoreError> {
    let mut out = Vec::new();
    for id in a.document["toolIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(t) = store.tool(&a.business_id, id).await? {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_call_settings_reach_the_engine() {
        let record = AgentRecord {
            id: "agent_1".into(),
            business_id: "biz_1".into(),
            name: "Front Desk".into(),
            kind: "INBOUND".into(),
            document: json!({"name": "Front Desk", "type": "INBOUND", "conversationFlow": "Help.",
                "maxCallDuration": 240, "sendUserIdleReminders": false,
                "reminderAfterIdleTimeSeconds": 5, "patienceLevel": "low",
                "businessName": "Acme Plumbing", "language": "en-US",
                "numberPoolId": "twilio", "translation": {"enabled": false}}),
            phone_number: None,
            on_duty: None,
            created_at: 0,
            updated_at: 0,
        };
        let spec = spec_from_record(&record).expect("spec");
        let engine = EngineConfig::default().for_agent(&spec);
        assert_eq!(engine.max_duration, Duration::from_secs(240));
        assert_eq!(engine.max_reminders, 0);
        assert_eq!(engine.idle_reminder_after, Duration::from_secs(5));
        assert!(engine.min_endpointing < EngineConfig::default().min_endpointing);
        assert!(
            spec.system_prompt(None, &[]).contains("for Acme Plumbing"),
            "the business it speaks for"
        );
    }
}
