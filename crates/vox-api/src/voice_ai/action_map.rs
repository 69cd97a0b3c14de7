//! Seed 000's actions onto the model: each action is a tool record of the agent (in its
//! `toolIds`), made from the action's parameters, with the action itself kept in the record's
//! `configOverride.action` (its secrets masked) so it reads back as it was written.
//!
//! | actionType | tool record | during the call |
//! | --- | --- | --- |
//! | CALL_TRANSFER | `transferCall` (a destination named after the action) | transfer; `hearWhisperMessage` is a warm transfer |
//! | APPOINTMENT_BOOKING | `googleCal` (`offerDays`, `offerSlotsPerDay`, slots `hoursBetweenSlots` long) | book, find, cancel |
//! | CUSTOM_ACTION | `apiRequest` (GET: parameters in the query; POST: in a JSON body) | the request, behind the address guard |
//! | KNOWLEDGE_BASE | `knowledgeBaseQuery` over the file | look it up |
//! | DATA_EXTRACTION | `postCallExtraction` | after the call, into the call's data |
//! | IN_CALL_DATA_EXTRACTION | `captureData` | kept as soon as said |
//! | WORKFLOW_TRIGGER | `triggerWorkflow` | a signed `workflow.triggered` event |
//! | SMS | `sendSms` | the message texted to the caller through the carrier (Twilio) |

use serde_json::{Map, Value, json};
use vox_store::{Business, ToolRecord};

use crate::validate;
use crate::{ApiError, ApiState};

/// The action types seed 000 names.
pub(crate) const ACTION_TYPES: &[&str] = &[
    "CALL_TRANSFER",
    "DATA_EXTRACTION",
    "IN_CALL_DATA_EXTRACTION",
    "WORKFLOW_TRIGGER",
    "SMS",
    "APPOINTMENT_BOOKING",
    "CUSTOM_ACTION",
    "KNOWLEDGE_BASE",
];

const P: &str = "actionParameters";

/// The name the model calls a tool made from an action called `name`.
pub(crate) fn tool_name(name: &str, action_type: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out: String = out.trim_end_matches('_').chars().take(48).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{}_{out}", action_type.to_lowercase())
            .trim_end_matches('_')
            .to_owned()
    } else {
        out
    }
}

fn req<'a>(p: &'a Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    validate::req_str(p, P, key)
}

fn examples(p: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let field = format!("{P}.examples");
    if validate::opt_array(p, P, "examples")?.is_none() {
        return Err(ApiError::invalid(&field, format!("{field} is required")));
    }
    let list = validate::strings(p, P, "examples")?;
    if !(1..=5).contains(&list.len()) {
        return Err(ApiError::invalid(
            &field,
            format!("{field} needs 1 to 5 examples, got {}", list.len()),
        ));
    }
    Ok(list)
}

/// A number as the seed writes it: `+`, the country code and digits, 11-16 characters.
fn seed_phone(field: &str, s: &str) -> Result<(), ApiError> {
    let ok = (11..=16).contains(&s.len())
        && s.strip_prefix('+')
            .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!(
                "{field} must start with +, include the country code, contain only digits and be 11-16 characters long, got {s:?}"
            ),
        ))
    }
}

/// Last four characters of a secret, the rest hidden.
fn masked(s: &str) -> String {
    let n = s.chars().count();
    if n >= 12 {
        format!("***{}", s.chars().skip(n - 4).collect::<String>())
    } else {
        "***".into()
    }
}

