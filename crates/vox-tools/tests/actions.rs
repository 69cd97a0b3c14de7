//! Seed 000's actions as a call's tools: several transfer or knowledge records are one tool
//! to the model, what the caller gives is kept with the call, a workflow trigger is an effect,
//! a GET action's reply is cut to its selected paths, and every run names its record.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use vox_core::ToolCall;
use vox_store::{Store, ToolRecord};
use vox_testkit::FakeOpenAi;
use vox_tools::ToolRunner;
use vox_tools::api::{ApiTool, CallContext, CallTools, Effect, Messenger, ToolEnv, ToolEvent};
use vox_tools::calendar::{CalendarBackend, NoCalendar};
use vox_tools::http::HttpGuard;
use vox_tools::knowledge::KnowledgeBases;

fn record(id: &str, name: &str, config: Value, message: Option<&str>) -> ToolRecord {
    ToolRecord {
        id: id.into(),
        business_id: "biz_1".into(),
        template_id: "voice-ai-action".into(),
        name: name.into(),
        display_name: id.into(),
        kind: name.into(),
        config_override: config,
        message: message.map(str::to_owned),
        enabled: true,
        created_at: 0,
        updated_at: 0,
    }
}

/// What a run told the events hook.
#[derive(Debug, Clone)]
struct Seen {
    name: String,
    tool_id: Option<String>,
    action_type: Option<String>,
    effect: Option<Effect>,
    result: String,
}

/// A carrier's messaging that keeps what it is asked to send, and refuses one number.
#[derive(Debug, Default)]
struct Texts(Mutex<Vec<(String, String, String)>>);

impl Messenger for Texts {
    fn send_sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
    ) -> futures::future::BoxFuture<'static, Result<String, String>> {
        let refused = to == "+15559999999";
        if !refused {
            self.0
                .lock()
                .expect("texts")
                .push((from.into(), to.into(), body.into()));
        }
        Box::pin(async move {
            if refused {
                Err("the carrier refused it".into())
            } else {
                Ok("SM1".into())
            }
        })
    }
}

async fn call_tools(records: &[ToolRecord]) -> (Arc<CallTools>, Arc<Mutex<Vec<Seen>>>) {
    call_tools_with(records, None, "+14155550123").await
}

async fn call_tools_with(
    records: &[ToolRecord],
    messenger: Option<Arc<dyn Messenger>>,
    caller: &str,
) -> (Arc<CallTools>, Arc<Mutex<Vec<Seen>>>) {
    let dir = vox_testkit::scratch_dir(&vox_store::new_id("actions"));
    let store = Store::connect(&format!("sqlite://{}/vox.db", dir.display()))
        .await
        .expect("store");
    let env = ToolEnv {
        http: HttpGuard {
            allow_private: true,
            ..HttpGuard::default()
        },
        timeout: Duration::from_secs(5),
        knowledge: Arc::new(KnowledgeBases::new(store, None)),
        calendar: Arc::new(|_: &CallContext| Arc::new(NoCalendar) as Arc<dyn CalendarBackend>),
    };
    let ctx = CallContext {
        call_id: "call_1".into(),
        business_id: "biz_1".into(),
        agent_id: "agent_1".into(),
        customer_number: Some(caller.into()),
        phone_number: Some("+15125550122".into()),
        can_transfer: true,
        messenger,
        ..Default::default()
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let events = Arc::new(move |e: &ToolEvent<'_>| {
        assert!(e.finished_ms >= e.started_ms);
        log.lock().expect("lock").push(Seen {
            name: e.name.to_owned(),
            tool_id: e.source.map(|s| s.tool_id.clone()),
            action_type: e
                .source
                .and_then(|s| s.action.as_ref())
                .and_then(|a| a["actionType"].as_str())
                .map(str::to_owned),
            effect: e.effect.cloned(),
            result: e.result.to_owned(),
        });
    });
    let tools = CallTools::new(env, ctx, ApiTool::from_records(records), Some(events));
    (Arc::new(tools), seen)
}

