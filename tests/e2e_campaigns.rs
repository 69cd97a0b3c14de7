//! A campaign end to end over loopback: `vox serve`'s own dispatcher calls three contacts
//! through the fake Twilio (one answers, one is busy and answers when called again, one never
//! answers and is given up after its last attempt); the campaign completes, and seed 004
//! lists its calls under it with their states. Then surveys at the end of a campaign call,
//! answered by voice and on the keypad.

use reqwest::Method;
use serde_json::{Value, json};
use vox_testkit::{
    CallerScript, CallerTurn, FakeOpenAi, FakeTiming, FakeTwilio, repo_root, serve_with_fakes,
};

const BIN: &str = env!("CARGO_BIN_EXE_vox");
const NUMBER: &str = "+15125550122";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_calls_retries_and_completes_through_the_carrier() {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let twilio = FakeTwilio::start(CallerScript::saying([audio.join("bye-1.wav")])).await;
    twilio.busy_once("+15552345671");
    twilio.unanswered("+15552345672");
    let served = serve_with_fakes(
        std::path::Path::new(BIN),
        "e2e-campaigns",
        &twilio,
        &fake_ai,
        NUMBER,
        "",
        &[("VOX__VAD__STOP_MS", "400")],
    )
    .await;
    let (api, biz) = (&served.api, served.business_id.as_str());
    let agent_id = api.deployed_agent(biz, json!({"name": "Follow-up", "type": "OUTBOUND", "conversationFlow": "Ask how the visit went.",
                "firstMessage": "Hi, this is Acme Plumbing following up."})).await;
    let (status, campaign) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/campaigns"),
            Some(json!({"name": "Visit follow-ups", "agentId": agent_id, "concurrency": 2, "callsPerMinute": 60,
                "maxAttempts": 2, "retryAfterSecs": 1, "callingWindow": {"startTime": "00:00", "endTime": "24:00"},
                "contacts": [{"phoneNumber": "+15552345670", "name": "Ann"}, {"phoneNumber": "+15552345671", "name": "Bo"},
                             {"phoneNumber": "+15552345672", "name": "Cy"}]})),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let id = campaign["id"].as_str().expect("id").to_owned();
    let one = format!("/v1/businesses/{biz}/campaigns/{id}");
    let mut last = Value::Null;
    for _ in 0..900 {
        last = api.send(Method::GET, &one, None).await.1;
        if last["state"] == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last["state"], "completed", "{last}");
    assert_eq!(
        last["progress"],
        json!({"total": 3, "pending": 0, "dialing": 0, "retry": 0, "done": 2, "failed": 1}),
        "{last}"
    );
    let (_, contacts) = api
        .send(Method::GET, &format!("{one}/contacts"), None)
        .await;
    let seen: Vec<(String, i64, String)> = contacts["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|k| {
            (
                k["state"].as_str().unwrap_or_default().to_owned(),
                k["attempts"].as_i64().unwrap_or_default(),
                k["lastOutcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("done".to_owned(), 1, "customer-ended-call".to_owned()),
            ("done".to_owned(), 2, "customer-ended-call".to_owned()),
            ("failed".to_owned(), 2, "customer-did-not-answer".to_owned()),
        ],
        "{contacts}"
    );
    // seed 004: the campaign's five calls with their states
    let (status, page) = api
        .send(
            Method::GET,
            &format!("/api/v1/voice-calls?campaignId={id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let mut states: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["state"].as_str())
        .collect();
    states.sort_unstable();
    assert_eq!(
        states,
        ["Busy", "Completed", "Completed", "NoAnswer", "NoAnswer"],
        "{page}"
    );
    assert!(
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|c| c["campaignId"] == id.as_str())
    );
}

/// A one-contact campaign whose callee follows `turns` (the first one to the agent, which then
/// ends the call) and whose survey asks `questions`; the call's seed 004 record and its
/// `/epa-results`, once the campaign has completed.
async fn surveyed_call(name: &str, turns: Vec<CallerTurn>, questions: Value) -> (Value, Value) {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let twilio = FakeTwilio::start(CallerScript::saying([audio.join("bye-1.wav")])).await;
    twilio.script_for(
        "+15552345670",
        CallerScript {
            turns,
            ..CallerScript::default()
        },
    );
    fake_ai.push_transcript("That is all I needed. Bye.");
    fake_ai.push_transcript("Four.");
    fake_ai.push_transcript("I'd say nine.");
    fake_ai.push_chat(vox_testkit::ChatReply {
        text: "Thanks for your time.".into(),
        tool_calls: vec![("endCall".into(), json!({}))],
    });
    let served = serve_with_fakes(
        std::path::Path::new(BIN),
        name,
        &twilio,
        &fake_ai,
        NUMBER,
        "",
        &[("VOX__VAD__STOP_MS", "400")],
    )
    .await;
    let (api, biz) = (&served.api, served.business_id.as_str());
    let agent_id = api.deployed_agent(biz, json!({"name": "Follow-up", "type": "OUTBOUND", "conversationFlow": "Ask how the visit went.",
                "firstMessage": "Hi, this is Acme Plumbing."})).await;
    let (status, campaign) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/campaigns"),
            Some(
                json!({"name": "Satisfaction", "agentId": agent_id, "callsPerMinute": 60,
                "callingWindow": {"startTime": "00:00", "endTime": "24:00"},
                "contacts": [{"phoneNumber": "+15552345670"}],
                "survey": {"questions": questions, "questionTimeoutSecs": 20}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let id = campaign["id"].as_str().expect("id").to_owned();
    let one = format!("/v1/businesses/{biz}/campaigns/{id}");
    let mut last = Value::Null;
    for _ in 0..900 {
        last = api.send(Method::GET, &one, None).await.1;
        if last["state"] == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last["state"], "completed", "{last}");
    let (_, page) = api
        .send(
            Method::GET,
            &format!("/api/v1/voice-calls?campaignId={id}"),
            None,
        )
        .await;
    let call = page["items"][0]["id"].as_str().expect("a call").to_owned();
    let (status, epa) = api
        .send(
            Method::GET,
            &format!("/api/v1/voice-calls/{call}/epa-results"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{epa}");
    let (_, one_call) = api
        .send(Method::GET, &format!("/api/v1/voice-calls/{call}"), None)
        .await;
    (one_call, epa)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_call_ends_with_its_survey_answered_by_voice() {
    let audio = repo_root().join("tests/data/audio");
    // the callee's turns: one to the agent, then an answer to each survey question
    let turns = ["bye-1.wav", "book-1.wav", "kb-1.wav"]
        .map(|w| CallerTurn::Say(audio.join(w)))
        .to_vec();
    let (one_call, epa) = surveyed_call(
        "e2e-campaign-survey",
        turns,
        json!([{"text": "How satisfied were you?", "answerType": "voice", "maxScore": 5},
               {"text": "How likely are you to recommend us?", "answerType": "voice", "maxScore": 9}]),
    )
    .await;
    assert_eq!(
        (
            epa["state"].as_str(),
            epa["completionReason"].as_str(),
            epa["questionsAnswered"].as_i64()
        ),
        (Some("Completed"), Some("AllAnswered"), Some(2)),
        "{epa}"
    );
    // 4/5 and 9/9
    assert_eq!(epa["calculatedScore"], 90.0, "{epa}");
    assert_eq!(epa["responses"][1]["answer"], "I'd say nine.");
    assert_eq!(one_call["epaResults"], epa, "inline too");
    let said: Vec<&str> = one_call["transcript"]
        .as_array()
        .expect("transcript")
        .iter()
        .filter_map(|l| l["text"].as_str())
        .collect();
    assert!(
        said.iter()
            .any(|t| t.starts_with("How satisfied were you?")),
        "the questions are in the transcript: {said:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_survey_is_answered_on_the_keypad_through_the_carrier() {
    let audio = repo_root().join("tests/data/audio");
    // after the agent, keys pressed: DTMF events on the Twilio media stream
    let turns = vec![
        CallerTurn::Say(audio.join("bye-1.wav")),
        CallerTurn::Press("3".into()),
        CallerTurn::Press("2".into()),
    ];
    let (one_call, epa) = surveyed_call(
        "e2e-campaign-keypad",
        turns,
        json!([{"text": "How was the technician?", "answerType": "keypad", "maxScore": 4},
               {"text": "Was the problem fixed? One for no, two for yes.", "answerType": "keypad", "maxScore": 2}]),
    )
    .await;
    assert_eq!(
        (
            epa["state"].as_str(),
            epa["completionReason"].as_str(),
            epa["questionsAnswered"].as_i64()
        ),
        (Some("Completed"), Some("AllAnswered"), Some(2)),
        "{epa}"
    );
    let answers: Vec<&str> = epa["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .filter_map(|r| r["answer"].as_str())
        .collect();
    assert_eq!(answers, ["3", "2"], "{epa}");
    // 3/4 and 2/2
    assert_eq!(epa["calculatedScore"], 87.5, "{epa}");
    assert_eq!(one_call["epaResults"], epa, "inline too");
}
