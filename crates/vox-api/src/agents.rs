//! Voice agents (`/v1/businesses/{businessId}/voice-agents`): seed 002, step 5.
//!
//! A body is validated field by field into the agent document; the other of
//! `workflow` / `conversationFlow` is derived at once (deterministically, no model), and the
//! automatic tools are added: an `endCall` tool always, and a `transferCall` to the
//! business's own number when the business has one and the agent brings no transfer tool.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use vox_store::{AgentRecord, Business, ToolRecord, rfc3339};

use crate::agent_settings;
use crate::tools::business;
use crate::validate::{self, join};
use crate::{ApiError, ApiState, Auth, PageQuery};

const FIELDS: &[&str] = &[
    "name",
    "type",
    "conversationFlow",
    "workflow",
    "customInstructions",
    "voiceId",
    "toolIds",
    "knowledgeBaseDocumentIds",
    "personality",
    "firstMessage",
    "multilingual",
    "backgroundSound",
    "collectFields",
    "activatedHours",
];

/// Rejects fields that are neither seed 002's nor the model's call settings.
fn known_fields(m: &Map<String, Value>) -> Result<(), ApiError> {
    let all: Vec<&str> = FIELDS
        .iter()
        .chain(agent_settings::FIELDS)
        .copied()
        .collect();
    validate::known(m, "", &all)
}

/// `activatedHours`: a valid IANA zone, known days, HH:MM ranges with start before end (or
/// both CLOSED, which are dropped).
fn activated_hours(v: &Map<String, Value>) -> Result<Value, ApiError> {
    let p = "activatedHours";
    validate::known(v, p, &["timezone", "hours"])?;
    let tz = validate::req_str(v, p, "timezone")?;
    if jiff::tz::TimeZone::get(tz).is_err() {
        return Err(ApiError::invalid(
            "activatedHours.timezone",
            format!("{tz:?} is not an IANA time zone (e.g. America/New_York)"),
        ));
    }
    let hours = validate::opt_array(v, p, "hours")?.ok_or_else(|| {
        ApiError::invalid("activatedHours.hours", "activatedHours.hours is required")
    })?;
    let mut kept = Vec::new();
    for (i, h) in hours.iter().enumerate() {
        let hp = format!("{p}.hours[{i}]");
        let h = h
            .as_object()
            .ok_or_else(|| ApiError::invalid(&hp, format!("{hp} must be an object")))?;
        validate::known(h, &hp, &["day", "startTime", "endTime"])?;
        let day = validate::req_str(h, &hp, "day")?.to_lowercase();
        if !validate::DAYS.contains(&day.as_str()) {
            return Err(ApiError::invalid(
                &join(&hp, "day"),
                format!("{hp}.day must be monday..sunday, got {day:?}"),
            ));
        }
        let (start, end) = (
            validate::req_str(h, &hp, "startTime")?,
            validate::req_str(h, &hp, "endTime")?,
        );
        match (start == "CLOSED", end == "CLOSED") {
            (true, true) => continue,
            (true, false) | (false, true) => {
                return Err(ApiError::invalid(
                    &join(&hp, "startTime"),
                    format!("{hp}: a closed day has both startTime and endTime \"CLOSED\""),
                ));
            }
            (false, false) => {}
        }
        let s = validate::hhmm(&join(&hp, "startTime"), start, false)?;
        let e = validate::hhmm(&join(&hp, "endTime"), end, true)?;
        if s >= e {
            return Err(ApiError::invalid(
                &join(&hp, "startTime"),
                format!("{hp}: startTime must be before endTime"),
            ));
        }
        kept.push(json!({"day": day, "startTime": start, "endTime": end}));
    }
    Ok(json!({"timezone": tz, "hours": kept}))
}

/// Prose for a workflow graph.
fn prose_of(w: &vox_engine::Workflow) -> String {
    let mut out = Vec::new();
    for n in &w.nodes {
        let label = n.label.clone().unwrap_or_else(|| n.id.clone());
        let line = match n.node_type {
            vox_engine::workflow::NodeType::Conversation => format!("{label}: {}", n.prompt.trim()),
            vox_engine::workflow::NodeType::Tool => {
                format!("{label}: use the {} tool.", n.prompt.trim())
            }
        };
        out.push(line);
        for e in w.edges.iter().filter(|e| e.from == n.id) {
            out.push(format!("  Then, {}, go to {}.", e.when.trim(), e.to));
        }
    }
    format!("Start at {}.\n{}", w.start_node, out.join("\n"))
}

