//! Input tapes in virtual time: each test drives the engine the way the call actor does.

use std::time::{Duration, Instant};

use serde_json::json;
use vox_core::{AudioFrame, ChatMessage, Role, TurnId, VadEvent, VadOutput};

use super::*;
use crate::agent::AgentSpec;

fn agent(extra: serde_json::Value) -> AgentSpec {
    let mut base = json!({
        "id": "a1", "name": "Test Agent", "conversationFlow": "Answer questions about opening hours.",
        "tools": [{"name": "lookupHours", "type": "function", "url": "http://example.com/hours",
                   "description": "Opening hours for a day", "message": "One moment."},
                  {"name": "endCall", "type": "endCall"}]
    });
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let a: AgentSpec = serde_json::from_value(base).expect("agent");
    a.validate().expect("valid");
    a
}

struct Tape {
    e: VoiceAgent,
    now: Instant,
    log: Vec<(Duration, Action)>,
    t0: Instant,
}

impl Tape {
    fn new(a: AgentSpec, cfg: EngineConfig) -> Self {
        let now = Instant::now();
        let mut t = Self {
            e: VoiceAgent::new(a, cfg),
            now,
            log: Vec::new(),
            t0: now,
        };
        t.input(Input::Tick);
        t
    }
    fn input(&mut self, i: Input<'_>) {
        self.e.handle_input(self.now, i);
        while let Some(a) = self.e.poll_action() {
            self.log.push((self.now - self.t0, a));
        }
    }
    /// Advances time frame by frame, firing timers like the actor does.
    fn frames(&mut self, ms: u64, first: Option<VadEvent>, speaking: bool) {
        let frame = AudioFrame::silence();
        for i in 0..ms / 20 {
            let event = if i == 0 { first } else { None };
            self.input(Input::CallerAudio {
                frame: &frame,
                vad: VadOutput {
                    probability: 0.0,
                    speaking,
                    event,
                },
            });
            self.now += Duration::from_millis(20);
            if self.e.poll_timeout().is_some_and(|t| t <= self.now) {
                self.input(Input::Tick);
            }
        }
    }
    fn speak(&mut self, ms: u64) {
        self.frames(ms, Some(VadEvent::SpeechStart), true);
    }
    fn stop_speaking(&mut self) {
        self.frames(20, Some(VadEvent::SpeechEnd), false);
    }
    fn quiet(&mut self, ms: u64) {
        self.frames(ms, None, false);
    }
    /// Virtual time passes with no caller frames (timers only).
    fn wait(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        while let Some(t) = self.e.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.input(Input::Tick);
        }
        self.now = end;
    }
    fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.log)
            .into_iter()
            .map(|(_, a)| a)
            .collect()
    }
    fn text(&mut self, turn: TurnId, t: &str) {
        self.input(Input::Llm {
            turn,
            event: LlmEvent::Text(t.into()),
        });
    }
    /// TTS finishes every segment: `ms` of audio each.
    fn synthesize(&mut self, turn: TurnId, segments: u32, ms: u64) {
        for segment in 0..segments {
            self.input(Input::TtsAudio {
                turn,
                segment,
                audio: Duration::from_millis(ms),
                complete: true,
            });
        }
    }
}

fn last_llm(actions: &[Action]) -> Option<(TurnId, LlmCall)> {
    actions.iter().rev().find_map(|a| match a {
        Action::StartLlm { turn, call } => Some((*turn, call.clone())),
        _ => None,
    })
}

