//! Telnyx call set-up, sans-IO: the Ed25519 signature of its webhooks, the Call Control
//! events Vox acts on, and the command fields that stream a call to our media endpoint.
//!
//! Telnyx signs each webhook with its account's Ed25519 key: `telnyx-signature-ed25519` is
//! the base64 signature of `"{telnyx-timestamp}|{raw body}"`; the public key (base64, 32
//! bytes) is in the Mission Control portal. Timestamps more than 5 minutes off are refused,
//! so a captured webhook cannot be replayed later.

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
/// The timestamp header (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";
/// Largest accepted difference between a webhook's timestamp and our clock.
pub const TOLERANCE_SECS: i64 = 300;

/// Checks a webhook's signature; the reason when it does not hold.
pub fn verify(
    public_key_b64: &str,
    timestamp: &str,
    body: &[u8],
    signature_b64: &str,
    now_secs: i64,
) -> Result<(), &'static str> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| "missing or malformed telnyx-timestamp")?;
    if (now_secs - ts).abs() > TOLERANCE_SECS {
        return Err("telnyx-timestamp too far from now");
    }
    let key = B64
        .decode(public_key_b64.trim())
        .map_err(|_| "the configured public_key is not base64")?;
    if key.len() != 32 {
        return Err("the configured public_key is not a 32-byte Ed25519 key");
    }
    let sig = B64
        .decode(signature_b64.trim())
        .map_err(|_| "malformed telnyx-signature-ed25519")?;
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.trim().as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    UnparsedPublicKey::new(&ED25519, &key)
        .verify(&signed, &sig)
        .map_err(|_| "invalid telnyx-signature-ed25519")
}

/// A Telnyx-side signer (for fakes and tests): an Ed25519 key from a 32-byte seed.
pub struct Signer(Ed25519KeyPair);

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// The key for `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        // a 32-byte seed is always a valid Ed25519 private key
        Self(
            Ed25519KeyPair::from_seed_unchecked(seed)
                .unwrap_or_else(|_| unreachable!("any 32 bytes are an Ed25519 seed")),
        )
    }

    /// The public key, base64, as Telnyx shows it.
    pub fn public_key(&self) -> String {
        B64.encode(self.0.public_key().as_ref())
    }

    /// The signature header value for `body` sent at `timestamp`.
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let mut signed = timestamp.as_bytes().to_vec();
        signed.push(b'|');
        signed.extend_from_slice(body);
        B64.encode(self.0.sign(&signed).as_ref())
    }
}

/// The parts of a Call Control webhook Vox uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallEvent {
    /// `call.initiated`, `call.answered`, `call.hangup`, ...
    pub event_type: String,
    /// The call's id for commands.
    pub call_control_id: String,
    /// `incoming` or `outgoing`.
    pub direction: String,
    /// Caller and called numbers.
    pub from: String,
    /// The called number.
    pub to: String,
    /// The `client_state` given with an earlier command, decoded.
    pub client_state: Option<String>,
    /// `call.hangup`: why (`normal_clearing`, `user_busy`, `timeout`, `call_rejected`, ...).
    pub hangup_cause: Option<String>,
}

/// Parses a webhook body (`{"data": {"event_type", "payload": {...}}}`).
pub fn parse_event(body: &[u8]) -> Result<CallEvent, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let data = v.get("data").ok_or("no data")?;
    let p = data.get("payload").ok_or("no data.payload")?;
    let s = |o: &Value, k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(CallEvent {
        event_type: s(data, "event_type"),
        call_control_id: s(p, "call_control_id"),
        direction: s(p, "direction"),
        from: s(p, "from"),
        to: s(p, "to"),
        client_state: p
            .get("client_state")
            .and_then(Value::as_str)
            .and_then(|c| B64.decode(c).ok())
            .and_then(|b| String::from_utf8(b).ok()),
        hangup_cause: p
            .get("hangup_cause")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// `client_state` as Telnyx wants it: base64.
pub fn client_state(state: &str) -> String {
    B64.encode(state)
}

/// The fields of `actions/answer` or `POST /v2/calls` that stream the call, both ways, to
/// `stream_url` in PCMU (Telnyx's RTP mode; the codec both ways).
pub fn stream_fields(stream_url: &str) -> Value {
    json!({
        "stream_url": stream_url,
        "stream_track": "inbound_track",
        "stream_bidirectional_mode": "rtp",
        "stream_bidirectional_codec": "PCMU",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_hold_only_for_the_same_body_key_and_time() {
        let s = Signer::from_seed(&[7; 32]);
        let body = br#"{"data":{"event_type":"call.initiated"}}"#;
        let sig = s.sign("1700000000", body);
        assert_eq!(
            verify(&s.public_key(), "1700000000", body, &sig, 1_700_000_010),
            Ok(())
        );
        assert!(
            verify(&s.public_key(), "1700000000", b"{}", &sig, 1_700_000_010).is_err(),
            "another body"
        );
        assert!(
            verify(&s.public_key(), "1700000001", body, &sig, 1_700_000_010).is_err(),
            "the timestamp is signed"
        );
        assert!(
            verify(
                &Signer::from_seed(&[8; 32]).public_key(),
                "1700000000",
                body,
                &sig,
                1_700_000_010
            )
            .is_err(),
            "another key"
        );
        assert_eq!(
            verify(&s.public_key(), "1700000000", body, &sig, 1_700_000_400),
            Err("telnyx-timestamp too far from now")
        );
        assert!(verify("not base64!", "1700000000", body, &sig, 1_700_000_010).is_err());
        assert!(verify(&s.public_key(), "1700000000", body, "AAAA", 1_700_000_010).is_err());
    }

    #[test]
    fn events_carry_their_call_and_state() {
        let body = format!(
            r#"{{"data":{{"event_type":"call.hangup","id":"e1","payload":{{"call_control_id":"v3:abc","direction":"incoming","from":"+15552345678","to":"+15125550122","client_state":"{}","hangup_cause":"normal_clearing"}}}}}}"#,
            client_state("callId=call_1")
        );
        let e = parse_event(body.as_bytes()).expect("event");
        assert_eq!(
            (
                e.event_type.as_str(),
                e.call_control_id.as_str(),
                e.client_state.as_deref(),
                e.hangup_cause.as_deref()
            ),
            (
                "call.hangup",
                "v3:abc",
                Some("callId=call_1"),
                Some("normal_clearing")
            )
        );
        assert!(parse_event(b"[]").is_err());
    }
}