/// A one-node graph for prose, with the always-present way out.
fn graph_of(flow: &str) -> Value {
    json!({
        "nodes": [
            {"id": "main", "type": "conversation", "prompt": flow, "label": "Conversation"},
            {"id": "end", "type": "tool", "prompt": "endCall", "label": "End Call"},
        ],
        "edges": [{"from": "main", "to": "end", "when": "the caller is done or says goodbye"}],
        "startNode": "main",
    })
}

/// Validates a whole agent body into its document (without ids and automatic tools).
pub(crate) async fn document(
    state: &ApiState,
    business: &Business,
    m: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    known_fields(m)?;
    let name = validate::req_str(m, "", "name")?;
    let len = name.chars().count();
    if !(1..=40).contains(&len) {
        return Err(ApiError::invalid(
            "name",
            format!("name must be 1-40 characters, got {len}"),
        ));
    }
    let kind = validate::req_str(m, "", "type")?;
    if kind != "INBOUND" && kind != "OUTBOUND" {
        return Err(ApiError::invalid(
            "type",
            format!("type must be INBOUND or OUTBOUND, got {kind:?}"),
        ));
    }
    let mut doc = Map::new();
    doc.insert("name".into(), json!(name));
    doc.insert("type".into(), json!(kind));
    // workflow xor conversationFlow; workflow wins if both come
    let flow = validate::opt_str(m, "", "conversationFlow")?.filter(|f| !f.trim().is_empty());
    match (m.get("workflow").filter(|w| !w.is_null()), flow) {
        (Some(w), _) => {
            let graph: vox_engine::Workflow = serde_json::from_value(w.clone()).map_err(|e| {
                ApiError::invalid("workflow", format!("workflow is not a valid graph: {e}"))
            })?;
            for (i, n) in graph.nodes.iter().enumerate() {
                if n.node_type == vox_engine::workflow::NodeType::Tool
                    && !["scheduleAppointment", "transferCall", "endCall"]
                        .contains(&n.prompt.as_str())
                {
                    return Err(ApiError::invalid(
                        &format!("workflow.nodes[{i}].prompt"),
                        format!(
                            "a tool node's prompt must be scheduleAppointment, transferCall or endCall, got {:?}",
                            n.prompt
                        ),
                    ));
                }
            }
            graph
                .validate()
                .map_err(|e| ApiError::invalid("workflow", format!("workflow: {e}")))?;
            doc.insert(
                "workflow".into(),
                serde_json::to_value(&graph).unwrap_or(Value::Null),
            );
            doc.insert("conversationFlow".into(), json!(prose_of(&graph)));
        }
        (None, Some(f)) => {
            doc.insert("conversationFlow".into(), json!(f));
            doc.insert("workflow".into(), graph_of(f));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "conversationFlow",
                "either conversationFlow or workflow is required",
            ));
        }
    }
    for key in ["customInstructions", "firstMessage", "backgroundSound"] {
        if let Some(v) = validate::opt_str(m, "", key)? {
            doc.insert(key.into(), json!(v));
        }
    }
    if let Some(bg) = validate::opt_str(m, "", "backgroundSound")?
        && bg != "office"
    {
        validate::url("backgroundSound", bg)?;
    }
    if let Some(v) = validate::opt_str(m, "", "voiceId")? {
        if !state.voices.iter().any(|x| x.id == v) {
            return Err(ApiError::invalid(
                "voiceId",
                format!("no voice {v:?}; GET /v1/voices lists them"),
            ));
        }
        doc.insert("voiceId".into(), json!(v));
    }
    if let Some(b) = validate::opt_bool(m, "", "multilingual")? {
        doc.insert("multilingual".into(), json!(b));
    }
    if let Some(p) = validate::opt_object(m, "", "personality")? {
        validate::known(
            p,
            "personality",
            &["tone", "style", "description", "useEmpathy", "useHumor"],
        )?;
        let mut per = Map::new();
        for k in ["tone", "style", "description"] {
            if let Some(v) = validate::opt_str(p, "personality", k)? {
                per.insert(k.into(), json!(v));
            }
        }
        per.insert(
            "useEmpathy".into(),
            json!(validate::opt_bool(p, "personality", "useEmpathy")?.unwrap_or(false)),
        );
        per.insert(
            "useHumor".into(),
            json!(validate::opt_bool(p, "personality", "useHumor")?.unwrap_or(false)),
        );
        doc.insert("personality".into(), Value::Object(per));
    }
    doc.insert(
        "collectFields".into(),
        json!(validate::strings(m, "", "collectFields")?),
    );
    let mut kb = validate::strings(m, "", "knowledgeBaseDocumentIds")?;
    let mut seen = std::collections::HashSet::new();
    kb.retain(|id| seen.insert(id.clone()));
    for (i, id) in kb.iter().enumerate() {
        let field = format!("knowledgeBaseDocumentIds[{i}]");
        let f = state.store.file(&business.id, id).await?.ok_or_else(|| {
            ApiError::invalid(&field, format!("no file {id:?} in this business (upload it with POST /v1/businesses/{}/files and wait for status \"ready\")", business.id))
        })?;
        match f.status.as_str() {
            "ready" => {}
            "processing" => {
                return Err(ApiError::invalid(
                    &field,
                    format!(
                        "file {id} is still processing: poll GET /v1/businesses/{}/files/{id} until its status is \"ready\"",
                        business.id
                    ),
                ));
            }
            _ => {
                return Err(ApiError::invalid(
                    &field,
                    format!(
                        "file {id} failed processing ({}): upload a readable file",
                        f.error.as_deref().unwrap_or("unknown reason")
                    ),
                ));
            }
        }
    }
    doc.insert("knowledgeBaseDocumentIds".into(), json!(kb));
    let mut tool_ids = Vec::new();
    // the names the model will call the tools by, with the index that brought each
    let mut names: Vec<(String, usize)> = Vec::new();
    for (i, id) in validate::strings(m, "", "toolIds")?.into_iter().enumerate() {
        let Some(tool) = state.store.tool(&business.id, &id).await? else {
            return Err(ApiError::invalid(
                &format!("toolIds[{i}]"),
                format!(
                    "no tool {id:?} in this business (use the id from POST /v1/businesses/{}/tools)",
                    business.id
                ),
            ));
        };
        if tool_ids.contains(&id) {
            continue;
        }
        for name in model_names(&tool) {
            // several transfer or knowledge-base tools are one to the model (their
            // destinations and files together)
            if name == "transferCall" || name == "knowledgeBaseQuery" {
                continue;
            }
            if let Some((_, j)) = names.iter().find(|(n, _)| *n == name) {
                return Err(ApiError::invalid(
                    &format!("toolIds[{i}]"),
                    format!(
                        "tool {id} is called {name:?} by the model, as is toolIds[{j}]; an agent's tools need distinct names (one calendar and one end-call tool, distinct function, apiRequest and action names; transfers and knowledge bases may repeat: they are merged)"
                    ),
                ));
            }
            names.push((name, i));
        }
        tool_ids.push(id);
    }
    doc.insert("toolIds".into(), json!(tool_ids));
    match validate::opt_object(m, "", "activatedHours")? {
        Some(_) if kind != "INBOUND" => {
            return Err(ApiError::invalid(
                "activatedHours",
                "activatedHours can only be set for INBOUND agents",
            ));
        }
        Some(h) => {
            doc.insert("activatedHours".into(), activated_hours(h)?);
        }
        None => {}
    }
    agent_settings::apply(state, m, &mut doc)?;
    Ok(doc)
}

