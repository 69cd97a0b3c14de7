//! Tools, workflows, keys and timers.

use std::time::Duration;

use serde_json::json;
use vox_core::{ChatMessage, Role, TurnId};

use super::*;
use crate::io::{Action, Input, LlmEvent};

#[test]
fn a_tool_call_mid_reply_runs_and_its_result_continues_the_reply() {
    let mut t = Tape::new(agent(json!({})), fast());
    let (turn, _) = ask(&mut t, "Are you open on Saturday?");
    t.text(turn, "Let me check that for you. ");
    t.input(Input::Llm {
        turn,
        event: LlmEvent::ToolCall {
            index: 0,
            id: Some("call_1".into()),
            name: Some("lookupHours".into()),
            arguments: "{\"day\":".into(),
        },
    });
    t.input(Input::Llm {
        turn,
        event: LlmEvent::ToolCall {
            index: 0,
            id: None,
            name: None,
            arguments: "\"saturday\"}".into(),
        },
    });
    t.input(Input::LlmDone { turn });
    let a = t.take();
    assert_eq!(
        spoken(&a),
        vec!["Let me check that for you.", "One moment."],
        "text first, then the tool's message"
    );
    let run = a.iter().find_map(|x| match x {
        Action::RunTool { call, .. } => Some(call.clone()),
        _ => None,
    });
    let call = run.expect("the tool runs");
    assert_eq!(
        (
            call.id.as_str(),
            call.name.as_str(),
            call.arguments.as_str()
        ),
        ("call_1", "lookupHours", "{\"day\":\"saturday\"}")
    );
    assert!(last_llm(&a).is_none(), "the reply waits for the result");
    t.input(Input::ToolResult {
        turn,
        call_id: "call_1".into(),
        content: "{\"open\":\"10:00-14:00\"}".into(),
        end_call: None,
    });
    let (turn2, req) = last_llm(&t.take()).expect("the reply continues");
    assert_eq!(turn2, turn, "same turn");
    let n = req.messages.len();
    assert_eq!(req.messages[n - 2].tool_calls[0].name, "lookupHours");
    assert_eq!(
        req.messages[n - 1],
        ChatMessage::tool_result("call_1", "{\"open\":\"10:00-14:00\"}")
    );
    t.text(turn, "Yes, from ten to two.");
    t.input(Input::LlmDone { turn });
    assert_eq!(spoken(&t.take()), vec!["Yes, from ten to two."]);
    t.synthesize(turn, 3, 500);
    t.input(Input::PlaybackStarted { turn });
    t.input(Input::PlaybackFinished { turn });
    assert_eq!(
        t.e.history().last(),
        Some(&ChatMessage::text(Role::Assistant, "Yes, from ten to two."))
    );
}

#[test]
fn a_model_calling_tools_without_end_is_stopped_after_max_rounds() {
    let mut t = Tape::new(agent(json!({})), fast());
    let (turn, _) = ask(&mut t, "That's all, bye.");
    let mut rounds = 1;
    loop {
        t.input(Input::Llm {
            turn,
            event: LlmEvent::ToolCall {
                index: 0,
                id: Some(format!("c{rounds}")),
                name: Some("hangUpNow".into()),
                arguments: "{}".into(),
            },
        });
        t.input(Input::LlmDone { turn });
        if last_llm(&t.take()).is_none() {
            break;
        }
        rounds += 1;
        assert!(rounds <= 20, "the model is asked forever");
    }
    assert_eq!(
        rounds,
        super::super::reply::MAX_ROUNDS,
        "stopped after the last round"
    );
}

#[test]
fn end_call_tool_hangs_up_after_the_last_words() {
    let mut t = Tape::new(agent(json!({})), fast());
    let (turn, _) = ask(&mut t, "That's all, bye.");
    t.text(turn, "Goodbye!");
    t.input(Input::Llm {
        turn,
        event: LlmEvent::ToolCall {
            index: 0,
            id: Some("c9".into()),
            name: Some("endCall".into()),
            arguments: "{}".into(),
        },
    });
    t.input(Input::LlmDone { turn });
    let a = t.take();
    assert_eq!(spoken(&a), vec!["Goodbye!"]);
    assert!(last_llm(&a).is_none(), "no further LLM round after endCall");
    t.input(Input::PlaybackStarted { turn });
    t.input(Input::PlaybackFinished { turn });
    assert_eq!(
        t.take().last(),
        Some(&Action::Hangup {
            reason: "agent ended the call".into()
        })
    );
}

