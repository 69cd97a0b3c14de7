//! Arbitrary messages to the Vonage codec, before and after a valid start; see common/mod.rs.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

const START: &str =
    r#"{"event":"websocket:connected","content-type":"audio/l16;rate=16000","agentId":"echo"}"#;

fuzz_target!(|data: &[u8]| common::run(vox_telephony::Dialect::Vonage, START, data));