/// The names the model calls a tool by (a calendar is three tools to it).
fn model_names(t: &ToolRecord) -> Vec<String> {
    match t.name.as_str() {
        "googleCal" => [
            "scheduleAppointment",
            "searchAppointments",
            "cancelAppointment",
        ]
        .map(str::to_owned)
        .to_vec(),
        "function" | "apiRequest" | "captureData" | "triggerWorkflow" | "sendSms" => vec![
            t.config_override["name"]
                .as_str()
                .unwrap_or(&t.name)
                .to_owned(),
        ],
        // run after the call: the model never calls it
        "postCallExtraction" => Vec::new(),
        other => vec![other.to_owned()],
    }
}

/// Adds the automatic tools to the document's `toolIds`.
pub(crate) async fn auto_tools(
    state: &ApiState,
    business: &Business,
    doc: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let mut ids: Vec<String> = doc
        .get("toolIds")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut kinds = Vec::new();
    for id in &ids {
        if let Some(t) = state.store.tool(&business.id, id).await? {
            kinds.push(t.name);
        }
    }
    let auto = |template: &str, name: &str, display: &str, kind: &str, config: Value| ToolRecord {
        id: String::new(),
        business_id: business.id.clone(),
        template_id: template.into(),
        name: name.into(),
        display_name: display.into(),
        kind: kind.into(),
        config_override: config,
        message: None,
        enabled: true,
        created_at: 0,
        updated_at: 0,
    };
    if !kinds.iter().any(|k| k == "endCall") {
        ids.push(
            state
                .store
                .create_tool(auto(
                    "template-end-call",
                    "endCall",
                    "End Call",
                    "endCall",
                    json!({"auto": true}),
                ))
                .await?
                .id,
        );
    }
    if !kinds.iter().any(|k| k == "transferCall")
        && let Some(phone) = &business.phone_number
    {
        let config = json!({"auto": true, "destinations": [{"name": business.name, "phoneNumber": phone, "description": "The business's main line", "warmTransferEnabled": false}]});
        ids.push(
            state
                .store
                .create_tool(auto(
                    "template-transfer-call",
                    "transferCall",
                    "Transfer Call",
                    "transferCall",
                    config,
                ))
                .await?
                .id,
        );
    }
    // the knowledge-base tool follows the agent's files: made, updated, or dropped
    let kb: Vec<Value> = doc
        .get("knowledgeBaseDocumentIds")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut kb_tool = None;
    for id in &ids {
        if let Some(t) = state.store.tool(&business.id, id).await?
            && t.name == "knowledgeBaseQuery"
            && t.config_override["auto"] == json!(true)
        {
            kb_tool = Some(t);
            break;
        }
    }
    match (kb_tool, kb.is_empty()) {
        (None, false) => {
            let config = json!({"auto": true, "fileIds": kb});
            let mut t = auto(
                "auto-knowledge-base",
                "knowledgeBaseQuery",
                "Query Knowledge Base",
                "knowledgeBaseQuery",
                config,
            );
            t.message = Some("Let me look that up.".into());
            ids.push(state.store.create_tool(t).await?.id);
        }
        (Some(mut t), false) => {
            if t.config_override["fileIds"] != json!(kb) {
                t.config_override["fileIds"] = json!(kb);
                state.store.update_tool(&t).await?;
            }
        }
        (Some(t), true) => {
            ids.retain(|id| *id != t.id);
            if t.config_override["auto"] == json!(true) {
                state.store.delete_tool(&business.id, &t.id).await?;
            }
        }
        (None, true) => {}
    }
    doc.insert("toolIds".into(), json!(ids));
    Ok(())
}

