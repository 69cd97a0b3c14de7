//! Seed 000's names onto the model and back: the one place that knows both. An agent of
//! seed 000 is a model agent (the document seed 002's API reads); three fields are named
//! differently, working hours are the model's `activatedHours`, `inboundNumber` is its
//! deployment, and the call settings keep seed 000's names in the model:
//!
//! | seed 000 | model |
//! | --- | --- |
//! | `agentName` | `name` |
//! | `welcomeMessage` | `firstMessage` |
//! | `agentPrompt` | `conversationFlow` (the workflow graph derived from it) |
//! | `agentWorkingHours` + `timezone` | `activatedHours` (none: around the clock) |
//! | `inboundNumber` | the deployment (`phoneNumber`, INBOUND) |
//! | `actions` | tool instances in `toolIds` |
//! | the call settings | the same names (`agent_settings.rs`) |

use serde_json::{Map, Value, json};
use vox_store::{AgentRecord, Business};

use crate::agent_settings::{self, CallDefaults};
use crate::validate::{self, DAYS};
use crate::{ApiError, ApiState};

/// Seed 000's writable agent fields (`PatchAgentDTO`; creation adds `locationId`).
pub(crate) const AGENT_FIELDS: &[&str] = &[
    "agentName",
    "businessName",
    "welcomeMessage",
    "agentPrompt",
    "voiceId",
    "language",
    "patienceLevel",
    "maxCallDuration",
    "sendUserIdleReminders",
    "reminderAfterIdleTimeSeconds",
    "inboundNumber",
    "numberPoolId",
    "callEndWorkflowIds",
    "sendPostCallNotificationTo",
    "agentWorkingHours",
    "timezone",
    "isAgentAsBackupDisabled",
    "translation",
];

/// The time zone of an agent that names none (Vox's businesses have no zone of their own).
pub(crate) const DEFAULT_TIMEZONE: &str = "UTC";

/// Where a seed-000 agent answers: `inboundNumber` as given (`Some(None)`: release it).
pub(crate) type InboundNumber = Option<Option<String>>;

/// Checks seed 000's own rules on `m` (fields of its names, so errors name them) and turns
/// it into model fields. `inboundNumber` is returned apart: it is a deployment, not a field.
pub(crate) fn to_model(
    m: &Map<String, Value>,
) -> Result<(Map<String, Value>, InboundNumber), ApiError> {
    let mut out = Map::new();
    if let Some(name) = validate::opt_str(m, "", "agentName")? {
        let len = name.chars().count();
        if !(1..=40).contains(&len) || name.trim().is_empty() {
            return Err(ApiError::invalid(
                "agentName",
                format!("agentName must be 1-40 characters, got {len}"),
            ));
        }
        out.insert("name".into(), json!(name));
    }
    if let Some(w) = validate::opt_str(m, "", "welcomeMessage")? {
        let len = w.chars().count();
        if !(1..=190).contains(&len) || w.trim().is_empty() {
            return Err(ApiError::invalid(
                "welcomeMessage",
                format!("welcomeMessage must be 1-190 characters, got {len}"),
            ));
        }
        out.insert("firstMessage".into(), json!(w));
    }
    if let Some(p) = validate::opt_str(m, "", "agentPrompt")? {
        if p.trim().is_empty() {
            return Err(ApiError::invalid(
                "agentPrompt",
                "agentPrompt must not be empty",
            ));
        }
        out.insert("conversationFlow".into(), json!(p));
    }
    // the call settings keep their names in the model (validated there)
    for key in agent_settings::FIELDS {
        if let Some(v) = m.get(*key) {
            out.insert((*key).into(), v.clone());
        }
    }
    if let Some(v) = m.get("voiceId") {
        out.insert("voiceId".into(), v.clone());
    }
    if m.contains_key("agentWorkingHours") {
        let tz = validate::opt_str(m, "", "timezone")?.unwrap_or(DEFAULT_TIMEZONE);
        let hours = working_hours(m)?;
        // none: available around the clock (the model's activatedHours would mean never)
        out.insert(
            "activatedHours".into(),
            if hours.is_empty() {
                Value::Null
            } else {
                json!({"timezone": tz, "hours": hours})
            },
        );
    }
    let inbound = match m.get("inboundNumber") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(n)) => {
            e164("inboundNumber", n)?;
            Some(Some(n.clone()))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "inboundNumber",
                "inboundNumber must be a string (E.164) or null",
            ));
        }
    };
    Ok((out, inbound))
}

