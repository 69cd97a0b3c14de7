//! The Google Calendar backend against a fake Google Calendar over loopback, driven through
//! the calendar tools as the model calls them: open slots around events made elsewhere (over
//! several pages), booking, fuzzy search, cancelling, two bookings racing for one slot, and a
//! refused token.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vox_core::ToolCall;
use vox_store::Store;
use vox_testkit::FakeGoogleCalendar;
use vox_tools::ToolRunner;
use vox_tools::api::{ApiTool, CallContext, CallTools, ToolEnv};
use vox_tools::calendar::{
    AppointmentConfig, Booking, CalendarBackend, CalendarError, GoogleAccount, GoogleCalendar,
    HORIZON_DAYS, ServiceAccount,
};
use vox_tools::http::HttpGuard;
use vox_tools::knowledge::KnowledgeBases;

const CAL: &str = "clinic@group.calendar.google.com";
const TOKEN: &str = "ya29.test-token";

/// Vox's account as a fixed token (the calendar owner's, in these tests).
fn fixed(token: &str) -> Arc<GoogleAccount> {
    Arc::new(GoogleAccount::Token {
        email: "owner@example.com".into(),
        token: token.into(),
    })
}

/// Vox's account as the fake's service account.
fn service_account(fake: &FakeGoogleCalendar) -> Arc<GoogleAccount> {
    Arc::new(GoogleAccount::ServiceAccount(
        ServiceAccount::from_json(&fake.service_account_key()).expect("key"),
    ))
}

async fn tools(fake: &FakeGoogleCalendar, token: &str) -> (Arc<CallTools>, AppointmentConfig) {
    tools_for(fake, token, "+14155550123", false).await
}

/// The calendar tools of a call from `caller`; `any_caller`: the tool's
/// `appointmentsOfAnyCaller`.
async fn tools_for(
    fake: &FakeGoogleCalendar,
    token: &str,
    caller: &str,
    any_caller: bool,
) -> (Arc<CallTools>, AppointmentConfig) {
    let dir = std::env::temp_dir().join(format!(
        "vox-gcal-{}-{}",
        std::process::id(),
        vox_store::new_id("t")
    ));
    let store = Store::connect(&format!("sqlite://{}/vox.db", dir.display()))
        .await
        .expect("store");
    let google = Arc::new(GoogleCalendar::new(
        reqwest::Client::new(),
        &fake.base(),
        CAL,
        fixed(token),
    ));
    let env = ToolEnv {
        http: HttpGuard::default(),
        timeout: Duration::from_secs(5),
        knowledge: Arc::new(KnowledgeBases::new(store, None)),
        calendar: Arc::new(move |_: &CallContext| google.clone() as Arc<dyn CalendarBackend>),
    };
    let ctx = CallContext {
        call_id: "call_1".into(),
        business_id: "biz_1".into(),
        agent_id: "agt_1".into(),
        customer_number: Some(caller.into()),
        calendar_id: Some(CAL.into()),
        ..Default::default()
    };
    let cfg = AppointmentConfig::from_json(Some(
        &json!({"slotDurationMinutes": 30, "slotBufferMinutes": 0, "advanceNoticeMinutes": 60, "appointmentsOfAnyCaller": any_caller}),
    ))
    .expect("config");
    (
        Arc::new(CallTools::of_tools(
            env,
            ctx,
            vec![ApiTool::Calendar {
                config: cfg.clone(),
            }],
            None,
        )),
        cfg,
    )
}

async fn call(tools: &Arc<CallTools>, name: &str, args: Value) -> String {
    tools
        .run(ToolCall {
            id: "t1".into(),
            name: name.into(),
            arguments: args.to_string(),
        })
        .await
        .content
}

fn event(start: i64, minutes: i64, summary: &str) -> Value {
    let at = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .expect("time")
            .to_string()
    };
    json!({"summary": summary, "start": {"dateTime": at(start)}, "end": {"dateTime": at(start + minutes * 60_000)}})
}