/// The ids of a business's agents whose knowledge base holds the file.
pub(crate) async fn agents_using_file(
    state: &ApiState,
    business_id: &str,
    file_id: &str,
) -> Result<Vec<String>, ApiError> {
    let (agents, _) = state.store.list_agents(business_id, 0, i64::MAX).await?;
    Ok(agents
        .into_iter()
        .filter(|a| {
            a.document["knowledgeBaseDocumentIds"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|v| v == file_id))
        })
        .map(|a| a.id)
        .collect())
}

fn view(a: &AgentRecord) -> Value {
    let mut v = a.document.as_object().cloned().unwrap_or_default();
    v.insert("id".into(), json!(a.id));
    v.insert("businessId".into(), json!(a.business_id));
    v.insert("createdAt".into(), json!(rfc3339(a.created_at)));
    v.insert("updatedAt".into(), json!(rfc3339(a.updated_at)));
    if let (Some(phone), Some(on)) = (&a.phone_number, a.on_duty) {
        v.insert("phoneNumber".into(), json!(phone));
        v.insert("onDuty".into(), json!(on));
    }
    Value::Object(v)
}

/// `POST /v1/businesses/{businessId}/voice-agents`
pub(crate) async fn create(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require("voice-agents:create")?;
    let business = business(&state, &auth, &biz).await?;
    let m = validate::object(&body)?;
    let mut doc = document(&state, &business, &m).await?;
    auto_tools(&state, &business, &mut doc).await?;
    let record = AgentRecord {
        id: String::new(),
        business_id: business.id.clone(),
        name: doc["name"].as_str().unwrap_or_default().to_owned(),
        kind: doc["type"].as_str().unwrap_or_default().to_owned(),
        document: Value::Object(doc),
        phone_number: None,
        on_duty: None,
        created_at: 0,
        updated_at: 0,
    };
    Ok((
        StatusCode::CREATED,
        Json(view(&state.store.create_agent(record).await?)),
    ))
}

