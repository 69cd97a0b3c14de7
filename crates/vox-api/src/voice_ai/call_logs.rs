//! Seed 000's call logs (`/voice-ai/dashboard/call-logs`): a location's call records with
//! the actions each call ran (its tool runs of action records), summary, transcript and the
//! data extracted, filtered and sorted as the seed says.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};
use vox_store::{Business, CallChannel, CallRecord, CallSearch, rfc3339};

use super::action_map::ACTION_TYPES;
use super::{Error, VoiceAiAuth, location, required};
use crate::compat::Paging;
use crate::{ApiError, ApiState};

/// A date of the seed's query in Unix ms: seconds or milliseconds (values from 10^11 on are
/// milliseconds: that is March 1973 in ms, the year 5138 in seconds).
fn date(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    let Some(raw) = q.get(key) else {
        return Ok(None);
    };
    let n = raw
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0);
    match n {
        Some(n) if n >= 1e11 => Ok(Some(n as i64)),
        Some(n) => Ok(Some((n * 1000.0) as i64)),
        None => Err(ApiError::invalid(
            key,
            format!("{key} must be a Unix timestamp (seconds or milliseconds), got {raw:?}"),
        )),
    }
}

/// A comma-separated list (blank items dropped).
fn list(q: &HashMap<String, String>, key: &str) -> Vec<String> {
    q.get(key)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The filter the query asks for, within `business`.
fn filter(
    q: &HashMap<String, String>,
    business: &Business,
    paging: Paging,
) -> Result<CallSearch, ApiError> {
    let channel = match q.get("callType").map(String::as_str) {
        None => None,
        Some("LIVE") => Some(CallChannel::Phone),
        Some("TRIAL") => Some(CallChannel::Web),
        Some(other) => {
            return Err(ApiError::invalid(
                "callType",
                format!("callType must be LIVE or TRIAL, got {other:?}"),
            ));
        }
    };
    let (from, to) = match (date(q, "startDate")?, date(q, "endDate")?) {
        (None, None) => (None, None),
        (Some(s), Some(e)) if s < e => (Some(s), Some(e)),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "startDate",
                "startDate must be less than endDate",
            ));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(ApiError::invalid(
                if q.contains_key("startDate") {
                    "endDate"
                } else {
                    "startDate"
                },
                "startDate and endDate must be provided together",
            ));
        }
    };
    let action_types = list(q, "actionType");
    if let Some(bad) = action_types
        .iter()
        .find(|t| !ACTION_TYPES.contains(&t.as_str()))
    {
        return Err(ApiError::invalid(
            "actionType",
            format!(
                "actionType {bad:?} is not one of {}",
                ACTION_TYPES.join(", ")
            ),
        ));
    }
    let by_duration = match q.get("sortBy").map(String::as_str) {
        None => None,
        Some("createdAt") => Some(false),
        Some("duration") => Some(true),
        Some(other) => {
            return Err(ApiError::invalid(
                "sortBy",
                format!("sortBy must be duration or createdAt, got {other:?}"),
            ));
        }
    };
    let ascending = match (by_duration, q.get("sort").map(String::as_str)) {
        (_, Some(s)) if s != "ascend" && s != "descend" => {
            return Err(ApiError::invalid(
                "sort",
                format!("sort must be ascend or descend, got {s:?}"),
            ));
        }
        // the direction applies only with sortBy; by default newest first
        (Some(_), Some("ascend")) => true,
        _ => false,
    };
    Ok(CallSearch {
        organization_id: business.organization_id.clone(),
        business_id: Some(business.id.clone()),
        agent_id: q.get("agentId").filter(|a| !a.trim().is_empty()).cloned(),
        lead_ids: list(q, "contactId"),
        channel,
        created_from: from,
        created_to: to,
        action_types,
        by_duration: by_duration.unwrap_or(false),
        ascending,
        offset: paging.offset(),
        limit: paging.limit(),
        ..CallSearch::default()
    })
}

