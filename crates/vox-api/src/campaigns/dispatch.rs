//! The campaign dispatcher: once a second, for each running campaign, settles the contacts
//! whose call ended (reached; busy, no answer or a failed dial: called again after
//! `retryAfterSecs`, doubling with each attempt, up to `maxAttempts`; otherwise given up),
//! then places calls to the contacts that are due and inside the calling window in their own
//! time zone, no more at once than `concurrency` and no faster than `callsPerMinute`. All of
//! it reads and writes the database (a contact is claimed by one conditional UPDATE), so a
//! restart takes up where it was.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vox_store::{
    CallKind, CallRecord, CallStatus, Campaign, CampaignContact, CampaignState, ContactState,
    EndedReason, StoreError,
};

use crate::{ApiState, DialRequest};

/// A campaign's settings as the API validated them.
#[derive(Debug, Clone)]
struct Settings {
    days: Vec<String>,
    start_min: i32,
    end_min: i32,
    timezone: String,
    concurrency: usize,
    calls_per_minute: u32,
    max_attempts: i64,
    retry_after_secs: i64,
}

fn minutes(s: &str) -> Option<i32> {
    let (h, m) = s.split_once(':')?;
    Some(h.parse::<i32>().ok()? * 60 + m.parse::<i32>().ok()?)
}

impl Settings {
    fn of(v: &Value) -> Self {
        let w = &v["callingWindow"];
        let int = |k: &str, d: i64| v[k].as_i64().unwrap_or(d);
        Self {
            days: w["days"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            start_min: w["startTime"].as_str().and_then(minutes).unwrap_or(9 * 60),
            end_min: w["endTime"].as_str().and_then(minutes).unwrap_or(17 * 60),
            timezone: w["timezone"].as_str().unwrap_or("UTC").to_owned(),
            concurrency: usize::try_from(int("concurrency", 2)).unwrap_or(1),
            calls_per_minute: u32::try_from(int("callsPerMinute", 10))
                .unwrap_or(10)
                .max(1),
            max_attempts: int("maxAttempts", 3),
            retry_after_secs: int("retryAfterSecs", 600),
        }
    }

    /// Whether `now` is inside the calling window in the zone `tz` (the callee's, else the
    /// window's).
    fn open_at(&self, tz: Option<&str>, now: jiff::Timestamp) -> bool {
        let Ok(zone) = jiff::tz::TimeZone::get(tz.unwrap_or(&self.timezone)) else {
            return false;
        };
        let local = now.to_zoned(zone);
        let day = crate::validate::DAYS[local.weekday().to_monday_zero_offset() as usize];
        let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
        self.days.iter().any(|d| d == day) && self.start_min <= minute && minute < self.end_min
    }
}

/// When each campaign may place its next call (pacing).
pub type Pacing = HashMap<String, Instant>;

/// Runs [`pass`] every second in the API's tasks until shutdown.
pub fn start(state: ApiState) {
    let tasks = state.tasks.clone();
    tasks.spawn("campaign dispatcher", async move {
        let mut pacing = Pacing::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = pass(&state, &mut pacing, jiff::Timestamp::now()).await {
                tracing::warn!(error = %e, "campaign dispatcher");
            }
        }
    });
}

/// One pass over the running campaigns at `now`: how many calls it placed.
pub async fn pass(
    state: &ApiState,
    pacing: &mut Pacing,
    now: jiff::Timestamp,
) -> Result<usize, StoreError> {
    let mut placed = 0;
    for c in state.store.running_campaigns().await? {
        placed += campaign(state, pacing, &c, now).await?;
    }
    Ok(placed)
}

/// Whether a failed call is worth another attempt.
fn retryable(reason: Option<EndedReason>) -> bool {
    matches!(
        reason,
        Some(
            EndedReason::CustomerBusy
                | EndedReason::CustomerDidNotAnswer
                | EndedReason::DialFailed
                | EndedReason::CarrierFailed
        )
    )
}

/// Settles `k` (dialing) if its call is over.
async fn settle(
    state: &ApiState,
    s: &Settings,
    k: &CampaignContact,
    now_ms: i64,
) -> Result<(), StoreError> {
    let Some(call_id) = &k.last_call_id else {
        // claimed, and the process died before its call was placed: the attempt is spent
        let next = (k.attempts < s.max_attempts).then_some(now_ms);
        let to = if next.is_some() {
            ContactState::Retry
        } else {
            ContactState::Failed
        };
        return state.store.settle_contact(&k.id, to, next, None).await;
    };
    let Some(call) = state.store.call_by_id(call_id).await? else {
        return state
            .store
            .settle_contact(&k.id, ContactState::Failed, None, None)
            .await;
    };
    let outcome = call.ended_reason.map(|r| r.as_str());
    match call.status {
        CallStatus::Scheduled | CallStatus::InProgress => Ok(()),
        CallStatus::Completed => {
            state
                .store
                .settle_contact(&k.id, ContactState::Done, None, outcome)
                .await
        }
        CallStatus::Failed if retryable(call.ended_reason) && k.attempts < s.max_attempts => {
            // doubling: retryAfterSecs, then twice that, ...
            let wait = s
                .retry_after_secs
                .saturating_mul(1 << (k.attempts - 1).clamp(0, 10));
            let at = now_ms.saturating_add(wait.saturating_mul(1000));
            state
                .store
                .settle_contact(&k.id, ContactState::Retry, Some(at), outcome)
                .await
        }
        CallStatus::Failed => {
            state
                .store
                .settle_contact(&k.id, ContactState::Failed, None, outcome)
                .await
        }
    }
}

