//! Seed 004's names onto the model and back: its voice calls are Vox's call records under
//! their own ids (`vc_…` for `call_…`), states, outcomes and transcript stamps.

use serde_json::{Value, json};
use vox_store::{CallKind, CallRecord, CallStatus, EndedReason, rfc3339};

/// A voice call's state (the seed names Completed, Busy and NoAnswer; the rest are Vox's, in
/// the same style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Set up, not yet connected.
    Queued,
    /// Connected.
    InProgress,
    /// It ran and ended.
    Completed,
    /// The callee was busy.
    Busy,
    /// The callee did not answer.
    NoAnswer,
    /// Cancelled before it was answered.
    Canceled,
    /// It could not run.
    Failed,
}

/// The reasons that are a state of their own (the other failures are `Failed`).
const OWN_STATE: [EndedReason; 3] = [
    EndedReason::CustomerBusy,
    EndedReason::CustomerDidNotAnswer,
    EndedReason::Canceled,
];

impl State {
    /// Every state, as the seed spells them.
    pub const ALL: [(State, &'static str); 7] = [
        (State::Queued, "Queued"),
        (State::InProgress, "InProgress"),
        (State::Completed, "Completed"),
        (State::Busy, "Busy"),
        (State::NoAnswer, "NoAnswer"),
        (State::Canceled, "Canceled"),
        (State::Failed, "Failed"),
    ];

    pub fn as_str(self) -> &'static str {
        State::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("Failed", |(_, n)| n)
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(s, _)| *s)
    }

    pub fn of(c: &CallRecord) -> State {
        match (c.status, c.ended_reason) {
            (CallStatus::Scheduled, _) => State::Queued,
            (CallStatus::InProgress, _) => State::InProgress,
            (CallStatus::Completed, _) => State::Completed,
            (CallStatus::Failed, Some(EndedReason::CustomerBusy)) => State::Busy,
            (CallStatus::Failed, Some(EndedReason::CustomerDidNotAnswer)) => State::NoAnswer,
            (CallStatus::Failed, Some(EndedReason::Canceled)) => State::Canceled,
            (CallStatus::Failed, _) => State::Failed,
        }
    }

    /// The store's terms for this state: a status, the reasons it needs (any of), and the
    /// reasons it never has.
    pub fn search(self) -> (CallStatus, Vec<EndedReason>, Vec<EndedReason>) {
        match self {
            State::Queued => (CallStatus::Scheduled, vec![], vec![]),
            State::InProgress => (CallStatus::InProgress, vec![], vec![]),
            State::Completed => (CallStatus::Completed, vec![], vec![]),
            State::Busy => (CallStatus::Failed, vec![EndedReason::CustomerBusy], vec![]),
            State::NoAnswer => (
                CallStatus::Failed,
                vec![EndedReason::CustomerDidNotAnswer],
                vec![],
            ),
            State::Canceled => (CallStatus::Failed, vec![EndedReason::Canceled], vec![]),
            State::Failed => (CallStatus::Failed, vec![], OWN_STATE.to_vec()),
        }
    }
}

/// What a call came to: `Successful`, `Transferred`, `NotReached` or `Failed` (none while it
/// is not over).
fn outcome(c: &CallRecord) -> Option<&'static str> {
    Some(match State::of(c) {
        State::Queued | State::InProgress => return None,
        State::Completed if c.ended_reason == Some(EndedReason::AssistantTransferredCall) => {
            "Transferred"
        }
        State::Completed => "Successful",
        State::Busy | State::NoAnswer | State::Canceled => "NotReached",
        State::Failed => "Failed",
    })
}

/// Seed 004's id of a call.
pub(crate) fn seed_id(call_id: &str) -> String {
    format!("vc_{}", call_id.strip_prefix("call_").unwrap_or(call_id))
}

/// The call id of a seed-004 id (`None`: not one of ours).
pub(crate) fn call_id(seed_id: &str) -> Option<String> {
    seed_id
        .strip_prefix("vc_")
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|s| format!("call_{s}"))
}

/// A time to the second, as the seed writes them.
fn at(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| json!(rfc3339(ms - ms.rem_euclid(1000))))
}

/// `HH:MM:SS` from the call's start.
fn stamp(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The transcript: `agent` / `customer` lines stamped from the call's start.
fn transcript(c: &CallRecord) -> Value {
    Value::Array(
        c.messages
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let role = if m["role"] == "user" { "customer" } else { "agent" };
                Some(json!({"role": role, "text": m["text"].as_str()?, "timestamp": stamp(m["atMs"].as_i64().unwrap_or(0))}))
            })
            .collect(),
    )
}

/// A call record as seed 004's voice call (with its post-call survey's result, if one ran);
/// `full` adds the transcript.
pub(crate) fn to_seed(c: &CallRecord, full: bool) -> Value {
    let seconds = |ms: Option<i64>| ms.map_or(0, |ms| (ms.max(0) + 500) / 1000);
    let mut v = json!({
        "id": seed_id(&c.id),
        "campaignId": c.campaign_id,
        "direction": match c.kind { CallKind::Inbound => "Inbound", CallKind::Outbound => "Outbound" },
        "state": State::of(c).as_str(),
        "startTime": at(c.started_at),
        "endTime": at(c.ended_at),
        // from set-up to the end (ringing included); talk time: connected
        "durationSeconds": seconds(c.ended_at.map(|e| e - c.created_at)),
        "talkTimeSeconds": seconds(c.duration_ms),
        "outcome": outcome(c),
        "epaResults": c.epa_results.clone().unwrap_or(Value::Null),
        "createdAt": at(Some(c.created_at)),
    });
    if full {
        v["transcript"] = transcript(c);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_states_and_stamps() {
        assert_eq!(seed_id("call_01ab"), "vc_01ab");
        assert_eq!(call_id("vc_01ab").as_deref(), Some("call_01ab"));
        for bad in ["call_01ab", "vc_", "vc_../x", "01ab"] {
            assert_eq!(call_id(bad), None, "{bad}");
        }
        assert_eq!(stamp(3_723_000), "01:02:03");
        assert_eq!(stamp(-5), "00:00:00");
        for (s, n) in State::ALL {
            assert_eq!(State::parse(n), Some(s));
            assert_eq!(s.as_str(), n);
        }
        let mut c = CallRecord::new("biz", CallKind::Outbound);
        c.status = CallStatus::Failed;
        c.ended_reason = Some(EndedReason::CustomerBusy);
        assert_eq!(
            (State::of(&c), outcome(&c)),
            (State::Busy, Some("NotReached"))
        );
        c.ended_reason = Some(EndedReason::DialFailed);
        assert_eq!(State::of(&c), State::Failed);
        c.status = CallStatus::Completed;
        c.ended_reason = Some(EndedReason::AssistantTransferredCall);
        assert_eq!(outcome(&c), Some("Transferred"));
    }
}
