//! An agent's own call settings (seed 000's maxCallDuration, idle reminders and patience)
//! over the server's `[conversation]` defaults.

use super::*;
use crate::agent::Patience;

#[test]
fn an_agents_settings_replace_the_servers_defaults() {
    let server = fast();
    let same = server.for_agent(&agent(json!({})));
    assert_eq!(same.max_duration, server.max_duration);
    assert_eq!(same.max_reminders, server.max_reminders);
    assert_eq!(same.min_endpointing, server.min_endpointing);
    let own = server.for_agent(&agent(json!({
        "maxCallDuration": 180, "sendUserIdleReminders": false,
        "reminderAfterIdleTimeSeconds": 3, "patienceLevel": "high"
    })));
    assert_eq!(own.max_duration, Duration::from_secs(180));
    assert_eq!(own.max_reminders, 0);
    assert_eq!(own.idle_reminder_after, Duration::from_secs(3));
    assert_eq!(own.min_endpointing, server.min_endpointing * 2);
    assert_eq!(own.max_endpointing, server.max_endpointing * 3 / 2);
    let low = server.for_agent(&agent(json!({"patienceLevel": "low"})));
    assert_eq!(low.min_endpointing, server.min_endpointing / 2);
    assert_eq!(low.max_endpointing, server.max_endpointing * 2 / 3);
    let medium = server.for_agent(&agent(json!({"patienceLevel": "medium"})));
    assert_eq!(medium.min_endpointing, server.min_endpointing);
    assert_eq!(
        serde_json::from_value::<Patience>(json!("medium")).ok(),
        Some(Patience::Medium)
    );
    // reminders asked for on a server configured without them: one per silence
    let mut quiet_server = fast();
    quiet_server.max_reminders = 0;
    let on = quiet_server.for_agent(&agent(json!({"sendUserIdleReminders": true})));
    assert_eq!(on.max_reminders, 1);
}

fn greeted(extra: serde_json::Value) -> Tape {
    let mut t = Tape::new(
        agent({
            let mut e = json!({"firstMessage": "Hello!"});
            if let (Some(a), Some(b)) = (e.as_object_mut(), extra.as_object()) {
                a.extend(b.clone());
            }
            e
        }),
        fast(),
    );
    t.take();
    t.input(Input::PlaybackStarted { turn: TurnId(1) });
    t.quiet(500);
    t.input(Input::PlaybackFinished { turn: TurnId(1) });
    t.take();
    t
}

#[test]
fn the_agents_idle_reminder_comes_at_its_own_time_or_not_at_all() {
    let mut t = greeted(json!({"reminderAfterIdleTimeSeconds": 3}));
    t.quiet(2900);
    assert!(spoken(&t.take()).is_empty(), "not before 3 s");
    t.quiet(200);
    assert_eq!(spoken(&t.take()), vec!["Are you still there?"]);

    let mut t = greeted(json!({"sendUserIdleReminders": false}));
    t.quiet(20_000);
    assert!(spoken(&t.take()).is_empty(), "no reminders at all");
}

#[test]
fn the_agents_maximum_duration_ends_its_call() {
    let mut t = greeted(json!({"maxCallDuration": 180, "sendUserIdleReminders": false}));
    // the caller speaks now and then so that silence never ends the call
    let mut limit_at = None;
    for second in 1..=200u64 {
        if second % 15 == 0 {
            t.speak(500);
            t.stop_speaking();
            t.wait(480);
        } else {
            t.wait(1000);
        }
        if spoken(&t.take()).join(" ").contains("time limit") {
            limit_at = Some(second);
            break;
        }
    }
    // the greeting took 0.5 s of the call
    assert_eq!(limit_at, Some(180), "the goodbye at the agent's 180 s");
}

#[test]
fn a_patient_agent_waits_longer_before_answering() {
    for (patience, answered_by_ms) in [("low", 200), ("high", 700)] {
        let mut t = greeted(json!({"patienceLevel": patience}));
        t.speak(1000);
        t.stop_speaking();
        t.input(Input::AsrFinal {
            text: "What time do you open?".into(),
        });
        let mut waited = 0;
        while last_llm(&t.take()).is_none() {
            assert!(waited < 2000, "{patience}: never answered");
            t.quiet(20);
            waited += 20;
        }
        assert!(
            waited <= answered_by_ms,
            "{patience}: answered after {waited} ms"
        );
        if patience == "high" {
            assert!(waited >= 560, "high patience answered after {waited} ms");
        }
    }
}