#[tokio::test]
async fn calendar_tools_on_google_calendar() {
    let fake = FakeGoogleCalendar::start(CAL, TOKEN).await;
    let (tools, cfg) = tools(&fake, TOKEN).await;
    let now = vox_store::now_ms();
    let free = cfg.open_slots(&[], now, HORIZON_DAYS, 8);
    assert!(
        free.len() == 8,
        "an empty calendar has open slots: {free:?}"
    );

    // Four events made in Google's own UI (more than one page of the fake's list) fill the
    // first four slots; the prompt's slots skip them.
    for (i, s) in free[..4].iter().enumerate() {
        fake.add(event(*s, 30, &format!("Staff meeting {i}")));
    }
    let prompt = tools
        .slots_prompt(now)
        .await
        .expect("a calendar tool gives slots");
    for s in &free[..4] {
        assert!(
            !prompt.contains(&format!("({})", cfg.local(*s))),
            "busy slot {} offered: {prompt}",
            cfg.local(*s)
        );
    }
    assert!(
        prompt.contains(&format!("({})", cfg.local(free[4]))),
        "first free slot missing: {prompt}"
    );
    assert!(
        fake.requests()
            .iter()
            .filter(|r| r.starts_with("GET"))
            .count()
            >= 2,
        "the list was paged: {:?}",
        fake.requests()
    );

    // Booking a busy slot is refused with the nearest open ones; an open slot is booked.
    let busy = call(
        &tools,
        "scheduleAppointment",
        json!({"start": cfg.local(free[0]), "name": "Maria Gonzalez"}),
    )
    .await;
    assert!(
        busy.starts_with("Error:") && busy.contains(&cfg.speak(free[4])),
        "{busy}"
    );
    let booked = call(&tools, "scheduleAppointment", json!({"start": cfg.local(free[4]), "name": "Maria Gonzalez", "address": "12 Elm Street", "notes": "check-up"})).await;
    assert!(booked.starts_with("Booked:"), "{booked}");
    let mine: Vec<Value> = fake
        .events()
        .into_iter()
        .filter(|e| e["extendedProperties"]["private"]["bookedBy"] == "vox")
        .collect();
    assert_eq!(mine.len(), 1, "one event inserted: {mine:?}");
    let id = mine[0]["id"].as_str().expect("id").to_owned();
    assert!(
        booked.contains(&id),
        "the model gets the event id: {booked}"
    );
    let start = jiff::Timestamp::from_millisecond(free[4])
        .expect("t")
        .to_string();
    assert_eq!(mine[0]["start"]["dateTime"], start.as_str());
    assert_eq!(
        mine[0]["extendedProperties"]["private"]["phone"], "+14155550123",
        "the caller's number by default"
    );
    assert_eq!(mine[0]["location"], "12 Elm Street");

    // Found by a misspelt name and by the phone's last digits, then cancelled once.
    let found = call(
        &tools,
        "searchAppointments",
        json!({"query": "Mariah Gonzales"}),
    )
    .await;
    assert!(
        found.starts_with("Found:") && found.contains(&id),
        "{found}"
    );
    let by_phone = call(
        &tools,
        "searchAppointments",
        json!({"query": "(415) 555-0123"}),
    )
    .await;
    assert!(by_phone.contains(&id), "{by_phone}");
    let none = call(
        &tools,
        "searchAppointments",
        json!({"query": "Bartholomew"}),
    )
    .await;
    assert!(none.starts_with("No appointment"), "{none}");
    let cancelled = call(&tools, "cancelAppointment", json!({"appointmentId": id})).await;
    assert_eq!(cancelled, format!("Cancelled appointment {id}."));
    assert!(
        fake.events()
            .iter()
            .any(|e| e["id"] == id.as_str() && e["status"] == "cancelled")
    );
    let again = call(&tools, "cancelAppointment", json!({"appointmentId": id})).await;
    assert!(
        again.starts_with("Error: there is no booked appointment"),
        "{again}"
    );
    let gone = call(
        &tools,
        "searchAppointments",
        json!({"query": "Maria Gonzalez"}),
    )
    .await;
    assert!(
        gone.starts_with("No appointment"),
        "cancelled events are not found: {gone}"
    );
}

