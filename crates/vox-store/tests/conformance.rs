//! One storage conformance suite, run on SQLite always and on PostgreSQL when
//! `VOX_TEST_POSTGRES_URL` is set (CI starts a PostgreSQL on loopback).

mod support;

use support::{stores, uuid_like};
use vox_store::{Backend, Store};

#[tokio::test]
async fn tenants_clients_and_tokens() {
    for (store, url) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let other = store.create_organization("Globex").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme Plumbing", Some("+15125550100"))
            .await
            .expect("biz");
        // a business is visible only to its organization
        assert_eq!(
            store
                .business(&org.id, &biz.id)
                .await
                .expect("get")
                .as_ref(),
            Some(&biz),
            "{which:?}"
        );
        assert_eq!(
            store.business(&other.id, &biz.id).await.expect("get"),
            None,
            "{which:?}: cross-tenant"
        );
        assert_eq!(
            store.business(&org.id, "biz_missing").await.expect("get"),
            None
        );

        let scopes = vec!["voice-agents:read".to_owned(), "calls:read".to_owned()];
        let client = store
            .create_client(&org.id, "ci", &scopes)
            .await
            .expect("client");
        assert_eq!(
            store
                .authenticate_client(&client.client_id, &client.client_secret)
                .await
                .expect("auth"),
            Some((org.id.clone(), scopes.clone()))
        );
        assert_eq!(
            store
                .authenticate_client(&client.client_id, "wrong")
                .await
                .expect("auth"),
            None
        );
        assert_eq!(
            store
                .authenticate_client("cli_missing", &client.client_secret)
                .await
                .expect("auth"),
            None
        );

        let token = store
            .issue_token(&client.client_id, &org.id, &scopes[..1], 60)
            .await
            .expect("token");
        let grant = store.grant(&token).await.expect("grant").expect("valid");
        assert_eq!(
            (grant.organization_id.as_str(), grant.scopes.as_slice()),
            (org.id.as_str(), &scopes[..1])
        );
        assert_eq!(store.grant("not-a-token").await.expect("grant"), None);
        let expired = store
            .issue_token(&client.client_id, &org.id, &scopes, -1)
            .await
            .expect("token");
        assert_eq!(
            store.grant(&expired).await.expect("grant"),
            None,
            "{which:?}: expired"
        );

        // a business of a missing organization is refused (foreign keys are on)
        assert!(
            store
                .create_business("org_missing", "x", None)
                .await
                .is_err(),
            "{which:?}"
        );
        // tools: scoped by business, paged, updated, deleted
        let mut made = Vec::new();
        for i in 0..3 {
            let t = vox_store::ToolRecord {
                id: String::new(),
                business_id: biz.id.clone(),
                template_id: "template-end-call".into(),
                name: "endCall".into(),
                display_name: "End Call".into(),
                kind: "endCall".into(),
                config_override: serde_json::json!({"message": format!("bye {i}")}),
                message: Some(format!("bye {i}")),
                enabled: true,
                created_at: 0,
                updated_at: 0,
            };
            made.push(store.create_tool(t).await.expect("create tool"));
        }
        let (page, total) = store.list_tools(&biz.id, 1, 1).await.expect("list");
        assert_eq!(
            (page.len(), total, page[0].id.as_str()),
            (1, 3, made[1].id.as_str()),
            "{which:?}"
        );
        let mut t = made[0].clone();
        t.enabled = false;
        t.config_override = serde_json::json!({"message": "changed"});
        store.update_tool(&t).await.expect("update");
        let got = store
            .tool(&biz.id, &t.id)
            .await
            .expect("get")
            .expect("there");
        assert_eq!(
            (got.enabled, got.config_override["message"].as_str()),
            (false, Some("changed")),
            "{which:?}"
        );
        let other_biz = store
            .create_business(&other.id, "Globex", None)
            .await
            .expect("biz");
        assert_eq!(
            store.tool(&other_biz.id, &t.id).await.expect("get"),
            None,
            "{which:?}: another business's tool"
        );
        assert!(
            !store
                .delete_tool(&other_biz.id, &t.id)
                .await
                .expect("delete")
        );
        assert!(store.delete_tool(&biz.id, &t.id).await.expect("delete"));
        assert_eq!(store.list_tools(&biz.id, 0, 10).await.expect("list").1, 2);
        // the calendar integration is one per business, replaced on update
        assert_eq!(store.calendar(&biz.id).await.expect("cal"), None);
        let c1 = store
            .set_calendar(&biz.id, "primary", None)
            .await
            .expect("cal");
        let c2 = store
            .set_calendar(&biz.id, "team@example.com", Some("user:vox@example.iam"))
            .await
            .expect("cal");
        assert_eq!(
            (
                c1.id == c2.id,
                store
                    .calendar(&biz.id)
                    .await
                    .expect("cal")
                    .map(|c| c.calendar_id)
            ),
            (true, Some("team@example.com".to_owned()))
        );
        assert_eq!(
            c2.acl_rule_id, "user:vox@example.iam",
            "Google's rule id is kept"
        );

        // agents: document round-trips, deployment state, scoped by business
        let a = vox_store::AgentRecord {
            id: String::new(),
            business_id: biz.id.clone(),
            name: "Front desk".into(),
            kind: "INBOUND".into(),
            document: serde_json::json!({"name": "Front desk", "type": "INBOUND", "collectFields": ["name"]}),
            phone_number: None,
            on_duty: None,
            created_at: 0,
            updated_at: 0,
        };
        let mut a = store.create_agent(a).await.expect("agent");
        assert_eq!(
            store
                .agent(&biz.id, &a.id)
                .await
                .expect("get")
                .map(|g| g.document),
            Some(a.document.clone()),
            "{which:?}"
        );
        a.phone_number = Some("+15125550199".into());
        a.on_duty = Some(true);
        store.update_agent(&a).await.expect("deploy");
        let got = store
            .agent(&biz.id, &a.id)
            .await
            .expect("get")
            .expect("there");
        assert_eq!(
            (got.phone_number.as_deref(), got.on_duty),
            (Some("+15125550199"), Some(true)),
            "{which:?}"
        );
        assert_eq!(store.agent(&other_biz.id, &a.id).await.expect("get"), None);
        assert_eq!(store.list_agents(&biz.id, 0, 10).await.expect("list").1, 1);
        assert!(store.delete_agent(&biz.id, &a.id).await.expect("delete"));
        assert!(matches!(
            store.update_agent(&a).await,
            Err(vox_store::StoreError::NotFound(_))
        ));

        // the number pool: area-code match, inbound numbers exclusive, outbound shared
        let tag = format!("{:04}", uuid_like() % 10_000);
        let pool: Vec<(String, String)> = ["+1212555", "+1512555", "+1512556"]
            .iter()
            .map(|p| ("twilio".to_owned(), format!("{p}{tag}")))
            .collect();
        store.sync_numbers(&pool).await.expect("sync");
        store.sync_numbers(&pool).await.expect("sync is idempotent");
        let n1 = store
            .assign_number(&biz.id, "agent_a", true, Some("+15125550100"))
            .await
            .expect("assign")
            .expect("a number");
        assert!(
            n1.starts_with("+1512"),
            "{which:?}: area code matched: {n1}"
        );
        assert_eq!(
            store
                .assign_number(&biz.id, "agent_a", true, None)
                .await
                .expect("again")
                .as_deref(),
            Some(n1.as_str()),
            "an agent keeps its number"
        );
        let out = store
            .assign_number(&biz.id, "agent_out", false, None)
            .await
            .expect("outbound")
            .expect("a number");
        assert_eq!(
            out, n1,
            "{which:?}: outbound calls from the business's number"
        );
        let n2 = store
            .assign_number(&biz.id, "agent_b", true, Some("+15125550100"))
            .await
            .expect("assign")
            .expect("a number");
        assert!(
            n2 != n1 && n2.starts_with("+1512"),
            "{which:?}: inbound numbers are exclusive: {n2}"
        );
        assert_eq!(
            store.number_owner(&n2).await.expect("owner"),
            Some((biz.id.clone(), "agent_b".to_owned()))
        );
        store
            .release_agent_number("agent_b")
            .await
            .expect("release");
        assert_eq!(store.number_owner(&n2).await.expect("owner"), None);
        let n3 = store
            .assign_number(&biz.id, "agent_c", true, None)
            .await
            .expect("assign");
        assert_eq!(
            n3.as_deref(),
            Some(n2.as_str()),
            "{which:?}: a released number goes back to its business first"
        );

        // calls: filters, ordering, paging, tenant scope
        let biz2 = store
            .create_business(&org.id, "Acme Heating", None)
            .await
            .expect("biz");
        for (i, (b, kind, status, lead)) in [
            (&biz.id, "OUTBOUND", "COMPLETED", Some("lead-1")),
            (&biz.id, "INBOUND", "FAILED", None),
            (&biz2.id, "OUTBOUND", "COMPLETED", None),
        ]
        .into_iter()
        .enumerate()
        {
            let c = vox_store::CallRecord {
                status: vox_store::CallStatus::parse(status).expect("status"),
                lead_id: lead.map(str::to_owned),
                started_at: Some(1_000 + i as i64 * 1_000),
                duration_ms: Some(30_000 - i as i64 * 10_000),
                structured_data: Some(serde_json::json!({"name": format!("caller {i}")})),
                ..vox_store::CallRecord::new(b, vox_store::CallKind::parse(kind).expect("kind"))
            };
            store.create_call(c).await.expect("call");
        }
        let base = vox_store::CallFilter {
            organization_id: org.id.clone(),
            limit: 10,
            ..Default::default()
        };
        let ids = |v: &[vox_store::CallRecord]| {
            v.iter()
                .map(|c| c.started_at.unwrap_or(0))
                .collect::<Vec<_>>()
        };
        let (all, n) = store.list_calls(&base).await.expect("list");
        assert_eq!((n, ids(&all)), (3, vec![1_000, 2_000, 3_000]), "{which:?}");
        let (one, n) = store
            .list_calls(&vox_store::CallFilter {
                business_id: Some(biz.id.clone()),
                kind: Some(vox_store::CallKind::Outbound),
                ..base.clone()
            })
            .await
            .expect("list");
        assert_eq!(
            (n, one[0].lead_id.as_deref(), one[0].structured_data.clone()),
            (
                1,
                Some("lead-1"),
                Some(serde_json::json!({"name": "caller 0"}))
            ),
            "{which:?}"
        );
        let (late, _) = store
            .list_calls(&vox_store::CallFilter {
                start: Some(2_000),
                end: Some(3_000),
                ..base.clone()
            })
            .await
            .expect("list");
        assert_eq!(
            ids(&late),
            vec![2_000],
            "{which:?}: start inclusive, end exclusive"
        );
        let (by_len, _) = store
            .list_calls(&vox_store::CallFilter {
                order_by: vox_store::OrderBy::DurationMs,
                descending: true,
                limit: 2,
                offset: 1,
                ..base.clone()
            })
            .await
            .expect("list");
        assert_eq!(
            ids(&by_len),
            vec![2_000, 3_000],
            "{which:?}: by duration desc, page 2 of size 1.."
        );
        let (failed, n) = store
            .list_calls(&vox_store::CallFilter {
                status: Some(vox_store::CallStatus::Failed),
                ..base.clone()
            })
            .await
            .expect("list");
        assert_eq!((n, failed[0].kind.as_str()), (1, "INBOUND"));
        assert_eq!(
            store
                .list_calls(&vox_store::CallFilter {
                    organization_id: other.id.clone(),
                    ..base.clone()
                })
                .await
                .expect("list")
                .1,
            0,
            "{which:?}: tenant scope"
        );
        let mut c = all[0].clone();
        assert_eq!(
            store
                .call(&org.id, Some(&biz.id), &c.id)
                .await
                .expect("get")
                .map(|x| x.id),
            Some(c.id.clone())
        );
        assert_eq!(
            store
                .call(&org.id, Some(&biz2.id), &c.id)
                .await
                .expect("get"),
            None,
            "wrong business"
        );
        assert_eq!(
            store.call(&other.id, None, &c.id).await.expect("get"),
            None,
            "wrong organization"
        );
        c.status = vox_store::CallStatus::InProgress;
        c.transcript = Some("Agent: Hello".into());
        store.update_call(&c).await.expect("update");
        assert_eq!(
            store
                .call(&org.id, None, &c.id)
                .await
                .expect("get")
                .and_then(|x| x.transcript),
            Some("Agent: Hello".into())
        );

        // reconnecting keeps the data and does not re-run the migrations
        let again = Store::connect(&url).await.expect("reconnect");
        assert!(
            again
                .business(&org.id, &biz.id)
                .await
                .expect("get")
                .is_some(),
            "{which:?}"
        );
        if which == Backend::Sqlite {
            let _ = std::fs::remove_dir_all(
                url.trim_start_matches("sqlite://")
                    .trim_end_matches("/vox.db"),
            );
        }
    }
}

