//! Plivo call set-up, sans-IO: the V3 signature of its requests (`X-Plivo-Signature-V3`,
//! with `X-Plivo-Signature-V3-Nonce`) and the Plivo XML Vox answers with.
//!
//! V3 signature: the URL without its query, then `?` and its query parameters sorted (when
//! there are any, or when POST parameters follow), then for a POST a `.` (only after a query)
//! and every POST parameter as name+value, sorted by name; then `.` and the nonce;
//! HMAC-SHA256 with the auth token, base64. A header may carry several signatures, comma
//! separated.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{KeyInit, Mac};

use crate::xml::escape as xml_escape;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The signed string of a request (see the module docs).
fn base(method: &str, url: &str, params: &[(String, String)]) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut q: Vec<(String, String)> = serde_urlencoded_pairs(query);
    let post = method.eq_ignore_ascii_case("POST");
    if !post {
        q.extend(params.iter().cloned());
    }
    q.sort();
    let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut out = path.to_owned();
    let with_params = post && !params.is_empty();
    if !query.is_empty() || with_params {
        out.push('?');
        out.push_str(&query.join("&"));
    }
    if with_params {
        if !query.is_empty() {
            out.push('.');
        }
        let mut p: Vec<&(String, String)> = params.iter().collect();
        p.sort();
        for (k, v) in p {
            out.push_str(k);
            out.push_str(v);
        }
    }
    out
}

fn serde_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(h);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn mac(
    auth_token: &str,
    method: &str,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
) -> HmacSha256 {
    let mut m =
        HmacSha256::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    m.update(base(method, url, params).as_bytes());
    m.update(b".");
    m.update(nonce.as_bytes());
    m
}

/// The `X-Plivo-Signature-V3` of a request.
pub fn signature(
    auth_token: &str,
    method: &str,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
) -> String {
    B64.encode(
        mac(auth_token, method, url, params, nonce)
            .finalize()
            .into_bytes(),
    )
}

/// Whether one of the header's signatures is this request's (constant-time comparison).
pub fn verify(
    auth_token: &str,
    method: &str,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
    header: &str,
) -> bool {
    !nonce.is_empty()
        && header.split(',').any(|sig| {
            B64.decode(sig.trim()).is_ok_and(|given| {
                mac(auth_token, method, url, params, nonce)
                    .verify_slice(&given)
                    .is_ok()
            })
        })
}

const XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// Plivo XML streaming the call both ways to `ws_url` as mu-law 8 kHz, keeping the call up
/// while the stream lasts; `headers` arrive in the stream's `start` as `extra_headers`
/// (names and values may not hold `,` or `=`).
pub fn stream(ws_url: &str, headers: &[(&str, &str)]) -> String {
    let extra: Vec<String> = headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{XML}<Response><Stream bidirectional=\"true\" keepCallAlive=\"true\" contentType=\"audio/x-mulaw;rate=8000\" extraHeaders=\"{}\">{}</Stream></Response>",
        xml_escape(&extra.join(",")),
        xml_escape(ws_url)
    )
}

/// Plivo XML for a cold transfer: dial `number` showing `caller_id`.
pub fn dial(number: &str, caller_id: &str) -> String {
    format!(
        "{XML}<Response><Dial callerId=\"{}\"><Number>{}</Number></Dial></Response>",
        xml_escape(caller_id),
        xml_escape(number)
    )
}

/// Plivo XML that says `message` and hangs up.
pub fn speak_and_hang_up(message: &str) -> String {
    format!(
        "{XML}<Response><Speak>{}</Speak><Hangup/></Response>",
        xml_escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_signed_string_follows_plivos_construction() {
        // POST with parameters and no query: "url?" then name+value pairs, sorted
        assert_eq!(
            base(
                "POST",
                "https://vox.example.com/plivo/answer",
                &p(&[("To", "+1512"), ("CallUUID", "u1")])
            ),
            "https://vox.example.com/plivo/answer?CallUUIDu1To+1512"
        );
        // POST with a query: "url?a=1." then the pairs
        assert_eq!(
            base(
                "POST",
                "https://x/plivo/answer?callId=c1",
                &p(&[("From", "f")])
            ),
            "https://x/plivo/answer?callId=c1.Fromf"
        );
        // POST without parameters: the URL as it is
        assert_eq!(
            base("POST", "https://x/a?b=2&a=1", &[]),
            "https://x/a?a=1&b=2"
        );
        // GET: the parameters join the query, sorted
        assert_eq!(
            base("GET", "https://x/a?z=1", &p(&[("b", "2")])),
            "https://x/a?b=2&z=1"
        );
        assert_eq!(base("GET", "https://x/a", &[]), "https://x/a");
    }

    #[test]
    fn signatures_verify_with_the_same_token_request_and_nonce() {
        let params = p(&[("CallUUID", "u1"), ("To", "+15125550122")]);
        let sig = signature("tok", "POST", "https://x/plivo/answer", &params, "n1");
        assert!(verify(
            "tok",
            "POST",
            "https://x/plivo/answer",
            &params,
            "n1",
            &sig
        ));
        assert!(
            verify(
                "tok",
                "POST",
                "https://x/plivo/answer",
                &params,
                "n1",
                &format!("AAAA,{sig}")
            ),
            "one of several"
        );
        assert!(
            !verify("tok", "POST", "https://x/plivo/answer", &params, "n2", &sig),
            "another nonce"
        );
        assert!(!verify(
            "other",
            "POST",
            "https://x/plivo/answer",
            &params,
            "n1",
            &sig
        ));
        assert!(!verify(
            "tok",
            "POST",
            "https://x/plivo/answer?x=1",
            &params,
            "n1",
            &sig
        ));
        assert!(!verify(
            "tok",
            "POST",
            "https://x/plivo/answer",
            &params[..1],
            "n1",
            &sig
        ));
        assert!(
            !verify("tok", "POST", "https://x/plivo/answer", &params, "", &sig),
            "a nonce is required"
        );
    }

    #[test]
    fn xml_documents() {
        let x = stream(
            "wss://v/media/plivo?callId=c&token=1.a",
            &[("callId", "c"), ("token", "1.a")],
        );
        assert!(
            x.contains("bidirectional=\"true\"")
                && x.contains("extraHeaders=\"callId=c,token=1.a\"")
                && x.contains(">wss://v/media/plivo?callId=c&amp;token=1.a</Stream>"),
            "{x}"
        );
        assert!(
            dial("+15552345678", "+15125550122")
                .contains("<Dial callerId=\"+15125550122\"><Number>+15552345678</Number>")
        );
        assert!(speak_and_hang_up("a < b").contains("<Speak>a &lt; b</Speak><Hangup/>"));
    }
}