async fn run(tools: &Arc<CallTools>, name: &str, args: Value) -> String {
    tools
        .run(ToolCall {
            id: "t1".into(),
            name: name.into(),
            arguments: args.to_string(),
        })
        .await
        .content
}

#[tokio::test]
async fn transfers_and_knowledge_bases_merge_and_runs_name_their_record() {
    let action = |t: &str| json!({"actionType": t, "name": t, "actionParameters": {}});
    let records = [
        record(
            "tool_manager",
            "transferCall",
            json!({"destinations": [{"name": "Manager", "phoneNumber": "+15125550190"}], "action": action("CALL_TRANSFER")}),
            Some("Connecting you."),
        ),
        record(
            "tool_sales",
            "transferCall",
            json!({"destinations": [{"name": "Sales", "phoneNumber": "+15125550191", "description": "new orders"}], "action": action("CALL_TRANSFER")}),
            None,
        ),
        record(
            "tool_kb1",
            "knowledgeBaseQuery",
            json!({"fileIds": ["file_1"], "action": action("KNOWLEDGE_BASE")}),
            None,
        ),
        record(
            "tool_kb2",
            "knowledgeBaseQuery",
            json!({"fileIds": ["file_2", "file_1"]}),
            None,
        ),
        record(
            "tool_extract",
            "postCallExtraction",
            json!({"key": "budget"}),
            None,
        ),
    ];
    let loaded = ApiTool::from_records(&records);
    assert_eq!(
        loaded.len(),
        2,
        "one transfer tool and one knowledge tool: {loaded:?}"
    );
    match &loaded[0].tool {
        ApiTool::Transfer { destinations, .. } => {
            let names: Vec<&str> = destinations.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(names, ["Manager", "Sales"]);
        }
        other => panic!("a transfer first, got {other:?}"),
    }
    match &loaded[1].tool {
        ApiTool::Knowledge { file_ids } => assert_eq!(file_ids, &["file_1", "file_2"]),
        other => panic!("a knowledge base second, got {other:?}"),
    }
    let (tools, seen) = call_tools(&records).await;
    let defs = tools.defs();
    assert_eq!(defs.iter().filter(|d| d.name == "transferCall").count(), 1);
    assert!(
        defs.iter().all(|d| d.name != "postCallExtraction"),
        "post-call only"
    );
    let said = run(&tools, "transferCall", json!({"destination": "sales"})).await;
    assert!(said.contains("Sales"), "{said}");
    assert_eq!(
        tools.transfer_order().map(|o| o.destination.phone_number),
        Some("+15125550191".to_owned())
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(
        seen[0].tool_id.as_deref(),
        Some("tool_sales"),
        "the destination's record"
    );
    assert_eq!(seen[0].action_type.as_deref(), Some("CALL_TRANSFER"));
}

#[tokio::test]
async fn data_the_caller_gives_is_kept_and_workflows_are_effects() {
    let records = [
        record(
            "tool_email",
            "captureData",
            json!({"name": "save_email", "key": "field_email", "description": "e-mail address", "examples": ["dana@example.com"]}),
            None,
        ),
        record(
            "tool_quote",
            "triggerWorkflow",
            json!({"name": "start_quote", "workflowId": "wf_42", "description": "When the caller wants a quote"}),
            Some("Let me start that."),
        ),
    ];
    let (tools, seen) = call_tools(&records).await;
    let defs = tools.defs();
    let email = defs
        .iter()
        .find(|d| d.name == "save_email")
        .expect("capture tool");
    assert!(
        email.description.contains("dana@example.com"),
        "{}",
        email.description
    );
    let quote = defs
        .iter()
        .find(|d| d.name == "start_quote")
        .expect("workflow tool");
    assert_eq!(quote.message.as_deref(), Some("Let me start that."));
    let mut updates = tools.captured_updates();
    assert_eq!(
        run(&tools, "save_email", json!({"value": "dana@example.com"})).await,
        "Saved."
    );
    assert!(
        updates.has_changed().expect("open"),
        "the record's writer is told"
    );
    assert_eq!(
        updates.borrow_and_update()["field_email"],
        "dana@example.com"
    );
    // not overwritten without overwriteExistingValue
    let said = run(&tools, "save_email", json!({"value": "other@example.com"})).await;
    assert!(said.contains("kept"), "{said}");
    assert_eq!(tools.captured()["field_email"], "dana@example.com");
    run(&tools, "start_quote", json!({"details": "two bathrooms"})).await;
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0].effect,
        Some(Effect::DataCaptured {
            key: "field_email".into(),
            value: "dana@example.com".into()
        })
    );
    assert_eq!(seen[1].effect, None, "a kept value is not captured again");
    assert_eq!(
        seen[2].effect,
        Some(Effect::WorkflowTriggered {
            workflow_id: "wf_42".into()
        })
    );
    assert_eq!(
        (seen[2].name.as_str(), seen[2].tool_id.as_deref()),
        ("start_quote", Some("tool_quote"))
    );
}

