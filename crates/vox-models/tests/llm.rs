//! The local LLM (SmolLM2-135M-Instruct on candle). Needs the models; skips with a printed
//! reason.

use std::io::Write as _;

use serde_json::json;
use vox_core::{ChatMessage, Role, ToolSpec};
use vox_models::{LocalLlm, LocalLlmConfig, Models, SMOLLM2};
use vox_providers::LlmRequest;

fn models() -> Option<Models> {
    vox_models::testing::models_or_skip(&[("SmolLM2", SMOLLM2)], false)
}

#[test]
fn tokenizes_like_the_reference_tokenizer() {
    let Some(m) = models() else { return };
    let bpe =
        vox_models::bpe::Bpe::from_gguf(&m.file("SmolLM2", SMOLLM2).expect("file")).expect("bpe");
    // ids from Hugging Face `tokenizers` built from the same vocabulary and merges, with
    // SmolLM2's pre-tokenizer (single digits, then byte-level GPT-2 split)
    assert_eq!(
        bpe.encode("<|im_start|>user\nCan I book a table for 4 people at 7:30pm?<|im_end|>\n"),
        vec![
            1, 4093, 198, 7306, 339, 1863, 253, 3252, 327, 216, 36, 701, 418, 216, 39, 42, 35, 32,
            11043, 47, 2, 198
        ]
    );
    let tricky = "It's   naïve café — “quoted” 2025 {\"name\": \"endCall\"}\n\n  x";
    let ids = bpe.encode(tricky);
    assert_eq!(
        ids,
        vec![
            1589, 506, 256, 15486, 46494, 37366, 1841, 619, 385, 5036, 573, 216, 34, 32, 34, 37,
            9583, 1245, 1799, 476, 486, 12800, 23597, 8866, 1792
        ]
    );
    assert_eq!(bpe.decode(&ids), tricky);
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "scheduleAppointment".into(),
            description: "Book an appointment for the caller.".into(),
            parameters: json!({"type": "object", "properties": {"name": {"type": "string"}, "day": {"type": "string", "enum": ["monday", "tuesday", "wednesday", "thursday", "friday"]}}, "required": ["name", "day"]}),
        },
        ToolSpec {
            name: "endCall".into(),
            description: "Hang up when the caller says goodbye.".into(),
            parameters: json!({"type": "object", "properties": {}}),
        },
    ]
}

#[test]
fn without_the_tool_pass_it_only_talks() {
    let Some(m) = models() else { return };
    let llm = LocalLlm::load(&m, LocalLlmConfig::default()).expect("load");
    let request = LlmRequest {
        messages: vec![ChatMessage::text(Role::User, "Bye, thanks!")],
        tools: tools(),
    };
    let (text, calls) = rt().block_on(llm.complete(request)).expect("reply");
    assert!(calls.is_empty() && !text.is_empty(), "{text:?} {calls:?}");
}

#[test]
fn answers_in_short_spoken_text() {
    let Some(m) = models() else { return };
    let llm = LocalLlm::load(&m, LocalLlmConfig::default()).expect("load");
    let request = LlmRequest {
        messages: vec![
            ChatMessage::text(
                Role::System,
                "You are the receptionist of Bright Smile Dental. We are open Monday to Friday, 9 am to 5 pm.",
            ),
            ChatMessage::text(Role::User, "Hi, what are your opening hours?"),
        ],
        tools: Vec::new(),
    };
    let t = std::time::Instant::now();
    let (text, calls) = rt().block_on(llm.complete(request)).expect("reply");
    let _ = writeln!(std::io::stderr(), "reply in {:?}: {text:?}", t.elapsed());
    assert!(calls.is_empty());
    assert!(!text.trim().is_empty() && text.len() < 600, "{text:?}");
    assert!(!text.contains("<|"), "no control tokens: {text:?}");
    let lower = text.to_lowercase();
    assert!(
        ["9", "nine", "5", "five", "monday", "friday"]
            .iter()
            .any(|w| lower.contains(w)),
        "answers from the prompt: {text:?}"
    );
}

#[test]
fn chooses_tools_with_grammar_constrained_calls() {
    let Some(m) = models() else { return };
    let llm = LocalLlm::load(
        &m,
        LocalLlmConfig {
            tool_calls: true,
            ..LocalLlmConfig::default()
        },
    )
    .expect("load");
    let rt = rt();
    let ask = |said: &str| {
        let request = LlmRequest {
            messages: vec![
                ChatMessage::text(
                    Role::System,
                    "You are the receptionist of Bright Smile Dental.",
                ),
                ChatMessage::text(Role::User, said),
            ],
            tools: tools(),
        };
        let t = std::time::Instant::now();
        let r = rt.block_on(llm.complete(request)).expect("reply");
        let _ = writeln!(std::io::stderr(), "{said:?} -> {r:?} in {:?}", t.elapsed());
        r
    };
    let booking = ask("This is Maria Lopez, please book me in on Tuesday.");
    let goodbye = ask("That's all I needed, thank you. Goodbye!");
    let question = ask("What are your opening hours?");
    // the grammar's guarantee: any call parses, names a real tool, has only declared
    // arguments of the declared types, and every required one
    for (name, args) in booking.1.iter().chain(&goodbye.1).chain(&question.1) {
        let v: serde_json::Value = serde_json::from_str(args).expect("arguments are JSON");
        match name.as_str() {
            "scheduleAppointment" => {
                assert!(v["name"].is_string(), "{v}");
                assert!(
                    ["monday", "tuesday", "wednesday", "thursday", "friday"]
                        .contains(&v["day"].as_str().unwrap_or("")),
                    "{v}"
                );
                assert!(v.as_object().is_some_and(|o| o.len() == 2), "{v}");
            }
            "endCall" => assert_eq!(v, json!({})),
            other => panic!("not a tool: {other}"),
        }
    }
    // the model's judgement on clear cases
    assert_eq!(
        booking.1.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        vec!["scheduleAppointment"],
        "a booking request books"
    );
    assert_eq!(
        goodbye.1.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        vec!["endCall"],
        "goodbye ends the call"
    );
    // Not asserted: whether a plain question is left to the reply pass. SmolLM2-135M calls a
    // tool for "What are your opening hours?" (BENCHMARKS.md, local LLM): the grammar makes
    // calls well-formed, not wise.
    let _ = writeln!(std::io::stderr(), "question -> {question:?}");
}
