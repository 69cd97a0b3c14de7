use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ringbuf::HeapRb;
use ringbuf::traits::{Consumer, RingBuffer};
use vox_core::{AudioFrame, FRAME_MS, TurnId, VadEvent};

use crate::{Action, Conversation, Input};

/// Settings of the diagnostic echo agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoConfig {
    /// How long after the VAD declares the end of speech the caller's turn is over.
    pub turn_end_silence: Duration,
    /// Audio kept from before the VAD's onset decision (the onset needs a few frames).
    pub preroll: Duration,
    /// Longest utterance echoed; audio past this is not recorded.
    pub max_utterance: Duration,
}

impl Default for EchoConfig {
    fn default() -> Self {
        Self {
            turn_end_silence: Duration::from_millis(300),
            preroll: Duration::from_millis(200),
            max_utterance: Duration::from_secs(30),
        }
    }
}

/// Plays the caller's last utterance back when their turn ends, and stops the moment they
/// speak over it. A diagnostic agent for measuring the media path: it needs no model.
pub struct EchoAgent {
    cfg: EchoConfig,
    max_frames: usize,
    /// Recent frames while not capturing, so the utterance includes its onset.
    preroll: HeapRb<AudioFrame>,
    /// The utterance being captured, if the caller is (or just was) speaking.
    capture: Option<Vec<AudioFrame>>,
    /// When the VAD declared the end of speech, if the caller is in a pause.
    speech_ended_at: Option<Instant>,
    caller_speaking: bool,
    /// The turn being played, if any.
    speaking: Option<TurnId>,
    last_turn: TurnId,
    actions: VecDeque<Action>,
}

impl std::fmt::Debug for EchoAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoAgent")
            .field("capturing", &self.capture.as_ref().map(Vec::len))
            .field("caller_speaking", &self.caller_speaking)
            .field("speaking", &self.speaking)
            .finish_non_exhaustive()
    }
}

impl EchoAgent {
    /// A new echo agent.
    pub fn new(cfg: EchoConfig) -> Self {
        let frames = |d: Duration| (d.as_millis() / u128::from(FRAME_MS)) as usize;
        Self {
            max_frames: frames(cfg.max_utterance).max(1),
            preroll: HeapRb::new(frames(cfg.preroll).max(1)),
            cfg,
            capture: None,
            speech_ended_at: None,
            caller_speaking: false,
            speaking: None,
            last_turn: TurnId::default(),
            actions: VecDeque::new(),
        }
    }

    fn on_frame(&mut self, now: Instant, frame: &AudioFrame, event: Option<VadEvent>) {
        match event {
            Some(VadEvent::SpeechStart) => {
                self.caller_speaking = true;
                self.speech_ended_at = None;
                if let Some(turn) = self.speaking.take() {
                    // Barge-in: stop in the same step as the VAD's decision.
                    self.actions.push_back(Action::StopSpeaking { turn });
                }
                if self.capture.is_none() {
                    let mut utterance = Vec::with_capacity(self.max_frames.min(512));
                    utterance.extend(self.preroll.pop_iter());
                    self.capture = Some(utterance);
                }
            }
            Some(VadEvent::SpeechEnd) => {
                self.caller_speaking = false;
                self.speech_ended_at = Some(now);
            }
            None => {}
        }
        match self.capture.as_mut() {
            Some(utterance) if utterance.len() < self.max_frames => utterance.push(frame.clone()),
            Some(_) => {}
            None => {
                self.preroll.push_overwrite(frame.clone());
            }
        }
    }

    fn check_turn_end(&mut self, now: Instant) {
        let Some(ended) = self.speech_ended_at else {
            return;
        };
        if self.caller_speaking || now < ended + self.cfg.turn_end_silence {
            return;
        }
        self.speech_ended_at = None;
        if let Some(audio) = self.capture.take() {
            self.last_turn = self.last_turn.next();
            self.speaking = Some(self.last_turn);
            self.actions.push_back(Action::Speak {
                turn: self.last_turn,
                audio,
            });
        }
    }
}