/// A phone number in E.164: `+`, the country code and 10-15 digits in all.
fn e164(field: &str, s: &str) -> Result<(), ApiError> {
    let ok = s.strip_prefix('+').is_some_and(|d| {
        (10..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{field} must be a phone number in E.164 format (+12125550100), got {s:?}"),
        ))
    }
}

/// `agentWorkingHours` as the model's `activatedHours.hours` entries.
fn working_hours(m: &Map<String, Value>) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for (i, day) in validate::opt_array(m, "", "agentWorkingHours")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let p = format!("agentWorkingHours[{i}]");
        let day = day
            .as_object()
            .ok_or_else(|| ApiError::invalid(&p, format!("{p} must be an object")))?;
        validate::known(day, &p, &["dayOfTheWeek", "intervals"])?;
        let n = validate::opt_int(day, &p, "dayOfTheWeek", 1, 7)?.ok_or_else(|| {
            ApiError::invalid(
                &format!("{p}.dayOfTheWeek"),
                format!("{p}.dayOfTheWeek is required (Monday=1 to Sunday=7)"),
            )
        })?;
        let name = DAYS[(n - 1) as usize];
        let intervals = validate::opt_array(day, &p, "intervals")?.ok_or_else(|| {
            ApiError::invalid(
                &format!("{p}.intervals"),
                format!("{p}.intervals is required"),
            )
        })?;
        for (j, iv) in intervals.iter().enumerate() {
            let ip = format!("{p}.intervals[{j}]");
            let iv = iv
                .as_object()
                .ok_or_else(|| ApiError::invalid(&ip, format!("{ip} must be an object")))?;
            validate::known(
                iv,
                &ip,
                &["startHour", "endHour", "startMinute", "endMinute"],
            )?;
            let part = |key: &str, hi: i64| -> Result<i64, ApiError> {
                validate::opt_int(iv, &ip, key, 0, hi)?.ok_or_else(|| {
                    ApiError::invalid(&format!("{ip}.{key}"), format!("{ip}.{key} is required"))
                })
            };
            let (sh, sm, eh, em) = (
                part("startHour", 23)?,
                part("startMinute", 59)?,
                part("endHour", 23)?,
                part("endMinute", 59)?,
            );
            if sh * 60 + sm >= eh * 60 + em {
                return Err(ApiError::invalid(
                    &format!("{ip}.endHour"),
                    format!("{ip}: the interval must end after it starts"),
                ));
            }
            out.push(json!({
                "day": name,
                "startTime": format!("{sh:02}:{sm:02}"),
                "endTime": format!("{eh:02}:{em:02}"),
            }));
        }
    }
    Ok(out)
}

/// The model's `activatedHours` as seed 000's `agentWorkingHours` (24:00 shows as 23:59,
/// the latest the seed can say).
fn working_hours_of(doc: &Value) -> Vec<Value> {
    let hm = |s: &str| -> Option<(i64, i64)> {
        let (h, m) = s.split_once(':')?;
        let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
        Some(if h >= 24 { (23, 59) } else { (h, m) })
    };
    let mut days: Vec<(usize, Vec<Value>)> = Vec::new();
    for h in doc["activatedHours"]["hours"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(n) = h["day"]
            .as_str()
            .and_then(|d| DAYS.iter().position(|x| *x == d))
        else {
            continue;
        };
        let (Some((sh, sm)), Some((eh, em))) = (
            h["startTime"].as_str().and_then(hm),
            h["endTime"].as_str().and_then(hm),
        ) else {
            continue;
        };
        let iv = json!({"startHour": sh, "startMinute": sm, "endHour": eh, "endMinute": em});
        match days.iter_mut().find(|(d, _)| *d == n) {
            Some((_, ivs)) => ivs.push(iv),
            None => days.push((n, vec![iv])),
        }
    }
    days.sort_by_key(|(d, _)| *d);
    days.into_iter()
        .map(|(d, ivs)| json!({"dayOfTheWeek": d + 1, "intervals": ivs}))
        .collect()
}

