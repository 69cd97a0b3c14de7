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

/// A field extracted after a call: a `collectFields` name, or a seed-000 DATA_EXTRACTION
/// action's field with what it is and the action it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The key in the call's data.
    pub key: String,
    /// What it is, with examples of its form, for the model.
    pub hint: Option<String>,
    /// The tool record and action snapshot it came from (logged as run when found).
    pub action: Option<(String, Value)>,
}

impl Field {
    /// A `collectFields` name.
    pub fn named(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            hint: None,
            action: None,
        }
    }
}

/// `fields` extracted from `transcript`: an object with exactly those keys, `null` for what
/// was not said.
pub async fn extract(
    llm: &Arc<dyn LlmProvider>,
    transcript: &str,
    fields: &[Field],
) -> Option<Value> {
    if fields.is_empty() || transcript.trim().is_empty() {
        return None;
    }
    let keys: Vec<&str> = fields.iter().map(|f| f.key.as_str()).collect();
    let hints: String = fields
        .iter()
        .filter_map(|f| Some(format!("\n- {}: {}", f.key, f.hint.as_deref()?)))
        .collect();
    let hints = if hints.is_empty() {
        String::new()
    } else {
        format!("\nWhat the keys are:{hints}")
    };
    let reply = ask(
        llm,
        "You extract data from phone-call transcripts. Reply with one JSON object and nothing else.",
        format!("From the transcript below, extract these fields as one JSON object with exactly these keys: {}. Use null for anything the caller did not say; never invent values.{hints}\n\n{transcript}", serde_json::to_string(&keys).unwrap_or_default()),
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
            .map(|f| {
                (
                    f.key.clone(),
                    found.get(&f.key).cloned().unwrap_or(Value::Null),
                )
            })
            .collect(),
    ))
}

/// The call's data: what its tools kept during the call (`during`, the record's data so far)
/// with the post-call extraction (`after`) added; a value kept during the call is what the
/// caller gave and stays, unless it is null.
pub fn merge_data(during: Option<&Value>, after: Option<Value>) -> Option<Value> {
    let Some(Value::Object(during)) = during.filter(|d| d.is_object()) else {
        return after;
    };
    let mut out = match after {
        Some(Value::Object(a)) => a,
        _ => serde_json::Map::new(),
    };
    for (k, v) in during {
        if !v.is_null() {
            out.insert(k.clone(), v.clone());
        }
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_kept_during_the_call_stays_over_the_extraction() {
        let during = serde_json::json!({"email": "dana@example.com", "zip": null});
        let after =
            serde_json::json!({"email": "wrong@example.com", "name": "Dana", "zip": "78701"});
        assert_eq!(
            merge_data(Some(&during), Some(after.clone())),
            Some(serde_json::json!({"email": "dana@example.com", "name": "Dana", "zip": "78701"}))
        );
        assert_eq!(merge_data(None, Some(after.clone())), Some(after));
        assert_eq!(
            merge_data(Some(&during), None),
            Some(serde_json::json!({"email": "dana@example.com"}))
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
