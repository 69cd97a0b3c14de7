//! The end-of-turn decision on interim transcripts: the words so far weigh in the wait, and a
//! turn whose final is late is answered on its interim, which the final confirms or corrects.

use super::*;

fn user_lines(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Transcript(e) if e.role == Role::User => Some(e.text.clone()),
            _ => None,
        })
        .collect()
}

fn interim(t: &mut Tape, text: &str) {
    t.input(Input::AsrInterim { text: text.into() });
}

fn last_user(call: &LlmCall) -> Option<&str> {
    call.messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.content.as_str())
}

/// The caller speaks for a second with an interim near its end, and stops; the final does
/// not come.
fn speak_with_interim(t: &mut Tape, words: &str) {
    t.speak(900);
    interim(t, words);
    t.frames(100, None, true);
    t.stop_speaking();
}

#[test]
fn a_late_final_is_answered_on_its_interim_and_confirmed() {
    let mut t = Tape::new(agent(json!({})), fast());
    speak_with_interim(&mut t, "What are your hours");
    t.quiet(400);
    assert!(
        last_llm(&t.take()).is_none(),
        "the endpointing wait (300 ms) gives the final a chance"
    );
    t.quiet(200);
    let a = t.take();
    let (turn, call) = last_llm(&a).expect("answered on the interim 200 ms after the wait");
    assert_eq!(last_user(&call), Some("What are your hours"));
    assert!(
        user_lines(&a).is_empty(),
        "shown once its final comes: {a:?}"
    );
    t.input(Input::AsrFinal {
        text: "What are your hours?".into(),
    });
    let a = t.take();
    assert!(
        !a.contains(&Action::StopSpeaking { turn }) && last_llm(&a).is_none(),
        "the same words: the answer stands: {a:?}"
    );
    assert_eq!(user_lines(&a), vec!["What are your hours?".to_owned()]);
}

#[test]
fn a_final_with_other_words_takes_back_an_answer_not_yet_heard() {
    let mut t = Tape::new(agent(json!({})), fast());
    speak_with_interim(&mut t, "What are your");
    t.quiet(600);
    let (first, _) = last_llm(&t.take()).expect("answered on the interim");
    t.text(first, "We are open");
    t.input(Input::AsrFinal {
        text: "What are your hours on Sunday?".into(),
    });
    let a = t.take();
    assert!(a.contains(&Action::StopSpeaking { turn: first }), "{a:?}");
    let (_, call) = last_llm(&a).expect("answered again on the final");
    assert_eq!(last_user(&call), Some("What are your hours on Sunday?"));
    assert_eq!(
        call.messages
            .iter()
            .filter(|m| m.role == Role::User)
            .count(),
        1
    );
    assert_eq!(
        user_lines(&a),
        vec!["What are your hours on Sunday?".to_owned()]
    );
}

#[test]
fn a_final_with_other_words_after_the_answer_played_corrects_the_history() {
    let mut t = Tape::new(agent(json!({})), fast());
    speak_with_interim(&mut t, "Are you open on");
    t.quiet(600);
    let (turn, _) = last_llm(&t.take()).expect("answered on the interim");
    t.text(turn, "Which day do you mean?");
    t.input(Input::LlmDone { turn });
    t.synthesize(turn, 1, 1000);
    t.input(Input::PlaybackStarted { turn });
    t.input(Input::AsrFinal {
        text: "Are you open on Sunday?".into(),
    });
    let a = t.take();
    assert!(
        !a.contains(&Action::StopSpeaking { turn }),
        "what plays is not cut"
    );
    assert_eq!(user_lines(&a), vec!["Are you open on Sunday?".to_owned()]);
    t.input(Input::PlaybackFinished { turn });
    t.quiet(100);
    let (_, call) = ask(&mut t, "Thanks.");
    let users: Vec<&str> = call
        .messages
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(users, vec!["Are you open on Sunday?", "Thanks."]);
}

#[test]
fn an_interim_from_long_before_the_end_of_speech_is_not_answered() {
    let mut t = Tape::new(agent(json!({})), fast());
    t.speak(200);
    interim(&mut t, "I would like");
    t.frames(1800, None, true);
    t.stop_speaking();
    t.quiet(1000);
    assert!(
        last_llm(&t.take()).is_none(),
        "an interim 1.8 s old misses what was said since: the final is waited for"
    );
    t.input(Input::AsrFinal {
        text: "I would like to book a table for two.".into(),
    });
    t.quiet(20);
    let (_, call) = last_llm(&t.take()).expect("answered on the final");
    assert_eq!(
        last_user(&call),
        Some("I would like to book a table for two.")
    );
}

#[test]
fn interim_words_that_look_unfinished_lengthen_the_wait() {
    let mut t = Tape::new(agent(json!({})), fast());
    speak_with_interim(&mut t, "My number is five five five");
    t.quiet(1000);
    assert!(
        last_llm(&t.take()).is_none(),
        "a number being dictated: the longer window (1.5 s)"
    );
    t.quiet(800);
    let (_, call) = last_llm(&t.take()).expect("answered after the longer window");
    assert_eq!(last_user(&call), Some("My number is five five five"));
}

#[test]
fn a_final_in_time_is_answered_and_the_interim_is_not_used() {
    let mut t = Tape::new(agent(json!({})), fast());
    speak_with_interim(&mut t, "What are your");
    t.quiet(100);
    t.input(Input::AsrFinal {
        text: "What are your hours?".into(),
    });
    t.quiet(400);
    let a = t.take();
    let (_, call) = last_llm(&a).expect("answered");
    assert_eq!(last_user(&call), Some("What are your hours?"));
    assert_eq!(user_lines(&a), vec!["What are your hours?".to_owned()]);
}

#[test]
fn the_caller_going_on_before_the_final_waits_for_it_again() {
    let mut t = Tape::new(agent(json!({})), fast());
    speak_with_interim(&mut t, "What are your");
    t.quiet(600);
    let (first, _) = last_llm(&t.take()).expect("answered on the interim");
    // they go on before anything was heard: the answer is taken back, and the interim's
    // words wait for their final again, ahead of the new segment's
    t.speak(500);
    t.stop_speaking();
    assert!(t.take().contains(&Action::StopSpeaking { turn: first }));
    t.input(Input::AsrFinal {
        text: "What are your hours?".into(),
    });
    t.quiet(400);
    assert!(
        last_llm(&t.take()).is_none(),
        "the second segment's final is still missing"
    );
    t.input(Input::AsrFinal {
        text: "On Sunday.".into(),
    });
    t.quiet(20);
    let a = t.take();
    let (_, call) = last_llm(&a).expect("answered on both finals");
    assert_eq!(last_user(&call), Some("What are your hours? On Sunday."));
    assert_eq!(
        user_lines(&a),
        vec!["What are your hours? On Sunday.".to_owned()]
    );
}