impl Conversation for EchoAgent {
    fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::CallerAudio { frame, vad } => self.on_frame(now, frame, vad.event),
            Input::PlaybackFinished { turn } if self.speaking == Some(turn) => {
                self.speaking = None;
            }
            _ => {}
        }
        self.check_turn_end(now);
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.speech_ended_at.map(|t| t + self.cfg.turn_end_silence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vox_core::VadOutput;

    fn frame(v: i16) -> AudioFrame {
        AudioFrame::from_slice(&[v; 320]).expect("320")
    }

    /// Drives the agent with a tape of (vad event, speaking) frames, 20 ms apart.
    struct Tape {
        agent: EchoAgent,
        now: Instant,
        actions: Vec<(u32, Action)>,
        frame_no: u32,
    }

    impl Tape {
        fn new() -> Self {
            Self {
                agent: EchoAgent::new(EchoConfig::default()),
                now: Instant::now(),
                actions: vec![],
                frame_no: 0,
            }
        }
        fn feed(&mut self, n: u32, value: i16, first_event: Option<VadEvent>, speaking: bool) {
            for i in 0..n {
                let event = if i == 0 { first_event } else { None };
                let vad = VadOutput {
                    probability: 0.0,
                    speaking,
                    quiet: !speaking,
                    event,
                };
                self.agent.handle_input(
                    self.now,
                    Input::CallerAudio {
                        frame: &frame(value),
                        vad,
                    },
                );
                while let Some(a) = self.agent.poll_action() {
                    self.actions.push((self.frame_no, a));
                }
                self.now += Duration::from_millis(20);
                self.frame_no += 1;
            }
        }
    }

    #[test]
    fn echoes_the_utterance_with_its_preroll_after_the_silence() {
        let mut t = Tape::new();
        t.feed(20, 1, None, false); // silence: fills the 200 ms pre-roll with 1s
        t.feed(50, 7, Some(VadEvent::SpeechStart), true); // 1 s of speech
        t.feed(40, 2, Some(VadEvent::SpeechEnd), false); // VAD says silence
        assert_eq!(
            t.actions.len(),
            1,
            "{:?}",
            t.actions.iter().map(|a| a.0).collect::<Vec<_>>()
        );
        let (at, Action::Speak { turn, audio }) = &t.actions[0] else {
            panic!("expected Speak")
        };
        assert_eq!(*turn, TurnId(1));
        // spoken 300 ms (15 frames) after the end-of-speech frame (frame 70)
        assert_eq!(*at, 70 + 15);
        // 10 frames pre-roll + 50 speech + frames 70..=85 up to and including the decision
        assert_eq!(audio.len(), 10 + 50 + 16);
        assert_eq!(audio[0].samples()[0], 1);
        assert_eq!(audio[10].samples()[0], 7);
    }

    #[test]
    fn a_pause_shorter_than_the_turn_end_silence_keeps_one_utterance() {
        let mut t = Tape::new();
        t.feed(25, 7, Some(VadEvent::SpeechStart), true);
        t.feed(5, 0, Some(VadEvent::SpeechEnd), false); // 100 ms < 300 ms
        t.feed(25, 8, Some(VadEvent::SpeechStart), true);
        t.feed(30, 0, Some(VadEvent::SpeechEnd), false);
        assert_eq!(t.actions.len(), 1);
        let Action::Speak { audio, .. } = &t.actions[0].1 else {
            panic!("expected Speak")
        };
        assert!(
            audio.iter().any(|f| f.samples()[0] == 7) && audio.iter().any(|f| f.samples()[0] == 8)
        );
    }

    #[test]
    fn barge_in_stops_in_the_same_frame_as_the_vad_decision() {
        let mut t = Tape::new();
        t.feed(25, 7, Some(VadEvent::SpeechStart), true);
        t.feed(30, 0, Some(VadEvent::SpeechEnd), false);
        assert!(matches!(
            t.actions[0].1,
            Action::Speak {
                turn: TurnId(1),
                ..
            }
        ));
        let barge_frame = t.frame_no;
        t.feed(10, 9, Some(VadEvent::SpeechStart), true);
        assert_eq!(
            t.actions[1],
            (barge_frame, Action::StopSpeaking { turn: TurnId(1) })
        );
        // and the interruption is captured as the next utterance
        t.feed(30, 0, Some(VadEvent::SpeechEnd), false);
        let Action::Speak { turn, audio } = &t.actions[2].1 else {
            panic!("expected Speak")
        };
        assert_eq!(*turn, TurnId(2));
        assert!(audio.iter().any(|f| f.samples()[0] == 9));
    }

    #[test]
    fn speech_after_playback_finished_is_not_a_barge_in() {
        let mut t = Tape::new();
        t.feed(25, 7, Some(VadEvent::SpeechStart), true);
        t.feed(30, 0, Some(VadEvent::SpeechEnd), false);
        t.agent
            .handle_input(t.now, Input::PlaybackFinished { turn: TurnId(1) });
        t.feed(10, 9, Some(VadEvent::SpeechStart), true);
        assert!(
            !t.actions
                .iter()
                .any(|(_, a)| matches!(a, Action::StopSpeaking { .. }))
        );
    }

    #[test]
    fn timeout_is_reported_and_tick_ends_the_turn_without_frames() {
        let mut agent = EchoAgent::new(EchoConfig::default());
        let t0 = Instant::now();
        let vad = |event, speaking| VadOutput {
            probability: 0.0,
            speaking,
            quiet: !speaking,
            event,
        };
        agent.handle_input(
            t0,
            Input::CallerAudio {
                frame: &frame(5),
                vad: vad(Some(VadEvent::SpeechStart), true),
            },
        );
        agent.handle_input(
            t0,
            Input::CallerAudio {
                frame: &frame(0),
                vad: vad(Some(VadEvent::SpeechEnd), false),
            },
        );
        let due = agent.poll_timeout().expect("a timer");
        assert_eq!(due, t0 + Duration::from_millis(300));
        agent.handle_input(due, Input::Tick);
        assert!(matches!(agent.poll_action(), Some(Action::Speak { .. })));
        assert_eq!(agent.poll_timeout(), None);
    }
}