#[tokio::test]
async fn files_and_chunks() {
    for (store, _) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme", None)
            .await
            .expect("biz");
        let other = store
            .create_business(&org.id, "Other", None)
            .await
            .expect("biz");
        let f = store
            .create_file(&biz.id, "menu.md", "text/markdown", 42)
            .await
            .expect("create");
        assert_eq!(f.status, "processing", "{which:?}");
        assert_eq!(
            store.processing_files().await.expect("processing").len(),
            1,
            "{which:?}"
        );
        assert!(
            store.file(&other.id, &f.id).await.expect("get").is_none(),
            "{which:?}: another business's file"
        );
        store
            .file_ready(&biz.id, &f.id, &["first".into(), "second".into()])
            .await
            .expect("ready");
        let got = store
            .file(&biz.id, &f.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(
            (
                got.status.as_str(),
                got.size_bytes,
                got.display_name.as_str()
            ),
            ("ready", 42, "menu.md"),
            "{which:?}"
        );
        let chunks = store.file_chunks(&biz.id, &f.id).await.expect("chunks");
        assert_eq!(
            chunks
                .iter()
                .map(|c| (c.index, c.text.as_str()))
                .collect::<Vec<_>>(),
            vec![(0, "first"), (1, "second")],
            "{which:?}"
        );
        // processing again replaces the chunks
        store
            .file_ready(&biz.id, &f.id, &["only".into()])
            .await
            .expect("ready again");
        assert_eq!(
            store
                .file_chunks(&biz.id, &f.id)
                .await
                .expect("chunks")
                .len(),
            1,
            "{which:?}"
        );
        let bad = store
            .create_file(&biz.id, "scan.pdf", "application/pdf", 7)
            .await
            .expect("create");
        store
            .file_failed(&biz.id, &bad.id, "no text in the PDF")
            .await
            .expect("failed");
        let bad = store
            .file(&biz.id, &bad.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(
            (bad.status.as_str(), bad.error.as_deref()),
            ("failed", Some("no text in the PDF")),
            "{which:?}"
        );
        let (page, total) = store.list_files(&biz.id, 0, 10).await.expect("list");
        assert_eq!((page.len(), total), (2, 2), "{which:?}");
        assert!(
            store
                .processing_files()
                .await
                .expect("processing")
                .is_empty(),
            "{which:?}"
        );
        assert!(
            !store.delete_file(&other.id, &f.id).await.expect("delete"),
            "{which:?}: deleted across businesses"
        );
        assert!(
            store.delete_file(&biz.id, &f.id).await.expect("delete"),
            "{which:?}"
        );
        assert!(
            store
                .file_chunks(&biz.id, &f.id)
                .await
                .expect("chunks")
                .is_empty(),
            "{which:?}"
        );
        // a file deleted while processing cannot be marked ready
        assert!(
            store
                .file_ready(&biz.id, &f.id, &["late".into()])
                .await
                .is_err(),
            "{which:?}"
        );
        assert!(
            store
                .file_chunks(&biz.id, &f.id)
                .await
                .expect("chunks")
                .is_empty(),
            "{which:?}: rolled back"
        );
    }
}

#[tokio::test]
async fn a_call_record_follows_the_call() {
    for (store, _) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme", None)
            .await
            .expect("biz");
        let c = store
            .create_call(vox_store::CallRecord::new(
                &biz.id,
                vox_store::CallKind::Outbound,
            ))
            .await
            .expect("call");
        store
            .set_call_carrier_id_if_unset(&c.id, "REQ1")
            .await
            .expect("request id");
        store.set_call_carrier_id(&c.id, "CA1").await.expect("sid");
        // a dial's reply that comes after the carrier's callback does not overwrite its id
        store
            .set_call_carrier_id_if_unset(&c.id, "REQ2")
            .await
            .expect("late request id");
        assert_eq!(
            store
                .call_by_carrier_id("CA1")
                .await
                .expect("by carrier id")
                .map(|r| r.id),
            Some(c.id.clone()),
            "{which:?}"
        );
        assert!(
            store
                .call_by_carrier_id("CA2")
                .await
                .expect("by carrier id")
                .is_none(),
            "{which:?}"
        );
        assert!(
            store.call_started(&c.id, 10_000).await.expect("start"),
            "{which:?}"
        );
        assert!(
            !store.call_started(&c.id, 11_000).await.expect("start"),
            "{which:?}: a second start loses"
        );
        store
            .set_call_transcript(
                &c.id,
                "Agent: hi",
                &serde_json::json!([{"role": "agent", "text": "hi", "atMs": 0}]),
            )
            .await
            .expect("transcript");
        store
            .call_ended(&c.id, vox_store::EndedReason::CustomerEndedCall, 15_500)
            .await
            .expect("end");
        // a later ending (the carrier's callback) does not overwrite the first
        store
            .call_ended(&c.id, vox_store::EndedReason::CarrierFailed, 99_000)
            .await
            .expect("end");
        let got = store.call_by_id(&c.id).await.expect("get").expect("exists");
        assert_eq!(
            (
                got.status.as_str(),
                got.ended_reason.map(vox_store::EndedReason::as_str),
                got.duration_ms,
                got.started_at,
                got.ended_at,
                got.transcript.as_deref(),
                got.carrier_call_id.as_deref()
            ),
            (
                "COMPLETED",
                Some("customer-ended-call"),
                Some(5_500),
                Some(10_000),
                Some(15_500),
                Some("Agent: hi"),
                Some("CA1")
            ),
            "{which:?}"
        );
        // never started: ended with no duration
        let d = store
            .create_call(vox_store::CallRecord::new(
                &biz.id,
                vox_store::CallKind::Outbound,
            ))
            .await
            .expect("call");
        store
            .call_ended(&d.id, vox_store::EndedReason::CustomerDidNotAnswer, 20_000)
            .await
            .expect("end");
        let got = store.call_by_id(&d.id).await.expect("get").expect("exists");
        assert_eq!(
            (got.status.as_str(), got.duration_ms),
            ("FAILED", Some(0)),
            "{which:?}"
        );
        assert!(
            !store.call_started(&d.id, 21_000).await.expect("start"),
            "{which:?}: an ended call cannot start"
        );
    }
}

