//! Call-event webhooks: each event is stored in an outbox first (so a restart does not lose
//! it), then a worker POSTs it to the business's endpoint with
//! `X-Vox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//! `X-Vox-Event` (the type) and `X-Vox-Event-Id` (for receivers to drop duplicates). A non-2xx
//! reply or a network error is retried after `webhook_retry_secs`, doubling, up to
//! `webhook_max_attempts`. Endpoints go through the same address guard as tools.

use std::sync::Arc;
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
        }
    }
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
}

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
            },
            max_attempts: max_attempts.max(1),
            retry,
            timeout,
            wake: Arc::default(),
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

    async fn deliver_due(&self) -> Result<(), vox_store::StoreError> {
        for d in self.store.due_deliveries(vox_store::now_ms(), 50).await? {
            let Some(hook) = self.store.webhook(&d.business_id).await? else {
                self.store
                    .delivery_attempted(&d.id, Some("no endpoint"), None)
                    .await?;
                continue;
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
                .map(|_| {
                    vox_store::now_ms()
                        + (self.retry.as_millis() as i64) * (1_i64 << (attempts - 1).min(16))
                });
            match &error {
                None => info!(event = %d.event, id = %d.id, "webhook delivered"),
                Some(e) => {
                    warn!(event = %d.event, id = %d.id, attempts, error = %e, giving_up = next.is_none(), "webhook delivery failed")
                }
            }
            self.store
                .delivery_attempted(&d.id, error.as_deref(), next)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_over_time_and_body() {
        // HMAC-SHA256("key", "1.{}"), computed independently with Python's hmac module
        assert_eq!(
            signature("key", 1, "{}"),
            "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}
