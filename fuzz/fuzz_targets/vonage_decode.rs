//! Arbitrary messages to the Vonage dialect of the stream codec, before and after its
//! documented first message (`tests/data/carriers/vonage/`, also the seed corpus); see
//! common/mod.rs.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

const START: &str = include_str!("../../tests/data/carriers/vonage/connected.json");

fuzz_target!(|data: &[u8]| common::run(vox_telephony::Dialect::Vonage, START, data));