#[tokio::test]
async fn appointments_do_not_overlap_and_cancel_once() {
    for (store, _) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme Plumbing", None)
            .await
            .expect("biz");
        let other = store
            .create_business(&org.id, "Other", None)
            .await
            .expect("biz");
        let hour = 3_600_000;
        let at = 1_800_000_000_000_i64;
        let a = vox_store::Appointment {
            business_id: biz.id.clone(),
            start_at: at,
            end_at: at + hour,
            name: "Dana".into(),
            phone: Some("+15125550177".into()),
            ..Default::default()
        };
        let booked = store.book_appointment(a.clone(), 0).await.expect("book");
        assert_eq!(booked.status, "booked", "{which:?}");
        // overlapping, and touching within the buffer, are refused; back to back is fine
        let half = vox_store::Appointment {
            start_at: at + hour / 2,
            end_at: at + hour + hour / 2,
            ..a.clone()
        };
        assert!(
            matches!(
                store.book_appointment(half, 0).await,
                Err(vox_store::StoreError::Conflict(_))
            ),
            "{which:?}"
        );
        let next = vox_store::Appointment {
            start_at: at + hour,
            end_at: at + 2 * hour,
            ..a.clone()
        };
        assert!(
            matches!(
                store.book_appointment(next.clone(), 15 * 60_000).await,
                Err(vox_store::StoreError::Conflict(_))
            ),
            "{which:?}"
        );
        store.book_appointment(next, 0).await.expect("back to back");
        // another business's calendar is its own
        store
            .book_appointment(
                vox_store::Appointment {
                    business_id: other.id.clone(),
                    ..a.clone()
                },
                0,
            )
            .await
            .expect("other business");
        assert_eq!(
            store
                .appointments_between(&biz.id, at, at + 3 * hour)
                .await
                .expect("list")
                .len(),
            2,
            "{which:?}"
        );
        assert!(
            store
                .appointment(&other.id, &booked.id)
                .await
                .expect("get")
                .is_none(),
            "{which:?}: scoped by business"
        );
        assert!(
            !store
                .cancel_appointment(&other.id, &booked.id)
                .await
                .expect("cancel"),
            "{which:?}: not another's"
        );
        assert!(
            store
                .cancel_appointment(&biz.id, &booked.id)
                .await
                .expect("cancel"),
            "{which:?}"
        );
        assert!(
            !store
                .cancel_appointment(&biz.id, &booked.id)
                .await
                .expect("cancel"),
            "{which:?}: once"
        );
        assert_eq!(
            store
                .appointment(&biz.id, &booked.id)
                .await
                .expect("get")
                .expect("kept")
                .status,
            "cancelled"
        );
        // the freed slot can be booked again
        store.book_appointment(a, 0).await.expect("rebook");
    }
}

