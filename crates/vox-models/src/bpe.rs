//! Byte-level BPE (GPT-2 family) tokenization from a GGUF file's vocabulary and merges, for
//! the local LLM. Pre-tokenization follows llama.cpp's "smollm" rules: every digit on its
//! own, then GPT-2's split (contractions, optional space + letters, optional space +
//! punctuation, whitespace runs that leave their last space to the next word).

use std::collections::HashMap;

use crate::ModelError;

/// GPT-2's byte-level alphabet: the unicode character standing for each byte.
pub(crate) fn byte_chars() -> [char; 256] {
    let mut map = ['\0'; 256];
    let printable = |b: u32| {
        (u32::from('!')..=u32::from('~')).contains(&b)
            || (0xA1..=0xAC).contains(&b)
            || (0xAE..=0xFF).contains(&b)
    };
    let mut n = 0;
    for b in 0..256u32 {
        let c = if printable(b) {
            b
        } else {
            n += 1;
            255 + n
        };
        map[b as usize] = char::from_u32(c).unwrap_or('\0');
    }
    map
}

/// The inverse of [`byte_chars`].
pub(crate) fn byte_decoder() -> HashMap<char, u8> {
    byte_chars()
        .iter()
        .enumerate()
        .map(|(b, &c)| (c, b as u8))
        .collect()
}

/// A byte-level BPE tokenizer.
#[derive(Debug)]
pub struct Bpe {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
    ranks: HashMap<(String, String), usize>,
    /// Control / user-defined tokens matched literally in the input, longest first.
    specials: Vec<(String, u32)>,
    encoder: [char; 256],
    decoder: HashMap<char, u8>,
}

impl Bpe {
    /// From the vocabulary (token strings in the byte alphabet), the token types (3 and 4
    /// are control and user-defined tokens, matched literally) and the merges ("a b").
    pub fn new(tokens: Vec<String>, types: &[i32], merges: &[String]) -> Result<Self, ModelError> {
        let ids: HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let mut ranks = HashMap::with_capacity(merges.len());
        for (rank, m) in merges.iter().enumerate() {
            let (a, b) = m
                .split_once(' ')
                .ok_or_else(|| ModelError::Runtime(format!("bad BPE merge {m:?}")))?;
            ranks.insert((a.to_owned(), b.to_owned()), rank);
        }
        let mut specials: Vec<(String, u32)> = tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| matches!(types.get(*i), Some(3 | 4)))
            .map(|(i, t)| (t.clone(), i as u32))
            .filter(|(t, _)| !t.is_empty())
            .collect();
        specials.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        Ok(Self {
            tokens,
            ids,
            ranks,
            specials,
            encoder: byte_chars(),
            decoder: byte_decoder(),
        })
    }

    /// From a GGUF file's `tokenizer.ggml.*` metadata.
    pub fn from_gguf(path: &std::path::Path) -> Result<Self, ModelError> {
        let mut file = std::fs::File::open(path)
            .map_err(|e| ModelError::Runtime(format!("{}: {e}", path.display())))?;
        let content = candle_core::quantized::gguf_file::Content::read(&mut file)
            .map_err(|e| ModelError::Runtime(format!("{}: {e}", path.display())))?;
        Self::from_metadata(&content.metadata, path)
    }

    pub(crate) fn from_metadata(
        md: &std::collections::HashMap<String, candle_core::quantized::gguf_file::Value>,
        path: &std::path::Path,
    ) -> Result<Self, ModelError> {
        let err = |e: candle_core::Error| ModelError::Runtime(format!("{}: {e}", path.display()));
        let get = |k: &str| {
            md.get(k)
                .ok_or_else(|| ModelError::Runtime(format!("{}: no {k}", path.display())))
        };
        let strings = |k: &str| -> Result<Vec<String>, ModelError> {
            get(k)?
                .to_vec()
                .map_err(err)?
                .iter()
                .map(|v| v.to_string().cloned().map_err(err))
                .collect()
        };
        let types: Vec<i32> = get("tokenizer.ggml.token_type")?
            .to_vec()
            .map_err(err)?
            .iter()
            .map(|v| v.to_i32().unwrap_or(1))
            .collect();
        Self::new(
            strings("tokenizer.ggml.tokens")?,
            &types,
            &strings("tokenizer.ggml.merges")?,
        )
    }

    /// Whether token `id` is a control or user-defined token.
    pub fn is_special(&self, id: u32) -> bool {
        self.specials.iter().any(|&(_, i)| i == id)
    }

    /// Vocabulary size.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of a token given by its exact string (special tokens included).
    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// Token ids of `text`; special tokens written in it are recognised.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            // the earliest special token in the rest
            let found = self
                .specials
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s.len(), *id)))
                .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)));
            match found {
                Some((at, len, id)) => {
                    self.encode_plain(&rest[..at], &mut out);
                    out.push(id);
                    rest = &rest[at + len..];
                }
                None => {
                    self.encode_plain(rest, &mut out);
                    break;
                }
            }
        }
        out
    }

    fn encode_plain(&self, text: &str, out: &mut Vec<u32>) {
        for piece in pretokenize(text) {
            let mapped: String = piece.bytes().map(|b| self.encoder[b as usize]).collect();
            if let Some(&id) = self.ids.get(&mapped) {
                out.push(id);
                continue;
            }
            let mut parts: Vec<String> = mapped.chars().map(String::from).collect();
            loop {
                let best = parts
                    .windows(2)
                    .enumerate()
                    .filter_map(|(i, w)| {
                        self.ranks
                            .get(&(w[0].clone(), w[1].clone()))
                            .map(|&r| (r, i))
                    })
                    .min();
                let Some((_, i)) = best else { break };
                let merged = format!("{}{}", parts[i], parts[i + 1]);
                parts[i] = merged;
                parts.remove(i + 1);
            }
            for p in parts {
                match self.ids.get(&p) {
                    Some(&id) => out.push(id),
                    // every single byte is in a byte-level vocabulary; be safe anyway
                    None => out.extend(
                        p.chars()
                            .filter_map(|c| self.ids.get(&c.to_string()).copied()),
                    ),
                }
            }
        }
    }

    /// The bytes a token stands for (special tokens: their text).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let Some(t) = self.tokens.get(id as usize) else {
            return Vec::new();
        };
        if self.is_special(id) {
            return t.as_bytes().to_vec();
        }
        t.chars()
            .map(|c| self.decoder.get(&c).copied().unwrap_or(b'?'))
            .collect()
    }

    /// Text of a token sequence.
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&i| self.token_bytes(i)).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn is_letter(c: char) -> bool {
    c.is_alphabetic()
}

