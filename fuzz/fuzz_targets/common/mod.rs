//! Shared by the per-dialect targets: arbitrary bytes as a stream of WebSocket messages,
//! before and after a valid start, and through the encoder. The codec must never panic.

use vox_telephony::{Dialect, Outbound, StreamCodec, WsFrame, WsMessage};

/// `data` is split at 0xFF bytes into messages; a message that starts with a 0x00 byte is a
/// binary frame (the rest of it), any other is text (when it is UTF-8), so the documented
/// JSON messages in tests/data/carriers/ are seeds as they are.
pub fn run(dialect: Dialect, start: &str, data: &[u8]) {
    let mut fresh = StreamCodec::new(dialect, 4096);
    let mut started = StreamCodec::new(dialect, 4096);
    let _ = started.feed(WsMessage::Text(start));
    while started.next_event().is_some() {}
    for msg in data.split(|&b| b == 0xff) {
        let m = match msg.first() {
            Some(0) => WsMessage::Binary(&msg[1..]),
            _ => match std::str::from_utf8(msg) {
                Ok(t) => WsMessage::Text(t),
                Err(_) => continue,
            },
        };
        for c in [&mut fresh, &mut started] {
            let _ = c.feed(m);
            while c.next_event().is_some() {}
        }
    }
    started.end_of_stream();
    while started.next_event().is_some() {}
    let mut out: Vec<WsFrame> = Vec::new();
    started.encode(Outbound::Media(data), &mut out);
    started.encode(Outbound::Mark(&String::from_utf8_lossy(data)), &mut out);
    started.flush(&mut out);
    started.encode(Outbound::Clear, &mut out);
}
