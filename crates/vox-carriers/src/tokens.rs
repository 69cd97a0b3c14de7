//! Media tokens: a call set up by Vox (a carrier's webhook answer, or an outbound dial) puts
//! `agentId`, `callId` and a short-lived `token` into the stream's parameters; the stream is
//! let in only with a token made here for that call and agent.
//!
//! The token is `<expiry ms>.<base64url HMAC-SHA256(key, "call\nagent\nexpiry")>`. The key is
//! made at start, so a restart refuses tokens in flight rather than trusting them.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use vox_call::OpenCallError;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Mints and checks media tokens.
pub(crate) struct MediaTokens {
    key: [u8; 32],
    ttl_ms: i64,
}

impl std::fmt::Debug for MediaTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaTokens")
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}

impl MediaTokens {
    /// A fresh random key; tokens live `ttl_secs`.
    pub(crate) fn new(ttl_secs: u64) -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self {
            key,
            ttl_ms: i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        }
    }

    fn mac(&self, call_id: &str, agent_id: &str, expires: i64) -> HmacSha256 {
        let mut m = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        m.update(format!("{call_id}\n{agent_id}\n{expires}").as_bytes());
        m
    }

    /// How long a token lives (ms).
    pub(crate) fn ttl_ms(&self) -> i64 {
        self.ttl_ms
    }

    /// A token for `call_id` and `agent_id`, minted at `now` (ms).
    pub(crate) fn mint(&self, call_id: &str, agent_id: &str, now: i64) -> String {
        let expires = now.saturating_add(self.ttl_ms);
        let sig = self.mac(call_id, agent_id, expires).finalize().into_bytes();
        format!(
            "{expires}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
        )
    }

    /// Whether `token` admits `call_id` and `agent_id` at `now` (ms).
    pub(crate) fn verify(
        &self,
        token: &str,
        call_id: &str,
        agent_id: &str,
        now: i64,
    ) -> Result<(), OpenCallError> {
        let (expires, sig) = token.split_once('.').ok_or(OpenCallError::MalformedToken)?;
        let expires: i64 = expires.parse().map_err(|_| OpenCallError::MalformedToken)?;
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| OpenCallError::MalformedToken)?;
        self.mac(call_id, agent_id, expires)
            .verify_slice(&sig)
            .map_err(|_| OpenCallError::InvalidToken)?;
        if now > expires {
            return Err(OpenCallError::ExpiredToken);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_tokens_bind_call_agent_and_time() {
        let t = MediaTokens::new(300);
        let tok = t.mint("call_1", "agent_1", 1_000);
        assert_eq!(t.verify(&tok, "call_1", "agent_1", 2_000), Ok(()));
        assert_eq!(
            t.verify(&tok, "call_2", "agent_1", 2_000),
            Err(OpenCallError::InvalidToken)
        );
        assert_eq!(
            t.verify(&tok, "call_1", "agent_2", 2_000),
            Err(OpenCallError::InvalidToken)
        );
        assert_eq!(
            t.verify(&tok, "call_1", "agent_1", 1_000 + 300_001),
            Err(OpenCallError::ExpiredToken)
        );
        let (exp, sig) = tok.split_once('.').expect("dot");
        let later = format!("{}.{sig}", exp.parse::<i64>().expect("n") + 1_000_000);
        assert_eq!(
            t.verify(&later, "call_1", "agent_1", 2_000),
            Err(OpenCallError::InvalidToken),
            "the expiry is signed"
        );
        assert_eq!(
            t.verify("garbage", "call_1", "agent_1", 2_000),
            Err(OpenCallError::MalformedToken)
        );
        assert_eq!(
            MediaTokens::new(300).verify(&tok, "call_1", "agent_1", 2_000),
            Err(OpenCallError::InvalidToken),
            "another server's key"
        );
    }
}
