//! Arbitrary messages to the Telnyx codec, before and after a valid start; see common/mod.rs.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

const START: &str = r#"{"event":"start","stream_id":"s1","start":{"call_control_id":"v3:1","media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}}"#;

fuzz_target!(|data: &[u8]| common::run(vox_telephony::Dialect::Telnyx, START, data));