#[tokio::test]
async fn two_bookings_racing_for_a_slot_leave_one() {
    let fake = FakeGoogleCalendar::start(CAL, TOKEN).await;
    let google = GoogleCalendar::new(reqwest::Client::new(), &fake.base(), CAL, fixed(TOKEN));
    let start = vox_store::now_ms() + 86_400_000;
    for round in 0..5 {
        let slot = start + round * 3_600_000;
        let b = |name: &str| Booking {
            start_ms: slot,
            end_ms: slot + 1_800_000,
            name: name.into(),
            ..Default::default()
        };
        let (x, y) = tokio::join!(google.book(b("Ann"), 0), google.book(b("Bob"), 0));
        let kept = fake
            .events()
            .into_iter()
            .filter(|e| {
                e["status"] == "confirmed"
                    && e["start"]["dateTime"]
                        == jiff::Timestamp::from_millisecond(slot)
                            .expect("t")
                            .to_string()
                            .as_str()
            })
            .count();
        assert_eq!(
            kept, 1,
            "round {round}: exactly one event stays in the slot"
        );
        let oks = [&x, &y].iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            oks, 1,
            "round {round}: exactly one booking succeeds: {x:?} {y:?}"
        );
        assert!(
            [&x, &y]
                .iter()
                .any(|r| matches!(r, Err(CalendarError::Taken)))
        );
    }
    // the buffer counts: a booking 10 minutes after the last one, with a 15-minute buffer
    let last = start + 4 * 3_600_000;
    let near = Booking {
        start_ms: last + 40 * 60_000,
        end_ms: last + 70 * 60_000,
        name: "Cy".into(),
        ..Default::default()
    };
    assert_eq!(
        google.book(near.clone(), 15 * 60_000).await,
        Err(CalendarError::Taken)
    );
    assert!(google.book(near, 5 * 60_000).await.is_ok());
}

#[tokio::test]
async fn a_refused_token_is_an_error_for_the_model_not_a_crash() {
    let fake = FakeGoogleCalendar::start(CAL, TOKEN).await;
    let (tools, cfg) = tools(&fake, "expired").await;
    let prompt = tools.slots_prompt(vox_store::now_ms()).await.expect("text");
    assert!(prompt.contains("could not be read"), "{prompt}");
    let slot = cfg.open_slots(&[], vox_store::now_ms(), HORIZON_DAYS, 1)[0];
    let r = call(
        &tools,
        "scheduleAppointment",
        json!({"start": cfg.local(slot), "name": "Ann"}),
    )
    .await;
    assert!(r.starts_with("Error:") && r.contains("401"), "{r}");
    assert!(fake.events().is_empty());
}

#[tokio::test]
async fn a_caller_finds_and_cancels_only_their_own_appointments() {
    let fake = FakeGoogleCalendar::start(CAL, TOKEN).await;
    let (maria, cfg) = tools_for(&fake, TOKEN, "+14155550123", false).await;
    let free = cfg.open_slots(&[], vox_store::now_ms(), HORIZON_DAYS, 1);
    let booked = call(
        &maria,
        "scheduleAppointment",
        json!({"start": cfg.local(free[0]), "name": "Maria Gonzalez"}),
    )
    .await;
    assert!(booked.starts_with("Booked:"), "{booked}");
    let id = fake.events()[0]["id"].as_str().expect("id").to_owned();
    // another caller: by name or by Maria's number, nothing; cancelling her id, refused
    let (other, _) = tools_for(&fake, TOKEN, "+12125550199", false).await;
    for query in ["Maria Gonzalez", "+14155550123"] {
        let found = call(&other, "searchAppointments", json!({"query": query})).await;
        assert!(found.starts_with("No appointment"), "{query}: {found}");
    }
    let cancel = call(&other, "cancelAppointment", json!({"appointmentId": id})).await;
    assert!(
        cancel.starts_with("Error: there is no booked appointment"),
        "{cancel}"
    );
    assert!(
        fake.events().iter().all(|e| e["status"] != "cancelled"),
        "still booked"
    );
    // the same caller (another call, the number written differently) finds it
    let (again, _) = tools_for(&fake, TOKEN, "+1 (415) 555-0123", false).await;
    let found = call(&again, "searchAppointments", json!({})).await;
    assert!(found.contains(&id), "{found}");
    // a front desk whose tool allows any caller's appointments
    let (desk, _) = tools_for(&fake, TOKEN, "+12125550100", true).await;
    let found = call(
        &desk,
        "searchAppointments",
        json!({"query": "Maria Gonzalez"}),
    )
    .await;
    assert!(found.contains(&id), "{found}");
    let cancel = call(&desk, "cancelAppointment", json!({"appointmentId": id})).await;
    assert_eq!(cancel, format!("Cancelled appointment {id}."));
}

