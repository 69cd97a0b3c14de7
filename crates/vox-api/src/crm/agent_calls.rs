//! Seed 003's two StartAgentCall operations, placed as every outbound call is
//! ([`calls::place`](crate::calls::place)):
//!
//! - `POST /api/v1/calls/agent`: a stored voice agent calls `to`, its prompt, instructions and
//!   greeting filled from `contextVariables`.
//! - `POST /api/v2/calls`: an agent made for one call from the body (objectives, constraints,
//!   steps, personality, the person called, inline knowledge, localization, limits), calling
//!   from a number of the business; each objective becomes a post-call extraction field
//!   (`objective_1`, ...: whether it was met). Of a "vapi" `providerConfig` nothing is used
//!   (the server's `[voice_agents]` speak): the call's `metadata.ignored` says so.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Map, Value, json};
use vox_store::{AgentRecord, Business, ToolRecord};

use super::{CrmAuth, Error, calls};
use crate::{ApiError, ApiState, agents, validate};

/// The business of the credentials.
async fn business(state: &ApiState, auth: &CrmAuth) -> Result<Business, Error> {
    state
        .store
        .business(&auth.organization_id, &auth.business_id)
        .await?
        .ok_or_else(|| ApiError::not_found("business").into())
}

/// An optional object of custom data (at most 16 KiB as JSON).
fn custom_data(m: &Map<String, Value>, key: &str) -> Result<Value, ApiError> {
    match validate::opt_object(m, "", key)? {
        Some(o) if Value::Object(o.clone()).to_string().len() > 16 << 10 => Err(ApiError::invalid(
            key,
            format!("{key} must be at most 16 KiB as JSON"),
        )),
        Some(o) => Ok(Value::Object(o.clone())),
        None => Ok(Value::Null),
    }
}

/// Places the call and answers the seed's call object.
async fn start(
    state: &ApiState,
    business: &Business,
    agent: &AgentRecord,
    from: &str,
    to: &str,
    lead_context: Value,
    data: Value,
) -> Result<Json<Value>, Error> {
    let record = crate::calls::place(
        state,
        &business.id,
        &agent.id,
        (from, to),
        lead_context,
        None,
    )
    .await?;
    let m = state.store.crm_call(&record.id, &data).await?;
    Ok(Json(calls::view(state, &record, &m).await?))
}

/// `POST /api/v1/calls/agent` `{voiceAgentId, to, contextVariables, customData}`
pub(crate) async fn by_agent(
    auth: CrmAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("calls:write")?;
    let m = validate::object(&body)?;
    validate::known(
        &m,
        "",
        &["voiceAgentId", "to", "contextVariables", "customData"],
    )?;
    let agent_id = match m.get("voiceAgentId") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("voiceAgentId", "voiceAgentId is required").into());
        }
        Some(v) => {
            return Err(ApiError::invalid(
                "voiceAgentId",
                format!("voiceAgentId must be a voice agent's id as the Partner API shows it (agent_...), got {v}"),
            )
            .into());
        }
    };
    let to = validate::req_str(&m, "", "to")?.trim();
    state.dial_policy.check("to", to)?;
    let vars = validate::opt_object(&m, "", "contextVariables")?.ok_or_else(|| {
        ApiError::invalid(
            "contextVariables",
            "contextVariables is required (it may be {})",
        )
    })?;
    for (k, v) in vars {
        if !matches!(
            v,
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null
        ) {
            return Err(ApiError::invalid(
                &format!("contextVariables.{k}"),
                format!("contextVariables.{k} must be a string, number or boolean"),
            )
            .into());
        }
    }
    if Value::Object(vars.clone()).to_string().len() > 16 << 10 {
        return Err(ApiError::invalid(
            "contextVariables",
            "contextVariables must be at most 16 KiB as JSON",
        )
        .into());
    }
    let custom = custom_data(&m, "customData")?;
    let business = business(&state, &auth).await?;
    let agent = state
        .store
        .agent(&business.id, &agent_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "voiceAgentId",
                format!("no voice agent {agent_id:?} in this business"),
            )
        })?;
    if agent.kind != "OUTBOUND" {
        return Err(ApiError::invalid(
            "voiceAgentId",
            format!(
                "voice agent {agent_id} is {}: only OUTBOUND agents place calls",
                agent.kind
            ),
        )
        .into());
    }
    let (Some(from), Some(true)) = (agent.phone_number.clone(), agent.on_duty) else {
        return Err(ApiError::invalid(
            "voiceAgentId",
            format!("voice agent {agent_id} is not deployed and on duty: deploy it through the Partner API first"),
        )
        .into());
    };
    let lead = json!({"contextVariables": vars, "customData": custom});
    let data = json!({"customData": custom, "metadata": {"voiceAgentId": agent_id}});
    start(&state, &business, &agent, &from, to, lead, data).await
}