/// `GET /voice-ai/dashboard/call-logs`
pub(crate) async fn list_logs(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("voice-ai-dashboard.readonly")?;
    let business = location(&state, &auth, required(&q, "locationId")?).await?;
    let paging = Paging::from_query(&q, 10, 50, u32::MAX)?;
    let f = filter(&q, &business, paging)?;
    let (calls, total) = state.store.search_calls(&f).await?;
    let mut agents: HashMap<String, bool> = HashMap::new();
    let mut logs = Vec::with_capacity(calls.len());
    for c in &calls {
        logs.push(view(&state, &business, c, &mut agents).await?);
    }
    Ok(Json(json!({
        "total": total,
        "page": paging.page,
        "pageSize": paging.size,
        "callLogs": logs,
    })))
}

/// `GET /voice-ai/dashboard/call-logs/{callId}?locationId=`
pub(crate) async fn get_log(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("voice-ai-dashboard.readonly")?;
    let business = location(&state, &auth, required(&q, "locationId")?).await?;
    let c = state
        .store
        .call(&auth.organization_id, Some(&business.id), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("call log"))?;
    Ok(Json(
        view(&state, &business, &c, &mut HashMap::new()).await?,
    ))
}

/// The transcript as seed 000 writes it: a line per turn, `bot:` or `human:`.
fn transcript(c: &CallRecord) -> String {
    c.messages
        .as_ref()
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .filter_map(|m| {
                    let who = if m["role"] == "user" { "human" } else { "bot" };
                    Some(format!("{who}: {}", m["text"].as_str()?))
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// A call record as seed 000's call log (`agents` caches whether each agent still exists).
async fn view(
    state: &ApiState,
    business: &Business,
    c: &CallRecord,
    agents: &mut HashMap<String, bool>,
) -> Result<Value, Error> {
    let deleted = match &c.agent_id {
        Some(a) => match agents.get(a) {
            Some(exists) => !exists,
            None => {
                let exists = state.store.agent(&business.id, a).await?.is_some();
                agents.insert(a.clone(), exists);
                !exists
            }
        },
        None => false,
    };
    let actions: Vec<Value> = state
        .store
        .tool_runs(&c.id)
        .await?
        .into_iter()
        .filter_map(|r| {
            let a = r.action?;
            Some(json!({
                "actionId": r.tool_id,
                "actionType": a["actionType"],
                "actionName": a["name"],
                "actionParameters": a["actionParameters"],
                "triggerReceivedAt": rfc3339(r.started_at),
                "executedAt": rfc3339(r.finished_at),
            }))
        })
        .collect();
    let from = match c.kind {
        vox_store::CallKind::Inbound => c.customer_number.clone(),
        vox_store::CallKind::Outbound => c.phone_number.clone(),
    };
    Ok(json!({
        "id": c.id,
        "contactId": c.lead_id,
        "agentId": c.agent_id,
        "isAgentDeleted": deleted,
        "fromNumber": from,
        "createdAt": rfc3339(c.created_at),
        "duration": c.duration_ms.map_or(0, |ms| (ms + 500) / 1000),
        "trialCall": c.channel == CallChannel::Web,
        "executedCallActions": actions,
        "summary": c.summary.clone().unwrap_or_default(),
        "transcript": transcript(c),
        "extractedData": c.structured_data.clone().unwrap_or_else(|| json!({})),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dates_in_seconds_or_milliseconds() {
        let both = q(&[("startDate", "1679308800"), ("endDate", "1679395199000")]);
        assert_eq!(
            date(&both, "startDate").ok().flatten(),
            Some(1_679_308_800_000)
        );
        assert_eq!(
            date(&both, "endDate").ok().flatten(),
            Some(1_679_395_199_000)
        );
        assert!(date(&q(&[("startDate", "yesterday")]), "startDate").is_err());
        assert!(date(&q(&[("startDate", "-5")]), "startDate").is_err());
    }
}
