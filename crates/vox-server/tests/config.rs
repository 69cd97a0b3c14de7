//! The configuration tree as a user meets it: layers, unknown keys, bad values, typed
//! choices refused at start with what is accepted, and secrets hidden when printed.
#![allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error

use std::path::Path;

use figment::Jail;
use vox_server::config::{Config, LogFormat, Overrides};

fn load(jail: &Jail, body: Option<&str>, flags: &Overrides) -> anyhow::Result<Config> {
    let path = body.map(|b| {
        jail.create_file("vox.toml", b).expect("write config");
        jail.directory().join("vox.toml")
    });
    Config::load(path.as_deref(), flags)
}

#[test]
fn defaults_load_and_are_valid() {
    Jail::expect_with(|jail| {
        let c = load(jail, None, &Overrides::default()).expect("defaults");
        assert_eq!(c.server.port, 8080);
        assert_eq!(c.media.send_ahead_ms, 200);
        assert_eq!(c.log.format, LogFormat::Text);
        Ok(())
    });
}

#[test]
fn file_then_env_then_flags_override_in_order() {
    Jail::expect_with(|jail| {
        let file = "[server]\nport = 9000\nhost = \"127.0.0.1\"\nmax_concurrent_calls = 7\n";
        let c = load(jail, Some(file), &Overrides::default()).expect("file");
        assert_eq!((c.server.port, c.server.host.as_str()), (9000, "127.0.0.1"));
        jail.set_env("VOX__SERVER__PORT", "9100");
        jail.set_env("VOX__MEDIA__SEND_AHEAD_MS", "120");
        let c = load(jail, Some(file), &Overrides::default()).expect("file+env");
        assert_eq!(
            (
                c.server.port,
                c.media.send_ahead_ms,
                c.server.max_concurrent_calls
            ),
            (9100, 120, 7)
        );
        let flags = Overrides {
            port: Some(9200),
            ..Default::default()
        };
        let c = load(jail, Some(file), &flags).expect("file+env+flags");
        assert_eq!(c.server.port, 9200);
        Ok(())
    });
}

#[test]
fn unknown_keys_are_rejected_by_name_from_files_and_env() {
    Jail::expect_with(|jail| {
        let msg = format!(
            "{:#}",
            load(jail, Some("[server]\nprot = 9000\n"), &Overrides::default()).expect_err("typo")
        );
        assert!(msg.contains("prot"), "{msg}");
        let msg = format!(
            "{:#}",
            load(jail, Some("[sever]\nport = 9000\n"), &Overrides::default()).expect_err("typo")
        );
        assert!(msg.contains("sever"), "{msg}");
        jail.set_env("VOX__SERVER__PROT", "1");
        let msg = format!(
            "{:#}",
            load(jail, None, &Overrides::default()).expect_err("env typo")
        );
        assert!(msg.contains("prot"), "{msg}");
        Ok(())
    });
}

#[test]
fn missing_file_and_bad_values_say_what_is_wrong() {
    Jail::expect_with(|jail| {
        let msg = format!(
            "{:#}",
            Config::load(
                Some(Path::new("/nonexistent/vox.toml")),
                &Overrides::default()
            )
            .expect_err("missing")
        );
        assert!(
            msg.contains("/nonexistent/vox.toml") && msg.contains("does not exist"),
            "{msg}"
        );
        let msg = format!(
            "{:#}",
            load(
                jail,
                Some("[media]\nsend_ahead_ms = 5\n"),
                &Overrides::default()
            )
            .expect_err("bad")
        );
        assert!(msg.contains("send_ahead_ms"), "{msg}");
        jail.set_env("VOX__SERVER__PORT", "eighty");
        let msg = format!(
            "{:#}",
            load(jail, None, &Overrides::default()).expect_err("bad env")
        );
        assert!(
            msg.to_lowercase().contains("server.port") && msg.contains("eighty"),
            "{msg}"
        );
        Ok(())
    });
}

#[test]
fn a_misspelt_provider_or_pool_field_is_refused_at_start() {
    Jail::expect_with(|jail| {
        let msg = format!(
            "{:#}",
            load(
                jail,
                Some("[voice_agents]\nllm = \"smollm2\"\n"),
                &Overrides::default()
            )
            .expect_err("typo")
        );
        assert!(
            msg.contains("voice_agents.llm") && msg.contains("\"smollm2-135m\""),
            "{msg}"
        );
        jail.set_env("VOX__VOICE_AGENTS__ASR", "whisper-small");
        let msg = format!(
            "{:#}",
            load(jail, None, &Overrides::default()).expect_err("env typo")
        );
        assert!(
            msg.contains("asr") && msg.contains("\"whisper-tiny.en\""),
            "{msg}"
        );
        jail.set_env("VOX__VOICE_AGENTS__ASR", "whisper-base");
        let pool = "[[telephony.pools]]\ncarrier = \"telnyx\"\nnumbers = []\napi_key = \"k\"\npublic_key = \"p\"\nauth_token = \"t\"\n";
        let msg = format!(
            "{:#}",
            load(jail, Some(pool), &Overrides::default()).expect_err("not telnyx's")
        );
        assert!(msg.contains("auth_token"), "{msg}");
        let msg = format!(
            "{:#}",
            load(
                jail,
                Some("[tools]\ncalendar = \"google\"\n"),
                &Overrides::default()
            )
            .expect_err("no token")
        );
        assert!(msg.contains("google_service_account_key"), "{msg}");
        let msg = format!(
            "{:#}",
            load(
                jail,
                Some("[tools]\ngoogle_access_token = \"ya29.x\"\n"),
                &Overrides::default()
            )
            .expect_err("a token without its account")
        );
        assert!(msg.contains("google_account_email"), "{msg}");
        Ok(())
    });
}

#[test]
fn printed_configuration_hides_secrets_but_not_references() {
    Jail::expect_with(|jail| {
        let file = "[store]\nurl = \"postgres://vox:hunter2@db/vox\"\n[[telephony.pools]]\ncarrier = \"twilio\"\nnumbers = [\"+15125550100\"]\naccount_sid = \"AC1\"\nauth_token = \"plain-secret\"\n[[telephony.pools]]\ncarrier = \"plivo\"\nnumbers = []\naccount_sid = \"MA1\"\nauth_token = \"env:PLIVO_TOKEN\"\n";
        let shown = load(jail, Some(file), &Overrides::default())
            .expect("config")
            .redacted_toml()
            .expect("toml");
        assert!(
            !shown.contains("plain-secret") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(
            shown.contains("env:PLIVO_TOKEN") && shown.contains("postgres://vox:***@db/vox"),
            "{shown}"
        );
        Ok(())
    });
}