#[tokio::test]
async fn a_get_action_answers_only_its_selected_paths() {
    let fake = FakeOpenAi::start(vox_testkit::FakeTiming::default()).await;
    fake.set_function(
        "orders",
        json!({"data": {"orderId": "ORD-7", "secret": "do not read"}, "status": "shipped"}),
    );
    let url = format!(
        "{}/fn/orders?orderId={{{{orderId}}}}",
        fake.base_url().trim_end_matches("/v1")
    );
    let records = [record(
        "tool_orders",
        "apiRequest",
        json!({"name": "check_order", "url": url, "method": "GET", "selectedPaths": ["data.orderId", "status"],
               "argumentDescriptions": {"orderId": "Order ID to look up (e.g. ORD-12345)"}}),
        None,
    )];
    let (tools, seen) = call_tools(&records).await;
    let def = tools
        .defs()
        .into_iter()
        .find(|d| d.name == "check_order")
        .expect("def");
    assert_eq!(
        def.parameters["properties"]["orderId"]["description"],
        "Order ID to look up (e.g. ORD-12345)"
    );
    let said = run(&tools, "check_order", json!({"orderId": "ORD 7"})).await;
    let answer: Value = serde_json::from_str(&said).expect("json");
    assert_eq!(
        answer,
        json!({"data.orderId": "ORD-7", "status": "shipped"})
    );
    assert_eq!(
        fake.requests("/fn/orders"),
        vec![json!({"orderId": "ORD 7"})]
    );
    assert_eq!(seen.lock().expect("lock")[0].result, said);
}

#[tokio::test]
async fn a_text_message_goes_to_the_caller_through_the_carrier() {
    let records = [record(
        "tool_sms",
        "sendSms",
        json!({"name": "text_address", "messageBody": "12 Oak Street", "description": "When the caller asks where we are."}),
        Some("I'll text it to you."),
    )];
    let texts = Arc::new(Texts::default());
    let (tools, seen) = call_tools_with(&records, Some(texts.clone()), "+14155550123").await;
    let def = tools
        .defs()
        .into_iter()
        .find(|d| d.name == "text_address")
        .expect("def");
    assert!(
        def.description.contains("12 Oak Street"),
        "{}",
        def.description
    );
    assert!(
        run(&tools, "text_address", json!({}))
            .await
            .starts_with("Sent")
    );
    assert_eq!(
        texts.0.lock().expect("texts").clone(),
        [(
            "+15125550122".to_owned(),
            "+14155550123".to_owned(),
            "12 Oak Street".to_owned()
        )]
    );
    assert_eq!(
        seen.lock().expect("seen")[0].tool_id.as_deref(),
        Some("tool_sms")
    );
    // refused by the carrier, and a call without carrier messaging: the model is told
    let (tools, _) = call_tools_with(&records, Some(texts.clone()), "+15559999999").await;
    assert!(
        run(&tools, "text_address", json!({}))
            .await
            .contains("refused")
    );
    let (tools, _) = call_tools_with(&records, None, "+14155550123").await;
    assert!(
        run(&tools, "text_address", json!({}))
            .await
            .starts_with("Error")
    );
    assert_eq!(texts.0.lock().expect("texts").len(), 1);
}
