//! Feeds arbitrary messages to the Twilio dialect of the stream codec (see `common`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use vox_telephony::Dialect;

const START: &str = r#"{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;

fuzz_target!(|data: &[u8]| common::run(Dialect::Twilio, START, data));