/// The ad hoc body's fields.
const AD_HOC: &[&str] = &[
    "toPhoneNumber",
    "fromPhoneNumber",
    "objectives",
    "userId",
    "personality",
    "localization",
    "constraints",
    "contactInfo",
    "knowledgeBase",
    "taskSteps",
    "maxDurationSeconds",
    "silenceTimeoutSeconds",
    "customData",
    "provider",
    "providerConfig",
];

/// A list of 0 to `max` strings, each at most 500 characters.
fn list(m: &Map<String, Value>, key: &str, max: usize) -> Result<Vec<String>, ApiError> {
    let items = validate::strings(m, "", key)?;
    if items.len() > max {
        return Err(ApiError::invalid(
            key,
            format!("{key} takes at most {max} items"),
        ));
    }
    if let Some(i) = items.iter().position(|s| s.chars().count() > 500) {
        return Err(ApiError::invalid(
            &format!("{key}[{i}]"),
            format!("{key}[{i}] must be at most 500 characters"),
        ));
    }
    Ok(items.into_iter().map(|s| s.trim().to_owned()).collect())
}

/// The language of a `localization`, if this server's speech stack speaks it.
fn language(state: &ApiState, m: &Map<String, Value>) -> Result<&'static str, ApiError> {
    let lang = match validate::opt_str(m, "", "localization")? {
        None | Some("US") => "en-US",
        Some("CL" | "MX" | "CO" | "PE") => "es",
        Some(other) => {
            return Err(ApiError::invalid(
                "localization",
                format!("localization must be CL, MX, CO, PE or US, got {other:?}"),
            ));
        }
    };
    if !state.speech_languages.speaks(lang) {
        return Err(ApiError::invalid(
            "localization",
            "this server's speech stack speaks English only ([voice_agents] runs local English models): a Spanish call needs hosted providers that speak it",
        ));
    }
    Ok(lang)
}

/// What a `providerConfig` asks for that Vox does not use (its `[voice_agents]` speak).
fn ignored(m: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    match validate::opt_str(m, "", "provider")? {
        None | Some("vapi") => {}
        Some(other) => {
            return Err(ApiError::invalid(
                "provider",
                format!("provider must be vapi, got {other:?}"),
            ));
        }
    }
    let Some(config) = validate::opt_object(m, "", "providerConfig")? else {
        return Ok(Vec::new());
    };
    validate::known(config, "providerConfig", &["model", "voice", "transcriber"])?;
    Ok(config
        .keys()
        .map(|k| format!("providerConfig.{k}"))
        .collect())
}

