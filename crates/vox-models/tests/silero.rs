//! Silero VAD on real audio. Needs the models (`vox models fetch`); skips with a printed
//! reason when they are absent. CI fetches them, so this runs there.

use std::path::PathBuf;

use vox_audio::{EnergyVad, EnergyVadConfig, Framer, Vad, wav};
use vox_core::{AudioFrame, INTERNAL_RATE, VadEvent};
use vox_models::{Models, SileroConfig, SileroModel, SileroVad};

fn models() -> Option<Models> {
    vox_models::testing::models_or_skip(&[("Silero VAD", "silero/silero_vad.onnx")], false)
}

fn frames(samples: &[i16]) -> Vec<AudioFrame> {
    let mut f = Framer::new();
    let mut out = Vec::new();
    f.push(samples, |fr| out.push(fr));
    out
}

fn events(vad: &mut dyn Vad, frames: &[AudioFrame]) -> Vec<(usize, VadEvent)> {
    frames
        .iter()
        .enumerate()
        .filter_map(|(i, f)| vad.process(f).event.map(|e| (i, e)))
        .collect()
}

#[test]
fn detects_each_caller_utterance_once() {
    let Some(m) = models() else { return };
    let model = SileroModel::load(&m, 2).expect("load silero");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/audio");
    for name in ["book-1", "interrupt-1", "bye-1"] {
        let mut samples = vec![0i16; 16_000]; // 1 s of silence first
        samples.extend(
            wav::read_mono_at(&root.join(format!("{name}.wav")), INTERNAL_RATE).expect("wav"),
        );
        samples.extend(vec![0i16; 16_000]);
        let mut vad = SileroVad::new(
            model.clone(),
            SileroConfig {
                stop_ms: 600,
                ..SileroConfig::default()
            },
        );
        let ev = events(&mut vad, &frames(&samples));
        let starts: Vec<usize> = ev
            .iter()
            .filter(|e| e.1 == VadEvent::SpeechStart)
            .map(|e| e.0)
            .collect();
        let ends = ev.iter().filter(|e| e.1 == VadEvent::SpeechEnd).count();
        assert_eq!((starts.len(), ends), (1, 1), "{name}: {ev:?}");
        // speech starts within the first half second of the clip (it begins after 1 s of silence)
        assert!(
            (50..80).contains(&starts[0]),
            "{name}: onset at frame {}",
            starts[0]
        );
    }
}

#[test]
fn steady_noise_is_not_speech_for_silero_but_is_for_the_energy_vad() {
    let Some(m) = models() else { return };
    let model = SileroModel::load(&m, 1).expect("load silero");
    // 3 s of white noise at about -25 dBFS (a deterministic LCG)
    let mut x: u32 = 12345;
    let noise: Vec<i16> = (0..48_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (((x >> 16) & 0x7fff) as i32 - 16384) as i16 / 9
        })
        .collect();
    let f = frames(&noise);
    let mut silero = SileroVad::new(model, SileroConfig::default());
    let mut energy = EnergyVad::new(EnergyVadConfig::default());
    assert!(
        events(&mut silero, &f).is_empty(),
        "Silero ignores steady noise"
    );
    assert!(
        !events(&mut energy, &f).is_empty(),
        "the energy VAD does not: the reason to prefer Silero"
    );
}

/// Silero's recurrent state is carried through the whole call; if non-speech shifted it, speech
/// after long pauses would be heard ending later and later. The same utterance repeated through
/// a call (phone-quality, with the silence of the agent's replies between) must be heard ending
/// at the same point every time.
#[test]
fn end_of_speech_does_not_drift_over_a_long_call() {
    let Some(m) = models() else { return };
    let model = SileroModel::load(&m, 1).expect("load silero");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/audio");
    // through the phone path: 8 kHz mu-law, back to 16 kHz, as a Twilio caller arrives
    let at8k =
        wav::read_mono_at(&root.join("book-1.wav"), vox_core::SampleRate(8000)).expect("wav");
    let phone: Vec<i16> = at8k
        .iter()
        .map(|&s| vox_audio::g711::mulaw_decode(vox_audio::g711::mulaw_encode(s)))
        .collect();
    let mut utterance = Vec::new();
    vox_audio::StreamResampler::new(vox_core::SampleRate(8000), INTERNAL_RATE)
        .expect("rates")
        .process(&phone, &mut utterance);
    let utterance: Vec<i16> = utterance
        .iter()
        .copied()
        .take(utterance.len() / 320 * 320)
        .collect();
    let gap = vec![vox_audio::g711::mulaw_decode(vox_audio::g711::mulaw_encode(0)); 16_000 * 5];
    let mut vad = SileroVad::new(model, SileroConfig::default());
    let mut ends = Vec::new();
    let mut turn = utterance.clone();
    turn.extend_from_slice(&gap[..16_000 * 2]);
    let turn = frames(&turn);
    for _ in 0..12 {
        events(&mut vad, &frames(&gap));
        let ev = events(&mut vad, &turn);
        assert!(
            ev.iter().any(|e| e.1 == VadEvent::SpeechStart),
            "speech heard: {ev:?}"
        );
        ends.push(
            ev.iter()
                .rfind(|e| e.1 == VadEvent::SpeechEnd)
                .map(|e| e.0)
                .expect("its end heard"),
        );
    }
    let first = ends[0];
    // Silero scores 32 ms windows, the VAD speaks per 20 ms frame: the two grids' phase moves
    // between repetitions, so a frame either way is not drift
    assert!(
        ends.iter().all(|e| e.abs_diff(first) <= 2),
        "frames from the turn's start to SpeechEnd, per repetition: {ends:?}"
    );
}
