//! A post-call survey (seed 004's EPA): when the agent ends the call, before hanging up,
//! the caller is asked each question and answers on the keypad or by voice (a number); each
//! question waits `timeout` after it has been heard. [`Surveyed`] wraps any conversation:
//! until the inner one hangs up it only passes inputs and actions through.
//!
//! The result is reported after every answer ([`Action::Survey`]) as it would stand if the
//! caller hung up then (`Partial`, `HangUp`), and once more at the end (`AllAnswered`, or
//! `Timeout` when a question went unanswered).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vox_core::{Role, TurnId};

use crate::io::{Action, Conversation, Input, TranscriptEntry};

/// How a question is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerType {
    /// A key from 1 to the question's `maxScore`.
    Keypad,
    /// A number said aloud (a key works too).
    Voice,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    /// What is asked.
    pub text: String,
    /// How it is answered.
    pub answer_type: AnswerType,
    /// The best answer (answers run from 1 to this).
    pub max_score: u32,
}

/// A survey: its questions and how long each waits for its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    /// In order.
    pub questions: Vec<Question>,
    /// Waited after a question has been heard.
    pub timeout: Duration,
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The question.
    pub question: String,
    /// What the caller pressed or said.
    pub answer: String,
    /// Its score (1 to the question's maximum).
    pub score: u32,
}

/// Where a survey stands (seed 004's `epaResults`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SurveyResult {
    /// `Completed`, `Partial` or `NotStarted`.
    pub state: &'static str,
    /// `AllAnswered`, `HangUp` or `Timeout`.
    pub completion_reason: &'static str,
    /// Questions asked of the caller.
    pub total_questions: usize,
    /// Answered.
    pub questions_answered: usize,
    /// The answers' mean share of their maximum, as a percentage (0 with none).
    pub calculated_score: f64,
    /// The answers.
    pub responses: Vec<Response>,
}

/// The value of an answer, if it is one: a key, or a number in the words ("four", "4").
fn value(text: &str, max: u32) -> Option<u32> {
    const WORDS: [&str; 10] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .find_map(|w| {
            let w = w.to_lowercase();
            w.parse::<u32>()
                .ok()
                .or_else(|| WORDS.iter().position(|x| *x == w).map(|i| i as u32 + 1))
        })
        .filter(|v| (1..=max).contains(v))
}

#[derive(Debug)]
enum Stage {
    /// The inner conversation runs.
    Off,
    /// Question `index` is being asked; `deadline` once it has been heard.
    Asking {
        index: usize,
        turn: TurnId,
        deadline: Option<Instant>,
    },
    /// Thanking the caller; then hang up.
    Closing { turn: TurnId },
    /// Over.
    Done,
}

/// A conversation with a survey after it. See the module docs.
#[derive(Debug)]
pub struct Surveyed {
    inner: Box<dyn Conversation>,
    survey: Survey,
    stage: Stage,
    out: VecDeque<Action>,
    responses: Vec<Response>,
    /// The inner conversation's reason for hanging up, given once the survey is over.
    reason: String,
    turns: u64,
}

/// Survey turns are numbered far above the conversation's.
const TURN_BASE: u64 = 1 << 40;
/// How long a question may take to be played before its wait starts anyway.
const UNHEARD: Duration = Duration::from_secs(60);

impl Surveyed {
    /// `inner`, then `survey` when the agent ends the call.
    pub fn new(inner: Box<dyn Conversation>, survey: Survey) -> Self {
        Self {
            inner,
            survey,
            stage: Stage::Off,
            out: VecDeque::new(),
            responses: Vec::new(),
            reason: String::new(),
            turns: 0,
        }
    }

    fn result(&self, reason: &'static str) -> SurveyResult {
        let total = self.survey.questions.len();
        let answered = self.responses.len();
        let score = if answered == 0 {
            0.0
        } else {
            let sum: f64 = self
                .responses
                .iter()
                .zip(&self.survey.questions)
                .map(|(r, q)| f64::from(r.score) / f64::from(q.max_score.max(1)))
                .sum();
            (sum / answered as f64 * 1000.0).round() / 10.0
        };
        SurveyResult {
            state: match answered {
                0 => "NotStarted",
                n if n == total => "Completed",
                _ => "Partial",
            },
            completion_reason: reason,
            total_questions: total,
            questions_answered: answered,
            calculated_score: score,
            responses: self.responses.clone(),
        }
    }

