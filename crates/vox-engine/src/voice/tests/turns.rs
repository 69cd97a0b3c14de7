//! Turn-taking and barge-in.

use std::time::Duration;

use serde_json::json;
use vox_core::{ChatMessage, Role};

use super::*;
use crate::io::{Action, Input};

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
