//! Per-frame cost of the ingress path (what runs inline in the media reader for every
//! 20 ms of caller audio): Twilio JSON + base64, G.711 decode, resampling 8 -> 16 kHz,
//! framing, energy VAD.
//!
//! Reported as ratios measured in the same run: each stage against the 20 ms real-time
//! budget of a frame (how many calls one core could carry on this stage alone) and against
//! a baseline of copying the frame's 160 bytes. `cargo bench --bench ingress`.

use std::hint::black_box;
use std::time::Instant;

use vox_audio::{Codec, EnergyVad, EnergyVadConfig, Ingress, StreamResampler, Vad, g711};
use vox_core::{AudioFrame, INTERNAL_RATE, SampleRate};
use vox_telephony::MediaEvent;
use vox_telephony::{Dialect, StreamCodec, WsMessage};

const FRAME_NS: f64 = 20_000_000.0;

/// Median ns per iteration over `samples` batches.
fn measure(mut f: impl FnMut()) -> f64 {
    for _ in 0..2_000 {
        f();
    }
    let mut per_iter = Vec::new();
    for _ in 0..31 {
        let n = 2_000;
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        per_iter.push(t.elapsed().as_nanos() as f64 / f64::from(n));
    }
    per_iter.sort_by(f64::total_cmp);
    per_iter[per_iter.len() / 2]
}

fn speechlike_frame(i: usize) -> [u8; 160] {
    let mut f = [0u8; 160];
    for (k, b) in f.iter_mut().enumerate() {
        let t = (i * 160 + k) as f32 / 8000.0;
        let s = (t * 180.0 * std::f32::consts::TAU).sin() * 6000.0
            + (t * 730.0 * std::f32::consts::TAU).sin() * 2500.0;
        *b = g711::mulaw_encode(s as i16);
    }
    f
}

#[allow(clippy::print_stdout)]
fn main() {
    let frames: Vec<[u8; 160]> = (0..50).map(speechlike_frame).collect();
    let messages: Vec<String> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            use base64::Engine as _;
            let payload = base64::engine::general_purpose::STANDARD.encode(f);
            format!(r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"{}","timestamp":"{}","payload":"{payload}"}},"streamSid":"MZ1"}}"#, i + 2, i + 1, i * 20)
        })
        .collect();

    let mut i = 0usize;
    let mut copy_dst = [0u8; 160];
    let baseline = measure(|| {
        i = (i + 1) % frames.len();
        copy_dst.copy_from_slice(black_box(&frames[i]));
        black_box(&copy_dst);
    });

    let start = r#"{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;
    let started = || {
        let mut c = StreamCodec::new(Dialect::Twilio, 64 * 1024);
        let _ = c.feed(WsMessage::Text(start));
        while c.next_event().is_some() {}
        c
    };
    let mut codec = started();
    let parse = measure(|| {
        i = (i + 1) % messages.len();
        let _ = codec.feed(WsMessage::Text(black_box(&messages[i])));
        while let Some(e) = codec.next_event() {
            if let MediaEvent::Media { payload, .. } = e {
                black_box(payload.len());
            }
        }
    });

    let mut pcm = [0i16; 160];
    let decode = measure(|| {
        i = (i + 1) % frames.len();
        for (o, b) in pcm.iter_mut().zip(black_box(&frames[i])) {
            *o = g711::mulaw_decode(*b);
        }
        black_box(&pcm);
    });

    let mut rs = StreamResampler::new(SampleRate(8000), INTERNAL_RATE).expect("rates");
    let mut out = Vec::with_capacity(1024);
    let decoded: Vec<Vec<i16>> = frames
        .iter()
        .map(|f| f.iter().map(|&b| g711::mulaw_decode(b)).collect())
        .collect();
    let resample = measure(|| {
        i = (i + 1) % decoded.len();
        out.clear();
        rs.process(black_box(&decoded[i]), &mut out);
        black_box(&out);
    });

    let mut vad = EnergyVad::new(EnergyVadConfig::default());
    let internal: Vec<AudioFrame> = {
        let mut ing = Ingress::new(Codec::MuLaw, SampleRate(8000)).expect("rates");
        let mut v = Vec::new();
        for f in &frames {
            ing.push(f, |fr| v.push(fr));
        }
        v
    };
    let vad_cost = measure(|| {
        i = (i + 1) % internal.len();
        black_box(vad.process(black_box(&internal[i])));
    });

    let mut ingress = Ingress::new(Codec::MuLaw, SampleRate(8000)).expect("rates");
    let mut vad2 = EnergyVad::new(EnergyVadConfig::default());
    let chain = measure(|| {
        i = (i + 1) % frames.len();
        ingress.push(black_box(&frames[i]), |fr| {
            black_box(vad2.process(&fr));
        });
    });

    let mut codec2 = started();
    let mut ingress2 = Ingress::new(Codec::MuLaw, SampleRate(8000)).expect("rates");
    let mut vad3 = EnergyVad::new(EnergyVadConfig::default());
    let full = measure(|| {
        i = (i + 1) % messages.len();
        let _ = codec2.feed(WsMessage::Text(black_box(&messages[i])));
        while let Some(e) = codec2.next_event() {
            if let MediaEvent::Media { payload, .. } = e {
                ingress2.push(payload, |fr| {
                    black_box(vad3.process(&fr));
                });
            }
        }
    });

    let models = vox_models::Models::new(
        std::env::var("VOX_MODELS_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../models").into()),
    );
    let silero = match vox_models::SileroModel::load(&models, 1) {
        Ok(model) => {
            let mut v = vox_models::SileroVad::new(model, vox_models::SileroConfig::default());
            Some(measure(|| {
                i = (i + 1) % internal.len();
                black_box(v.process(black_box(&internal[i])));
            }))
        }
        Err(e) => {
            println!("(Silero VAD not measured: {e})");
            None
        }
    };

    println!("ingress cost per 20 ms caller frame (median of 31 batches of 2000)");
    println!(
        "{:<44} {:>10} {:>14} {:>14}",
        "stage", "ns/frame", "x baseline", "frames per 20ms"
    );
    for (name, ns) in [
        ("baseline: copy 160 bytes", baseline),
        ("twilio JSON + base64 (StreamCodec)", parse),
        ("G.711 mu-law decode", decode),
        ("resample 8 -> 16 kHz (rubato septic)", resample),
        ("energy VAD (one 16 kHz frame)", vad_cost),
        ("decode + resample + frame + VAD", chain),
        ("all of the above from the JSON message", full),
    ]
    .into_iter()
    .chain(silero.map(|ns| ("Silero VAD v5 (one 16 kHz frame, ORT)", ns)))
    {
        println!(
            "{name:<44} {ns:>10.0} {:>14.1} {:>14.0}",
            ns / baseline,
            FRAME_NS / ns
        );
    }
    println!("(frames per 20ms = calls one core could carry on that stage alone)");
}