fn is_digit(c: char) -> bool {
    c.is_numeric()
}

/// Splits text into the pieces BPE runs on.
pub(crate) fn pretokenize(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    // every digit alone; the stretches between go through GPT-2's split
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if is_digit(c) {
            gpt2_split(&text[start..i], &mut out);
            out.push(&text[i..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    gpt2_split(&text[start..], &mut out);
    out
}

fn gpt2_split<'a>(s: &'a str, out: &mut Vec<&'a str>) {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let at = |k: usize| chars.get(k).map(|&(_, c)| c);
    let pos = |k: usize| chars.get(k).map_or(s.len(), |&(i, _)| i);
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k].1;
        let begin = k;
        // contractions
        if c == '\'' {
            let rest = &s[pos(k)..];
            if let Some(len) = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
                .iter()
                .find(|p| rest.starts_with(**p))
                .map(|p| p.chars().count())
            {
                k += len;
                out.push(&s[pos(begin)..pos(k)]);
                continue;
            }
        }
        let space_then = |pred: fn(char) -> bool| c == ' ' && at(k + 1).is_some_and(pred);
        let punct = |ch: char| !ch.is_whitespace() && !is_letter(ch) && !is_digit(ch);
        if is_letter(c) || space_then(is_letter) {
            if c == ' ' {
                k += 1;
            }
            while at(k).is_some_and(is_letter) {
                k += 1;
            }
        } else if punct(c) || space_then(punct) {
            if c == ' ' {
                k += 1;
            }
            while at(k).is_some_and(punct) {
                k += 1;
            }
        } else if c.is_whitespace() {
            while at(k).is_some_and(char::is_whitespace) {
                k += 1;
            }
            // a run followed by a word leaves its last character to that word
            if k < chars.len() && k - begin > 1 {
                k -= 1;
            }
        } else {
            k += 1; // a digit cannot reach here (split before); anything else alone
        }
        out.push(&s[pos(begin)..pos(k)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretokenizes_like_gpt2_with_single_digits() {
        assert_eq!(
            pretokenize("Hello world, it's 2025!"),
            vec![
                "Hello", " world", ",", " it", "'s", " ", "2", "0", "2", "5", "!"
            ]
        );
        assert_eq!(
            pretokenize("a  b\n\nc "),
            vec!["a", " ", " b", "\n", "\n", "c", " "]
        );
        assert_eq!(
            pretokenize("{\"name\": \"x\"}"),
            vec!["{\"", "name", "\":", " \"", "x", "\"}"]
        );
    }

    #[test]
    fn byte_alphabet_round_trips() {
        let enc = byte_chars();
        let dec = byte_decoder();
        assert_eq!(dec.len(), 256);
        for b in 0..=255u8 {
            assert_eq!(dec[&enc[b as usize]], b);
        }
        assert_eq!(enc[b' ' as usize], 'Ġ');
        assert_eq!(enc[b'\n' as usize], 'Ċ');
    }

    #[test]
    fn merges_by_rank_and_keeps_specials_whole() {
        let toks: Vec<String> = [
            "<|im_end|>",
            "h",
            "e",
            "l",
            "o",
            "he",
            "ll",
            "hell",
            "hello",
            "Ġ",
            "Ġh",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let types = [3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        let merges: Vec<String> = ["h e", "l l", "he ll", "hell o", "Ġ h"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let bpe = Bpe::new(toks, &types, &merges).expect("bpe");
        assert_eq!(bpe.encode("hello<|im_end|>"), vec![8, 0]);
        assert_eq!(bpe.encode("hel"), vec![5, 3]);
        assert_eq!(bpe.decode(&[10, 4]), " ho");
        assert_eq!(bpe.decode(&[0]), "<|im_end|>");
    }
}
