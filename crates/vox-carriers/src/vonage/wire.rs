//! Vonage call set-up, sans-IO: the JWTs of its Voice API and the NCCOs Vox answers with.
//!
//! - Signed webhooks: Vonage puts `Authorization: Bearer <JWT>` on its answer and event
//!   webhooks, HS256 with the account's signature secret; for a request with a body the
//!   claims carry `payload_hash`, the hex SHA-256 of the body. Accepted only with alg HS256,
//!   a valid signature, `iat` within 5 minutes and the body's hash.
//! - API calls: `Authorization: Bearer <JWT>`, RS256 with the application's private key,
//!   claims `application_id`, `iat`, `exp`, `jti`.
//! - NCCO: `connect` to a `websocket` endpoint (`audio/l16;rate=16000`), with `headers` that
//!   arrive in the stream's first message.

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Digest as _;
use vox_crypto::jwt;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Largest accepted age (or future skew) of a webhook token's `iat`.
pub const TOLERANCE_SECS: i64 = 300;

/// Checks a webhook's `Authorization` header; the claims when it holds.
pub fn verify_webhook(
    signature_secret: &str,
    authorization: &str,
    body: &[u8],
    now_secs: i64,
) -> Result<Value, &'static str> {
    let token = authorization
        .trim()
        .strip_prefix("Bearer ")
        .ok_or("no Bearer token")?;
    let jwt::Parts {
        signing_input,
        header,
        claims,
        signature,
    } = jwt::split(token)?;
    if header["alg"] != "HS256" {
        return Err("the token is not HS256");
    }
    let mut m = HmacSha256::new_from_slice(signature_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    m.update(signing_input.as_bytes());
    m.verify_slice(&signature)
        .map_err(|_| "invalid signature")?;
    let iat = claims["iat"].as_i64().ok_or("no iat")?;
    if (now_secs - iat).abs() > TOLERANCE_SECS {
        return Err("iat too far from now");
    }
    if !body.is_empty() {
        let want = hex(&sha2::Sha256::digest(body));
        if claims["payload_hash"].as_str() != Some(want.as_str()) {
            return Err("payload_hash does not match the body");
        }
    }
    Ok(claims)
}

