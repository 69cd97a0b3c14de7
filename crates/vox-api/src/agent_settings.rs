//! The agent model's call settings beyond seed 002's fields: how long a call may last, idle
//! reminders, patience, language and translation, the business it speaks for, and the
//! settings seed 000 stores for its users. Both APIs that write agents (002's
//! `voice-agents`, 000's `voice-ai/agents`) validate them here, under the names the model
//! keeps (seed 000's: no mapping needed), so an agent made through one API can be changed
//! through the other.

use serde_json::{Map, Value, json};

use crate::validate;
use crate::{ApiError, ApiState};

/// The model's call-setting fields (on top of seed 002's).
pub(crate) const FIELDS: &[&str] = &[
    "businessName",
    "language",
    "patienceLevel",
    "maxCallDuration",
    "sendUserIdleReminders",
    "reminderAfterIdleTimeSeconds",
    "numberPoolId",
    "callEndWorkflowIds",
    "sendPostCallNotificationTo",
    "timezone",
    "isAgentAsBackupDisabled",
    "translation",
];

/// The languages seed 000 names (BCP 47; `multi`: the caller's language, detected).
pub(crate) const LANGUAGES: &[&str] = &["en-US", "pt-BR", "es", "fr", "de", "it", "nl-NL", "multi"];

/// Which languages the server's speech stack (`[voice_agents]`: recognizer, model, voice)
/// can hold a call in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpeechLanguages {
    /// English only: a local English recognizer (Whisper tiny.en), model or voice (Piper Joe).
    #[default]
    English,
    /// Any the hosted providers take.
    Any,
}

impl SpeechLanguages {
    /// Whether a call can be held in `language` (one of [`LANGUAGES`]).
    pub fn speaks(self, language: &str) -> bool {
        self == Self::Any || language == "en-US"
    }
}

/// What a call of an agent that sets none of these runs by: the server's `[conversation]`
/// section (so an API shows the values the engine will use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallDefaults {
    /// `conversation.max_duration_secs`.
    pub max_call_duration_secs: u64,
    /// `conversation.idle_reminder_after_secs`.
    pub idle_reminder_after_secs: u64,
    /// `conversation.max_reminders` > 0.
    pub idle_reminders: bool,
}

impl Default for CallDefaults {
    fn default() -> Self {
        Self {
            max_call_duration_secs: 1800,
            idle_reminder_after_secs: 8,
            idle_reminders: true,
        }
    }
}

/// Validates the call settings in `m` into `doc` (fields absent from `m` stay absent).
pub(crate) fn apply(
    state: &ApiState,
    m: &Map<String, Value>,
    doc: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    if let Some(name) = validate::opt_str(m, "", "businessName")? {
        if name.trim().is_empty() {
            return Err(ApiError::invalid(
                "businessName",
                "businessName must not be empty",
            ));
        }
        doc.insert("businessName".into(), json!(name.trim()));
    }
    let language = validate::opt_str(m, "", "language")?;
    if let Some(lang) = language {
        if !LANGUAGES.contains(&lang) {
            return Err(ApiError::invalid(
                "language",
                format!(
                    "language must be one of {}, got {lang:?}",
                    LANGUAGES.join(", ")
                ),
            ));
        }
        if !state.speech_languages.speaks(lang) {
            return Err(ApiError::invalid(
                "language",
                format!(
                    "this server's speech stack holds calls in en-US only (a local recognizer or voice for English); {lang} needs hosted recognition and speech in [voice_agents]"
                ),
            ));
        }
        doc.insert("language".into(), json!(lang));
    }
    if let Some(p) = validate::opt_str(m, "", "patienceLevel")? {
        if !["low", "medium", "high"].contains(&p) {
            return Err(ApiError::invalid(
                "patienceLevel",
                format!("patienceLevel must be low, medium or high, got {p:?}"),
            ));
        }
        doc.insert("patienceLevel".into(), json!(p));
    }
    if let Some(n) = validate::opt_int(m, "", "maxCallDuration", 180, 900)? {
        doc.insert("maxCallDuration".into(), json!(n));
    }
    if let Some(b) = validate::opt_bool(m, "", "sendUserIdleReminders")? {
        doc.insert("sendUserIdleReminders".into(), json!(b));
    }
    if let Some(n) = validate::opt_int(m, "", "reminderAfterIdleTimeSeconds", 1, 20)? {
        doc.insert("reminderAfterIdleTimeSeconds".into(), json!(n));
    }
    if let Some(b) = validate::opt_bool(m, "", "isAgentAsBackupDisabled")? {
        doc.insert("isAgentAsBackupDisabled".into(), json!(b));
    }
    if let Some(tz) = validate::opt_str(m, "", "timezone")? {
        if jiff::tz::TimeZone::get(tz).is_err() {
            return Err(ApiError::invalid(
                "timezone",
                format!("{tz:?} is not an IANA time zone (e.g. America/New_York)"),
            ));
        }
        doc.insert("timezone".into(), json!(tz));
    }
    if let Some(pool) = validate::opt_str(m, "", "numberPoolId")? {
        if pool.trim().is_empty() {
            return Err(ApiError::invalid(
                "numberPoolId",
                "numberPoolId must not be empty (null: no pool)",
            ));
        }
        doc.insert("numberPoolId".into(), json!(pool));
    }
    if m.contains_key("callEndWorkflowIds") {
        doc.insert(
            "callEndWorkflowIds".into(),
            json!(validate::strings(m, "", "callEndWorkflowIds")?),
        );
    }
    if let Some(n) = validate::opt_object(m, "", "sendPostCallNotificationTo")? {
        doc.insert("sendPostCallNotificationTo".into(), notification(n)?);
    }
    if let Some(t) = validate::opt_object(m, "", "translation")? {
        let lang = language
            .or_else(|| doc.get("language").and_then(Value::as_str))
            .unwrap_or("en-US");
        doc.insert("translation".into(), translation(t, lang)?);
    }
    Ok(())
}