/// The prompt of an ad hoc call.
fn prompt(
    business: &Business,
    m: &Map<String, Value>,
    objectives: &[String],
) -> Result<(String, String), ApiError> {
    let personality = validate::opt_object(m, "", "personality")?;
    let empty = Map::new();
    let p = personality.unwrap_or(&empty);
    validate::known(
        p,
        "personality",
        &["name", "communicationStyle", "customTraits"],
    )?;
    let text = |o: &Map<String, Value>,
                key: &str,
                path: &str,
                max: usize|
     -> Result<Option<String>, ApiError> {
        match validate::opt_str(o, path, key)? {
            Some(s) if s.chars().count() > max => Err(ApiError::invalid(
                &format!("{path}.{key}"),
                format!("{path}.{key} must be at most {max} characters"),
            )),
            Some(s) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
            None => Ok(None),
        }
    };
    let name = text(p, "name", "personality", 100)?;
    let style = text(p, "communicationStyle", "personality", 100)?;
    let traits = text(p, "customTraits", "personality", 1000)?;
    let contact = validate::opt_object(m, "", "contactInfo")?.unwrap_or(&empty);
    validate::known(
        contact,
        "contactInfo",
        &["firstName", "lastName", "company", "additionalInfo"],
    )?;
    let first = text(contact, "firstName", "contactInfo", 100)?;
    let last = text(contact, "lastName", "contactInfo", 100)?;
    let company = text(contact, "company", "contactInfo", 200)?;
    let mut about = Vec::new();
    let full = [first.clone(), last]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !full.is_empty() {
        about.push(format!("Name: {full}"));
    }
    if let Some(c) = company {
        about.push(format!("Company: {c}"));
    }
    if let Some(extra) = validate::opt_object(contact, "contactInfo", "additionalInfo")? {
        for (k, v) in extra {
            let v = v.as_str().ok_or_else(|| {
                ApiError::invalid(
                    &format!("contactInfo.additionalInfo.{k}"),
                    format!("contactInfo.additionalInfo.{k} must be a string"),
                )
            })?;
            about.push(format!("{k}: {}", v.chars().take(500).collect::<String>()));
        }
    }
    let knowledge = match validate::opt_str(m, "", "knowledgeBase")? {
        Some(k) if k.chars().count() > 20_000 => {
            return Err(ApiError::invalid(
                "knowledgeBase",
                "knowledgeBase must be at most 20000 characters",
            ));
        }
        other => other.map(str::trim).filter(|k| !k.is_empty()),
    };
    let numbered = |items: &[String]| -> String {
        items
            .iter()
            .enumerate()
            .map(|(i, s)| format!("\n{}. {s}", i + 1))
            .collect()
    };
    let me = name.clone().unwrap_or_else(|| "an assistant".into());
    let mut out = format!("You are {me}, calling on behalf of {}.", business.name);
    if let Some(s) = style {
        out.push_str(&format!(" Your communication style is {s}."));
    }
    if let Some(t) = traits {
        out.push_str(&format!(" {t}"));
    }
    out.push_str(&format!(
        "\n\nThe objectives of this call:{}",
        numbered(objectives)
    ));
    let steps = list(m, "taskSteps", 20)?;
    if !steps.is_empty() {
        out.push_str(&format!("\n\nGo through these steps:{}", numbered(&steps)));
    }
    let constraints = list(m, "constraints", 20)?;
    if !constraints.is_empty() {
        out.push_str(&format!(
            "\n\nNever break these rules:{}",
            numbered(&constraints)
        ));
    }
    if !about.is_empty() {
        out.push_str(&format!(
            "\n\nThe person you are calling:\n- {}",
            about.join("\n- ")
        ));
    }
    if let Some(k) = knowledge {
        out.push_str(&format!(
            "\n\nWhat you know (answer from this, never invent):\n{k}"
        ));
    }
    out.push_str(
        "\n\nWhen the objectives are met, or cannot be, thank the person and end the call.",
    );
    let greeting = match (&name, &first) {
        (Some(n), Some(f)) => format!("Hello {f}, this is {n} calling from {}.", business.name),
        (Some(n), None) => format!("Hello, this is {n} calling from {}.", business.name),
        (None, Some(f)) => format!("Hello {f}, I'm calling from {}.", business.name),
        (None, None) => format!("Hello, I'm calling from {}.", business.name),
    };
    Ok((out, greeting))
}

