//! Arbitrary messages to the Plivo codec, before and after a valid start; see common/mod.rs.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

const START: &str = r#"{"event":"start","start":{"callId":"c1","streamId":"s1","mediaFormat":{"encoding":"audio/x-l16","sampleRate":16000}},"extra_headers":"a=1"}"#;

fuzz_target!(|data: &[u8]| common::run(vox_telephony::Dialect::Plivo, START, data));