/// What seed 000 fills in when an agent is created without them.
pub(crate) fn creation_defaults(state: &ApiState, business: &Business) -> Map<String, Value> {
    let number = vox_store::new_secret()
        .get(..4)
        .and_then(|h| u16::from_str_radix(h, 16).ok())
        .unwrap_or(0)
        % 900
        + 100;
    let mut d = Map::new();
    d.insert("name".into(), json!(format!("My Agent {number}")));
    d.insert("businessName".into(), json!(business.name));
    d.insert("language".into(), json!("en-US"));
    d.insert("patienceLevel".into(), json!("medium"));
    d.insert("maxCallDuration".into(), json!(300));
    d.insert("sendUserIdleReminders".into(), json!(true));
    d.insert("reminderAfterIdleTimeSeconds".into(), json!(8));
    d.insert("callEndWorkflowIds".into(), json!([]));
    d.insert("timezone".into(), json!(DEFAULT_TIMEZONE));
    d.insert("isAgentAsBackupDisabled".into(), json!(false));
    d.insert("translation".into(), json!({"enabled": false}));
    if let Some(v) = state.voices.first() {
        d.insert("voiceId".into(), json!(v.id));
    }
    d
}

/// Fills what the creator left out and depends on other fields: the greeting and the prompt
/// speak the agent's and the business's names.
pub(crate) fn generated(m: &mut Map<String, Value>) {
    let agent = m["name"].as_str().unwrap_or("the assistant").to_owned();
    let business = m
        .get("businessName")
        .and_then(Value::as_str)
        .unwrap_or("the business")
        .to_owned();
    if !m.contains_key("firstMessage") {
        let hello = format!("Hello, thank you for calling {business}. How can I help you today?");
        let hello = if hello.chars().count() <= 190 {
            hello
        } else {
            "Hello, thank you for calling. How can I help you today?".to_owned()
        };
        m.insert("firstMessage".into(), json!(hello));
    }
    if !m.contains_key("conversationFlow") {
        m.insert(
            "conversationFlow".into(),
            json!(format!(
                "You are {agent}, the voice assistant of {business}. Greet the caller, find out what they need and help with it. Keep answers short and friendly. If you cannot help, offer to take a message."
            )),
        );
    }
}