/// A webhook token as Vonage signs it (for fakes and tests).
pub fn sign_webhook(signature_secret: &str, body: &[u8], now_secs: i64) -> String {
    let mut claims =
        json!({"iat": now_secs, "jti": uuid::Uuid::new_v4().to_string(), "iss": "Vonage"});
    if !body.is_empty() {
        claims["payload_hash"] = json!(hex(&sha2::Sha256::digest(body)));
    }
    let signed = jwt::signing_input(&json!({"alg": "HS256", "typ": "JWT"}), &claims);
    let mut m = HmacSha256::new_from_slice(signature_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    m.update(signed.as_bytes());
    jwt::with_signature(&signed, &m.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An application's private key, from PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
#[derive(Debug)]
pub struct ApiKey(jwt::RsaKey);

impl ApiKey {
    /// Parses the PEM text Vonage's dashboard downloads.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        jwt::RsaKey::from_pem(pem).map(Self)
    }

    /// A token for one API request.
    pub fn token(&self, application_id: &str, now_secs: i64, jti: &str) -> Result<String, String> {
        self.0.sign(&json!({"application_id": application_id, "iat": now_secs, "exp": now_secs + 300, "jti": jti}))
    }
}

/// Checks an API token against the application's public key (DER RSAPublicKey): what Vonage
/// does with our requests (for fakes and tests). The claims when it holds.
pub fn verify_api_token(
    public_key_der: &[u8],
    authorization: &str,
    now_secs: i64,
) -> Result<Value, &'static str> {
    let token = authorization
        .trim()
        .strip_prefix("Bearer ")
        .ok_or("no Bearer token")?;
    let claims = jwt::verify_rs256(public_key_der, token)?;
    if claims["exp"].as_i64().is_none_or(|e| e < now_secs) {
        return Err("expired");
    }
    Ok(claims)
}

/// The NCCO that connects the call both ways to `ws_url` (L16 at `rate`), with `headers`.
pub fn connect_websocket(ws_url: &str, rate: u32, headers: &[(&str, &str)]) -> Value {
    let h: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    json!([{"action": "connect", "endpoint": [{"type": "websocket", "uri": ws_url, "content-type": format!("audio/l16;rate={rate}"), "headers": h}]}])
}

/// The NCCO that says `message` and ends the call.
pub fn talk(message: &str) -> Value {
    json!([{"action": "talk", "text": message}])
}

/// The NCCO for a cold transfer: connect to `number` showing `caller_id` (digits, no `+`).
pub fn connect_phone(number: &str, caller_id: &str) -> Value {
    json!([{"action": "connect", "from": digits(caller_id), "endpoint": [{"type": "phone", "number": digits(number)}]}])
}

/// Vonage writes numbers without the `+`.
pub fn digits(e164: &str) -> String {
    e164.trim_start_matches('+').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    #[test]
    fn webhook_tokens_check_signature_time_and_body() {
        let body = br#"{"status":"completed","uuid":"u1"}"#;
        let t = sign_webhook("secret", body, 1_700_000_000);
        let auth = format!("Bearer {t}");
        assert!(verify_webhook("secret", &auth, body, 1_700_000_060).is_ok());
        assert_eq!(
            verify_webhook("other", &auth, body, 1_700_000_060),
            Err("invalid signature")
        );
        assert_eq!(
            verify_webhook("secret", &auth, b"{}", 1_700_000_060),
            Err("payload_hash does not match the body")
        );
        assert_eq!(
            verify_webhook("secret", &auth, body, 1_700_001_000),
            Err("iat too far from now")
        );
        assert_eq!(
            verify_webhook("secret", "Basic abc", body, 1_700_000_060),
            Err("no Bearer token")
        );
        // a GET (no body) needs no payload hash
        let t = sign_webhook("secret", b"", 1_700_000_000);
        assert!(verify_webhook("secret", &format!("Bearer {t}"), b"", 1_700_000_000).is_ok());
        // alg none is refused
        let none = format!(
            "Bearer {}.",
            jwt::signing_input(&json!({"alg": "none"}), &json!({"iat": 1_700_000_000}))
        );
        assert!(verify_webhook("secret", &none, b"", 1_700_000_000).is_err());
    }

    #[test]
    fn api_tokens_are_rs256_with_the_application_id() {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("key");
        let pkcs8 = pair.as_der().expect("der");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            B64.encode(pkcs8.as_ref())
        );
        let key = ApiKey::from_pem(&pem).expect("pem");
        let t = key.token("app-1", 1_700_000_000, "j1").expect("token");
        let claims = verify_api_token(
            pair.public_key().as_ref(),
            &format!("Bearer {t}"),
            1_700_000_100,
        )
        .expect("valid");
        assert_eq!(claims["application_id"], "app-1");
        assert_eq!(
            verify_api_token(
                pair.public_key().as_ref(),
                &format!("Bearer {t}"),
                1_700_000_400
            ),
            Err("expired")
        );
        let other = KeyPair::generate(KeySize::Rsa2048).expect("key");
        assert_eq!(
            verify_api_token(
                other.public_key().as_ref(),
                &format!("Bearer {t}"),
                1_700_000_100
            ),
            Err("invalid signature")
        );
        assert!(ApiKey::from_pem("nothing here").is_err());
    }

    #[test]
    fn nccos() {
        let n = connect_websocket("wss://v/media/vonage", 16_000, &[("callId", "c1")]);
        assert_eq!(n[0]["endpoint"][0]["content-type"], "audio/l16;rate=16000");
        assert_eq!(n[0]["endpoint"][0]["headers"]["callId"], "c1");
        assert_eq!(
            connect_phone("+15552345678", "+15125550122")[0]["endpoint"][0]["number"],
            "15552345678"
        );
    }
}