#[tokio::test]
async fn webhook_deliveries_are_queued_and_retried() {
    for (store, _) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme Plumbing", None)
            .await
            .expect("biz");
        assert_eq!(
            store
                .queue_delivery(&biz.id, "call.started", "{}")
                .await
                .expect("queue"),
            None,
            "{which:?}: no endpoint, nothing queued"
        );
        store
            .set_webhook(&biz.id, "https://example.com/hook", "s3cret")
            .await
            .expect("set");
        let id = store
            .queue_delivery(&biz.id, "call.started", "{\"a\":1}")
            .await
            .expect("queue")
            .expect("queued");
        let now = vox_store::now_ms();
        let due = store.due_deliveries(now + 1, 10).await.expect("due");
        assert!(
            due.iter().any(|d| d.id == id && d.body == "{\"a\":1}"),
            "{which:?}"
        );
        store
            .delivery_attempted(&id, Some("HTTP 500"), Some(now + 60_000))
            .await
            .expect("attempt");
        assert!(
            !store
                .due_deliveries(now + 1, 10)
                .await
                .expect("due")
                .iter()
                .any(|d| d.id == id),
            "{which:?}: waits for its retry time"
        );
        assert!(
            store
                .due_deliveries(now + 60_001, 10)
                .await
                .expect("due")
                .iter()
                .any(|d| d.id == id)
        );
        store
            .delivery_attempted(&id, None, None)
            .await
            .expect("attempt");
        let d = store.delivery(&id).await.expect("get").expect("kept");
        assert_eq!(
            (d.status.as_str(), d.attempts),
            ("delivered", 2),
            "{which:?}"
        );
        assert_eq!(
            store
                .webhook(&biz.id)
                .await
                .expect("get")
                .expect("set")
                .secret,
            "s3cret"
        );
        assert!(store.delete_webhook(&biz.id).await.expect("delete"));
        assert!(store.webhook(&biz.id).await.expect("get").is_none());
    }
}