/// The tool record an action becomes (`id` empty: a new one), validated by the seed's rules
/// per action type. `action` is `{actionType, name, actionParameters}`.
pub(crate) async fn to_record(
    state: &ApiState,
    business: &Business,
    action_type: &str,
    name: &str,
    params: &Map<String, Value>,
) -> Result<ToolRecord, ApiError> {
    let mut shown = params.clone();
    let mut message = None;
    let (template, tool, mut config) = match action_type {
        "CALL_TRANSFER" => {
            validate::known(
                params,
                P,
                &[
                    "triggerPrompt",
                    "transferToType",
                    "transferToValue",
                    "triggerMessage",
                    "hearWhisperMessage",
                ],
            )?;
            let prompt = req(params, "triggerPrompt")?;
            let kind = req(params, "transferToType")?;
            if kind != "number" {
                return Err(ApiError::invalid(
                    "actionParameters.transferToType",
                    format!("actionParameters.transferToType must be \"number\", got {kind:?}"),
                ));
            }
            let number = req(params, "transferToValue")?;
            seed_phone("actionParameters.transferToValue", number)?;
            state
                .dial_policy
                .check("actionParameters.transferToValue", number)?;
            message = Some(req(params, "triggerMessage")?.to_owned());
            let warm = validate::opt_bool(params, P, "hearWhisperMessage")?.unwrap_or(false);
            (
                "template-transfer-call",
                "transferCall",
                json!({"destinations": [{"name": name, "phoneNumber": number, "description": prompt, "warmTransferEnabled": warm}]}),
            )
        }
        "DATA_EXTRACTION" | "IN_CALL_DATA_EXTRACTION" => {
            validate::known(
                params,
                P,
                &[
                    "contactFieldId",
                    "description",
                    "examples",
                    "overwriteExistingValue",
                ],
            )?;
            let key = req(params, "contactFieldId")?;
            let description = req(params, "description")?;
            let examples = examples(params)?;
            let overwrite =
                validate::opt_bool(params, P, "overwriteExistingValue")?.unwrap_or(false);
            shown.insert("overwriteExistingValue".into(), json!(overwrite));
            let mut c = json!({"key": key, "description": description, "examples": examples, "overwrite": overwrite});
            if action_type == "DATA_EXTRACTION" {
                ("voice-ai-action", "postCallExtraction", c)
            } else {
                c["name"] = json!(tool_name(name, action_type));
                ("voice-ai-action", "captureData", c)
            }
        }
        "WORKFLOW_TRIGGER" => {
            validate::known(
                params,
                P,
                &["triggerPrompt", "triggerMessage", "workflowId"],
            )?;
            let prompt = req(params, "triggerPrompt")?;
            message = Some(req(params, "triggerMessage")?.to_owned());
            let workflow = req(params, "workflowId")?;
            (
                "voice-ai-action",
                "triggerWorkflow",
                json!({"name": tool_name(name, action_type), "workflowId": workflow, "description": prompt}),
            )
        }
        "SMS" => {
            validate::known(
                params,
                P,
                &["triggerPrompt", "triggerMessage", "messageBody"],
            )?;
            let prompt = req(params, "triggerPrompt")?;
            message = Some(req(params, "triggerMessage")?.to_owned());
            let body = req(params, "messageBody")?;
            if body.chars().count() > 1600 {
                return Err(ApiError::invalid(
                    "actionParameters.messageBody",
                    "actionParameters.messageBody must be at most 1600 characters (10 SMS segments)",
                ));
            }
            (
                "voice-ai-action",
                "sendSms",
                json!({"name": tool_name(name, action_type), "messageBody": body, "description": prompt}),
            )
        }
        "APPOINTMENT_BOOKING" => {
            validate::known(
                params,
                P,
                &[
                    "calendarId",
                    "daysOfOfferingDates",
                    "slotsPerDay",
                    "hoursBetweenSlots",
                ],
            )?;
            let calendar = req(params, "calendarId")?;
            let own = state.store.calendar(&business.id).await?;
            match own {
                Some(c) if c.calendar_id == calendar => {}
                Some(c) => {
                    return Err(ApiError::invalid(
                        "actionParameters.calendarId",
                        format!(
                            "actionParameters.calendarId must be this location's calendar ({})",
                            c.calendar_id
                        ),
                    ));
                }
                None => {
                    return Err(ApiError::invalid(
                        "actionParameters.calendarId",
                        format!(
                            "this location has no calendar: POST /v1/businesses/{}/integrations/google-calendar names it first",
                            business.id
                        ),
                    ));
                }
            }
            let need = |key: &str, lo: i64, hi: i64| -> Result<i64, ApiError> {
                validate::opt_int(params, P, key, lo, hi)?.ok_or_else(|| {
                    ApiError::invalid(&format!("{P}.{key}"), format!("{P}.{key} is required"))
                })
            };
            let days = need("daysOfOfferingDates", 1, 14)?;
            let per_day = need("slotsPerDay", 1, 12)?;
            let field = "actionParameters.hoursBetweenSlots";
            let hours = params
                .get("hoursBetweenSlots")
                .and_then(Value::as_f64)
                .ok_or_else(|| {
                    ApiError::invalid(field, format!("{field} is required (a number of hours)"))
                })?;
            let minutes = (hours * 60.0).round();
            if !(10.0..=300.0).contains(&minutes) {
                return Err(ApiError::invalid(
                    field,
                    format!("{field} must be from 1/6 to 5 hours, got {hours}"),
                ));
            }
            (
                "template-google-calendar",
                "googleCal",
                json!({"appointmentConfig": {"slotDurationMinutes": minutes as i64, "offerDays": days, "offerSlotsPerDay": per_day}}),
            )
        }
        "CUSTOM_ACTION" => {
            validate::known(
                params,
                P,
                &[
                    "triggerPrompt",
                    "triggerMessage",
                    "apiDetails",
                    "selectedPaths",
                ],
            )?;
            let prompt = req(params, "triggerPrompt")?;
            message = Some(req(params, "triggerMessage")?.to_owned());
            let (config, masked_details) = custom_action(name, prompt, params)?;
            shown.insert("apiDetails".into(), masked_details);
            ("template-api-request", "apiRequest", config)
        }
        "KNOWLEDGE_BASE" => {
            validate::known(params, P, &["triggerPrompt", "knowledgeBaseId"])?;
            req(params, "triggerPrompt")?;
            let file = req(params, "knowledgeBaseId")?;
            let field = "actionParameters.knowledgeBaseId";
            match state.store.file(&business.id, file).await? {
                Some(f) if f.status == "ready" => {}
                Some(f) => {
                    return Err(ApiError::invalid(
                        field,
                        format!(
                            "file {file} is {}, not ready: wait for GET /v1/businesses/{}/files/{file} to say \"ready\"",
                            f.status, business.id
                        ),
                    ));
                }
                None => {
                    return Err(ApiError::invalid(
                        field,
                        format!(
                            "no knowledge-base file {file:?} in this location (upload it with POST /v1/businesses/{}/files)",
                            business.id
                        ),
                    ));
                }
            }
            (
                "auto-knowledge-base",
                "knowledgeBaseQuery",
                json!({"fileIds": [file]}),
            )
        }
        other => {
            return Err(ApiError::invalid(
                "actionType",
                format!(
                    "actionType must be one of {}, got {other:?}",
                    ACTION_TYPES.join(", ")
                ),
            ));
        }
    };
    config["action"] = json!({"actionType": action_type, "name": name, "actionParameters": shown});
    Ok(ToolRecord {
        id: String::new(),
        business_id: business.id.clone(),
        template_id: template.into(),
        name: tool.into(),
        display_name: name.into(),
        kind: tool.into(),
        config_override: config,
        message,
        enabled: true,
        created_at: 0,
        updated_at: 0,
    })
}