/// A model agent as seed 000 shows it (`actions` are the agent's, in seed 000's shape).
pub(crate) fn to_seed(
    a: &AgentRecord,
    business: &Business,
    defaults: CallDefaults,
    actions: Vec<Value>,
) -> Value {
    let d = &a.document;
    let or = |key: &str, fallback: Value| {
        d.get(key)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(fallback)
    };
    let timezone = d
        .get("timezone")
        .and_then(Value::as_str)
        .or_else(|| d["activatedHours"]["timezone"].as_str())
        .unwrap_or(DEFAULT_TIMEZONE);
    json!({
        "id": a.id,
        "locationId": a.business_id,
        "agentName": a.name,
        "businessName": or("businessName", json!(business.name)),
        "welcomeMessage": or("firstMessage", json!("")),
        "agentPrompt": or("conversationFlow", json!("")),
        "voiceId": or("voiceId", json!("")),
        "language": or("language", json!("en-US")),
        "patienceLevel": or("patienceLevel", json!("medium")),
        "maxCallDuration": or("maxCallDuration", json!(defaults.max_call_duration_secs)),
        "sendUserIdleReminders": or("sendUserIdleReminders", json!(defaults.idle_reminders)),
        "reminderAfterIdleTimeSeconds": or("reminderAfterIdleTimeSeconds", json!(defaults.idle_reminder_after_secs)),
        "inboundNumber": if a.kind == "INBOUND" { json!(a.phone_number) } else { Value::Null },
        "numberPoolId": or("numberPoolId", Value::Null),
        "callEndWorkflowIds": or("callEndWorkflowIds", json!([])),
        "sendPostCallNotificationTo": or("sendPostCallNotificationTo", json!({
            "admins": true, "allUsers": false, "contactAssignedUser": false,
            "specificUsers": [], "customEmails": []})),
        "agentWorkingHours": working_hours_of(d),
        "timezone": timezone,
        "isAgentAsBackupDisabled": or("isAgentAsBackupDisabled", json!(false)),
        "translation": or("translation", json!({"enabled": false})),
        "actions": actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_hours_go_both_ways() {
        let m = json!({"agentWorkingHours": [
            {"dayOfTheWeek": 1, "intervals": [
                {"startHour": 9, "startMinute": 0, "endHour": 12, "endMinute": 30},
                {"startHour": 14, "startMinute": 0, "endHour": 17, "endMinute": 0}]},
            {"dayOfTheWeek": 7, "intervals": [{"startHour": 10, "startMinute": 5, "endHour": 11, "endMinute": 0}]}
        ], "timezone": "America/Chicago"});
        let (model, inbound) = to_model(m.as_object().expect("obj")).expect("valid");
        assert_eq!(inbound, None);
        assert_eq!(model["activatedHours"]["timezone"], "America/Chicago");
        assert_eq!(
            model["activatedHours"]["hours"][1],
            json!({"day": "monday", "startTime": "14:00", "endTime": "17:00"})
        );
        assert_eq!(model["activatedHours"]["hours"][2]["day"], "sunday");
        let back = working_hours_of(&json!({"activatedHours": model["activatedHours"]}));
        assert_eq!(Value::Array(back), m["agentWorkingHours"]);
        // empty: around the clock
        let (model, _) =
            to_model(json!({"agentWorkingHours": []}).as_object().expect("obj")).expect("valid");
        assert_eq!(model["activatedHours"], Value::Null);
    }

    #[test]
    fn seed_rules_name_the_seeds_fields() {
        for (body, field) in [
            (json!({"agentName": ""}), "agentName"),
            (json!({"agentName": "x".repeat(41)}), "agentName"),
            (json!({"welcomeMessage": "x".repeat(191)}), "welcomeMessage"),
            (json!({"agentPrompt": " "}), "agentPrompt"),
            (json!({"inboundNumber": "5125550100"}), "inboundNumber"),
            (json!({"inboundNumber": 15125550100u64}), "inboundNumber"),
            (
                json!({"agentWorkingHours": [{"dayOfTheWeek": 8, "intervals": []}]}),
                "agentWorkingHours[0].dayOfTheWeek",
            ),
            (
                json!({"agentWorkingHours": [{"intervals": []}]}),
                "agentWorkingHours[0].dayOfTheWeek",
            ),
            (
                json!({"agentWorkingHours": [{"dayOfTheWeek": 1}]}),
                "agentWorkingHours[0].intervals",
            ),
            (
                json!({"agentWorkingHours": [{"dayOfTheWeek": 1, "intervals": [{"startHour": 24, "startMinute": 0, "endHour": 23, "endMinute": 0}]}]}),
                "agentWorkingHours[0].intervals[0].startHour",
            ),
            (
                json!({"agentWorkingHours": [{"dayOfTheWeek": 1, "intervals": [{"startHour": 9, "startMinute": 60, "endHour": 23, "endMinute": 0}]}]}),
                "agentWorkingHours[0].intervals[0].startMinute",
            ),
            (
                json!({"agentWorkingHours": [{"dayOfTheWeek": 1, "intervals": [{"startHour": 9, "startMinute": 0, "endHour": 9, "endMinute": 0}]}]}),
                "agentWorkingHours[0].intervals[0].endHour",
            ),
        ] {
            let e = to_model(body.as_object().expect("obj")).expect_err("refused");
            assert_eq!(e.field.as_deref(), Some(field), "{body}");
        }
    }
}
