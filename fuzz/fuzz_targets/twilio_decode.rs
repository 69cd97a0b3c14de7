//! Feeds arbitrary bytes to the Twilio codec, as one message or as a stream of messages,
//! both before and after a valid `start`. The codec must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vox_telephony::twilio::TwilioCodec;

const START: &str = r#"{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut fresh = TwilioCodec::new(4096);
    let _ = fresh.decode(text);
    let mut started = TwilioCodec::new(4096);
    let _ = started.decode(START);
    for line in text.split('\n') {
        let _ = started.decode(line);
    }
    let _ = started.encode(vox_telephony::Outbound::Mark(text));
});
