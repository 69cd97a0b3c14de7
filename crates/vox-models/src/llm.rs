//! A local chat model: SmolLM2-135M-Instruct (GGUF, Q4_1) on candle's quantized llama, with
//! our byte-level BPE ([`crate::bpe`]) and grammar-constrained tool calls
//! ([`crate::grammar`]).
//!
//! Two passes per turn when the agent has tools (SmolLM2-Instruct's function-calling
//! format): first the assistant's turn is begun with `<tool_call>[` and decoding is
//! constrained: candidates are tried best first and the first the tool grammar accepts is
//! taken, so the output is `]` (no call) or one call that parses, names a real tool and has
//! only declared arguments of the declared types. With no call, a second pass speaks the
//! reply, streamed token by token and stopped after `max_sentences`. After a tool result
//! only the reply pass runs.
//!
//! Why candle and not llama.cpp: whisper.cpp (whisper-rs) and llama.cpp (llama-cpp-2) each
//! link their own copy of ggml, and the two copies clash in one binary (duplicate `ggml_*`
//! symbols; llama.cpp#9267, llama-cpp-rs#484). candle reads GGUF and runs Q4_1 natively, is
//! already here for MiniLM, and gives us the logits, which is all constrained decoding needs.

use std::sync::Arc;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use futures::StreamExt;
use tokio::sync::mpsc;
use vox_core::{Role, ToolSpec};
use vox_providers::{LlmDelta, LlmProvider, LlmRequest, LlmStream, ProviderError};

use crate::bpe::Bpe;
use crate::grammar::ToolGrammar;
use crate::worker::Workers;
use crate::{ModelError, Models};

/// SmolLM2-135M-Instruct as packaged (Q4_1).
pub const SMOLLM2_Q4_1: &str = "llm/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The same weights re-quantized to Q8_0 by [`requantize`] at fetch time: candle has SIMD
/// kernels for Q8_0 but only scalar code for Q4_1 (~3x slower per token on this machine).
pub const SMOLLM2: &str = "llm/SmolLM2-135M-Instruct.Q8_0.v1.gguf";

const QUEUE: usize = 8;
/// System blocks whose model state a worker keeps (a few agents' reply and tool prompts).
const PREFIX_CACHE: usize = 8;

/// Generation settings.
#[derive(Debug, Clone, Copy)]
pub struct LocalLlmConfig {
    /// Most tokens of one reply (a spoken turn is short).
    pub max_tokens: usize,
    /// Prompt budget in tokens; the oldest turns are left out beyond it (the system
    /// prompt never is).
    pub max_prompt: usize,
    /// A reply stops after this many sentences.
    pub max_sentences: usize,
    /// Penalty on tokens the reply already used (1.0 = none); small models loop without.
    pub repeat_penalty: f32,
    /// Worker threads (each decodes one reply at a time; the weights are shared).
    pub workers: usize,
    /// Run the tool-choice pass when the agent has tools. Off by default: SmolLM2-135M
    /// calls a tool on nearly every turn (BENCHMARKS.md); the grammar makes its calls
    /// well-formed, not wise. Without it the agent only talks.
    pub tool_calls: bool,
}

impl Default for LocalLlmConfig {
    fn default() -> Self {
        Self {
            max_tokens: 80,
            max_prompt: 1536,
            max_sentences: 2,
            repeat_penalty: 1.2,
            workers: 1,
            tool_calls: false,
        }
    }
}

struct Engine {
    weights: ModelWeights,
    bpe: Arc<Bpe>,
    stops: Vec<u32>,
    /// Control tokens never to generate (repository / notebook markers).
    banned: Vec<u32>,
    /// Tokens that decode to whole UTF-8 text, with that text (for the grammar).
    texts: Arc<Vec<Option<String>>>,
    config: LocalLlmConfig,
    /// Model states after recent system blocks, most recent first.
    prefixes: Vec<(Vec<u32>, ModelWeights)>,
}

/// The local LLM provider.
#[derive(Clone)]
pub struct LocalLlm {
    workers: Workers<Engine>,
}