#[tokio::test]
async fn unfinished_calls_end_with_their_event_once() {
    for (store, _) in stores().await {
        let which = store.backend();
        if which == Backend::Sqlite {
            use sqlx::Row as _;
            let mode = sqlx::query("PRAGMA journal_mode")
                .fetch_one(store.pool())
                .await
                .expect("pragma");
            assert_eq!(
                mode.try_get::<String, _>(0).expect("mode"),
                "wal",
                "write-ahead log"
            );
        }
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme Plumbing", None)
            .await
            .expect("biz");
        store
            .set_webhook(&biz.id, "https://example.com/hook", "s3cret")
            .await
            .expect("set");
        let new = || vox_store::CallRecord::new(&biz.id, vox_store::CallKind::Outbound);
        let running = store.create_call(new()).await.expect("call");
        store
            .call_started(&running.id, 10_000)
            .await
            .expect("start");
        let never = store.create_call(new()).await.expect("call");
        let done = store.create_call(new()).await.expect("call");
        store
            .call_ended(&done.id, vox_store::EndedReason::CustomerEndedCall, 5)
            .await
            .expect("end");
        let unfinished: Vec<String> = store
            .unfinished_calls()
            .await
            .expect("list")
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(
            unfinished,
            [running.id.clone(), never.id.clone()],
            "{which:?}"
        );
        let running = store
            .call_by_id(&running.id)
            .await
            .expect("get")
            .expect("call");
        let end = |reason| {
            let running = running.clone();
            let store = store.clone();
            async move {
                store
                    .end_call_with_event(
                        &running,
                        reason,
                        25_000,
                        Some("/rec.wav"),
                        Some("cut short"),
                        None,
                        "call.ended",
                        "{\"n\":1}",
                    )
                    .await
                    .expect("end")
            }
        };
        assert!(
            end(vox_store::EndedReason::ServerCrashed).await,
            "{which:?}"
        );
        assert!(
            !end(vox_store::EndedReason::Expired).await,
            "{which:?}: the first ending stands, no second event"
        );
        let c = store
            .call_by_id(&running.id)
            .await
            .expect("get")
            .expect("call");
        assert_eq!(
            (
                c.status,
                c.ended_reason,
                c.duration_ms,
                c.recording_url.as_deref(),
                c.summary.as_deref()
            ),
            (
                vox_store::CallStatus::Failed,
                Some(vox_store::EndedReason::ServerCrashed),
                Some(15_000),
                Some("/rec.wav"),
                Some("cut short")
            ),
            "{which:?}"
        );
        let events: Vec<_> = store
            .due_deliveries(vox_store::now_ms() + 1, 10)
            .await
            .expect("due")
            .into_iter()
            .filter(|d| d.business_id == biz.id)
            .collect();
        assert_eq!(events.len(), 1, "{which:?}: {events:?}");
        assert_eq!(
            (events[0].event.as_str(), events[0].body.as_str()),
            ("call.ended", "{\"n\":1}")
        );
        // a call that ends while running: its artifacts and event come after, together, once
        let live = store.create_call(new()).await.expect("call");
        store.call_started(&live.id, 1_000).await.expect("start");
        assert!(
            store
                .call_ended_awaiting_artifacts(
                    &live.id,
                    vox_store::EndedReason::CustomerEndedCall,
                    4_000
                )
                .await
                .expect("end")
        );
        let awaiting: Vec<String> = store
            .calls_awaiting_artifacts()
            .await
            .expect("awaiting")
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(awaiting, std::slice::from_ref(&live.id), "{which:?}");
        let live = store
            .call_by_id(&live.id)
            .await
            .expect("get")
            .expect("call");
        assert_eq!(live.status, vox_store::CallStatus::Completed, "{which:?}");
        assert!(
            store
                .unfinished_calls()
                .await
                .expect("list")
                .iter()
                .all(|c| c.id != live.id)
        );
        let complete = || {
            let (store, live) = (store.clone(), live.clone());
            async move {
                store
                    .complete_call_artifacts(
                        &live,
                        Some("/live.wav"),
                        Some("booked"),
                        None,
                        "call.ended",
                        "{\"n\":2}",
                    )
                    .await
                    .expect("complete")
            }
        };
        assert!(complete().await, "{which:?}");
        assert!(!complete().await, "{which:?}: once");
        assert!(
            store
                .calls_awaiting_artifacts()
                .await
                .expect("awaiting")
                .is_empty()
        );
        let c = store
            .call_by_id(&live.id)
            .await
            .expect("get")
            .expect("call");
        assert_eq!(
            (
                c.summary.as_deref(),
                c.recording_url.as_deref(),
                c.ended_reason
            ),
            (
                Some("booked"),
                Some("/live.wav"),
                Some(vox_store::EndedReason::CustomerEndedCall)
            )
        );
        let bodies: Vec<String> = store
            .due_deliveries(vox_store::now_ms() + 1, 10)
            .await
            .expect("due")
            .into_iter()
            .filter(|d| d.business_id == biz.id)
            .map(|d| d.body)
            .collect();
        assert_eq!(bodies, ["{\"n\":1}", "{\"n\":2}"], "{which:?}");
    }
}