#[test]
fn workflow_moves_by_always_edges_and_the_transition_tool() {
    let wf = json!({
        "nodes": [
            {"id": "start", "type": "conversation", "prompt": "Greet the caller", "firstMessage": "Hello there!"},
            {"id": "collect-info", "type": "conversation", "prompt": "Ask for the reason for calling"},
            {"id": "schedule", "type": "tool", "prompt": "scheduleAppointment"},
            {"id": "end", "type": "tool", "prompt": "endCall"}
        ],
        "edges": [
            {"from": "start", "to": "collect-info", "when": "always"},
            {"from": "collect-info", "to": "schedule", "when": "if caller wants to schedule"},
            {"from": "schedule", "to": "end", "when": "after scheduling"}
        ],
        "startNode": "start"
    });
    let mut t = Tape::new(
        agent(json!({"conversationFlow": null, "workflow": wf})),
        fast(),
    );
    assert_eq!(
        spoken(&t.take()),
        vec!["Hello there!"],
        "the start node's first message"
    );
    t.input(Input::PlaybackStarted { turn: TurnId(1) });
    t.input(Input::PlaybackFinished { turn: TurnId(1) });
    let (turn, call) = ask(&mut t, "I'd like to book a visit.");
    assert_eq!(
        t.e.current_node(),
        Some("collect-info"),
        "the always edge was taken"
    );
    assert!(
        call.messages[0]
            .content
            .contains("Ask for the reason for calling")
    );
    let transition = call
        .tools
        .iter()
        .find(|s| s.name == "transition")
        .expect("transition tool");
    assert_eq!(
        transition.parameters["properties"]["next"]["enum"],
        json!(["schedule"])
    );
    t.input(Input::Llm {
        turn,
        event: LlmEvent::ToolCall {
            index: 0,
            id: Some("t1".into()),
            name: Some("transition".into()),
            arguments: "{\"next\":\"schedule\"}".into(),
        },
    });
    t.input(Input::LlmDone { turn });
    let a = t.take();
    let ran: Vec<String> = a
        .iter()
        .filter_map(|x| {
            if let Action::RunTool { call, .. } = x {
                Some(call.name.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(ran, vec!["scheduleAppointment"], "the tool node ran");
    assert_eq!(t.e.current_node(), Some("end"));
    assert!(
        t.e.history()
            .iter()
            .any(|m| m.content == "Moved to step schedule.")
    );
}

#[test]
fn keypad_digits_become_a_caller_turn() {
    let mut t = Tape::new(agent(json!({})), fast());
    for d in ['4', '2', '#'] {
        t.input(Input::Dtmf { digit: d });
    }
    let (_, call) = last_llm(&t.take()).expect("digits are a turn");
    assert_eq!(
        call.messages.last().map(|m| m.content.as_str()),
        Some("(The caller pressed the keys: 42)")
    );
}

#[test]
fn without_an_llm_the_workflow_follows_the_most_similar_edge() {
    let wf = json!({
        "nodes": [
            {"id": "start", "type": "conversation", "prompt": "Greet", "firstMessage": "Hello! Hours, booking, or goodbye?"},
            {"id": "hours", "type": "conversation", "prompt": "Tell the hours", "firstMessage": "We are open nine to five."},
            {"id": "book", "type": "conversation", "prompt": "Book", "firstMessage": "Which day suits you?"},
            {"id": "end", "type": "tool", "prompt": "endCall"}
        ],
        "edges": [
            {"from": "start", "to": "hours", "when": "the caller asks when we are open"},
            {"from": "start", "to": "book", "when": "the caller wants an appointment"},
            {"from": "start", "to": "end", "when": "the caller says goodbye"},
            {"from": "hours", "to": "end", "when": "the caller says goodbye"}
        ],
        "startNode": "start"
    });
    let a = agent(json!({"conversationFlow": null, "workflow": wf}));
    let mut t = Tape {
        e: VoiceAgent::without_llm(a, fast()),
        now: Instant::now(),
        log: Vec::new(),
        t0: Instant::now(),
    };
    t.input(Input::Tick);
    assert_eq!(
        spoken(&t.take()),
        vec!["Hello!", "Hours, booking, or goodbye?"]
    );
    t.input(Input::PlaybackFinished { turn: TurnId(1) });
    let ask = |t: &mut Tape, words: &str| {
        t.speak(600);
        t.stop_speaking();
        t.input(Input::AsrFinal { text: words.into() });
        t.quiet(400);
        let a = t.take();
        assert!(last_llm(&a).is_none(), "no LLM is ever asked");
        a.into_iter().find_map(|x| match x {
            Action::ChooseEdge {
                turn,
                text,
                options,
            } => Some((turn, text, options)),
            _ => None,
        })
    };
    let (turn, text, options) = ask(&mut t, "When are you open?").expect("edges are scored");
    assert_eq!(text, "When are you open?");
    assert_eq!(options.len(), 3);
    t.input(Input::EdgeScores {
        turn,
        scores: vec![0.81, 0.30, 0.10],
    });
    let a = t.take();
    assert_eq!(spoken(&a), vec!["We are open nine to five."]);
    assert_eq!(t.e.current_node(), Some("hours"));
    // the workflow's reply is timed as the model's is: from the caller's end of speech
    let reply = a
        .iter()
        .find_map(|x| match x {
            Action::EndOfSpeech { turn } => Some(*turn),
            _ => None,
        })
        .expect("the reply's turn");
    t.input(Input::PlaybackStarted { turn: reply });
    let m = t
        .take()
        .into_iter()
        .find_map(|x| match x {
            Action::TurnMetrics(m) => Some(m),
            _ => None,
        })
        .expect("the reply's latency milestones");
    assert_eq!(m.turn, reply.0);
    assert!(m.first_llm_token_ms.is_none(), "{m:?}");
    assert!(
        matches!((m.end_of_turn_ms, m.first_audio_sent_ms), (Some(d), Some(s)) if d > 0.0 && s >= d),
        "{m:?}"
    );
    t.input(Input::PlaybackFinished { turn });
    // nothing similar enough: ask again, stay
    let (turn, _, _) = ask(&mut t, "Purple elephants").expect("scored");
    t.input(Input::EdgeScores {
        turn,
        scores: vec![0.12],
    });
    assert_eq!(
        spoken(&t.take()),
        vec!["Sorry, I didn't get that.", "Could you say it another way?"]
    );
    assert_eq!(t.e.current_node(), Some("hours"));
    t.input(Input::PlaybackFinished { turn });
    // goodbye: the endCall node says goodbye and hangs up after it
    let (turn, _, _) = ask(&mut t, "That's all, bye.").expect("scored");
    t.input(Input::EdgeScores {
        turn,
        scores: vec![0.7],
    });
    let a = t.take();
    assert_eq!(spoken(&a), vec!["Goodbye!"]);
    let bye = a
        .iter()
        .find_map(|x| {
            if let Action::EndOfSpeech { turn } = x {
                Some(*turn)
            } else {
                None
            }
        })
        .expect("goodbye turn");
    t.input(Input::PlaybackFinished { turn: bye });
    assert_eq!(
        t.take().last(),
        Some(&Action::Hangup {
            reason: "agent ended the call (workflow)".into()
        })
    );
}

#[test]
fn idle_reminders_then_silence_ends_the_call() {
    let mut cfg = fast();
    cfg.idle_reminder_after = Duration::from_secs(5);
    cfg.max_reminders = 2;
    cfg.silence_timeout = Duration::from_secs(20);
    let mut t = Tape::new(
        agent(json!({"firstMessage": "Hello! How can I help?"})),
        cfg,
    );
    let a = t.take();
    assert_eq!(spoken(&a), vec!["Hello!", "How can I help?"]);
    let greeting = TurnId(1);
    t.input(Input::PlaybackStarted { turn: greeting });
    t.quiet(2000);
    t.input(Input::PlaybackFinished { turn: greeting });
    t.take();
    t.quiet(4900);
    assert!(spoken(&t.take()).is_empty(), "not yet");
    t.quiet(200);
    assert_eq!(
        spoken(&t.take()),
        vec!["Are you still there?"],
        "a reminder after 5 s of silence"
    );
    t.input(Input::PlaybackFinished { turn: TurnId(2) });
    t.wait(5000);
    assert_eq!(spoken(&t.take()), vec!["Are you still there?"]);
    t.input(Input::PlaybackFinished { turn: TurnId(3) });
    t.wait(6000);
    assert!(spoken(&t.take()).is_empty(), "only two reminders");
    t.wait(3000);
    let a = t.take();
    assert_eq!(
        spoken(&a),
        vec![
            "I haven't heard from you,",
            "so I'll end the call now.",
            "Goodbye!"
        ]
    );
    assert!(
        !a.iter().any(|x| matches!(x, Action::Hangup { .. })),
        "says goodbye first"
    );
    t.input(Input::PlaybackFinished { turn: TurnId(4) });
    assert_eq!(
        t.take().last(),
        Some(&Action::Hangup {
            reason: "caller silent".into()
        })
    );
    t.quiet(1000);
    assert!(t.take().is_empty(), "nothing after hang-up");
}

#[test]
fn max_duration_ends_the_call_politely_even_mid_reply() {
    let mut cfg = fast();
    cfg.max_duration = Duration::from_secs(10);
    let mut t = Tape::new(agent(json!({})), cfg);
    let (turn, _) = ask(&mut t, "Tell me everything.");
    t.text(turn, "Well, there is a lot to say about this topic. ");
    t.synthesize(turn, 1, 5000);
    t.input(Input::PlaybackStarted { turn });
    t.input(Input::PlaybackProgress {
        turn,
        played: Duration::from_millis(1000),
    });
    t.take();
    t.wait(10_000);
    let a = t.take();
    assert!(a.contains(&Action::StopSpeaking { turn }), "{a:?}");
    assert_eq!(
        spoken(&a),
        vec![
            "We've reached the time limit for this call.",
            "Thank you for calling, goodbye!"
        ]
    );
    let bye = a.iter().find_map(|x| match x {
        Action::EndOfSpeech { turn } => Some(*turn),
        _ => None,
    });
    t.input(Input::PlaybackFinished {
        turn: bye.expect("goodbye turn"),
    });
    assert_eq!(
        t.take().last(),
        Some(&Action::Hangup {
            reason: "maximum call duration reached".into()
        })
    );
}