impl std::fmt::Debug for LocalLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalLlm(SmolLM2-135M-Instruct)")
    }
}

fn err(e: candle_core::Error) -> ModelError {
    ModelError::Runtime(format!("smollm2: {e}"))
}

impl LocalLlm {
    /// Loads the model once; every worker shares its weights.
    pub fn load(models: &Models, config: LocalLlmConfig) -> Result<Self, ModelError> {
        let path = models.file("SmolLM2 (local LLM)", SMOLLM2)?;
        let mut file = std::fs::File::open(&path)
            .map_err(|e| ModelError::Runtime(format!("{}: {e}", path.display())))?;
        let content = gguf_file::Content::read(&mut file).map_err(err)?;
        let bpe = Arc::new(Bpe::from_metadata(&content.metadata, &path)?);
        let weights = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).map_err(err)?;
        let id = |t: &str| {
            bpe.id(t)
                .ok_or_else(|| ModelError::Runtime(format!("{}: no {t} token", path.display())))
        };
        let stops = vec![id("<|im_end|>")?, id("<|endoftext|>")?];
        let im_start = id("<|im_start|>")?;
        let banned: Vec<u32> = (0..bpe.len() as u32)
            .filter(|&i| bpe.is_special(i) && !stops.contains(&i))
            .chain([im_start])
            .collect();
        let texts: Arc<Vec<Option<String>>> = Arc::new(
            (0..bpe.len() as u32)
                .map(|i| {
                    if banned.contains(&i) || stops.contains(&i) {
                        None
                    } else {
                        String::from_utf8(bpe.token_bytes(i)).ok()
                    }
                })
                .collect(),
        );
        let engines = (0..config.workers.max(1))
            .map(|_| Engine {
                weights: weights.clone(),
                bpe: bpe.clone(),
                stops: stops.clone(),
                banned: banned.clone(),
                texts: texts.clone(),
                config,
                prefixes: Vec::new(),
            })
            .collect();
        Ok(Self {
            workers: Workers::spawn("llm", engines, QUEUE)?,
        })
    }

    /// The whole reply to `request` (for tools and tests): text and tool calls.
    pub async fn complete(
        &self,
        request: LlmRequest,
    ) -> Result<(String, Vec<(String, String)>), ProviderError> {
        let mut stream = self.stream(request);
        let mut text = String::new();
        let mut calls = Vec::new();
        while let Some(d) = stream.next().await {
            match d? {
                LlmDelta::Text(t) => text.push_str(&t),
                LlmDelta::ToolCall {
                    name, arguments, ..
                } => calls.push((name.unwrap_or_default(), arguments)),
            }
        }
        Ok((text, calls))
    }
}

/// Writes `src` (GGUF) to `dst` with every Q4_1 tensor re-quantized to Q8_0 (8-bit blocks
/// hold every 4-bit level exactly up to rounding of the scale). Atomic: a `.part` file is
/// renamed into place.
pub fn requantize(src: &std::path::Path, dst: &std::path::Path) -> Result<(), ModelError> {
    use candle_core::quantized::{GgmlDType, QTensor};
    let mut file = std::fs::File::open(src)
        .map_err(|e| ModelError::Runtime(format!("{}: {e}", src.display())))?;
    let content = gguf_file::Content::read(&mut file).map_err(err)?;
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    for name in names {
        let t = content.tensor(&mut file, name, &Device::Cpu).map_err(err)?;
        let t = if t.dtype() == GgmlDType::Q4_1 {
            QTensor::quantize(&t.dequantize(&Device::Cpu).map_err(err)?, GgmlDType::Q8_0)
                .map_err(err)?
        } else {
            t
        };
        tensors.push((name.clone(), t));
    }
    let mut metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    metadata.sort_by_key(|(k, _)| *k);
    let tmp = dst.with_extension("part");
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&tmp)
            .map_err(|e| ModelError::Runtime(format!("{}: {e}", tmp.display())))?,
    );
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    gguf_file::write(&mut out, &metadata, &refs).map_err(err)?;
    std::io::Write::flush(&mut out)
        .map_err(|e| ModelError::Runtime(format!("{}: {e}", tmp.display())))?;
    drop(out);
    std::fs::rename(&tmp, dst).map_err(|e| ModelError::Runtime(format!("{}: {e}", dst.display())))
}

