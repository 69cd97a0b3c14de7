//! Arbitrary messages to the Exotel codec, before and after a valid start; see common/mod.rs.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

const START: &str = r#"{"event":"start","stream_sid":"s1","start":{"stream_sid":"s1","call_sid":"c1","media_format":{"encoding":"audio/x-raw","sample_rate":"8000","bit_rate":"16"}}}"#;

fuzz_target!(|data: &[u8]| common::run(vox_telephony::Dialect::Exotel, START, data));
