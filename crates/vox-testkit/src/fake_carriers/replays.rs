//! A carrier's set-up webhook sent again, altered and late, as an attacker who captured one
//! would: what Vox answered to each.

use serde_json::json;

use super::{CarrierKind, FakeCarrier, new_id, now_secs, plivo_voice, telnyx_voice, vonage_voice};

/// The HTTP statuses of one replay suite (see [`FakeCarrier::replay_suite`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replays {
    /// The signed set-up request for a new carrier call, sent once.
    pub first: u16,
    /// The same request again, byte for byte.
    pub replayed: u16,
    /// The same signature over a request whose called number was changed (to one outside
    /// the pool).
    pub tampered: u16,
    /// A request signed correctly but outside the carrier's time window; `None` where the
    /// carrier signs no time (Plivo, Exotel).
    pub stale: Option<u16>,
}

/// Ten minutes: older than any carrier's tolerance.
const STALE_SECS: i64 = 600;

impl FakeCarrier {
    /// Sends Vox (at `vox_base`) a set-up webhook for a new call to `to`, then replays and
    /// tampers with it. The stale request is about yet another call id, so only its time is
    /// wrong.
    pub async fn replay_suite(&self, vox_base: &str, to: &str) -> Replays {
        let s = &self.shared;
        let sid = format!("{}-replayed-{}", s.kind.name(), new_id());
        let from = "+15552345670";
        let other_to = "+15125550199";
        let status = |r: reqwest::RequestBuilder| async move {
            r.send().await.map_or(0, |r| r.status().as_u16())
        };
        match s.kind {
            CarrierKind::Telnyx => {
                let url = format!("{vox_base}/telnyx/webhook");
                let event = |sid: &str, to: &str| {
                    json!({"data": {"event_type": "call.initiated", "id": new_id(), "payload": {
                        "call_control_id": sid, "direction": "incoming", "from": from, "to": to,
                        "state": "parked"}}})
                    .to_string()
                };
                let send = |ts: i64, sig: &str, body: &str| {
                    s.http
                        .post(&url)
                        .header(telnyx_voice::SIGNATURE_HEADER, sig)
                        .header(telnyx_voice::TIMESTAMP_HEADER, ts.to_string())
                        .header("content-type", "application/json")
                        .body(body.to_owned())
                };
                let now = now_secs();
                let body = event(&sid, to);
                let sig = s.telnyx.sign(&now.to_string(), body.as_bytes());
                let old = now - STALE_SECS;
                let late = event(&format!("{sid}-late"), to);
                let late_sig = s.telnyx.sign(&old.to_string(), late.as_bytes());
                Replays {
                    first: status(send(now, &sig, &body)).await,
                    replayed: status(send(now, &sig, &body)).await,
                    tampered: status(send(now, &sig, &body.replace(to, other_to))).await,
                    stale: Some(status(send(old, &late_sig, &late)).await),
                }
            }
            CarrierKind::Plivo => {
                let url = format!("{vox_base}/plivo/answer");
                let params = |to: &str| {
                    vec![
                        ("CallUUID".to_owned(), sid.clone()),
                        ("From".to_owned(), from.trim_start_matches('+').to_owned()),
                        ("To".to_owned(), to.trim_start_matches('+').to_owned()),
                        ("Direction".to_owned(), "inbound".to_owned()),
                    ]
                };
                let nonce = new_id();
                let sig = plivo_voice::signature(&s.secret, "POST", &url, &params(to), &nonce);
                let send = |params: Vec<(String, String)>| {
                    s.http
                        .post(&url)
                        .header("X-Plivo-Signature-V3-Nonce", &nonce)
                        .header("X-Plivo-Signature-V3", &sig)
                        .form(&params)
                };
                Replays {
                    first: status(send(params(to))).await,
                    replayed: status(send(params(to))).await,
                    tampered: status(send(params(other_to))).await,
                    stale: None,
                }
            }
            CarrierKind::Vonage => {
                let send = |token: &str, to: &str, uuid: &str| {
                    let query = serde_urlencoded::to_string([
                        ("to", vonage_voice::digits(to)),
                        ("from", vonage_voice::digits(from)),
                        ("uuid", uuid.to_owned()),
                    ])
                    .unwrap_or_default();
                    s.http
                        .get(format!("{vox_base}/vonage/answer?{query}"))
                        .bearer_auth(token)
                };
                let token = vonage_voice::sign_webhook(&s.secret, b"", now_secs());
                let late = vonage_voice::sign_webhook(&s.secret, b"", now_secs() - STALE_SECS);
                Replays {
                    first: status(send(&token, to, &sid)).await,
                    replayed: status(send(&token, to, &sid)).await,
                    tampered: status(send(&token, other_to, &format!("{sid}-other"))).await,
                    stale: Some(status(send(&late, to, &format!("{sid}-late"))).await),
                }
            }
            CarrierKind::Exotel => {
                // Exotel signs nothing: its requests carry the account's basic-auth
                // credentials, so a changed parameter cannot be told from a real one; the
                // call id (CallSid) is what makes a replay a no-op
                let send = |to: &str| {
                    let query = serde_urlencoded::to_string([
                        ("CallSid", sid.as_str()),
                        ("CallFrom", from),
                        ("CallTo", to),
                        ("Direction", "incoming"),
                    ])
                    .unwrap_or_default();
                    s.http
                        .get(format!("{vox_base}/exotel/voicebot?{query}"))
                        .basic_auth(&s.user, Some(&s.secret))
                };
                Replays {
                    first: status(send(to)).await,
                    replayed: status(send(to)).await,
                    tampered: status(send(other_to)).await,
                    stale: None,
                }
            }
        }
    }
}