async fn campaign(
    state: &ApiState,
    pacing: &mut Pacing,
    c: &Campaign,
    now: jiff::Timestamp,
) -> Result<usize, StoreError> {
    let s = Settings::of(&c.settings);
    let now_ms = now.as_millisecond();
    for k in state.store.campaign_contacts(&c.id).await? {
        if k.state == ContactState::Dialing {
            settle(state, &s, &k, now_ms).await?;
        }
    }
    let contacts = state.store.campaign_contacts(&c.id).await?;
    if contacts
        .iter()
        .all(|k| matches!(k.state, ContactState::Done | ContactState::Failed))
    {
        state
            .store
            .set_campaign_state(&c.id, &[CampaignState::Running], CampaignState::Completed)
            .await?;
        tracing::info!(campaign = %c.id, "campaign completed");
        return Ok(0);
    }
    let dialing = contacts
        .iter()
        .filter(|k| k.state == ContactState::Dialing)
        .count();
    let room = s.concurrency.saturating_sub(dialing);
    if room == 0 {
        return Ok(0);
    }
    // the agent must be able to call now; else the contacts wait
    let Some(agent) = state.store.agent(&c.business_id, &c.agent_id).await? else {
        return Ok(0);
    };
    let (Some(from), Some(true)) = (agent.phone_number.clone(), agent.on_duty) else {
        return Ok(0);
    };
    let Some(dialer) = state.dialer.clone() else {
        return Ok(0);
    };
    let due = contacts.iter().filter(|k| {
        let ready = match k.state {
            ContactState::Pending => true,
            ContactState::Retry => k.next_attempt_at.is_none_or(|t| t <= now_ms),
            _ => false,
        };
        ready && s.open_at(k.timezone.as_deref(), now)
    });
    let mut placed = 0;
    for k in due.take(room) {
        let spacing = Duration::from_millis(60_000 / u64::from(s.calls_per_minute));
        let clock = Instant::now();
        if pacing.get(&c.id).is_some_and(|next| *next > clock) {
            break;
        }
        if !state.store.claim_contact(k).await? {
            continue;
        }
        pacing.insert(c.id.clone(), clock + spacing);
        let record = state
            .store
            .create_call(CallRecord {
                agent_id: Some(agent.id.clone()),
                phone_number: Some(from.clone()),
                customer_number: Some(k.phone_number.clone()),
                lead_context: Some(json!({"context": format!("A call of the campaign {}.", c.name), "name": k.name})),
                campaign_id: Some(c.id.clone()),
                ..CallRecord::new(&c.business_id, CallKind::Outbound)
            })
            .await?;
        state.store.contact_called(&k.id, &record.id).await?;
        let dialed = dialer
            .dial(DialRequest {
                call_id: record.id.clone(),
                agent_id: agent.id.clone(),
                business_id: c.business_id.clone(),
                from: from.clone(),
                to: k.phone_number.clone(),
            })
            .await;
        match dialed {
            Ok(carrier_id) => {
                state
                    .store
                    .set_call_carrier_id_if_unset(&record.id, &carrier_id)
                    .await?;
            }
            Err(e) => {
                tracing::warn!(campaign = %c.id, call = %record.id, error = %e, "a campaign's dial failed");
                state
                    .store
                    .call_ended(&record.id, EndedReason::DialFailed, vox_store::now_ms())
                    .await?;
            }
        }
        placed += 1;
    }
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_callees() {
        let s = Settings::of(
            &json!({"callingWindow": {"days": ["monday"], "startTime": "09:00", "endTime": "17:00", "timezone": "America/New_York"}}),
        );
        // Monday 2026-11-23 15:00 UTC = 10:00 in New York, 07:00 in Los Angeles
        let t: jiff::Timestamp = "2026-11-23T15:00:00Z".parse().expect("time");
        assert!(s.open_at(None, t));
        assert!(!s.open_at(Some("America/Los_Angeles"), t));
        // Tuesday: not a calling day
        let t: jiff::Timestamp = "2026-11-24T15:00:00Z".parse().expect("time");
        assert!(!s.open_at(None, t));
        assert!(retryable(Some(EndedReason::CustomerBusy)));
        assert!(!retryable(Some(EndedReason::AgentOffDuty)));
    }
}
