//! Local model latency, as ratios measured in the same run. `cargo bench --bench models`
//! (needs `vox models fetch`; prints what it skips).
//!
//! Smart Turn: per end-of-turn decision, log-mel features of 8 s of audio, then inference;
//! reported in ms and as a fraction of the 8 s analysed (real-time factor).

use std::hint::black_box;
use std::time::Instant;

use vox_audio::mel::LogMel;
use vox_models::{Models, SmartTurn};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[allow(clippy::print_stdout)]
fn main() {
    let dir = std::env::var("VOX_MODELS_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../models").into());
    let models = Models::new(dir);
    let audio: Vec<i16> = vox_audio::wav::read_mono_at(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/speech/conf-onlyperson.wav")),
        vox_core::INTERNAL_RATE,
    )
    .expect("fixture");
    let mel = LogMel::new();
    let x: Vec<f32> = (0..128_000).map(|i| f32::from(audio[i % audio.len()]) / 32768.0).collect();
    let features: Vec<f64> = (0..20)
        .map(|_| {
            let t = Instant::now();
            black_box(mel.compute(black_box(&x)));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let feat = median(features);
    match SmartTurn::load(&models, 1) {
        Ok(st) => {
            let _ = st.predict_blocking(&audio);
            let total: Vec<f64> = (0..20)
                .map(|_| {
                    let t = Instant::now();
                    black_box(st.predict_blocking(black_box(&audio)).expect("predict"));
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            let total = median(total);
            println!("Smart Turn v3.2 per decision (median of 20): {total:.1} ms = {:.4} of the 8 s analysed", total / 8000.0);
            println!("  of which log-mel features {feat:.1} ms ({:.0}%), inference {:.1} ms", feat / total * 100.0, total - feat);
        }
        Err(e) => println!("Smart Turn not measured: {e} (log-mel features alone: {feat:.1} ms)"),
    }
}