/// `GET /v1/businesses/{businessId}/voice-agents`
pub(crate) async fn list(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    auth.require("voice-agents:read")?;
    let business = business(&state, &auth, &biz).await?;
    let page = q.page()?;
    let (items, total) = state
        .store
        .list_agents(&business.id, page.offset(), page.limit())
        .await?;
    Ok(page.body(items.iter().map(view).collect(), total))
}

/// `GET /v1/businesses/{businessId}/voice-agents/{voiceAgentId}`
pub(crate) async fn get(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    auth.require("voice-agents:read")?;
    let business = business(&state, &auth, &biz).await?;
    let a = state
        .store
        .agent(&business.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("voice agent"))?;
    Ok(Json(view(&a)))
}

/// `PATCH /v1/businesses/{businessId}/voice-agents/{voiceAgentId}`: the given fields replace
/// the stored ones and the whole agent is validated again.
pub(crate) async fn update(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    auth.require("voice-agents:update")?;
    let business = business(&state, &auth, &biz).await?;
    let mut a = state
        .store
        .agent(&business.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("voice agent"))?;
    let patch = validate::object(&body)?;
    known_fields(&patch)?;
    let mut merged = a.document.as_object().cloned().unwrap_or_default();
    // a new flow or graph replaces both (the other is derived again)
    if patch.contains_key("workflow") || patch.contains_key("conversationFlow") {
        merged.remove("workflow");
        merged.remove("conversationFlow");
    }
    merged.extend(patch);
    let mut doc = document(&state, &business, &merged).await?;
    auto_tools(&state, &business, &mut doc).await?;
    a.name = doc["name"].as_str().unwrap_or_default().to_owned();
    a.kind = doc["type"].as_str().unwrap_or_default().to_owned();
    a.document = Value::Object(doc);
    Ok(Json(view(&state.store.update_agent(&a).await?)))
}

/// `DELETE /v1/businesses/{businessId}/voice-agents/{voiceAgentId}`
pub(crate) async fn delete(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require("voice-agents:delete")?;
    let business = business(&state, &auth, &biz).await?;
    if !state.store.delete_agent(&business.id, &id).await? {
        return Err(ApiError::not_found("voice agent"));
    }
    state.store.release_agent_number(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/businesses/{businessId}/voice-agents/{voiceAgentId}/deploy`: a number from the
/// pool (the agent's own if it has one; the business's area code preferred), on duty.
pub(crate) async fn deploy(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    auth.require("voice-agents:update")?;
    let business = business(&state, &auth, &biz).await?;
    let mut a = state
        .store
        .agent(&business.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("voice agent"))?;
    let inbound = a.kind == "INBOUND";
    let number = state.store.assign_number(&business.id, &a.id, inbound, business.phone_number.as_deref()).await?.ok_or_else(|| ApiError {
        status: StatusCode::CONFLICT,
        code: "CONFLICT",
        message: "no phone number is free in the pool: add numbers to telephony.numbers in the server's configuration".into(),
        field: None,
        retry_after: None,
    })?;
    a.phone_number = Some(number);
    a.on_duty = Some(true);
    Ok(Json(view(&state.store.update_agent(&a).await?)))
}

async fn set_duty(
    auth: Auth,
    state: ApiState,
    biz: String,
    id: String,
    on: bool,
) -> Result<Json<Value>, ApiError> {
    auth.require("voice-agents:update")?;
    let business = business(&state, &auth, &biz).await?;
    let mut a = state
        .store
        .agent(&business.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("voice agent"))?;
    if a.phone_number.is_none() {
        return Err(ApiError::bad_request(format!(
            "voice agent {id} is not deployed: POST .../voice-agents/{id}/deploy first"
        )));
    }
    a.on_duty = Some(on);
    Ok(Json(view(&state.store.update_agent(&a).await?)))
}

/// `PATCH /v1/businesses/{businessId}/voice-agents/{voiceAgentId}/on`
pub(crate) async fn on_duty(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    set_duty(auth, state, biz, id, true).await
}

/// `PATCH /v1/businesses/{businessId}/voice-agents/{voiceAgentId}/off`
pub(crate) async fn off_duty(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    set_duty(auth, state, biz, id, false).await
}
