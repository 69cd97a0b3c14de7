//! Exotel call set-up, sans-IO. Exotel signs nothing: its applets call the URLs configured in
//! a flow, with HTTP Basic credentials when the URL carries them
//! (`https://KEY:TOKEN@vox.example.com/exotel/voicebot`); Vox checks them against the pool's
//! API key and token. The Voicebot applet's URL may be an HTTPS endpoint that answers the
//! WebSocket URL to stream to: `{"url": "wss://..."}`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;

/// Whether `authorization` is HTTP Basic with exactly `user` and `password` (the comparison
/// takes the same time wherever the credentials differ).
pub fn basic_auth_ok(authorization: Option<&str>, user: &str, password: &str) -> bool {
    let Some(given) = authorization
        .and_then(|a| a.trim().strip_prefix("Basic "))
        .and_then(|b| B64.decode(b.trim()).ok())
    else {
        return false;
    };
    let want = format!("{user}:{password}").into_bytes();
    let mut diff = given.len() ^ want.len();
    for (i, w) in want.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ w);
    }
    diff == 0 && !user.is_empty()
}

/// The `Authorization` header for `user` and `password`.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", B64.encode(format!("{user}:{password}")))
}

/// The Voicebot applet's answer: the stream URL.
pub fn voicebot_answer(ws_url: &str) -> String {
    json!({"url": ws_url}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_must_match_exactly() {
        let ok = basic_auth("key", "token");
        assert!(basic_auth_ok(Some(&ok), "key", "token"));
        assert!(!basic_auth_ok(Some(&ok), "key", "token2"));
        assert!(!basic_auth_ok(
            Some(&basic_auth("key", "toke")),
            "key",
            "token"
        ));
        assert!(!basic_auth_ok(None, "key", "token"));
        assert!(!basic_auth_ok(Some("Bearer x"), "key", "token"));
        assert!(
            !basic_auth_ok(Some(&basic_auth("", "")), "", ""),
            "empty credentials never pass"
        );
        assert_eq!(
            voicebot_answer("wss://v/media/exotel?callId=c"),
            r#"{"url":"wss://v/media/exotel?callId=c"}"#
        );
    }
}
