//! Secrets sealed at rest: AES-256-GCM under a key from the configuration.
//!
//! A sealed value is text, `vox:v1:` then base64 of a random 96-bit nonce followed by the
//! ciphertext and its tag. Each value is sealed with associated data naming where it lives
//! (for example `webhook:{businessId}`), so a sealed value copied into another row or
//! another tenant's does not open. Random nonces are safe for far more values than a control
//! plane stores under one key (NIST's bound is 2^32 messages).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// What a sealed value starts with.
pub const PREFIX: &str = "vox:v1:";
/// Key length in bytes.
pub const KEY_LEN: usize = 32;

/// Why a value did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Not a sealed value (no `vox:v1:` prefix): stored before sealing, or never sealed.
    NotSealed,
    /// Sealed, but not by this key or not for this place, or altered.
    Rejected,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotSealed => "the value is not sealed",
            Self::Rejected => {
                "a sealed secret did not open: another key (store.secrets_key), another place, or altered"
            }
        })
    }
}

impl std::error::Error for OpenError {}

/// A key from its text: 32 bytes in base64 (44 characters) or hex (64).
pub fn key_from_text(text: &str) -> Result<[u8; KEY_LEN], String> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| "not hex".to_owned())?
    } else {
        B64.decode(text)
            .map_err(|_| "not base64 or hex".to_owned())?
    };
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("{} bytes, not {KEY_LEN}", b.len()))
}

/// Seals and opens values under one key (share it behind an `Arc`).
pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
    /// Derives keys for other purposes (HMAC-SHA256 under the sealing key).
    derive: aws_lc_rs::hmac::Key,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// From 32 key bytes.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        let derive = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
        let key = UnboundKey::new(&AES_256_GCM, key).expect("AES-256 takes 32-byte keys");
        Self {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
            derive,
        }
    }

    /// A 32-byte key for another purpose, named by `label`, derived from this one (HMAC-SHA256
    /// of the label under it): whoever shares this key shares the derived one, and the
    /// derived key tells nothing of this one.
    pub fn derive(&self, label: &str) -> [u8; KEY_LEN] {
        let tag = aws_lc_rs::hmac::sign(&self.derive, label.as_bytes());
        let mut out = [0u8; KEY_LEN];
        out.copy_from_slice(&tag.as_ref()[..KEY_LEN]);
        out
    }

    /// From the text of a key: 32 bytes in base64 (44 characters) or hex (64).
    pub fn from_text(text: &str) -> Result<Self, String> {
        Ok(Self::new(&key_from_text(text)?))
    }

    /// A new random key, as text for a key file (base64).
    pub fn new_key_text() -> String {
        let mut key = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut key)
            .expect("the OS random generator");
        B64.encode(key)
    }

    /// `plain` sealed for `place`.
    pub fn seal(&self, plain: &str, place: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).expect("the OS random generator");
        let mut data = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(place.as_bytes()),
                &mut data,
            )
            .expect("AES-GCM sealing");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// The plain text of `sealed`, which must have been sealed for `place`.
    pub fn open(&self, sealed: &str, place: &str) -> Result<String, OpenError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(OpenError::NotSealed)?;
        let mut raw = B64.decode(body).map_err(|_| OpenError::Rejected)?;
        if raw.len() < NONCE_LEN {
            return Err(OpenError::Rejected);
        }
        let nonce: [u8; NONCE_LEN] = raw[..NONCE_LEN]
            .try_into()
            .map_err(|_| OpenError::Rejected)?;
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(place.as_bytes()),
                &mut raw[NONCE_LEN..],
            )
            .map_err(|_| OpenError::Rejected)?;
        String::from_utf8(plain.to_vec()).map_err(|_| OpenError::Rejected)
    }

    /// Whether `value` is sealed (by any key).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::from_text(&Sealer::new_key_text()).expect("key")
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_place() {
        let s = sealer();
        let sealed = s.seal("whsec_abc123", "webhook:biz_1");
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.contains("whsec_abc123"));
        assert_ne!(
            sealed,
            s.seal("whsec_abc123", "webhook:biz_1"),
            "random nonces"
        );
        assert_eq!(
            s.open(&sealed, "webhook:biz_1").as_deref(),
            Ok("whsec_abc123")
        );
        assert_eq!(s.open(&sealed, "webhook:biz_2"), Err(OpenError::Rejected));
        assert_eq!(
            sealer().open(&sealed, "webhook:biz_1"),
            Err(OpenError::Rejected)
        );
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("ascii");
        assert_eq!(s.open(&altered, "webhook:biz_1"), Err(OpenError::Rejected));
        assert_eq!(
            s.open("whsec_plain", "webhook:biz_1"),
            Err(OpenError::NotSealed)
        );
        assert_eq!(s.open("vox:v1:AAAA", "x"), Err(OpenError::Rejected));
        assert_eq!(s.open(&s.seal("", "x"), "x").as_deref(), Ok(""));
    }

    #[test]
    fn derived_keys_are_stable_per_label_and_apart() {
        let a = Sealer::new(&[1u8; KEY_LEN]);
        let b = Sealer::new(&[2u8; KEY_LEN]);
        assert_eq!(
            a.derive("links"),
            Sealer::new(&[1u8; KEY_LEN]).derive("links")
        );
        assert_ne!(a.derive("links"), a.derive("other"));
        assert_ne!(a.derive("links"), b.derive("links"));
        assert_ne!(a.derive("links"), [1u8; KEY_LEN]);
        assert_eq!(key_from_text(&"01".repeat(32)), Ok([1u8; KEY_LEN]));
        assert!(key_from_text("short").is_err());
    }

    #[test]
    fn keys_are_32_bytes_of_base64_or_hex() {
        assert!(Sealer::from_text(&"ab".repeat(32)).is_ok());
        assert!(Sealer::from_text(&Sealer::new_key_text()).is_ok());
        for bad in ["", "short", &"ab".repeat(16), "zz".repeat(32).as_str()] {
            assert!(Sealer::from_text(bad).is_err(), "{bad}");
        }
    }
}
