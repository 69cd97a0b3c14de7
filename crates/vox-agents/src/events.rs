//! Call-event webhooks: each event is stored in an outbox first (so a restart does not lose
//! it), then a worker POSTs it to the business's endpoint with
//! `X-Vox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//! `X-Vox-Event` (the type) and `X-Vox-Event-Id` (for receivers to drop duplicates). A non-2xx
//! reply or a network error is retried after `webhook_retry_secs`, doubling, with +/-25%
//! jitter (so endpoints that failed together are not retried together), up to
//! `webhook_max_attempts`. Endpoints go through the same address guard as tools.
//!
//! Each business's deliveries run in their own task, in order, beside every other
//! business's: a slow or dead endpoint delays only its own events.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use tracing::{info, warn};
use vox_call::Tasks;
use vox_store::Store;

/// The events a business's webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A call's media connected.
    CallStarted,
    /// The agent called a tool.
    ToolCalled,
    /// The call was handed to a person.
    Transferred,
    /// A warm transfer's destination did not answer.
    TransferFailed,
    /// The call is over and its record final.
    CallEnded,
    /// The agent started one of the developer's workflows (a seed-000 WORKFLOW_TRIGGER
    /// action).
    WorkflowTriggered,
}

impl EventKind {
    /// The event's `type` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallStarted => "call.started",
            Self::ToolCalled => "call.tool_called",
            Self::Transferred => "call.transferred",
            Self::TransferFailed => "call.transfer_failed",
            Self::CallEnded => "call.ended",
            Self::WorkflowTriggered => "workflow.triggered",
        }
    }
}

/// The `workflow.triggered` events of a call's end: one per workflow the agent names in
/// `callEndWorkflowIds` (seed 000), queued once the call's record is final.
pub(crate) fn call_end_workflows(
    events: &Events,
    record: &vox_store::CallRecord,
    workflows: &[String],
) {
    for id in workflows {
        events.emit(
            &record.business_id,
            EventKind::WorkflowTriggered,
            json!({"workflowId": id, "trigger": "call.ended", "callId": record.id, "agentId": record.agent_id,
                   "customerNumber": record.customer_number, "endedReason": record.ended_reason}),
        );
    }
}