/// The system prompt of the tool-choice pass (the function-calling format SmolLM2-Instruct
/// was tuned on).
fn tool_system(tools: &[ToolSpec]) -> String {
    let list: Vec<serde_json::Value> = tools.iter().map(|t| serde_json::json!({"name": t.name, "description": t.description, "parameters": t.parameters})).collect();
    format!(
        "You are an expert in composing functions. You are given a question and a set of possible functions. Based on the question, you will need to make one or more function/tool calls to achieve the purpose. If none of the functions can be used, point it out and refuse to answer. If the given question lacks the parameters required by the function, also point it out.\n\nYou have access to the following tools:\n<tools>{}</tools>\n\nThe output MUST strictly adhere to the following format, and NO other text MUST be included.\nThe example format is as follows. Please make sure the parameter type is correct. If no function call is needed, please make the tool calls an empty list '[]'.\n<tool_call>[\n{{\"name\": \"func_name1\", \"arguments\": {{\"argument1\": \"value1\", \"argument2\": \"value2\"}}}},\n... (more tool calls as required)\n]</tool_call>",
        serde_json::Value::Array(list)
    )
}

fn block(role: &str, content: &str) -> String {
    format!("<|im_start|>{role}\n{}<|im_end|>\n", content.trim())
}

/// The conversation's turns in ChatML (system messages apart).
fn turns(request: &LlmRequest) -> (String, Vec<String>) {
    let mut system = String::new();
    let mut turns: Vec<String> = Vec::new();
    for m in &request.messages {
        match m.role {
            Role::System => {
                if !system.is_empty() {
                    system.push('\n');
                }
                system.push_str(m.content.trim());
            }
            Role::User => turns.push(block("user", &m.content)),
            Role::Assistant => {
                let mut c = m.content.trim().to_owned();
                for call in &m.tool_calls {
                    let args = if call.arguments.trim().is_empty() {
                        "{}"
                    } else {
                        call.arguments.trim()
                    };
                    c.push_str(&format!(
                        "<tool_call>[{{\"name\": \"{}\", \"arguments\": {args}}}]</tool_call>",
                        call.name
                    ));
                }
                turns.push(block("assistant", &c));
            }
            Role::Tool => turns.push(block(
                "user",
                &format!("<tool_response>{}</tool_response>", m.content),
            )),
        }
    }
    (system, turns)
}

/// A ChatML prompt: `system`, then as many of the latest `turns` as fit in `budget` tokens,
/// then the start of the assistant's turn (`prefix`); and the length of the system block
/// (the part worth caching: it is the same every turn).
fn render(
    bpe: &Bpe,
    system: &str,
    turns: &[String],
    prefix: &str,
    budget: usize,
) -> (Vec<u32>, usize) {
    let head = bpe.encode(&block("system", system));
    let tail = bpe.encode(&format!("<|im_start|>assistant\n{prefix}"));
    let mut kept: Vec<Vec<u32>> = Vec::new();
    let mut used = head.len() + tail.len();
    for t in turns.iter().rev() {
        let ids = bpe.encode(t);
        if used + ids.len() > budget && !kept.is_empty() {
            break;
        }
        used += ids.len();
        kept.push(ids);
    }
    let head_len = head.len();
    let mut ids = head;
    for t in kept.into_iter().rev() {
        ids.extend(t);
    }
    ids.extend(tail);
    (ids, head_len)
}

/// Index of the largest logit.
fn argmax(logits: &[f32]) -> u32 {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &v) in logits.iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0 as u32
}

/// How many sentences `text` has ended ('.', '!' or '?' before a space or the end; not
/// the point of a decimal).
fn sentences(text: &str) -> usize {
    let b = text.as_bytes();
    (0..b.len())
        .filter(|&i| {
            matches!(b[i], b'.' | b'!' | b'?')
                && b.get(i + 1).is_none_or(|c| *c == b' ' || *c == b'\n')
        })
        .count()
}