#[tokio::test]
async fn a_file_agent_call_is_answered_once_and_connects_once() {
    use vox_store::FileCallSetup;
    for (store, _) in stores().await {
        let which = store.backend();
        let answered = |call: &'static str, carrier: Option<&'static str>| {
            let store = store.clone();
            async move {
                store
                    .file_call_answered(call, carrier, "greeter", 1_000)
                    .await
                    .expect("answer")
            }
        };
        assert_eq!(
            answered("vox-file-1", Some("CA1")).await,
            FileCallSetup::New,
            "{which:?}"
        );
        assert_eq!(
            answered("vox-file-2", Some("CA1")).await,
            FileCallSetup::Replayed {
                call_id: "vox-file-1".into(),
                connected: false
            },
            "{which:?}: the carrier's call keeps its first call id"
        );
        // calls without the carrier's id never collide
        assert_eq!(
            answered("vox-file-3", None).await,
            FileCallSetup::New,
            "{which:?}"
        );
        assert_eq!(
            answered("vox-file-4", None).await,
            FileCallSetup::New,
            "{which:?}"
        );
        assert!(
            store
                .file_call_connected("vox-file-1", 2_000)
                .await
                .expect("connect")
        );
        assert!(
            !store
                .file_call_connected("vox-file-1", 3_000)
                .await
                .expect("connect"),
            "{which:?}: one stream per call"
        );
        assert_eq!(
            answered("vox-file-5", Some("CA1")).await,
            FileCallSetup::Replayed {
                call_id: "vox-file-1".into(),
                connected: true
            },
            "{which:?}"
        );
    }
}

#[tokio::test]
async fn secrets_are_sealed_at_rest() {
    use sqlx::Row as _;
    use std::sync::Arc;
    use vox_crypto::seal::Sealer;
    let new_key = || Arc::new(Sealer::from_text(&Sealer::new_key_text()).expect("key"));
    for (plain, url) in stores().await {
        let which = plain.backend();
        let raw = |sql: &'static str, id: String| {
            let pool = plain.pool().clone();
            async move {
                sqlx::query(sql)
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .expect("raw")
                    .try_get::<String, _>(0)
                    .expect("text")
            }
        };
        let org = plain.create_organization("Acme").await.expect("org");
        let b1 = plain
            .create_business(&org.id, "One", None)
            .await
            .expect("biz")
            .id;
        let b2 = plain
            .create_business(&org.id, "Two", None)
            .await
            .expect("biz")
            .id;
        // written by a version that did not seal: plain text
        plain
            .set_webhook(&b1, "https://example.com/hook", "whsec-before")
            .await
            .expect("set");
        let tool = plain
            .create_tool(vox_store::ToolRecord {
                id: String::new(),
                business_id: b1.clone(),
                template_id: "template-api-request".into(),
                name: "apiRequest".into(),
                display_name: "Orders".into(),
                kind: "apiRequest".into(),
                config_override: serde_json::json!({"url": "https://api.example.com", "headers": {"Authorization": "Bearer sk-before"}}),
                message: None,
                enabled: true,
                created_at: 0,
                updated_at: 0,
            })
            .await
            .expect("tool");
        let hook_sql = "SELECT secret FROM webhooks WHERE business_id = $1";
        let tool_sql = "SELECT config_override FROM tools WHERE id = $1";
        assert_eq!(raw(hook_sql, b1.clone()).await, "whsec-before");
        // the next start seals them, once
        let key = new_key();
        let store = Store::connect(&url)
            .await
            .expect("store")
            .with_sealer(key.clone());
        assert_eq!(
            store.seal_stored_secrets().await.expect("seal"),
            2,
            "{which:?}"
        );
        assert_eq!(
            store.seal_stored_secrets().await.expect("seal"),
            0,
            "{which:?}"
        );
        let sealed_hook = raw(hook_sql, b1.clone()).await;
        let sealed_tool = raw(tool_sql, tool.id.clone()).await;
        assert!(
            sealed_hook.starts_with("vox:v1:") && !sealed_tool.contains("sk-before"),
            "{which:?}: {sealed_hook} {sealed_tool}"
        );
        assert!(
            sealed_tool.contains("api.example.com"),
            "only headers are sealed"
        );
        assert_eq!(
            store
                .webhook(&b1)
                .await
                .expect("read")
                .expect("hook")
                .secret,
            "whsec-before"
        );
        let read = store
            .tool(&b1, &tool.id)
            .await
            .expect("read")
            .expect("tool");
        assert_eq!(
            read.config_override["headers"]["Authorization"],
            "Bearer sk-before"
        );
        // new writes are sealed as they are written
        store
            .set_webhook(&b2, "https://example.com/two", "whsec-after")
            .await
            .expect("set");
        let mut updated = read.clone();
        updated.config_override["headers"]["Authorization"] = "Bearer sk-after".into();
        store.update_tool(&updated).await.expect("update");
        assert!(!raw(hook_sql, b2.clone()).await.contains("whsec-after"));
        assert!(!raw(tool_sql, tool.id.clone()).await.contains("sk-after"));
        assert_eq!(
            store
                .tool(&b1, &tool.id)
                .await
                .expect("read")
                .expect("tool")
                .config_override["headers"]["Authorization"],
            "Bearer sk-after"
        );
        // a sealed secret copied into another business's row does not open there
        sqlx::query("UPDATE webhooks SET secret = $1 WHERE business_id = $2")
            .bind(&sealed_hook)
            .bind(&b2)
            .execute(store.pool())
            .await
            .expect("copy");
        assert!(
            matches!(
                store.webhook(&b2).await,
                Err(vox_store::StoreError::Sealed(_))
            ),
            "{which:?}"
        );
        // without the key nothing opens, and another key is refused at start
        assert!(matches!(
            plain.webhook(&b1).await,
            Err(vox_store::StoreError::Sealed(_))
        ));
        let wrong = Store::connect(&url)
            .await
            .expect("store")
            .with_sealer(new_key());
        let err = wrong.seal_stored_secrets().await.expect_err("another key");
        assert!(err.to_string().contains("secrets_key"), "{err}");
    }
}