/// The workflows an agent's document names for the end of its calls.
pub(crate) fn workflows_of(document: &Value) -> Vec<String> {
    document["callEndWorkflowIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Queues and delivers call-event webhooks. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Events {
    store: Store,
    tasks: Tasks,
    guard: vox_tools::HttpGuard,
    max_attempts: u32,
    retry: Duration,
    timeout: Duration,
    wake: Arc<tokio::sync::Notify>,
    /// Businesses whose deliveries are under way.
    busy: Arc<Mutex<HashSet<String>>>,
}

/// Most deliveries taken from the outbox per round.
const ROUND: i64 = 200;

/// The signature header's value for `body` at unix time `t`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// The data of `call.ended` for a finished call's record: one shape, whether the call ended
/// normally or was finished by crash recovery.
pub(crate) fn call_ended_data(c: &vox_store::CallRecord) -> Value {
    json!({
        "callId": c.id, "status": c.status, "endedReason": c.ended_reason,
        "durationMs": c.duration_ms, "summary": c.summary,
        "structuredData": c.structured_data, "recordingUrl": c.recording_url,
        "transcript": c.transcript,
    })
}

/// A delivery's body: the event, when it was made, and its data.
pub fn body(event: EventKind, data: Value) -> String {
    json!({"type": event.as_str(), "createdAt": vox_store::rfc3339(vox_store::now_ms()), "data": data}).to_string()
}

impl Events {
    /// From the API config; `allow_private` as for tools. Outbox writes and the delivery
    /// worker run in `tasks`.
    pub fn new(
        store: Store,
        tasks: Tasks,
        allow_private: bool,
        max_attempts: u32,
        retry: Duration,
        timeout: Duration,
    ) -> Self {
        Self {
            store,
            tasks,
            guard: vox_tools::HttpGuard {
                allow_private,
                max_response_bytes: 4096,
                ..vox_tools::HttpGuard::default()
            },
            max_attempts: max_attempts.max(1),
            retry,
            timeout,
            wake: Arc::default(),
            busy: Arc::default(),
        }
    }

    /// Queues `event` for the business's endpoint (if it has one). The outbox write runs to
    /// completion even during shutdown, so an event that happened is not lost.
    pub fn emit(&self, business_id: &str, event: EventKind, data: Value) {
        let (me, biz) = (self.clone(), business_id.to_owned());
        self.tasks
            .spawn_to_completion("webhook outbox write", async move {
                let body = body(event, data);
                let event = event.as_str();
                match me.store.queue_delivery(&biz, event, &body).await {
                    Ok(Some(_)) => me.wake.notify_one(),
                    Ok(None) => {}
                    Err(e) => warn!(error = %e, event, "queueing a webhook event"),
                }
            });
    }

    /// Tells the delivery worker that an event was queued by other means (a transaction of
    /// the store's).
    pub fn queued(&self) {
        self.wake.notify_one();
    }

    /// At shutdown, once the calls' records are written: waits up to `limit` until no event
    /// is due and none is being sent (each due event gets its attempt; one that fails is
    /// rescheduled and stays in the outbox for the next start); whether that happened.
    pub async fn drain(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let due = match self.store.due_deliveries(vox_store::now_ms(), 1).await {
                Ok(d) => !d.is_empty(),
                Err(e) => {
                    warn!(error = %e, "webhook outbox at shutdown");
                    return false;
                }
            };
            if !due && self.busy().is_empty() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            self.wake.notify_one();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the delivery worker (until the tasks' token is cancelled; undelivered events
    /// stay in the outbox for the next start).
    pub fn start(&self) {
        let me = self.clone();
        self.tasks.spawn("webhook delivery", me.run());
    }

    async fn run(self) {
        loop {
            if let Err(e) = self.deliver_due().await {
                warn!(error = %e, "webhook outbox");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn busy(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a task for each business with deliveries due and none under way.
    async fn deliver_due(&self) -> Result<(), vox_store::StoreError> {
        let busy: Vec<String> = self.busy().iter().cloned().collect();
        let due = self
            .store
            .due_deliveries_except(vox_store::now_ms(), ROUND, &busy)
            .await?;
        let mut queues: BTreeMap<String, Vec<vox_store::Delivery>> = BTreeMap::new();
        for d in due {
            queues.entry(d.business_id.clone()).or_default().push(d);
        }
        for (business, queue) in queues {
            self.busy().insert(business.clone());
            let under_way = UnderWay {
                events: self.clone(),
                business,
            };
            self.tasks
                .spawn("webhook deliveries of a business", async move {
                    for d in queue {
                        if let Err(e) = under_way.events.deliver(&d).await {
                            warn!(error = %e, id = %d.id, "webhook outbox");
                        }
                    }
                });
        }
        Ok(())
    }

    /// One delivery attempt, recorded.
    async fn deliver(&self, d: &vox_store::Delivery) -> Result<(), vox_store::StoreError> {
        let Some(hook) = self.store.webhook(&d.business_id).await? else {
            return self
                .store
                .delivery_attempted(&d.id, Some("no endpoint"), None)
                .await;
        };
        let t = vox_store::now_ms() / 1000;
        let headers = [
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-vox-event".to_owned(), d.event.clone()),
            ("x-vox-event-id".to_owned(), d.id.clone()),
            (
                "x-vox-signature".to_owned(),
                signature(&hook.secret, t, &d.body),
            ),
        ];
        let error = match self
            .guard
            .send_raw(
                "POST",
                &hook.url,
                &headers,
                Some(d.body.as_bytes()),
                self.timeout,
            )
            .await
        {
            Ok(r) if (200..300).contains(&r.status) => None,
            Ok(r) => Some(format!("HTTP {}", r.status)),
            Err(e) => Some(e),
        };
        let attempts = d.attempts as u32 + 1;
        let next = error
            .as_ref()
            .filter(|_| attempts < self.max_attempts)
            .map(|_| vox_store::now_ms() + retry_delay_ms(self.retry, attempts, jitter()));
        match &error {
            None => info!(event = %d.event, id = %d.id, "webhook delivered"),
            Some(e) => {
                warn!(event = %d.event, id = %d.id, attempts, error = %e, giving_up = next.is_none(), "webhook delivery failed")
            }
        }
        self.store
            .delivery_attempted(&d.id, error.as_deref(), next)
            .await
    }
}

/// A business's deliveries under way; when they are done (or their task stopped), the
/// business's next due events may go.
struct UnderWay {
    events: Events,
    business: String,
}

impl Drop for UnderWay {
    fn drop(&mut self) {
        self.events.busy().remove(&self.business);
        self.events.wake.notify_one();
    }
}

/// The wait before attempt `attempts + 1`: `retry` doubled per failed attempt, times
/// `jitter` (0.75 to 1.25).
fn retry_delay_ms(retry: Duration, attempts: u32, jitter: f64) -> i64 {
    let base = (retry.as_millis() as i64).saturating_mul(1_i64 << (attempts.max(1) - 1).min(16));
    (base as f64 * jitter.clamp(0.75, 1.25)) as i64
}

/// A random factor in [0.75, 1.25).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    0.75 + (h.finish() % 10_000) as f64 / 20_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_with_bounded_jitter() {
        let r = Duration::from_secs(2);
        assert_eq!(retry_delay_ms(r, 1, 1.0), 2_000);
        assert_eq!(retry_delay_ms(r, 3, 1.0), 8_000);
        assert_eq!(retry_delay_ms(r, 3, 0.75), 6_000);
        assert_eq!(retry_delay_ms(r, 3, 9.0), 10_000, "clamped");
        let draws: Vec<f64> = (0..50).map(|_| jitter()).collect();
        assert!(draws.iter().all(|j| (0.75..1.25).contains(j)));
        assert!(
            draws.iter().any(|j| (j - draws[0]).abs() > 1e-9),
            "not one fixed value"
        );
    }

    #[test]
    fn signatures_are_hmac_sha256_over_time_and_body() {
        // HMAC-SHA256("key", "1.{}"), computed independently with Python's hmac module
        assert_eq!(
            signature("key", 1, "{}"),
            "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}
