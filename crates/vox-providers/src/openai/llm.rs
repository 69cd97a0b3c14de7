use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use futures::{StreamExt, TryFutureExt};
use serde::Deserialize;
use serde_json::{Value, json};
use vox_core::{ChatMessage, Role};

use super::OpenAiEndpoint;
use crate::{LlmDelta, LlmProvider, LlmRequest, LlmStream, ProviderError};

/// Chat completions, streamed, with tools, through async-openai. Requests and chunks use
/// our own serde types (async-openai's "bring your own types"), which keeps us compatible
/// with servers that return slightly different chunk shapes.
#[derive(Debug, Clone)]
pub struct OpenAiLlm {
    client: Client<OpenAIConfig>,
    model: String,
}

impl OpenAiLlm {
    /// An adapter for `endpoint`.
    pub fn new(endpoint: &OpenAiEndpoint) -> Self {
        let config = OpenAIConfig::new()
            .with_api_base(endpoint.base_url.trim_end_matches('/'))
            .with_api_key(endpoint.api_key.expose());
        Self {
            client: Client::with_config(config).with_http_client(super::http_client(endpoint)),
            model: endpoint.model.clone(),
        }
    }

    fn body(&self, req: &LlmRequest) -> Value {
        let messages: Vec<Value> = req.messages.iter().map(render_message).collect();
        let mut body = json!({ "model": self.model, "messages": messages, "stream": true });
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
                .collect();
        }
        body
    }
}

/// Renders one message in the chat-completions format.
pub(crate) fn render_message(m: &ChatMessage) -> Value {
    match m.role {
        Role::System => json!({"role": "system", "content": m.content}),
        Role::User => json!({"role": "user", "content": m.content}),
        Role::Tool => json!({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content}),
        Role::Assistant => {
            let mut v = json!({"role": "assistant", "content": m.content});
            if !m.tool_calls.is_empty() {
                if m.content.is_empty() {
                    v["content"] = Value::Null;
                }
                v["tool_calls"] = m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
            }
            v
        }
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallChunk>,
}

#[derive(Deserialize)]
struct ToolCallChunk {
    #[serde(default)]
    index: usize,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionChunk>,
}

#[derive(Deserialize)]
struct FunctionChunk {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

fn map_err(e: OpenAIError) -> ProviderError {
    let retryable = matches!(e, OpenAIError::Reqwest(_) | OpenAIError::StreamError(_));
    let message = match &e {
        OpenAIError::ApiError(api) => format!("API error: {}", api.api_error.message),
        other => other.to_string(),
    };
    ProviderError::new("llm", message, retryable)
}

fn deltas(chunk: Chunk) -> Vec<Result<LlmDelta, ProviderError>> {
    let mut out = Vec::new();
    for choice in chunk.choices {
        if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
            out.push(Ok(LlmDelta::Text(text)));
        }
        for call in choice.delta.tool_calls {
            let (name, arguments) = call
                .function
                .map_or((None, None), |f| (f.name, f.arguments));
            out.push(Ok(LlmDelta::ToolCall {
                index: call.index,
                id: call.id,
                name,
                arguments: arguments.unwrap_or_default(),
            }));
        }
    }
    out
}

impl LlmProvider for OpenAiLlm {
    fn stream(&self, request: LlmRequest) -> LlmStream {
        let body = self.body(&request);
        let client = self.client.clone();
        let connect = async move {
            let chunks = client
                .chat()
                .create_stream_byot::<Value, Chunk>(body)
                .await
                .map_err(map_err)?;
            Ok::<_, ProviderError>(chunks.map(|r| r.map_err(map_err)))
        };
        connect
            .try_flatten_stream()
            .flat_map(|r| futures::stream::iter(r.map_or_else(|e| vec![Err(e)], deltas)))
            .boxed()
    }
}