type Out = mpsc::Sender<Result<LlmDelta, ProviderError>>;

impl Engine {
    /// Runs the model over `prompt`, returning a session positioned after it. The state
    /// after the first `head` tokens (the system block) is cached: the next turn of the same
    /// agent starts from it and computes only the conversation.
    fn prefill(
        &mut self,
        prompt: &[u32],
        head: usize,
    ) -> Result<(ModelWeights, Vec<f32>, usize), ModelError> {
        let t = std::time::Instant::now();
        let hit = self
            .prefixes
            .iter()
            .position(|(k, _)| prompt.len() > k.len() && prompt.starts_with(k));
        let (mut model, start) = match hit {
            Some(i) => {
                let entry = self.prefixes.remove(i);
                let m = entry.1.clone();
                let n = entry.0.len();
                self.prefixes.insert(0, entry);
                (m, n)
            }
            None => {
                let mut m = self.weights.clone(); // shares the weights; a fresh KV cache
                let head = head.min(prompt.len() - 1);
                if head > 0 {
                    Self::step(&mut m, &prompt[..head], 0)?;
                    self.prefixes
                        .insert(0, (prompt[..head].to_vec(), m.clone()));
                    self.prefixes.truncate(PREFIX_CACHE);
                }
                (m, head)
            }
        };
        let logits = Self::step(&mut model, &prompt[start..], start)?;
        tracing::debug!(
            tokens = prompt.len(),
            cached = start,
            ms = t.elapsed().as_millis() as u64,
            "llm prefill"
        );
        Ok((model, logits, prompt.len()))
    }

