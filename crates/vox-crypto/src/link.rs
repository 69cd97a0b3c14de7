//! Temporary links that open without a token (seed 004's recording links): an expiry and an
//! HMAC-SHA256 over the method, the path and the expiry, under a key every node shares. A link
//! whose path or expiry was altered, or that has expired, is refused.

use aws_lc_rs::hmac;

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Past its expiry.
    #[error("the link has expired")]
    Expired,
    /// Its signature does not match its path and expiry.
    #[error("the link's signature is not valid")]
    BadSignature,
}

/// Signs and checks links under one key.
pub struct LinkSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(***)")
    }
}

fn message(path: &str, expires: i64) -> String {
    format!("GET\n{path}\n{expires}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl LinkSigner {
    /// Under `key` (32 bytes or more).
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The signature (hex) of `path` valid until `expires` (Unix seconds).
    pub fn sign(&self, path: &str, expires: i64) -> String {
        hex(hmac::sign(&self.key, message(path, expires).as_bytes()).as_ref())
    }

    /// Ok if `signature` signs `path` until `expires` and `now` (Unix seconds) is not past it.
    pub fn verify(
        &self,
        path: &str,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), LinkError> {
        let bytes: Option<Vec<u8>> = (signature.len() == 64)
            .then(|| {
                (0..32)
                    .map(|i| u8::from_str_radix(signature.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect()
            })
            .flatten();
        let Some(bytes) = bytes else {
            return Err(LinkError::BadSignature);
        };
        // constant time: the signature is checked before the expiry is looked at
        hmac::verify(&self.key, message(path, expires).as_bytes(), &bytes)
            .map_err(|_| LinkError::BadSignature)?;
        if now > expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_opens_until_it_expires_and_not_once_altered() {
        let s = LinkSigner::new(&[7u8; 32]);
        let sig = s.sign("/api/v1/recordings/vc_1.wav", 1_000);
        assert_eq!(
            s.verify("/api/v1/recordings/vc_1.wav", 1_000, &sig, 999),
            Ok(())
        );
        assert_eq!(
            s.verify("/api/v1/recordings/vc_1.wav", 1_000, &sig, 1_000),
            Ok(())
        );
        assert_eq!(
            s.verify("/api/v1/recordings/vc_1.wav", 1_000, &sig, 1_001),
            Err(LinkError::Expired)
        );
        // another path, a later expiry, another key, a broken signature
        assert_eq!(
            s.verify("/api/v1/recordings/vc_2.wav", 1_000, &sig, 999),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            s.verify("/api/v1/recordings/vc_1.wav", 9_000, &sig, 999),
            Err(LinkError::BadSignature)
        );
        let other = LinkSigner::new(&[8u8; 32]);
        assert_eq!(
            other.verify("/api/v1/recordings/vc_1.wav", 1_000, &sig, 999),
            Err(LinkError::BadSignature)
        );
        for bad in ["", "zz", &sig[..63]] {
            assert_eq!(
                s.verify("/api/v1/recordings/vc_1.wav", 1_000, bad, 999),
                Err(LinkError::BadSignature)
            );
        }
    }
}
