//! What a call leaves behind besides its record's live fields: the post-call summary and the
//! agent's `collectFields` extracted from the transcript (both by the runtime's LLM, after
//! the call, off any call's path), and call-event webhooks.
//!
//! Webhooks: each event is stored in an outbox first (so a restart does not lose it), then a
//! worker POSTs it to the business's endpoint with
//! `X-Vox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//! `X-Vox-Event` (the type) and `X-Vox-Event-Id` (for receivers to drop duplicates). A non-2xx
//! reply or a network error is retried after `webhook_retry_secs`, doubling, up to
//! `webhook_max_attempts`. Endpoints go through the same address guard as tools.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use tracing::{info, warn};
use vox_core::{ChatMessage, Role};
use vox_providers::{LlmDelta, LlmProvider, LlmRequest};
use vox_store::Store;

/// Asks `llm` one question, with a time limit; the whole text reply.
async fn ask(llm: &Arc<dyn LlmProvider>, system: &str, user: String) -> Option<String> {
    let req = LlmRequest {
        messages: vec![
            ChatMessage::text(Role::System, system),
            ChatMessage::text(Role::User, user),
        ],
        tools: Vec::new(),
    };
    let collect = async {
        let mut out = String::new();
        let mut s = llm.stream(req);
        while let Some(d) = s.next().await {
            match d {
                Ok(LlmDelta::Text(t)) => out.push_str(&t),
                Ok(_) => {}
                Err(e) => {
                    warn!(error = %e, "post-call LLM request failed");
                    return None;
                }
            }
        }
        Some(out.trim().to_owned())
    };
    tokio::time::timeout(Duration::from_secs(60), collect)
        .await
        .ok()
        .flatten()
        .filter(|s| !s.is_empty())
}

/// A one-to-three sentence summary of `transcript`.
pub async fn summarize(llm: &Arc<dyn LlmProvider>, transcript: &str) -> Option<String> {
    if transcript.trim().is_empty() {
        return None;
    }
    ask(llm, "You summarise phone calls for a business's call log. Be factual and brief.", format!("Summarise this call in one to three sentences: who called, what they wanted, what was done.\n\n{transcript}")).await
}

/// The first JSON object in `text` (models wrap JSON in prose or fences).
fn json_object(text: &str) -> Option<serde_json::Map<String, Value>> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str::<Value>(text.get(start..=end)?)
        .ok()?
        .as_object()
        .cloned()
}

/// `fields` extracted from `transcript`: an object with exactly those keys, `null` for what
/// was not said.
pub async fn extract(
    llm: &Arc<dyn LlmProvider>,
    transcript: &str,
    fields: &[String],
) -> Option<Value> {
    if fields.is_empty() || transcript.trim().is_empty() {
        return None;
    }
    let reply = ask(
        llm,
        "You extract data from phone-call transcripts. Reply with one JSON object and nothing else.",
        format!("From the transcript below, extract these fields as one JSON object with exactly these keys: {}. Use null for anything the caller did not say; never invent values.\n\n{transcript}", serde_json::to_string(fields).unwrap_or_default()),
    )
    .await?;
    let found = json_object(&reply);
    if found.is_none() {
        warn!(
            chars = reply.len(),
            "the post-call extraction reply holds no JSON object"
        );
    }
    let found = found.unwrap_or_default();
    Some(Value::Object(
        fields
            .iter()
            .map(|f| (f.clone(), found.get(f).cloned().unwrap_or(Value::Null)))
            .collect(),
    ))
}

/// Queues and delivers call-event webhooks. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Events {
    store: Store,
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

impl Events {
    /// From the API config; `allow_private` as for tools.
    pub fn new(
        store: Store,
        allow_private: bool,
        max_attempts: u32,
        retry: Duration,
        timeout: Duration,
    ) -> Self {
        Self {
            store,
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

    /// Queues `event` for the business's endpoint (if it has one).
    pub fn emit(&self, business_id: &str, event: &str, data: Value) {
        let (me, biz, event) = (self.clone(), business_id.to_owned(), event.to_owned());
        tokio::spawn(async move {
            let body = json!({"type": event, "createdAt": vox_store::rfc3339(vox_store::now_ms()), "data": data}).to_string();
            match me.store.queue_delivery(&biz, &event, &body).await {
                Ok(Some(_)) => me.wake.notify_one(),
                Ok(None) => {}
                Err(e) => warn!(error = %e, event = %event, "queueing a webhook event"),
            }
        });
    }

    /// Delivers due events until `stop`.
    pub async fn run(self, stop: tokio_util::sync::CancellationToken) {
        loop {
            if let Err(e) = self.deliver_due().await {
                warn!(error = %e, "webhook outbox");
            }
            tokio::select! {
                () = stop.cancelled() => return,
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

    #[test]
    fn extraction_finds_the_json_in_a_chatty_reply() {
        let m = json_object(
            "Sure! ```json\n{\"name\": \"Dana\", \"phone\": null}\n``` Hope that helps",
        )
        .expect("object");
        assert_eq!(m["name"], "Dana");
        assert!(json_object("no json here").is_none());
    }
}