    /// Feeds `tokens` at `pos`; the logits after the last.
    fn step(model: &mut ModelWeights, tokens: &[u32], pos: usize) -> Result<Vec<f32>, ModelError> {
        let input = Tensor::new(tokens, &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .map_err(err)?;
        model
            .forward(&input, pos)
            .and_then(|l| l.squeeze(0))
            .and_then(|l| l.to_vec1())
            .map_err(err)
    }

    /// The tool-choice pass: the assistant's turn is begun with `<tool_call>[` and every
    /// further token must keep the text inside the tool grammar (no call, or one).
    fn choose_tool(
        &mut self,
        request: &LlmRequest,
        out: &Out,
    ) -> Result<Option<(String, String)>, ModelError> {
        let (_, turns) = turns(request);
        let recent = &turns[turns.len().saturating_sub(4)..];
        let (prompt, head) = render(
            &self.bpe,
            &tool_system(&request.tools),
            recent,
            "<tool_call>[\n",
            self.config.max_prompt,
        );
        let (mut model, mut logits, mut pos) = self.prefill(&prompt, head)?;
        let grammar = ToolGrammar::new(&request.tools);
        let mut checker = grammar.start_list();
        let mut call = String::new();
        for _ in 0..256 {
            if out.is_closed() {
                return Ok(None);
            }
            let mut order: Vec<u32> = (0..logits.len() as u32).collect();
            order.sort_unstable_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
            let pick = order.into_iter().find_map(|t| {
                let s = self.texts[t as usize]
                    .as_deref()
                    .filter(|s| !s.is_empty())?;
                let mut probe = checker.clone();
                probe.feed(s).then_some((t, s, probe))
            });
            let Some((token, s, next)) = pick else {
                return Ok(None);
            };
            checker = next;
            call.push_str(s);
            let mut feed = vec![token];
            let forced = checker.forced();
            if !forced.is_empty() {
                checker.feed(&forced);
                call.push_str(&forced);
                feed.extend(self.bpe.encode(&forced));
            }
            if checker.done() {
                let Some(name) = checker.tool_name() else {
                    return Ok(None);
                };
                let json = call.trim().trim_end_matches(']').trim();
                let v: serde_json::Value = serde_json::from_str(json)
                    .map_err(|e| ModelError::Runtime(format!("tool call {json:?}: {e}")))?;
                return Ok(Some((name.to_owned(), v["arguments"].to_string())));
            }
            logits = Self::step(&mut model, &feed, pos)?;
            pos += feed.len();
        }
        Ok(None)
    }

    /// The spoken reply, streamed as it is decoded.
    fn reply(&mut self, request: &LlmRequest, out: &Out) -> Result<(), ModelError> {
        let (mut system, turns) = turns(request);
        if system.is_empty() {
            system.push_str("You are a helpful phone assistant.");
        }
        let (prompt, head) = render(&self.bpe, &system, &turns, "", self.config.max_prompt);
        let (mut model, mut logits, mut pos) = self.prefill(&prompt, head)?;
        let mut generated: Vec<u32> = Vec::new();
        let mut pending: Vec<u8> = Vec::new(); // bytes not yet whole UTF-8
        let mut said = String::new();
        while generated.len() < self.config.max_tokens {
            if out.is_closed() {
                return Ok(()); // the turn was cancelled (barge-in)
            }
            for &b in &self.banned {
                logits[b as usize] = f32::NEG_INFINITY;
            }
            for &g in &generated {
                let v = &mut logits[g as usize];
                *v = if *v > 0.0 {
                    *v / self.config.repeat_penalty
                } else {
                    *v * self.config.repeat_penalty
                };
            }
            let token = argmax(&logits);
            if self.stops.contains(&token) {
                break;
            }
            generated.push(token);
            pending.extend(self.bpe.token_bytes(token));
            let valid = match std::str::from_utf8(&pending) {
                Ok(s) => s.len(),
                Err(e) => e.valid_up_to(),
            };
            let mut piece = String::from_utf8_lossy(&pending[..valid]).into_owned();
            pending.drain(..valid);
            if said.is_empty() {
                piece = piece.trim_start().to_owned();
            }
            if !piece.is_empty() {
                said.push_str(&piece);
                if out.blocking_send(Ok(LlmDelta::Text(piece))).is_err() {
                    return Ok(());
                }
            }
            if sentences(&said) >= self.config.max_sentences {
                break;
            }
            logits = Self::step(&mut model, &[token], pos)?;
            pos += 1;
        }
        Ok(())
    }

    fn generate(&mut self, request: &LlmRequest, out: &Out) -> Result<(), ModelError> {
        // after a tool's result the model speaks; otherwise it may first choose a tool
        let after_tool = request
            .messages
            .last()
            .is_some_and(|m| m.role == Role::Tool);
        if self.config.tool_calls
            && !request.tools.is_empty()
            && !after_tool
            && let Some((name, arguments)) = self.choose_tool(request, out)?
        {
            let _ = out.blocking_send(Ok(LlmDelta::ToolCall {
                index: 0,
                id: Some(format!("call_local_{}", request.messages.len())),
                name: Some(name),
                arguments,
            }));
            return Ok(());
        }
        self.reply(request, out)
    }
}

impl LlmProvider for LocalLlm {
    fn stream(&self, request: LlmRequest) -> LlmStream {
        let (tx, rx) = mpsc::channel(64);
        let done = tx.clone();
        let job = self.workers.run("local-llm", move |engine| {
            if let Err(e) = engine.generate(&request, &tx) {
                let _ =
                    tx.blocking_send(Err(ProviderError::new("local-llm", e.to_string(), false)));
            }
            Ok(())
        });
        // a busy or stopped worker pool answers at once; report it in the stream
        let status = futures::stream::once(async move {
            match job.await {
                Ok(()) => None,
                Err(e) => {
                    let _ = done.send(Err(e)).await;
                    None
                }
            }
        })
        .filter_map(|x: Option<Result<LlmDelta, ProviderError>>| async move { x });
        let deltas =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|d| (d, rx)) });
        futures::stream::select(status, deltas).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sentences_not_decimals() {
        assert_eq!(sentences("Hi. We open at 9.30 today! Ok?"), 3);
        assert_eq!(sentences("Done."), 1);
        assert_eq!(sentences("e.g.x"), 0);
    }
}