#[tokio::test]
async fn numbers_are_claimed_once_and_agents_found_by_name() {
    for (store, _) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme", None)
            .await
            .expect("biz");
        let other = store
            .create_business(&org.id, "Other", None)
            .await
            .expect("biz");
        store
            .sync_numbers(&[
                ("twilio".into(), "+15125550101".into()),
                ("telnyx".into(), "+15125550102".into()),
                ("telnyx".into(), "+15125550103".into()),
            ])
            .await
            .expect("numbers");
        assert_eq!(
            store.number_pools().await.expect("pools"),
            ["telnyx", "twilio"],
            "{which:?}"
        );
        let agent = |name: &str, b: &str| vox_store::AgentRecord {
            id: String::new(),
            business_id: b.to_owned(),
            name: name.to_owned(),
            kind: "INBOUND".into(),
            document: serde_json::json!({}),
            phone_number: None,
            on_duty: None,
            created_at: 0,
            updated_at: 0,
        };
        let a = store
            .create_agent(agent("Sales_Desk 100%", &biz.id))
            .await
            .expect("a");
        let b = store
            .create_agent(agent("Support", &other.id))
            .await
            .expect("b");
        use vox_store::NumberClaim::{Claimed, NotInPool, Taken};
        assert_eq!(
            store
                .claim_number(&biz.id, &a.id, "+15125550101")
                .await
                .expect("claim"),
            Claimed,
            "{which:?}"
        );
        assert_eq!(
            store
                .claim_number(&other.id, &b.id, "+15125550101")
                .await
                .expect("claim"),
            Taken,
            "{which:?}"
        );
        assert_eq!(
            store
                .claim_number(&other.id, &b.id, "+15125550999")
                .await
                .expect("claim"),
            NotInPool,
            "{which:?}"
        );
        // a pool number: the agent gives back the one it held
        let n = store
            .claim_pool_number(&biz.id, &a.id, "telnyx")
            .await
            .expect("pool");
        assert_eq!(n.as_deref(), Some("+15125550102"), "{which:?}");
        assert_eq!(
            store
                .claim_number(&other.id, &b.id, "+15125550101")
                .await
                .expect("claim"),
            Taken,
            "still the business's"
        );
        let n = store
            .claim_pool_number(&other.id, &b.id, "telnyx")
            .await
            .expect("pool");
        assert_eq!(n.as_deref(), Some("+15125550103"), "{which:?}");
        assert_eq!(
            store
                .claim_pool_number(&other.id, &b.id, "twilio")
                .await
                .expect("pool"),
            None,
            "the other business's number: {which:?}"
        );
        // names: any case, % and _ match only themselves
        for (q, n) in [("sales", 1), ("%", 1), ("_", 1), ("x%", 0), ("", 1)] {
            let (found, total) = store
                .search_agents(&biz.id, q, 0, 10)
                .await
                .expect("search");
            assert_eq!((found.len() as i64, total), (n, n), "{which:?} {q:?}");
        }
    }
}