/// CUSTOM_ACTION's `apiDetails` as an apiRequest's configuration, and the details as they
/// may be shown (secrets masked).
fn custom_action(
    name: &str,
    prompt: &str,
    params: &Map<String, Value>,
) -> Result<(Value, Value), ApiError> {
    let dp = "actionParameters.apiDetails";
    let d = validate::opt_object(params, P, "apiDetails")?
        .ok_or_else(|| ApiError::invalid(dp, format!("{dp} is required")))?;
    validate::known(
        d,
        dp,
        &[
            "url",
            "method",
            "authenticationRequired",
            "authenticationValue",
            "headers",
            "parameters",
        ],
    )?;
    let url = validate::req_str(d, dp, "url")?;
    validate::url(&format!("{dp}.url"), url)?;
    let method = validate::req_str(d, dp, "method")?;
    if method != "GET" && method != "POST" {
        return Err(ApiError::invalid(
            &format!("{dp}.method"),
            format!("{dp}.method must be GET or POST, got {method:?}"),
        ));
    }
    let mut headers = Map::new();
    let mut shown_headers = Vec::new();
    for (i, h) in validate::opt_array(d, dp, "headers")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let hp = format!("{dp}.headers[{i}]");
        let h = h
            .as_object()
            .ok_or_else(|| ApiError::invalid(&hp, format!("{hp} must be an object")))?;
        validate::known(h, &hp, &["key", "value"])?;
        let (k, v) = (
            validate::req_str(h, &hp, "key")?,
            validate::req_str(h, &hp, "value")?,
        );
        if !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err(ApiError::invalid(
                &format!("{hp}.key"),
                format!("{hp}.key must be a header name, got {k:?}"),
            ));
        }
        headers.insert(k.to_owned(), json!(v));
        shown_headers.push(json!({"key": k, "value": masked(v)}));
    }
    let auth = validate::opt_bool(d, dp, "authenticationRequired")?.unwrap_or(false);
    let auth_value = validate::opt_str(d, dp, "authenticationValue")?;
    if auth {
        let v = auth_value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            ApiError::invalid(
                &format!("{dp}.authenticationValue"),
                format!("{dp}.authenticationValue is required when authenticationRequired is true"),
            )
        })?;
        headers.insert("Authorization".into(), json!(format!("Bearer {v}")));
    }
    let mut arguments = Vec::new();
    let mut docs = Map::new();
    for (i, p) in validate::opt_array(d, dp, "parameters")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let pp = format!("{dp}.parameters[{i}]");
        let p = p
            .as_object()
            .ok_or_else(|| ApiError::invalid(&pp, format!("{pp} must be an object")))?;
        validate::known(p, &pp, &["name", "description", "type", "example"])?;
        let n = validate::req_str(p, &pp, "name")?;
        if !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(ApiError::invalid(
                &format!("{pp}.name"),
                format!("{pp}.name must be letters, digits and _, got {n:?}"),
            ));
        }
        if arguments.contains(&n.to_owned()) {
            return Err(ApiError::invalid(
                &format!("{pp}.name"),
                format!("{pp}.name {n:?} is given twice"),
            ));
        }
        let mut doc = validate::opt_str(p, &pp, "description")?
            .unwrap_or(n)
            .to_owned();
        if let Some(t) = validate::opt_str(p, &pp, "type")? {
            doc.push_str(&format!(" ({t})"));
        }
        if let Some(e) = validate::opt_str(p, &pp, "example")? {
            doc.push_str(&format!(", e.g. {e}"));
        }
        docs.insert(n.to_owned(), json!(doc));
        arguments.push(n.to_owned());
    }
    let paths = validate::strings(params, P, "selectedPaths")?;
    match (method, paths.is_empty()) {
        ("GET", true) => {
            return Err(ApiError::invalid(
                "actionParameters.selectedPaths",
                "actionParameters.selectedPaths needs at least one path for a GET",
            ));
        }
        ("POST", false) => {
            return Err(ApiError::invalid(
                "actionParameters.selectedPaths",
                "actionParameters.selectedPaths must be empty for a POST",
            ));
        }
        _ => {}
    }
    let (url, body) = if method == "GET" {
        let query: Vec<String> = arguments
            .iter()
            .map(|a| format!("{a}={{{{{a}}}}}"))
            .collect();
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = if query.is_empty() {
            url.to_owned()
        } else {
            format!("{url}{sep}{}", query.join("&"))
        };
        (url, Value::Null)
    } else {
        let body: Map<String, Value> = arguments
            .iter()
            .map(|a| (a.clone(), json!(format!("{{{{{a}}}}}"))))
            .collect();
        (url.to_owned(), Value::Object(body))
    };
    let mut shown = d.clone();
    shown.insert("headers".into(), Value::Array(shown_headers));
    if let Some(v) = auth_value {
        shown.insert("authenticationValue".into(), json!(masked(v)));
    }
    Ok((
        json!({"name": tool_name(name, "CUSTOM_ACTION"), "description": prompt, "url": url, "method": method,
               "headers": headers, "body": body, "selectedPaths": paths, "argumentDescriptions": docs}),
        Value::Object(shown),
    ))
}

/// An action record as seed 000 shows it (`None`: the record is no action).
pub(crate) fn to_seed(r: &ToolRecord) -> Option<Value> {
    let a = r.config_override.get("action").filter(|a| a.is_object())?;
    Some(json!({
        "id": r.id,
        "actionType": a["actionType"],
        "name": a["name"],
        "actionParameters": a["actionParameters"],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_what_models_accept() {
        assert_eq!(
            tool_name("Check order status!", "CUSTOM_ACTION"),
            "check_order_status"
        );
        assert_eq!(tool_name("  E-mail  ", "IN_CALL_DATA_EXTRACTION"), "e_mail");
        assert_eq!(tool_name("???", "WORKFLOW_TRIGGER"), "workflow_trigger");
        assert_eq!(
            tool_name("3 things", "CUSTOM_ACTION"),
            "custom_action_3_things"
        );
        assert!(tool_name(&"x".repeat(100), "SMS").len() <= 48);
    }

    #[test]
    fn secrets_are_masked_in_what_is_shown() {
        assert_eq!(masked("sk-live-1234567890abcd"), "***abcd");
        assert_eq!(masked("short"), "***");
    }
}
