//! Sentence embeddings with all-MiniLM-L6-v2: our WordPiece tokenizer (BERT uncased), the
//! BERT encoder from candle, mean pooling, L2 normalisation. On a worker thread behind a
//! bounded queue; embeddings of texts seen before (workflow conditions) are cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use futures::future::BoxFuture;
use vox_providers::{Embedder, ProviderError};

use crate::worker::Workers;
use crate::{ModelError, Models};

const MAX_TOKENS: usize = 128;
const QUEUE: usize = 16;

/// BERT uncased WordPiece tokenization.
#[derive(Debug)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    unk: u32,
    cls: u32,
    sep: u32,
}

impl WordPiece {
    /// From a `vocab.txt` (one token a line, id = line number).
    pub fn from_vocab(text: &str) -> Result<Self, ModelError> {
        let vocab: HashMap<String, u32> = text
            .lines()
            .enumerate()
            .map(|(i, t)| (t.to_owned(), i as u32))
            .collect();
        let id = |t: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| ModelError::Runtime(format!("vocab.txt has no {t}")))
        };
        Ok(Self {
            unk: id("[UNK]")?,
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            vocab,
        })
    }

    /// Token ids of `text` with `[CLS]` and `[SEP]`, at most `MAX_TOKENS`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.cls];
        let lower = text.to_lowercase();
        // basic tokenization: split on whitespace, and punctuation into tokens of its own
        let mut words: Vec<String> = Vec::new();
        for chunk in lower.split_whitespace() {
            let mut cur = String::new();
            for c in chunk.chars() {
                if c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace()) {
                    if !cur.is_empty() {
                        words.push(std::mem::take(&mut cur));
                    }
                    words.push(c.to_string());
                } else {
                    cur.push(c);
                }
            }
            if !cur.is_empty() {
                words.push(cur);
            }
        }
        for w in words {
            ids.extend(self.wordpiece(&w));
            if ids.len() >= MAX_TOKENS - 1 {
                ids.truncate(MAX_TOKENS - 1);
                break;
            }
        }
        ids.push(self.sep);
        ids
    }

    /// Greedy longest-match-first pieces of one word ("##" marks continuations).
    fn wordpiece(&self, word: &str) -> Vec<u32> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > 100 {
            return vec![self.unk];
        }
        let mut out = Vec::new();
        let mut start = 0;
        while start < chars.len() {
            let mut end = chars.len();
            let mut found = None;
            while start < end {
                let piece: String = chars[start..end].iter().collect();
                let key = if start > 0 {
                    format!("##{piece}")
                } else {
                    piece
                };
                if let Some(&id) = self.vocab.get(&key) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => return vec![self.unk],
            }
        }
        out
    }
}

struct Model {
    bert: BertModel,
    tokenizer: WordPiece,
}

impl Model {
    fn embed(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        let err = |e: candle_core::Error| ModelError::Runtime(format!("minilm: {e}"));
        let ids = self.tokenizer.encode(text);
        let n = ids.len();
        let input = Tensor::from_vec(ids, (1, n), &Device::Cpu).map_err(err)?;
        let types = input.zeros_like().map_err(err)?;
        let hidden = self.bert.forward(&input, &types, None).map_err(err)?; // [1, n, 384]
        let mean = (hidden.sum(1).map_err(err)? / n as f64).map_err(err)?; // [1, 384]
        let v: Vec<f32> = mean.squeeze(0).map_err(err)?.to_vec1().map_err(err)?;
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        Ok(v.into_iter().map(|x| x / norm).collect())
    }
}

/// all-MiniLM-L6-v2 on a worker thread.
#[derive(Clone)]
pub struct MiniLm {
    workers: Workers<Model>,
    cache: Arc<Mutex<HashMap<String, Vec<f32>>>>,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MiniLm")
    }
}

/// Cosine similarity of two L2-normalised vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl MiniLm {
    /// Loads the model and starts its worker.
    pub fn load(models: &Models) -> Result<Self, ModelError> {
        let weights = models.file("MiniLM weights", "minilm/model.safetensors")?;
        let vocab = models.file("MiniLM vocabulary", "minilm/vocab.txt")?;
        let config = models.file("MiniLM config", "minilm/config.json")?;
        let io = |p: &std::path::Path| {
            let p = p.display().to_string();
            move |e: std::io::Error| ModelError::Runtime(format!("{p}: {e}"))
        };
        let config: Config =
            serde_json::from_str(&std::fs::read_to_string(&config).map_err(io(&config))?)
                .map_err(|e| ModelError::Runtime(format!("minilm config: {e}")))?;
        let tokenizer =
            WordPiece::from_vocab(&std::fs::read_to_string(&vocab).map_err(io(&vocab))?)?;
        let bytes = std::fs::read(&weights).map_err(io(&weights))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)
            .map_err(|e| ModelError::Runtime(format!("minilm weights: {e}")))?;
        let bert = BertModel::load(vb, &config)
            .map_err(|e| ModelError::Runtime(format!("minilm: {e}")))?;
        let model = Model { bert, tokenizer };
        Ok(Self {
            workers: Workers::spawn("minilm", vec![model], QUEUE)?,
            cache: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Embeds texts (blocking).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let texts = texts.to_vec();
        self.workers
            .run_blocking(move |m| texts.iter().map(|t| m.embed(t)).collect())
    }
}

impl Embedder for MiniLm {
    fn embed(
        &self,
        texts: Vec<String>,
    ) -> BoxFuture<'static, Result<Vec<Vec<f32>>, ProviderError>> {
        let cache = self.cache.clone();
        self.workers.run("embed", move |m| {
            texts
                .iter()
                .map(|t| {
                    if let Some(v) = cache.lock().ok().and_then(|c| c.get(t).cloned()) {
                        return Ok(v);
                    }
                    let v = m.embed(t)?;
                    if let Ok(mut c) = cache.lock()
                        && c.len() < 10_000
                    {
                        c.insert(t.clone(), v.clone());
                    }
                    Ok(v)
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wordpiece_splits_like_bert() {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n,\nbook\n##ing\nun\n##aff\n##able\n";
        let t = WordPiece::from_vocab(vocab).expect("vocab");
        assert_eq!(
            t.encode("Hello, booking unaffable!"),
            vec![2, 4, 5, 6, 7, 8, 9, 10, 1, 3]
        );
    }
}