    fn say(&mut self, text: String) -> TurnId {
        self.turns += 1;
        let turn = TurnId(TURN_BASE + self.turns);
        self.out.push_back(Action::SpeakText {
            turn,
            segment: 0,
            text: text.clone(),
        });
        self.out.push_back(Action::EndOfSpeech { turn });
        self.out.push_back(Action::Transcript(TranscriptEntry {
            role: Role::Assistant,
            text,
            interrupted: false,
            turn: Some(turn.0),
            at_ms: 0,
        }));
        turn
    }

    fn ask(&mut self, now: Instant, index: usize) {
        let q = &self.survey.questions[index];
        let how = match q.answer_type {
            AnswerType::Keypad => format!("Press a key from 1 to {}.", q.max_score),
            AnswerType::Voice => format!("Say or press a number from 1 to {}.", q.max_score),
        };
        let text = format!("{} {how}", q.text.trim());
        let turn = self.say(text);
        // until the question has been heard, a bound in case its playback is never confirmed
        self.stage = Stage::Asking {
            index,
            turn,
            deadline: Some(now + self.survey.timeout + UNHEARD),
        };
    }

    /// Thanks the caller and reports the end (`reason`).
    fn close(&mut self, reason: &'static str) {
        self.out.push_back(Action::Survey(self.result(reason)));
        let turn = self.say("Thank you for your answers. Goodbye!".into());
        self.stage = Stage::Closing { turn };
    }

    /// The answer `text` to the question being asked, if it is one.
    fn answer(&mut self, now: Instant, text: &str) {
        let Stage::Asking { index, .. } = self.stage else {
            return;
        };
        let q = &self.survey.questions[index];
        let Some(score) = value(text, q.max_score) else {
            return;
        };
        self.responses.push(Response {
            question: q.text.clone(),
            answer: text.trim().to_owned(),
            score,
        });
        self.out.push_back(Action::Transcript(TranscriptEntry {
            role: Role::User,
            text: text.trim().to_owned(),
            interrupted: false,
            turn: None,
            at_ms: 0,
        }));
        if index + 1 < self.survey.questions.len() {
            // as it stands if the caller hangs up now
            self.out.push_back(Action::Survey(self.result("HangUp")));
            self.ask(now, index + 1);
        } else {
            self.close("AllAnswered");
        }
    }

    /// Takes the inner conversation's actions; its hang-up by the agent starts the survey.
    fn drain_inner(&mut self, now: Instant) {
        while let Some(a) = self.inner.poll_action() {
            match a {
                Action::Hangup { reason }
                    if matches!(self.stage, Stage::Off)
                        && reason.starts_with("agent ended the call")
                        && !self.survey.questions.is_empty() =>
                {
                    self.reason = reason;
                    self.out.push_back(Action::Survey(self.result("HangUp")));
                    self.ask(now, 0);
                }
                other => self.out.push_back(other),
            }
        }
    }
}