fn spoken(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SpeakText { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn fast() -> EngineConfig {
    EngineConfig::default()
}

/// Caller asks; returns the LLM turn and request.
fn ask(t: &mut Tape, question: &str) -> (TurnId, LlmCall) {
    t.speak(1000);
    t.stop_speaking();
    t.quiet(100);
    t.input(Input::AsrFinal {
        text: question.into(),
    });
    t.quiet(400);
    last_llm(&t.take()).expect("the caller's turn reached the LLM")
}

#[test]
fn normal_turn_streams_by_sentence_and_commits_after_playback() {
    let mut t = Tape::new(agent(json!({})), fast());
    assert!(t.take().is_empty(), "no first message configured");
    let (turn, call) = ask(&mut t, "What are your hours?");
    assert_eq!(call.messages[0].role, Role::System);
    assert_eq!(
        call.messages.last(),
        Some(&ChatMessage::text(Role::User, "What are your hours?"))
    );
    assert!(call.tools.iter().any(|s| s.name == "lookupHours"));
    t.text(turn, "We are open ");
    assert!(spoken(&t.take()).is_empty(), "no boundary yet");
    t.text(turn, "nine to five, Monday ");
    assert_eq!(
        spoken(&t.take()),
        vec!["We are open nine to five,"],
        "the first clause starts speech"
    );
    t.text(turn, "to Friday. See you!");
    t.input(Input::LlmDone { turn });
    let a = t.take();
    assert_eq!(spoken(&a), vec!["Monday to Friday.", "See you!"]);
    assert!(a.contains(&Action::EndOfSpeech { turn }));
    t.synthesize(turn, 3, 1000);
    t.input(Input::PlaybackStarted { turn });
    let metrics = t.take().into_iter().find_map(|a| match a {
        Action::TurnMetrics(m) => Some(m),
        _ => None,
    });
    let m = metrics.expect("turn metrics once audio is sent");
    // speech ended 20 ms into stop_speaking(); the decision came 300 ms (min endpointing) later
    assert!(
        m.end_of_turn_ms
            .is_some_and(|v| (300.0..=320.0).contains(&v)),
        "{m:?}"
    );
    assert!(
        m.asr_final_ms
            .is_some_and(|v| v <= m.end_of_turn_ms.unwrap_or(0.0)),
        "{m:?}"
    );
    t.input(Input::PlaybackFinished { turn });
    let h = t.e.history();
    assert_eq!(
        h.last(),
        Some(&ChatMessage::text(
            Role::Assistant,
            "We are open nine to five, Monday to Friday. See you!"
        ))
    );
}

#[test]
fn barge_in_pauses_then_interrupts_and_commits_only_what_was_heard() {
    let mut t = Tape::new(agent(json!({})), fast());
    let (turn, _) = ask(&mut t, "What are your hours?");
    t.text(
        turn,
        "We are open nine to five. We are closed on Sundays and holidays. ",
    );
    t.input(Input::LlmDone { turn });
    t.synthesize(turn, 2, 2000);
    t.input(Input::PlaybackStarted { turn });
    t.input(Input::PlaybackProgress {
        turn,
        played: Duration::from_millis(3000),
    });
    t.take();
    t.speak(200);
    let a = t.take();
    assert_eq!(
        a.first(),
        Some(&Action::PausePlayout),
        "speech over the agent pauses playout at once"
    );
    assert!(
        !a.iter().any(|x| matches!(x, Action::StopSpeaking { .. })),
        "200 ms is not yet an interruption"
    );
    t.speak(400);
    let a = t.take();
    assert!(
        a.contains(&Action::StopSpeaking { turn }),
        "500 ms of speech interrupts: {a:?}"
    );
    let last = t.e.history().last().cloned().expect("committed");
    assert_eq!(last.role, Role::Assistant);
    assert!(last.interrupted);
    // 3 s of 4 s played: all of the first sentence and half of the second (19 of its 38
    // characters, "We are closed on Su", cut back to whole words)
    assert_eq!(last.content, "We are open nine to five. We are closed on");
    t.stop_speaking();
    t.input(Input::AsrFinal {
        text: "Wait, what about Sunday?".into(),
    });
    t.quiet(400);
    let (_, call) = last_llm(&t.take()).expect("next turn");
    let n = call.messages.len();
    assert_eq!(
        call.messages[n - 2].content,
        "We are open nine to five. We are closed on",
        "only the heard part reaches the LLM"
    );
    assert_eq!(call.messages[n - 1].content, "Wait, what about Sunday?");
    // a late event for the interrupted turn is ignored
    t.input(Input::PlaybackFinished { turn });
    assert_eq!(t.e.history().len(), n - 1);
}

#[test]
fn a_backchannel_or_a_cough_resumes_instead() {
    let mut t = Tape::new(agent(json!({})), fast());
    let (turn, _) = ask(&mut t, "What are your hours?");
    t.text(turn, "We are open nine to five on weekdays.");
    t.input(Input::LlmDone { turn });
    t.synthesize(turn, 1, 3000);
    t.input(Input::PlaybackStarted { turn });
    t.take();
    // "mm-hm": short speech whose transcript is a backchannel
    t.speak(300);
    t.stop_speaking();
    t.input(Input::AsrFinal {
        text: "Mm-hm.".into(),
    });
    let a = t.take();
    assert_eq!(a.first(), Some(&Action::PausePlayout));
    assert_eq!(a.last(), Some(&Action::ResumePlayout));
    assert!(!a.iter().any(|x| matches!(x, Action::StopSpeaking { .. })));
    // a cough: short speech, no transcript at all: resumes after the timeout
    t.speak(200);
    t.stop_speaking();
    t.quiet(900);
    let a = t.take();
    assert_eq!(a, vec![Action::PausePlayout, Action::ResumePlayout]);
    t.input(Input::PlaybackFinished { turn });
    let last = t.e.history().last().cloned().expect("committed");
    assert_eq!(
        (last.content.as_str(), last.interrupted),
        ("We are open nine to five on weekdays.", false)
    );
    assert!(
        !t.e.history()
            .iter()
            .any(|m| m.role == Role::User && m.content.contains("Mm")),
        "backchannels are not turns"
    );
}

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
fn the_caller_continuing_before_the_answer_merges_into_one_turn() {
    let mut t = Tape::new(agent(json!({})), fast());
    let (turn, _) = ask(&mut t, "I want to book");
    t.speak(600);
    let a = t.take();
    assert!(
        a.contains(&Action::StopSpeaking { turn }),
        "the pending answer is dropped"
    );
    t.stop_speaking();
    t.input(Input::AsrFinal {
        text: "for Tuesday at ten.".into(),
    });
    t.quiet(400);
    let (_, call) = last_llm(&t.take()).expect("one merged turn");
    assert_eq!(
        call.messages.last().map(|m| m.content.as_str()),
        Some("I want to book for Tuesday at ten.")
    );
    assert_eq!(
        call.messages
            .iter()
            .filter(|m| m.role == Role::User)
            .count(),
        1
    );
}

#[test]
fn a_turn_of_two_segments_waits_for_both_transcripts() {
    // A slow recognizer: the first segment's transcript arrives after the caller has also
    // said (and stopped saying) the second, whose transcript comes later still.
    let mut t = Tape::new(agent(json!({})), fast());
    t.speak(1500);
    t.stop_speaking();
    t.quiet(250);
    t.speak(600);
    t.stop_speaking();
    t.quiet(700);
    t.input(Input::AsrFinal {
        text: "That is all I needed.".into(),
    });
    t.quiet(700);
    assert!(
        last_llm(&t.take()).is_none(),
        "the second segment's words are still coming"
    );
    t.input(Input::AsrFinal {
        text: "Bye.".into(),
    });
    t.quiet(400);
    let (_, call) = last_llm(&t.take()).expect("one turn with both segments");
    assert_eq!(
        call.messages.last().map(|m| m.content.as_str()),
        Some("That is all I needed. Bye.")
    );
    // a transcript that never comes is waited for only up to the ASR timeout
    t.speak(800);
    t.stop_speaking();
    t.quiet(200);
    t.speak(400);
    t.stop_speaking();
    t.input(Input::AsrFinal {
        text: "And one more thing.".into(),
    });
    t.quiet(3100);
    assert!(
        last_llm(&t.take()).is_some(),
        "answered once the missing transcript timed out"
    );
}

#[test]
fn words_transcribed_after_the_timeout_join_an_answer_that_has_not_played() {
    // the second segment's transcript is later than the ASR timeout: the engine answers the
    // first part, then the rest arrives before any of that answer has played
    let mut t = Tape::new(agent(json!({})), fast());
    t.speak(1500);
    t.stop_speaking();
    t.input(Input::AsrFinal {
        text: "That is all I needed.".into(),
    });
    t.quiet(200);
    t.speak(400);
    t.stop_speaking();
    t.quiet(3100);
    let (first, call) = last_llm(&t.take()).expect("answered after the timeout");
    assert_eq!(
        call.messages.last().map(|m| m.content.as_str()),
        Some("That is all I needed.")
    );
    t.input(Input::AsrFinal {
        text: "Bye.".into(),
    });
    let a = t.take();
    assert!(
        a.contains(&Action::StopSpeaking { turn: first }),
        "the partial answer is dropped: {a:?}"
    );
    let (_, call) = last_llm(&a).expect("answered again with all the words");
    assert_eq!(
        call.messages.last().map(|m| m.content.as_str()),
        Some("That is all I needed. Bye.")
    );
    assert_eq!(
        call.messages
            .iter()
            .filter(|m| m.role == Role::User)
            .count(),
        1
    );
}

#[test]
fn words_transcribed_while_the_agent_speaks_are_answered_after_it() {
    let mut t = Tape::new(agent(json!({})), fast());
    let (turn, _) = ask(&mut t, "What are your hours?");
    t.text(turn, "We are open nine to five.");
    t.input(Input::LlmDone { turn });
    t.synthesize(turn, 1, 1500);
    t.input(Input::PlaybackStarted { turn });
    t.take();
    // a transcript of earlier speech that was never answered comes in now (too late to join)
    t.input(Input::AsrFinal {
        text: "And on Sundays?".into(),
    });
    assert!(
        last_llm(&t.take()).is_none(),
        "the answer playing is not cut"
    );
    t.input(Input::PlaybackFinished { turn });
    let (_, call) =
        last_llm(&t.take()).expect("the late words are answered once the agent is done");
    assert_eq!(
        call.messages.last().map(|m| m.content.as_str()),
        Some("And on Sundays?")
    );
}

#[test]
fn the_end_of_turn_model_chooses_the_endpointing_window() {
    for (probability, answered_after_ms) in [(0.9f32, 300u64), (0.1, 1500)] {
        let mut t = Tape::new(agent(json!({})), fast());
        t.speak(1000);
        t.stop_speaking();
        let speech_end = t.now - Duration::from_millis(20);
        t.input(Input::AsrFinal {
            text: "I want to book an appointment.".into(),
        });
        t.input(Input::EndOfTurn { probability });
        let mut answered = None;
        for _ in 0..100 {
            t.quiet(20);
            if last_llm(&t.take()).is_some() {
                answered = Some(t.now - speech_end);
                break;
            }
        }
        let at = answered.expect("answered within 2 s").as_millis() as u64;
        assert!(
            at >= answered_after_ms && at <= answered_after_ms + 40,
            "p={probability}: answered after {at} ms"
        );
    }
}

#[test]
fn a_transcript_later_than_the_asr_timeout_still_makes_a_turn() {
    let mut t = Tape::new(agent(json!({})), fast());
    t.speak(1000);
    t.stop_speaking();
    t.quiet(3100); // the engine stops waiting for a transcript after 3 s
    assert!(last_llm(&t.take()).is_none());
    t.input(Input::AsrFinal {
        text: "I would like to book.".into(),
    });
    let (_, call) = last_llm(&t.take()).expect("the late words are answered, not lost");
    assert_eq!(
        call.messages.last().map(|m| m.content.as_str()),
        Some("I would like to book.")
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
    assert_eq!(spoken(&t.take()), vec!["We are open nine to five."]);
    assert_eq!(t.e.current_node(), Some("hours"));
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