/// `POST /api/v2/calls`: an agent made for this call calls `toPhoneNumber`.
pub(crate) async fn ad_hoc(
    auth: CrmAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("calls:write")?;
    let m = validate::object(&body)?;
    validate::known(&m, "", AD_HOC)?;
    let to = validate::req_str(&m, "", "toPhoneNumber")?.trim();
    state.dial_policy.check("toPhoneNumber", to)?;
    let objectives = list(&m, "objectives", 10)?;
    if objectives.is_empty() {
        return Err(ApiError::invalid("objectives", "objectives is required: at least one").into());
    }
    let language = language(&state, &m)?;
    let max = validate::opt_int(&m, "", "maxDurationSeconds", 180, 900)?;
    let silence = validate::opt_int(&m, "", "silenceTimeoutSeconds", 1, 20)?;
    let custom = custom_data(&m, "customData")?;
    let user_id = match m.get("userId") {
        None | Some(Value::Null) => Value::Null,
        Some(v) => match v.as_f64() {
            Some(n) if n.fract() == 0.0 && (1.0..1e15).contains(&n) => json!(n as i64),
            _ => {
                return Err(ApiError::invalid(
                    "userId",
                    format!("userId must be a positive integer, got {v}"),
                )
                .into());
            }
        },
    };
    let ignored = ignored(&m)?;
    let business = business(&state, &auth).await?;
    let (flow, greeting) = prompt(&business, &m, &objectives)?;
    if let Some(from) = validate::opt_str(&m, "", "fromPhoneNumber")? {
        validate::e164("fromPhoneNumber", from)?;
        if !state.store.business_has_number(&business.id, from).await? {
            return Err(ApiError::invalid(
                "fromPhoneNumber",
                format!("{from} is not a number of this business: leave it out to call from the business's number"),
            )
            .into());
        }
    }
    // each objective: a post-call extraction field saying whether it was met
    let mut tools = Vec::new();
    for (i, o) in objectives.iter().enumerate() {
        let t = state
            .store
            .create_tool(ToolRecord {
                id: String::new(),
                business_id: business.id.clone(),
                template_id: "ad-hoc-call".into(),
                name: "postCallExtraction".into(),
                display_name: format!("Objective {}", i + 1),
                kind: "postCallExtraction".into(),
                config_override: json!({"key": format!("objective_{}", i + 1),
                    "description": format!("true if this objective of the call was met, false if not: {o}"),
                    "examples": ["true", "false"]}),
                message: None,
                enabled: true,
                created_at: 0,
                updated_at: 0,
            })
            .await?;
        tools.push(t.id);
    }
    let mut fields = Map::new();
    fields.insert("name".into(), json!(format!("Call to {to}")));
    fields.insert("type".into(), json!("OUTBOUND"));
    fields.insert("conversationFlow".into(), json!(flow));
    fields.insert("firstMessage".into(), json!(greeting));
    fields.insert("businessName".into(), json!(business.name));
    fields.insert("language".into(), json!(language));
    fields.insert("toolIds".into(), json!(tools));
    if let Some(n) = max {
        fields.insert("maxCallDuration".into(), json!(n));
    }
    if let Some(n) = silence {
        fields.insert("sendUserIdleReminders".into(), json!(true));
        fields.insert("reminderAfterIdleTimeSeconds".into(), json!(n));
    }
    // the agent's document, with the tools every agent has (endCall, ...); what it made is
    // taken back if the agent cannot be
    let mut doc = Map::new();
    let made = async {
        doc = agents::document(&state, &business, &fields).await?;
        agents::auto_tools(&state, &business, &mut doc).await?;
        let agent = state
            .store
            .create_agent(AgentRecord {
                id: String::new(),
                business_id: business.id.clone(),
                name: doc["name"].as_str().unwrap_or_default().to_owned(),
                kind: "OUTBOUND".into(),
                document: Value::Object(doc.clone()),
                phone_number: None,
                on_duty: None,
                created_at: 0,
                updated_at: 0,
            })
            .await?;
        Ok::<_, ApiError>(agent)
    }
    .await;
    let mut agent = match made {
        Ok(a) => a,
        Err(e) => {
            let made_tools = doc
                .get("toolIds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned);
            for t in tools.iter().cloned().chain(made_tools) {
                state.store.delete_tool(&business.id, &t).await?;
            }
            return Err(e.into());
        }
    };
    let from = match validate::opt_str(&m, "", "fromPhoneNumber")? {
        Some(f) => f.to_owned(),
        None => state
            .store
            .assign_number(
                &business.id,
                &agent.id,
                false,
                business.phone_number.as_deref(),
            )
            .await?
            .ok_or_else(|| {
                ApiError::conflict(
                    "no phone number is free in the pool: add numbers to a telephony pool",
                )
            })?,
    };
    agent.phone_number = Some(from.clone());
    agent.on_duty = Some(true);
    let agent = state.store.update_agent(&agent).await?;
    let lead = json!({"context": "An ad hoc call made for its objectives.", "customData": custom});
    let data = json!({"customData": custom, "userId": user_id,
        "metadata": {"adHoc": true, "objectives": objectives, "ignored": ignored}});
    if !ignored.is_empty() {
        tracing::info!(agent = %agent.id, ?ignored, "ad hoc call: providerConfig is not used");
    }
    start(&state, &business, &agent, &from, to, lead, data).await
}
