//! Twilio's call set-up, sans-IO: the `X-Twilio-Signature` of webhook requests and the TwiML
//! Vox answers with.
//!
//! Signature (Twilio's documented scheme for form-encoded webhooks): the full URL Twilio
//! requested, then every POST parameter sorted by name with its value appended, HMAC-SHA1
//! with the account's auth token, base64.

use base64::Engine as _;
use hmac::{KeyInit, Mac};

use crate::xml::escape as xml_escape;

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut m =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    m.update(url.as_bytes());
    for (k, v) in sorted {
        m.update(k.as_bytes());
        m.update(v.as_bytes());
    }
    m
}

/// The `X-Twilio-Signature` Twilio sends with a POST of `params` to `url`.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `header` is the signature of this request (compared in constant time).
pub fn verify_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: &str,
) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(header.trim()) else {
        return false;
    };
    mac(auth_token, url, params).verify_slice(&given).is_ok()
}

/// TwiML that connects the call to a bidirectional media stream at `url`, passing `params`
/// as `<Parameter>`s (they arrive in the stream's `start.customParameters`).
pub fn connect_stream(url: &str, params: &[(&str, &str)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Connect><Stream url=\"{}\">",
        xml_escape(url)
    );
    for (k, v) in params {
        out.push_str(&format!(
            "<Parameter name=\"{}\" value=\"{}\"/>",
            xml_escape(k),
            xml_escape(v)
        ));
    }
    out.push_str("</Stream></Connect></Response>");
    out
}

/// TwiML that says `message` and hangs up.
pub fn say_and_hang_up(message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>{}</Say><Hangup/></Response>",
        xml_escape(message)
    )
}

const XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// TwiML for a cold transfer: dial `number`, showing `caller_id`.
pub fn dial(number: &str, caller_id: &str) -> String {
    let cid = if caller_id.is_empty() {
        String::new()
    } else {
        format!(" callerId=\"{}\"", xml_escape(caller_id))
    };
    format!(
        "{XML}<Response><Dial{cid} answerOnBridge=\"true\"><Number>{}</Number></Dial></Response>",
        xml_escape(number)
    )
}

/// The `<Dial><Conference>` verb: join `room`; `wait_url` plays while waiting; the conference
/// starts when a participant with `start` enters, and ends when either side leaves.
fn conference_verb(room: &str, wait_url: Option<&str>, start: bool) -> String {
    let wait = wait_url
        .map(|u| format!(" waitUrl=\"{}\" waitMethod=\"GET\"", xml_escape(u)))
        .unwrap_or_default();
    format!(
        "<Dial><Conference startConferenceOnEnter=\"{start}\" endConferenceOnExit=\"true\" beep=\"false\"{wait}>{}</Conference></Dial>",
        xml_escape(room)
    )
}

/// TwiML putting the call into conference `room` (see [`conference_verb`]).
pub fn conference(room: &str, wait_url: Option<&str>, start: bool) -> String {
    format!(
        "{XML}<Response>{}</Response>",
        conference_verb(room, wait_url, start)
    )
}

/// TwiML that says `brief` to a warm transfer's destination, then joins it to `room`,
/// starting the conference.
pub fn say_then_conference(brief: &str, room: &str) -> String {
    format!(
        "{XML}<Response><Say>{}</Say>{}</Response>",
        xml_escape(brief),
        conference_verb(room, None, true)
    )
}

/// TwiML that plays `audio_url` in a loop (on-hold audio for a conference's waitUrl).
pub fn play_loop(audio_url: &str) -> String {
    format!(
        "{XML}<Response><Play loop=\"0\">{}</Play></Response>",
        xml_escape(audio_url)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_twiml() {
        assert_eq!(
            dial("+15125550199", "+15125550100"),
            format!(
                "{XML}<Response><Dial callerId=\"+15125550100\" answerOnBridge=\"true\"><Number>+15125550199</Number></Dial></Response>"
            )
        );
        let c = conference("vox-call_1", Some("https://x/hold?audio=a&b"), false);
        assert!(
            c.contains("startConferenceOnEnter=\"false\"")
                && c.contains("waitUrl=\"https://x/hold?audio=a&amp;b\"")
                && c.contains(">vox-call_1</Conference>"),
            "{c}"
        );
        assert!(play_loop("https://x/a.mp3").contains("<Play loop=\"0\">https://x/a.mp3</Play>"));
    }

    fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn signature_matches_twilio_documented_example() {
        // The worked example of Twilio's request-validation docs, in both versions of its
        // caller number that the docs have shown (the values other implementations test).
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let p = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(signature("12345", url, &p), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        let newer = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(
            signature("12345", url, &newer),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        );
        assert!(verify_signature(
            "12345",
            url,
            &p,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(
            !verify_signature("12346", url, &p, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
            "other token"
        );
        let mut tampered = p.clone();
        tampered[4].1 = "+18005551213".into();
        assert!(
            !verify_signature("12345", url, &tampered, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
            "changed parameter"
        );
        assert!(
            !verify_signature("12345", url, &p, "not base64!"),
            "garbage header"
        );
    }

    #[test]
    fn twiml_escapes_what_it_embeds() {
        let x = connect_stream(
            "wss://vox.example/media/twilio",
            &[("agentId", "a\"<b>&"), ("token", "t")],
        );
        assert!(
            x.contains("<Stream url=\"wss://vox.example/media/twilio\">"),
            "{x}"
        );
        assert!(
            x.contains("<Parameter name=\"agentId\" value=\"a&quot;&lt;b&gt;&amp;\"/>"),
            "{x}"
        );
        assert!(say_and_hang_up("R&D is closed").contains("<Say>R&amp;D is closed</Say><Hangup/>"));
    }
}