impl Conversation for Surveyed {
    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match self.stage {
            Stage::Off => {
                self.inner.handle_input(now, input);
                self.drain_inner(now);
            }
            Stage::Asking {
                turn,
                deadline,
                index,
            } => match input {
                Input::PlaybackFinished { turn: t } if t == turn => {
                    self.stage = Stage::Asking {
                        index,
                        turn,
                        deadline: Some(now + self.survey.timeout),
                    };
                }
                Input::Dtmf { digit } => self.answer(now, &digit.to_string()),
                Input::AsrFinal { text } => self.answer(now, &text),
                Input::Tick if deadline.is_some_and(|d| d <= now) => self.close("Timeout"),
                _ => {}
            },
            Stage::Closing { turn } => {
                if matches!(input, Input::PlaybackFinished { turn: t } if t == turn) {
                    self.out.push_back(Action::Hangup {
                        reason: std::mem::take(&mut self.reason),
                    });
                    self.stage = Stage::Done;
                }
            }
            Stage::Done => {}
        }
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.stage {
            Stage::Off => self.inner.poll_timeout(),
            Stage::Asking { deadline, .. } => deadline,
            Stage::Closing { .. } | Stage::Done => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A conversation whose agent ends the call at the first tick.
    #[derive(Debug, Default)]
    struct EndsAtOnce {
        out: VecDeque<Action>,
        reason: &'static str,
    }

    impl Conversation for EndsAtOnce {
        fn handle_input(&mut self, _now: Instant, input: Input<'_>) {
            if matches!(input, Input::Tick) && self.out.is_empty() {
                self.out.push_back(Action::Hangup {
                    reason: self.reason.into(),
                });
            }
        }
        fn poll_action(&mut self) -> Option<Action> {
            self.out.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    fn survey() -> Survey {
        Survey {
            questions: vec![
                Question {
                    text: "How satisfied are you?".into(),
                    answer_type: AnswerType::Keypad,
                    max_score: 5,
                },
                Question {
                    text: "Would you recommend us?".into(),
                    answer_type: AnswerType::Voice,
                    max_score: 10,
                },
            ],
            timeout: Duration::from_secs(8),
        }
    }

    struct Run {
        s: Surveyed,
        now: Instant,
        actions: Vec<Action>,
    }

    impl Run {
        fn new(reason: &'static str) -> Self {
            let inner = Box::new(EndsAtOnce {
                out: VecDeque::new(),
                reason,
            });
            let mut r = Self {
                s: Surveyed::new(inner, survey()),
                now: Instant::now(),
                actions: Vec::new(),
            };
            r.input(Input::Tick);
            r
        }
        fn input(&mut self, i: Input<'_>) {
            self.s.handle_input(self.now, i);
            while let Some(a) = self.s.poll_action() {
                self.actions.push(a);
            }
        }
        fn spoken(&self) -> Vec<&str> {
            self.actions
                .iter()
                .filter_map(|a| match a {
                    Action::SpeakText { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect()
        }
        fn last_turn(&self) -> TurnId {
            self.actions
                .iter()
                .rev()
                .find_map(|a| match a {
                    Action::EndOfSpeech { turn } => Some(*turn),
                    _ => None,
                })
                .expect("a turn")
        }
        fn heard(&mut self) {
            let turn = self.last_turn();
            self.input(Input::PlaybackFinished { turn });
        }
        fn results(&self) -> Vec<&SurveyResult> {
            self.actions
                .iter()
                .filter_map(|a| match a {
                    Action::Survey(r) => Some(r),
                    _ => None,
                })
                .collect()
        }
        fn hung_up(&self) -> Option<&str> {
            self.actions.iter().find_map(|a| match a {
                Action::Hangup { reason } => Some(reason.as_str()),
                _ => None,
            })
        }
    }

    #[test]
    fn the_caller_answers_by_keypad_and_by_voice() {
        let mut r = Run::new("agent ended the call");
        assert_eq!(r.hung_up(), None, "the survey comes before the hang-up");
        assert_eq!(
            r.spoken(),
            ["How satisfied are you? Press a key from 1 to 5."]
        );
        r.heard();
        r.input(Input::Dtmf { digit: '9' });
        assert_eq!(r.spoken().len(), 1, "9 is no answer to 1-5");
        r.input(Input::Dtmf { digit: '4' });
        r.heard();
        r.input(Input::AsrFinal {
            text: "Probably eight.".into(),
        });
        assert_eq!(
            r.spoken()[2],
            "Thank you for your answers. Goodbye!",
            "{:?}",
            r.spoken()
        );
        r.heard();
        assert_eq!(r.hung_up(), Some("agent ended the call"));
        let last = *r.results().last().expect("result");
        assert_eq!(
            (last.state, last.completion_reason, last.questions_answered),
            ("Completed", "AllAnswered", 2)
        );
        // 4/5 and 8/10: 80%
        assert_eq!(last.calculated_score, 80.0);
        assert_eq!(last.responses[1].answer, "Probably eight.");
        assert_eq!(last.responses[1].score, 8);
        // as it stood after the first answer, had the caller hung up then
        let partial = r.results()[1];
        assert_eq!(
            (partial.state, partial.completion_reason),
            ("Partial", "HangUp")
        );
    }

    #[test]
    fn an_unanswered_question_ends_the_survey_at_its_timeout() {
        let mut r = Run::new("agent ended the call (workflow)");
        r.heard();
        let deadline = r.s.poll_timeout().expect("a deadline");
        assert_eq!(deadline, r.now + Duration::from_secs(8));
        r.now = deadline;
        r.input(Input::Tick);
        let last = *r.results().last().expect("result");
        assert_eq!(
            (last.state, last.completion_reason, last.questions_answered),
            ("NotStarted", "Timeout", 0)
        );
        r.heard();
        assert_eq!(r.hung_up(), Some("agent ended the call (workflow)"));
    }

    #[test]
    fn other_endings_hang_up_without_a_survey() {
        let r = Run::new("transfer to Office");
        assert_eq!(r.hung_up(), Some("transfer to Office"));
        assert!(r.spoken().is_empty());
        assert_eq!(value("I'd say three", 5), Some(3));
        assert_eq!(value("twelve", 10), None);
        assert_eq!(value("0", 5), None);
    }
}