#[tokio::test]
async fn a_calls_tool_runs_and_data_are_kept() {
    for (store, _) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme", None)
            .await
            .expect("biz");
        let c = store
            .create_call(vox_store::CallRecord::new(
                &biz.id,
                vox_store::CallKind::Inbound,
            ))
            .await
            .expect("call");
        for (i, name) in ["save_email", "transferCall"].iter().enumerate() {
            store
                .add_tool_run(&vox_store::ToolRun {
                    call_id: c.id.clone(),
                    tool_id: Some(format!("tool_{i}")),
                    name: (*name).into(),
                    action: (i == 1).then(
                        || serde_json::json!({"actionType": "CALL_TRANSFER", "name": "Manager"}),
                    ),
                    arguments: serde_json::json!({"i": i}),
                    result: "ok".into(),
                    started_at: 1000 + i as i64,
                    finished_at: 1010 + i as i64,
                })
                .await
                .expect("run");
        }
        let runs = store.tool_runs(&c.id).await.expect("runs");
        assert_eq!(runs.len(), 2, "{which:?}");
        assert_eq!(runs[0].name, "save_email");
        assert_eq!(
            runs[1].action.as_ref().map(|a| a["actionType"].clone()),
            Some(serde_json::json!("CALL_TRANSFER"))
        );
        assert_eq!(runs[1].arguments, serde_json::json!({"i": 1}));
        store
            .set_call_survey(
                &c.id,
                &serde_json::json!({"state": "Partial", "questionsAnswered": 1}),
            )
            .await
            .expect("survey");
        store
            .set_call_data(
                &c.id,
                &serde_json::json!({"field_email": "dana@example.com"}),
            )
            .await
            .expect("data");
        // seed 000's call-log filters: action types, leads, channel, dates, sorting
        let logs = |f: vox_store::CallSearch| {
            let store = store.clone();
            async move {
                let (calls, total) = store.search_calls(&f).await.expect("logs");
                (calls.into_iter().map(|c| c.id).collect::<Vec<_>>(), total)
            }
        };
        let base = vox_store::CallSearch {
            organization_id: org.id.clone(),
            business_id: Some(biz.id.clone()),
            limit: 10,
            ..Default::default()
        };
        let one = (vec![c.id.clone()], 1);
        assert_eq!(logs(base.clone()).await, one, "{which:?}");
        let by_action = vox_store::CallSearch {
            action_types: vec!["SMS".into(), "CALL_TRANSFER".into()],
            ..base.clone()
        };
        assert_eq!(logs(by_action).await, one, "{which:?}");
        let none = vox_store::CallSearch {
            action_types: vec!["SMS".into()],
            lead_ids: vec!["lead_1".into()],
            channel: Some(vox_store::CallChannel::Web),
            created_from: Some(0),
            created_to: Some(1),
            by_duration: true,
            ascending: true,
            ..base.clone()
        };
        assert_eq!(logs(none).await, (vec![], 0), "{which:?}");
        // seed 004's: direction, status and ending reasons
        let scheduled = vox_store::CallSearch {
            kind: Some(vox_store::CallKind::Inbound),
            status: Some(vox_store::CallStatus::Scheduled),
            not_ended_reasons: vec![vox_store::EndedReason::CustomerBusy],
            ..base.clone()
        };
        assert_eq!(logs(scheduled).await, one, "{which:?}");
        let busy = vox_store::CallSearch {
            ended_reasons: vec![vox_store::EndedReason::CustomerBusy],
            ..base.clone()
        };
        assert_eq!(logs(busy).await, (vec![], 0), "{which:?}");
        let other_org = vox_store::CallSearch {
            organization_id: "org_other".into(),
            business_id: None,
            ..base.clone()
        };
        assert_eq!(logs(other_org).await, (vec![], 0), "{which:?}");
        let c = store.call_by_id(&c.id).await.expect("read").expect("call");
        assert_eq!(
            c.epa_results,
            Some(serde_json::json!({"state": "Partial", "questionsAnswered": 1})),
            "{which:?}"
        );
        assert_eq!(
            c.structured_data,
            Some(serde_json::json!({"field_email": "dana@example.com"})),
            "{which:?}"
        );
    }
}

#[tokio::test]
async fn a_campaigns_contacts_are_claimed_once_and_settled() {
    use vox_store::{Campaign, CampaignState, ContactState, NewContact};
    for (store, _) in stores().await {
        let which = store.backend();
        let org = store.create_organization("Acme").await.expect("org");
        let biz = store
            .create_business(&org.id, "Acme", None)
            .await
            .expect("biz");
        let contact = |n: &str| NewContact {
            phone_number: n.into(),
            name: None,
            timezone: Some("America/Chicago".into()),
        };
        let c = store
            .create_campaign(
                Campaign {
                    id: String::new(),
                    business_id: biz.id.clone(),
                    agent_id: "agent_1".into(),
                    name: "C".into(),
                    state: CampaignState::Running,
                    settings: serde_json::json!({"concurrency": 1}),
                    created_at: 0,
                    updated_at: 0,
                },
                &[contact("+15552345670"), contact("+15552345671")],
            )
            .await
            .expect("campaign");
        let ks = store.campaign_contacts(&c.id).await.expect("contacts");
        assert_eq!(ks.len(), 2, "{which:?}");
        assert_eq!(ks[1].timezone.as_deref(), Some("America/Chicago"));
        assert!(
            store.claim_contact(&ks[0]).await.expect("claim"),
            "{which:?}"
        );
        assert!(
            !store.claim_contact(&ks[0]).await.expect("claim"),
            "claimed once: {which:?}"
        );
        store
            .contact_called(&ks[0].id, "call_1")
            .await
            .expect("called");
        store
            .settle_contact(
                &ks[0].id,
                ContactState::Retry,
                Some(5),
                Some("customer-busy"),
            )
            .await
            .expect("settle");
        let k = &store.campaign_contacts(&c.id).await.expect("contacts")[0];
        assert_eq!(
            (
                k.state,
                k.attempts,
                k.next_attempt_at,
                k.last_call_id.as_deref(),
                k.last_outcome.as_deref()
            ),
            (
                ContactState::Retry,
                1,
                Some(5),
                Some("call_1"),
                Some("customer-busy")
            ),
            "{which:?}"
        );
        let p = store.campaign_progress(&c.id).await.expect("progress");
        assert_eq!((p.total, p.pending, p.retry), (2, 1, 1), "{which:?}");
        assert_eq!(store.running_campaigns().await.expect("running").len(), 1);
        assert!(
            store
                .set_campaign_state(&c.id, &[CampaignState::Running], CampaignState::Paused)
                .await
                .expect("pause")
        );
        assert!(
            !store
                .set_campaign_state(&c.id, &[CampaignState::Running], CampaignState::Stopped)
                .await
                .expect("not running")
        );
        assert!(
            store.running_campaigns().await.expect("running").is_empty(),
            "{which:?}"
        );
        let (list, total) = store.list_campaigns(&biz.id, 0, 10).await.expect("list");
        assert_eq!(
            (list.len(), total, list[0].state),
            (1, 1, CampaignState::Paused)
        );
        // a call tagged with it
        let call = store
            .create_call(vox_store::CallRecord {
                campaign_id: Some(c.id.clone()),
                ..vox_store::CallRecord::new(&biz.id, vox_store::CallKind::Outbound)
            })
            .await
            .expect("call");
        assert_eq!(
            store
                .call_by_id(&call.id)
                .await
                .expect("read")
                .and_then(|c| c.campaign_id),
            Some(c.id.clone())
        );
        let found = store
            .search_calls(&vox_store::CallSearch {
                organization_id: org.id.clone(),
                campaign_id: Some(c.id.clone()),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("search");
        assert_eq!(found.1, 1, "{which:?}");
    }
}
