//! The seed's step-by-step guide end to end over real HTTP against `vox serve`: `vox admin
//! create`, a token, a tool, a knowledge-base file, voices, an OUTBOUND agent, deploy, off and
//! on, an outbound call that the fake Twilio answers (its caller talks to the agent over the
//! media stream), then the call in the history with its transcript. Then an INBOUND agent
//! answering a signed voice webhook, and what must be refused: unsigned webhooks and a
//! replayed stream token. And the Google Calendar integration: a business can share only a
//! calendar its own token may manage.

use std::time::Duration;

use serde_json::{Value, json};
use vox_testkit::{
    ApiClient, CallerScript, ChatReply, FakeGoogleCalendar, FakeOpenAi, FakeTiming, FakeTwilio,
    VoxServer, admin_create, repo_root, scratch_dir,
};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_walkthrough_from_token_to_call_history() {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let twilio = FakeTwilio::start(CallerScript::saying([
        audio.join("book-1.wav"),
        audio.join("bye-1.wav"),
    ]))
    .await;

    let dir = scratch_dir("e2e-cp");
    let config = dir.join("vox.toml");
    let ai = fake_ai.base_url();
    std::fs::write(
        &config,
        format!(
            r#"
[telephony]
[[telephony.pools]]
carrier = "twilio"
numbers = ["+12125550111", "+15125550122", "+15125550133"]
account_sid = "{sid}"
auth_token = "{token}"
api_base = "{api}"

[voice_agents]
llm = {{ baseUrl = "{ai}", apiKey = "sk-test-secret", model = "fake-llm" }}
asr = {{ baseUrl = "{ai}", model = "fake-asr" }}
tts = {{ baseUrl = "{ai}", model = "fake-tts", voice = "v1" }}
"#,
            sid = twilio.account_sid(),
            token = twilio.auth_token(),
            api = twilio.api_base()
        ),
    )
    .expect("config");
    let db = format!("sqlite://{}/vox.db", dir.display());
    let files_dir = dir.join("files").display().to_string();
    let env = [
        ("VOX__STORE__URL", db.as_str()),
        ("VOX__API__FILES_DIR", files_dir.as_str()),
        ("VOX__VAD__STOP_MS", "400"),
    ];

    // vox admin create: organization, business, API client
    let out = std::process::Command::new(BIN)
        .args([
            "admin",
            "create",
            "--org",
            "Acme",
            "--business",
            "Acme Plumbing",
            "--phone",
            "+15125550100",
            "--config",
        ])
        .arg(&config)
        .envs(env)
        .output()
        .expect("vox admin create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let creds: Value = serde_json::from_slice(&out.stdout).expect("admin create prints JSON");
    let biz = creds["businessId"].as_str().expect("businessId").to_owned();

    let config_arg = config.display().to_string();
    let (db2, files2) = (db.clone(), files_dir.clone());
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--config", &config_arg],
            &[
                ("VOX__STORE__URL", db2.as_str()),
                ("VOX__API__FILES_DIR", files2.as_str()),
                ("VOX__VAD__STOP_MS", "400"),
            ],
        )
    })
    .await
    .expect("server");
    let base = format!("http://{}", server.addr);
    let http = vox_testkit::http_client();

    // token (client credentials, form-encoded as in the seed)
    let api = ApiClient::login(
        &base,
        creds["clientId"].as_str().expect("id"),
        creds["clientSecret"].as_str().expect("secret"),
    )
    .await;
    use reqwest::Method;

    // step 2: a transfer tool from the template
    let (status, tool) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/tools"),
            Some(json!({"templateToolId": "template-transfer-call", "configOverride": {"destinations": [{"name": "Office", "phoneNumber": "+15125550144", "description": "The front office"}]}})),
        )
        .await;
    assert_eq!(status, 201, "{tool}");
    // step 3: a knowledge-base file, processed until ready
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(
            b"# Prices\n\nA drain cleaning costs 120 dollars.".to_vec(),
        )
        .file_name("prices.md")
        .mime_str("text/markdown")
        .expect("mime"),
    );
    let res = http
        .post(format!("{base}/v1/businesses/{biz}/files"))
        .bearer_auth(&api.token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 201);
    let file: Value = res.json().await.expect("json");
    let file_id = file["id"].as_str().expect("id").to_owned();
    let mut ready = false;
    for _ in 0..100 {
        let (_, f) = api
            .send(
                Method::GET,
                &format!("/v1/businesses/{biz}/files/{file_id}"),
                None,
            )
            .await;
        if f["status"] == "ready" {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the file became ready");
    // step 4: voices (the installed ones; may be none without local models)
    let (status, voices) = api.send(Method::GET, "/v1/voices", None).await;
    assert_eq!(status, 200, "{voices}");
    assert!(voices.is_array());
    // step 5: the agent
    let (status, agent) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents"),
            Some(json!({
                "name": "Appointment reminder", "type": "OUTBOUND",
                "conversationFlow": "Remind the customer of their plumbing visit and offer to book one.",
                "firstMessage": "Hi, this is Acme Plumbing calling about your visit.",
                "toolIds": [tool["id"]], "knowledgeBaseDocumentIds": [file_id]
            })),
        )
        .await;
    assert_eq!(status, 201, "{agent}");
    let agent_id = agent["id"].as_str().expect("id").to_owned();
    assert!(
        agent["workflow"].is_object(),
        "the workflow was derived: {agent}"
    );
    // step 6: deploy (a 512 number, like the business's), off, on
    let (status, deployed) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{agent_id}/deploy"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{deployed}");
    let number = deployed["phoneNumber"]
        .as_str()
        .expect("phoneNumber")
        .to_owned();
    assert!(number.starts_with("+1512"), "{number}");
    assert_eq!(deployed["onDuty"], true);
    for (path, on) in [("off", false), ("on", true)] {
        let (status, a) = api
            .send(
                Method::PATCH,
                &format!("/v1/businesses/{biz}/voice-agents/{agent_id}/{path}"),
                None,
            )
            .await;
        assert_eq!((status, &a["onDuty"]), (200, &json!(on)), "{a}");
    }

    // step 7: the outbound call, answered by the fake Twilio's caller
    fake_ai.push_transcript("Yes, I would like to book a visit on Tuesday.");
    fake_ai.push_transcript("That is all, thank you, bye.");
    fake_ai.push_chat(ChatReply::text("Great, you are booked for Tuesday at ten."));
    fake_ai.push_chat(ChatReply::text("Goodbye!"));
    let (status, placed) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{agent_id}/call"),
            Some(json!({"phoneNumber": "+15125550177", "name": "Dana"})),
        )
        .await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!(
        (placed["success"].clone(), placed["status"].clone()),
        (json!(true), json!("initiated"))
    );
    let call_id = placed["callId"].as_str().expect("callId").to_owned();
    let calls = twilio.finished(1, Duration::from_secs(60)).await;
    let leg = calls.first().expect("the fake Twilio got the call");
    assert!(leg.finished, "the call finished: {leg:?}");
    assert_eq!(
        (leg.to.as_str(), leg.from.as_str()),
        ("+15125550177", number.as_str())
    );
    let (stream_url, params) = leg.stream.clone().expect("TwiML with a stream");
    assert_eq!(stream_url, format!("ws://{}/media/twilio", server.addr));
    assert_eq!(
        (params.get("agentId"), params.get("callId")),
        (Some(&agent_id), Some(&call_id))
    );
    let report = leg.report.clone().expect("sim report");
    assert_eq!(
        report["summary"]["calls_failed"], 0,
        "the caller's side: {report}"
    );
    assert_eq!(
        leg.status_callback,
        Some(204),
        "signed status callback accepted"
    );

    // the call in the history, with its transcript
    let call = api.ended_call(&biz, &call_id, false).await;
    assert_eq!(call["status"], "COMPLETED", "{call}");
    assert_eq!(
        (
            call["type"].as_str(),
            call["agentId"].as_str(),
            call["customerNumber"].as_str()
        ),
        (
            Some("OUTBOUND"),
            Some(agent_id.as_str()),
            Some("+15125550177")
        )
    );
    let transcript = call["transcript"].as_str().expect("transcript");
    for line in [
        "Agent: Hi, this is Acme Plumbing calling about your visit.",
        "Caller: Yes, I would like to book a visit on Tuesday.",
        "Agent: Great, you are booked for Tuesday at ten.",
    ] {
        assert!(
            transcript.contains(line),
            "{line:?} missing from:\n{transcript}"
        );
    }
    assert_eq!(call["endedReason"], "customer-ended-call", "{call}");
    assert!(call["durationMs"].as_i64().unwrap_or(0) > 2000, "{call}");
    assert!(
        call["startedAt"].is_string() && call["endedAt"].is_string(),
        "{call}"
    );
    assert_eq!(call["leadContext"]["name"], "Dana");
    let (_, list) = api
        .send(
            Method::GET,
            &format!("/v1/businesses/{biz}/calls?type=OUTBOUND&status=COMPLETED"),
            None,
        )
        .await;
    assert_eq!(list["total"], 1, "{list}");

    // the same stream parameters again (a replayed token) are refused
    let replay = tokio::process::Command::new(BIN)
        .args(["sim", "--url", &stream_url, "--wav"])
        .arg(audio.join("bye-1.wav"))
        .args(
            params
                .iter()
                .flat_map(|(k, v)| ["--param".to_owned(), format!("{k}={v}")]),
        )
        .output()
        .await
        .expect("vox sim");
    assert!(
        !replay.status.success(),
        "a replayed stream token was let in:\n{}",
        String::from_utf8_lossy(&replay.stdout)
    );

    // an INBOUND agent answers the signed voice webhook of its number
    let (status, inbound) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents"),
            Some(json!({"name": "Front desk", "type": "INBOUND", "conversationFlow": "Answer the caller's questions.", "firstMessage": "Acme Plumbing, how can I help?"})),
        )
        .await;
    assert_eq!(status, 201, "{inbound}");
    let inbound_id = inbound["id"].as_str().expect("id").to_owned();
    let (_, deployed) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{inbound_id}/deploy"),
            None,
        )
        .await;
    let inbound_number = deployed["phoneNumber"]
        .as_str()
        .expect("phoneNumber")
        .to_owned();
    // the business's number routed no calls yet (the OUTBOUND agent only calls from it), so it
    // now routes to the front desk: customers calling back reach it
    assert_eq!(inbound_number, number);
    // unsigned: refused, and no call is recorded
    let res = http
        .post(format!("{base}/twilio/voice"))
        .form(&[
            ("To", inbound_number.as_str()),
            ("From", "+15125550188"),
            ("CallSid", "CAforged"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 403);
    fake_ai.push_transcript("Do you fix water heaters?");
    fake_ai.push_transcript("Thanks, bye.");
    fake_ai.push_chat(ChatReply::text("Yes, we repair and install water heaters."));
    fake_ai.push_chat(ChatReply::text("Goodbye!"));
    let (status, leg) = twilio.ring(&base, "+15125550188", &inbound_number).await;
    assert_eq!(status, 200, "{leg:?}");
    assert_eq!(
        leg.stream.as_ref().and_then(|(_, p)| p.get("agentId")),
        Some(&inbound_id),
        "{}",
        leg.twiml
    );
    let (_, list) = api
        .send(
            Method::GET,
            &format!("/v1/businesses/{biz}/calls?type=INBOUND"),
            None,
        )
        .await;
    assert_eq!(list["total"], 1, "only the signed call is recorded: {list}");
    let inbound_call_id = list["items"][0]["id"].as_str().expect("id").to_owned();
    let call = api.ended_call(&biz, &inbound_call_id, false).await;
    assert_eq!(
        (
            call["status"].as_str(),
            call["customerNumber"].as_str(),
            call["phoneNumber"].as_str()
        ),
        (
            Some("COMPLETED"),
            Some("+15125550188"),
            Some(inbound_number.as_str())
        ),
        "{call}"
    );
    assert!(
        call["transcript"]
            .as_str()
            .unwrap_or_default()
            .contains("Agent: Yes, we repair and install water heaters."),
        "{call}"
    );

    // replayed set-up webhooks: signed requests sent again change nothing
    let voice_url = format!("{base}/twilio/voice");
    let setup = |sid: &str, to: &str| {
        vec![
            ("AccountSid".to_owned(), twilio.account_sid().to_owned()),
            ("CallSid".to_owned(), sid.to_owned()),
            ("CallStatus".to_owned(), "ringing".to_owned()),
            ("Direction".to_owned(), "inbound".to_owned()),
            ("From".to_owned(), "+15125550177".to_owned()),
            ("To".to_owned(), to.to_owned()),
        ]
    };
    let post = |params: Vec<(String, String)>, sig: String| {
        let (http, url) = (http.clone(), voice_url.clone());
        async move {
            let res = http
                .post(url)
                .header("X-Twilio-Signature", sig)
                .form(&params)
                .send()
                .await
                .expect("post");
            (res.status().as_u16(), res.text().await.unwrap_or_default())
        }
    };
    let inbound_calls = |api: &ApiClient| {
        let (api, path) = (
            api.clone(),
            format!("/v1/businesses/{biz}/calls?type=INBOUND"),
        );
        async move { api.send(Method::GET, &path, None).await.1["total"].clone() }
    };
    let before = inbound_calls(&api).await;
    let fresh = setup("CAreplayed", &inbound_number);
    let sig = vox_carriers::twilio::wire::signature(twilio.auth_token(), &voice_url, &fresh);
    let (status, first) = post(fresh.clone(), sig.clone()).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = post(fresh.clone(), sig.clone()).await;
    assert_eq!(status, 200, "{again}");
    let call_of = |twiml: &str| {
        twiml
            .split("name=\"callId\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(str::to_owned)
    };
    assert!(call_of(&first).is_some(), "{first}");
    assert_eq!(
        call_of(&first),
        call_of(&again),
        "a retry gets the same call: {again}"
    );
    assert_eq!(
        inbound_calls(&api).await.as_i64(),
        before.as_i64().map(|n| n + 1),
        "one record for the call however often it is sent"
    );
    // the same signature over a changed caller: refused
    let mut tampered = fresh.clone();
    tampered[4].1 = "+15125550999".to_owned();
    let (status, _) = post(tampered, sig).await;
    assert_eq!(status, 403);
    // a replay about the call that already ran: no stream, no record
    let done = setup(&leg.sid, &inbound_number);
    let sig = vox_carriers::twilio::wire::signature(twilio.auth_token(), &voice_url, &done);
    let (status, replay) = post(done, sig).await;
    assert_eq!(status, 200, "{replay}");
    assert!(
        call_of(&replay).is_none() && replay.contains("already been answered"),
        "{replay}"
    );
    assert_eq!(
        inbound_calls(&api).await.as_i64(),
        before.as_i64().map(|n| n + 1)
    );

    // off duty: the caller hears an apology, the call is recorded as failed
    let _ = api
        .send(
            Method::PATCH,
            &format!("/v1/businesses/{biz}/voice-agents/{inbound_id}/off"),
            None,
        )
        .await;
    let (status, leg) = twilio.ring(&base, "+15125550199", &inbound_number).await;
    assert_eq!(status, 200);
    assert!(
        leg.stream.is_none() && leg.twiml.contains("<Hangup/>"),
        "{}",
        leg.twiml
    );
    let (_, list) = api
        .send(
            Method::GET,
            &format!("/v1/businesses/{biz}/calls?type=INBOUND&status=FAILED"),
            None,
        )
        .await;
    assert_eq!(list["items"][0]["endedReason"], "agent-off-duty", "{list}");

    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_shares_only_a_calendar_its_own_token_manages() {
    const ACME_CAL: &str = "acme@group.calendar.google.com";
    const GLOBEX_CAL: &str = "globex@group.calendar.google.com";
    let google = FakeGoogleCalendar::start(ACME_CAL, "ya29.acme-owner").await;
    google.add_calendar(GLOBEX_CAL, "ya29.globex-owner");
    let dir = scratch_dir("e2e-gcal");
    let key = dir.join("google-key.json");
    std::fs::write(&key, google.service_account_key()).expect("key");
    let config = dir.join("vox.toml");
    std::fs::write(
        &config,
        format!(
            "[tools]\ncalendar = \"google\"\ngoogle_api_base = \"{}\"\ngoogle_service_account_key = \"file:{}\"\n",
            google.base(),
            key.display()
        ),
    )
    .expect("config");
    let db = format!("sqlite://{}/vox.db", dir.display());
    let env = [("VOX__STORE__URL", db.as_str())];
    let bin = std::path::Path::new(BIN);
    let acme = admin_create(bin, &config, &env, "Acme", "Acme Plumbing", None);
    let globex = admin_create(bin, &config, &env, "Globex", "Globex Dental", None);
    let config_arg = config.display().to_string();
    let db2 = db.clone();
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--config", &config_arg],
            &[("VOX__STORE__URL", db2.as_str())],
        )
    })
    .await
    .expect("server");
    let base = format!("http://{}", server.addr);
    let login = |c: &Value| {
        let (id, secret) = (
            c["clientId"].as_str().expect("id").to_owned(),
            c["clientSecret"].as_str().expect("secret").to_owned(),
        );
        let base = base.clone();
        async move { ApiClient::login(&base, &id, &secret).await }
    };
    let (acme_api, globex_api) = (login(&acme).await, login(&globex).await);
    let integration = |c: &Value| {
        format!(
            "/v1/businesses/{}/integrations/google-calendar",
            c["businessId"].as_str().expect("biz")
        )
    };
    use reqwest::Method;
    let share = |api: &ApiClient, path: String, token: &str, cal: &str| {
        let body = json!({"accessToken": token, "calendarId": cal});
        let api = api.clone();
        async move { api.send(Method::POST, &path, Some(body)).await }
    };
    // Globex names Acme's calendar: its token cannot share it, so nothing is set up
    let (status, err) = share(
        &globex_api,
        integration(&globex),
        "ya29.globex-owner",
        ACME_CAL,
    )
    .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (400, Some("accessToken")),
        "{err}"
    );
    let (status, _) = globex_api
        .send(Method::GET, &integration(&globex), None)
        .await;
    assert_eq!(status, 404, "no integration was recorded");
    // a token Google does not accept
    let (status, err) = share(&acme_api, integration(&acme), "ya29.expired", ACME_CAL).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (400, Some("accessToken")),
        "{err}"
    );
    assert!(google.shared_with(ACME_CAL).is_empty());
    // Acme shares its own calendar with Vox's service account; the rule is Google's
    let (status, made) = share(&acme_api, integration(&acme), "ya29.acme-owner", ACME_CAL).await;
    assert_eq!(status, 200, "{made}");
    let sa = vox_testkit::fake_google_calendar::SERVICE_ACCOUNT;
    assert_eq!(made["aclRuleId"], format!("user:{sa}"));
    assert_eq!(google.shared_with(ACME_CAL), vec![sa.to_owned()]);
    assert!(google.shared_with(GLOBEX_CAL).is_empty());
    let (_, got) = acme_api.send(Method::GET, &integration(&acme), None).await;
    assert_eq!(got, made);
    drop(server);
    // the business's token was used for that one request and is kept nowhere
    for file in std::fs::read_dir(&dir).expect("dir").flatten() {
        let bytes = std::fs::read(file.path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("ya29.acme-owner"),
            "{} keeps the access token",
            file.path().display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