/// `sendPostCallNotificationTo`: who hears of a call's end (kept; Vox sends no e-mail yet).
fn notification(n: &Map<String, Value>) -> Result<Value, ApiError> {
    let p = "sendPostCallNotificationTo";
    validate::known(
        n,
        p,
        &[
            "admins",
            "allUsers",
            "contactAssignedUser",
            "specificUsers",
            "customEmails",
        ],
    )?;
    let flag = |k: &str, default: bool| -> Result<bool, ApiError> {
        Ok(validate::opt_bool(n, p, k)?.unwrap_or(default))
    };
    let users = validate::strings(n, p, "specificUsers")?;
    let emails = validate::strings(n, p, "customEmails")?;
    for (i, e) in emails.iter().enumerate() {
        let ok = e
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !e.contains(' '));
        if !ok {
            return Err(ApiError::invalid(
                &format!("{p}.customEmails[{i}]"),
                format!("{p}.customEmails[{i}] must be an e-mail address, got {e:?}"),
            ));
        }
    }
    Ok(json!({
        "admins": flag("admins", true)?,
        "allUsers": flag("allUsers", false)?,
        "contactAssignedUser": flag("contactAssignedUser", false)?,
        "specificUsers": users,
        "customEmails": emails,
    }))
}

/// `translation`, under seed 000's three rules, for an agent speaking `language`.
fn translation(t: &Map<String, Value>, language: &str) -> Result<Value, ApiError> {
    let p = "translation";
    validate::known(t, p, &["enabled", "language"])?;
    let enabled = validate::opt_bool(t, p, "enabled")?.ok_or_else(|| {
        ApiError::invalid("translation.enabled", "translation.enabled is required")
    })?;
    let target = validate::opt_str(t, p, "language")?;
    if !enabled {
        return Ok(match target {
            Some(l) => json!({"enabled": false, "language": l}),
            None => json!({"enabled": false}),
        });
    }
    // (1) only for an agent that does not speak en-US
    if language == "en-US" {
        return Err(ApiError::invalid(
            "translation.enabled",
            "translation can only be enabled for an agent whose language is not en-US",
        ));
    }
    // (3) the target is required when enabled
    let target = target.filter(|l| !l.trim().is_empty()).ok_or_else(|| {
        ApiError::invalid(
            "translation.language",
            "translation.language is required when translation is enabled",
        )
    })?;
    // (2) the agent's own language or en-US
    if target != language && target != "en-US" {
        return Err(ApiError::invalid(
            "translation.language",
            format!(
                "translation.language must be the agent's language ({language}) or en-US, got {target:?}"
            ),
        ));
    }
    Ok(json!({"enabled": true, "language": target}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_follows_the_seeds_three_rules() {
        let t = |v: Value| v.as_object().cloned().expect("object");
        // (1) never for an en-US agent
        let e = translation(&t(json!({"enabled": true, "language": "es"})), "en-US")
            .expect_err("en-US");
        assert_eq!(e.field.as_deref(), Some("translation.enabled"));
        // (3) a target is required
        let e = translation(&t(json!({"enabled": true})), "es").expect_err("no target");
        assert_eq!(e.field.as_deref(), Some("translation.language"));
        // (2) the agent's language or en-US only
        let e = translation(&t(json!({"enabled": true, "language": "fr"})), "es").expect_err("fr");
        assert_eq!(e.field.as_deref(), Some("translation.language"));
        for ok in ["es", "en-US"] {
            assert!(translation(&t(json!({"enabled": true, "language": ok})), "es").is_ok());
        }
        // off: anything goes
        assert!(translation(&t(json!({"enabled": false})), "en-US").is_ok());
        let e = translation(&t(json!({"language": "es"})), "es").expect_err("enabled missing");
        assert_eq!(e.field.as_deref(), Some("translation.enabled"));
    }

    #[test]
    fn languages_need_a_speech_stack() {
        assert!(SpeechLanguages::English.speaks("en-US"));
        assert!(!SpeechLanguages::English.speaks("es"));
        assert!(SpeechLanguages::Any.speaks("es"));
    }
}