#[tokio::test]
async fn an_unreachable_google_is_reported_without_the_url() {
    let google = GoogleCalendar::new(
        reqwest::Client::new(),
        "http://127.0.0.1:9",
        CAL,
        fixed(TOKEN),
    );
    let e = match google.bookings(0, 86_400_000).await {
        Err(vox_tools::calendar::CalendarError::Other(e)) => e,
        other => panic!("nothing listens on the discard port: {other:?}"),
    };
    assert!(e.contains("Google Calendar unreachable"), "{e}");
    assert!(!e.contains("clinic@group") && !e.contains("timeMin"), "{e}");
}

#[tokio::test]
async fn a_service_account_reaches_only_the_calendars_shared_with_it() {
    let fake = FakeGoogleCalendar::start(CAL, TOKEN).await;
    fake.add_calendar("other-business@group.calendar.google.com", "ya29.other");
    let sa = service_account(&fake);
    let http = reqwest::Client::new();
    let mine = GoogleCalendar::new(http.clone(), &fake.base(), CAL, sa.clone());
    // not shared yet: refused, not "free"
    let e = mine.bookings(0, 86_400_000).await.expect_err("not shared");
    assert!(
        matches!(&e, CalendarError::Other(m) if m.contains("not shared with Vox")),
        "{e:?}"
    );
    // the business shares it with its own token
    let rule = vox_tools::calendar::share_calendar(&http, &fake.base(), TOKEN, CAL, sa.email())
        .await
        .expect("shared");
    assert_eq!(rule, format!("user:{}", sa.email()));
    let start = vox_store::now_ms() + 86_400_000;
    let booked = mine
        .book(
            Booking {
                id: String::new(),
                start_ms: start,
                end_ms: start + 1_800_000,
                name: "Ada".into(),
                phone: None,
                address: None,
                notes: None,
            },
            0,
        )
        .await
        .expect("booked as the service account");
    assert!(!booked.id.is_empty());
    assert_eq!(
        mine.bookings(start, start + 3_600_000)
            .await
            .expect("list")
            .len(),
        1
    );
    // one token for all of that: it is kept until it nears expiry
    assert_eq!(fake.tokens_issued(), 1);
    // a calendar nobody shared stays out of reach, and its owner's token cannot share
    // someone else's calendar
    let theirs = GoogleCalendar::new(
        http.clone(),
        &fake.base(),
        "other-business@group.calendar.google.com",
        sa.clone(),
    );
    assert!(theirs.bookings(0, start * 2).await.is_err());
    assert_eq!(
        vox_tools::calendar::share_calendar(
            &http,
            &fake.base(),
            TOKEN,
            "other-business@group.calendar.google.com",
            sa.email(),
        )
        .await,
        Err(vox_tools::calendar::ShareError::NoAccess)
    );
    assert_eq!(
        vox_tools::calendar::share_calendar(&http, &fake.base(), "ya29.bogus", CAL, sa.email())
            .await,
        Err(vox_tools::calendar::ShareError::BadToken)
    );
}

#[test]
fn service_account_keys_are_checked_without_quoting_them() {
    for (key, want) in [
        ("not json", "not a JSON service-account key"),
        (r#"{"type": "authorized_user"}"#, "type is not"),
        (
            r#"{"type": "service_account", "private_key": "x"}"#,
            "client_email is missing",
        ),
        (
            r#"{"type": "service_account", "client_email": "a@b", "private_key": "SECRETPEM"}"#,
            "private_key:",
        ),
    ] {
        let e = ServiceAccount::from_json(key).expect_err(key);
        assert!(e.contains(want) && !e.contains("SECRETPEM"), "{key}: {e}");
    }
}
