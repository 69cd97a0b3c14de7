//! Compact JWTs (RFC 7519): the base64url parts, RS256 signing and verification.
//!
//! Claims checks (expiry, audience, ...) are the caller's: each protocol has its own.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use serde_json::{Value, json};

/// `base64url(header).base64url(claims)`: the signed part of a token.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    )
}

/// `signing_input.base64url(signature)`.
pub fn with_signature(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", B64URL.encode(signature))
}

/// A token taken apart (nothing verified yet).
#[derive(Debug, Clone, PartialEq)]
pub struct Parts<'a> {
    /// What the signature covers.
    pub signing_input: &'a str,
    /// The decoded header.
    pub header: Value,
    /// The decoded claims.
    pub claims: Value,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Splits a compact token into its parts.
pub fn split(token: &str) -> Result<Parts<'_>, &'static str> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWT");
    };
    let json_part = |p: &str| {
        B64URL
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    };
    Ok(Parts {
        signing_input: &token[..h.len() + 1 + c.len()],
        header: json_part(h).ok_or("malformed JWT header")?,
        claims: json_part(c).ok_or("malformed JWT claims")?,
        signature: B64URL.decode(s).map_err(|_| "malformed JWT signature")?,
    })
}

/// An RSA private key that signs RS256 tokens.
pub struct RsaKey(RsaKeyPair);

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaKey(***)")
    }
}

impl RsaKey {
    /// From PEM text: PKCS#8 (`PRIVATE KEY`, as Google's and Vonage's keys come) or PKCS#1
    /// (`RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let der = |label: &str| -> Option<Vec<u8>> {
            let begin = format!("-----BEGIN {label}-----");
            let end = format!("-----END {label}-----");
            let body = pem.split_once(&begin)?.1.split_once(&end)?.0;
            B64.decode(body.split_whitespace().collect::<String>()).ok()
        };
        if let Some(d) = der("PRIVATE KEY") {
            return RsaKeyPair::from_pkcs8(&d)
                .map(Self)
                .map_err(|e| format!("not an RSA private key: {e}"));
        }
        if let Some(d) = der("RSA PRIVATE KEY") {
            return RsaKeyPair::from_der(&d)
                .map(Self)
                .map_err(|e| format!("not an RSA private key: {e}"));
        }
        Err("no PEM private key (-----BEGIN PRIVATE KEY-----) found".into())
    }

    /// An RS256 token carrying `claims`.
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let input = signing_input(&json!({"alg": "RS256", "typ": "JWT"}), claims);
        let mut sig = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "RSA signing failed".to_owned())?;
        Ok(with_signature(&input, &sig))
    }
}

/// Checks an RS256 token's signature against a public key (DER `RSAPublicKey`); its claims
/// when it holds.
pub fn verify_rs256(public_key_der: &[u8], token: &str) -> Result<Value, &'static str> {
    let parts = split(token)?;
    if parts.header["alg"] != "RS256" {
        return Err("the token is not RS256");
    }
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key_der)
        .verify(parts.signing_input.as_bytes(), &parts.signature)
        .map_err(|_| "invalid signature")?;
    Ok(parts.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::KeyPair as _;

    fn key() -> (RsaKey, Vec<u8>) {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("key");
        let public = pair.public_key().as_ref().to_vec();
        let pkcs8 = pair.as_der().expect("der");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            B64.encode(pkcs8.as_ref())
        );
        (RsaKey::from_pem(&pem).expect("pem"), public)
    }

    #[test]
    fn rs256_tokens_verify_and_tampering_is_caught() {
        let (key, public) = key();
        let token = key.sign(&json!({"iss": "a@b", "exp": 10})).expect("sign");
        assert_eq!(verify_rs256(&public, &token).expect("valid")["iss"], "a@b");
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = B64URL.encode(json!({"iss": "evil", "exp": 10}).to_string());
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(verify_rs256(&public, &forged), Err("invalid signature"));
        let (_, other_public) = self::key();
        assert!(verify_rs256(&other_public, &token).is_err());
        assert_eq!(split("a.b"), Err("not a JWT"));
    }

    #[test]
    fn pem_without_a_key_is_refused() {
        assert!(RsaKey::from_pem("hello").is_err());
        assert!(
            RsaKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
    }
}
