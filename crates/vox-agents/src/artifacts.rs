//! What a call leaves behind besides its record's live fields: a summary of the call and the
//! agent's `collectFields` extracted from the transcript, both by the runtime's LLM, after
//! the call and off any call's path.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tracing::warn;
use vox_core::{ChatMessage, Role};
use vox_providers::{LlmDelta, LlmProvider, LlmRequest};

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

#[cfg(test)]
mod tests {
    use super::*;

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
