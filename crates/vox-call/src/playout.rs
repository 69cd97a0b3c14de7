use std::collections::VecDeque;
use std::time::{Duration, Instant};

use vox_core::{AudioFrame, FRAME_DURATION, TurnId};

/// What the carrier's echoed marks tell about the agent's speech.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayoutEvent {
    /// `played` of `turn`'s audio has been heard.
    Progress {
        /// The turn.
        turn: TurnId,
        /// Audio played so far.
        played: Duration,
    },
    /// All of `turn`'s audio has been heard.
    Finished {
        /// The turn.
        turn: TurnId,
    },
}

#[derive(Debug)]
struct InFlight {
    seq: u64,
    /// Kept until confirmed, so a pause can take it back and send it again later.
    frame: AudioFrame,
    turn: TurnId,
    /// Audio of the turn up to and including this frame.
    turn_played: Duration,
    /// Whether this is the turn's last frame.
    last_of_turn: bool,
    /// When we expect the carrier to have played this frame.
    expected_end: Instant,
}

/// One frame ready to send, with the mark to send after it.
#[derive(Debug)]
pub struct DueFrame {
    /// The turn it belongs to.
    pub turn: TurnId,
    /// The audio.
    pub frame: AudioFrame,
    /// The mark name to send right after the frame.
    pub mark: String,
    /// When it should have been sent (for lateness metrics).
    pub scheduled: Instant,
}

/// Paces agent audio to the carrier with a bounded send-ahead and tracks, by marks, how
/// much of each turn the caller has actually heard. Sans-IO: time is an argument.
///
/// The carrier buffers what we send and plays it in real time. We keep an estimate of when
/// its buffer runs dry and send the next 20 ms frame only once less than `send_ahead` of
/// audio is buffered there, so a `clear` never has more than `send_ahead` to throw away and
/// memory stays bounded. Marks that come back later than expected push the estimate out
/// (the carrier started playing later than we assumed).
#[derive(Debug)]
pub struct Playout {
    send_ahead: Duration,
    queue: VecDeque<(TurnId, AudioFrame)>,
    /// Turn of the queued tail and whether its producer said it is complete.
    turn_complete: Option<(TurnId, bool)>,
    turn_sent: Duration,
    current_turn: Option<TurnId>,
    buffered_until: Option<Instant>,
    next_seq: u64,
    in_flight: VecDeque<InFlight>,
    /// When the queue last went from empty to non-empty (a frame cannot be late for a
    /// time before it existed).
    ready_since: Option<Instant>,
    /// Marks thrown away by a clear: the carrier still echoes them, they mean nothing.
    cleared_through: u64,
    /// Paused: nothing is sent until resumed.
    paused: bool,
}

impl Playout {
    /// A pacer keeping at most `send_ahead` of audio buffered at the carrier.
    pub fn new(send_ahead: Duration) -> Self {
        Self {
            send_ahead: send_ahead.max(FRAME_DURATION),
            queue: VecDeque::new(),
            turn_complete: None,
            turn_sent: Duration::ZERO,
            current_turn: None,
            buffered_until: None,
            next_seq: 0,
            in_flight: VecDeque::new(),
            ready_since: None,
            cleared_through: 0,
            paused: false,
        }
    }

    /// Queues audio for `turn`; `complete` says no more audio will follow for it.
    pub fn enqueue(
        &mut self,
        now: Instant,
        turn: TurnId,
        frames: impl IntoIterator<Item = AudioFrame>,
        complete: bool,
    ) {
        if self.queue.is_empty() {
            self.ready_since = Some(now);
        }
        self.queue.extend(frames.into_iter().map(|f| (turn, f)));
        self.turn_complete = Some((turn, complete));
    }

    /// Frames queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued and nothing is waiting to be confirmed as played.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    /// When the oldest frame sent and not yet confirmed by its mark should have finished
    /// playing: a carrier whose marks stay overdue long past it has stopped playing.
    pub fn oldest_unconfirmed(&self) -> Option<Instant> {
        self.in_flight.front().map(|m| m.expected_end)
    }

    /// When the next frame is due, if one is queued.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        if self.queue.is_empty() || self.paused {
            return None;
        }
        Some(match self.buffered_until {
            // send once the next frame still fits within `send_ahead` of buffered audio
            Some(until) if until > now => (until + FRAME_DURATION)
                .checked_sub(self.send_ahead)
                .map_or(now, |t| t.max(now)),
            _ => now,
        })
    }

    /// Takes the next frame if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<DueFrame> {
        let due = self.next_due(now)?;
        if due > now {
            return None;
        }
        // The unclamped ideal send time, for lateness: when the carrier's buffer dropped
        // below send-ahead, but not before the audio was available.
        let ideal = self
            .buffered_until
            .and_then(|u| (u + FRAME_DURATION).checked_sub(self.send_ahead));
        let scheduled = match (ideal, self.ready_since) {
            (Some(i), Some(r)) => i.max(r).min(now),
            (None, Some(r)) => r.min(now),
            (i, None) => i.unwrap_or(now).min(now),
        };
        let (turn, frame) = self.queue.pop_front()?;
        if self.current_turn != Some(turn) {
            self.current_turn = Some(turn);
            self.turn_sent = Duration::ZERO;
        }
        self.turn_sent += FRAME_DURATION;
        let start = match self.buffered_until {
            Some(until) if until > now => until,
            _ => now,
        };
        let end = start + FRAME_DURATION;
        self.buffered_until = Some(end);
        self.next_seq += 1;
        let last_of_turn = self.queue.front().is_none_or(|(t, _)| *t != turn)
            && self
                .turn_complete
                .is_none_or(|(t, complete)| t != turn || complete);
        self.in_flight.push_back(InFlight {
            seq: self.next_seq,
            frame: frame.clone(),
            turn,
            turn_played: self.turn_sent,
            last_of_turn,
            expected_end: end,
        });
        Some(DueFrame {
            turn,
            frame,
            mark: format!("{}:{}", turn.0, self.next_seq),
            scheduled,
        })
    }

    /// A mark came back. Returns what it proves about playback, or `None` for marks that
    /// were cleared, unknown, or malformed (which are ignored: the carrier echoes cleared
    /// marks, and a confused carrier must not confuse the call).
    pub fn on_mark(&mut self, name: &str, now: Instant) -> Option<PlayoutEvent> {
        let seq: u64 = name.split_once(':')?.1.parse().ok()?;
        if seq <= self.cleared_through {
            return None;
        }
        let mut reached = None;
        while self.in_flight.front().is_some_and(|m| m.seq <= seq) {
            reached = self.in_flight.pop_front();
        }
        let m = reached?;
        // Carriers play in 20 ms packets, so a mark may come back up to a frame after its
        // audio ended; only lateness beyond that means the carrier's buffer holds more
        // than we estimated (it started playing later, or the network is slow).
        if now > m.expected_end + FRAME_DURATION {
            let drift = now - m.expected_end;
            if let Some(until) = self.buffered_until.as_mut() {
                *until += drift;
            }
            for later in &mut self.in_flight {
                later.expected_end += drift;
            }
        }
        Some(if m.last_of_turn {
            PlayoutEvent::Finished { turn: m.turn }
        } else {
            PlayoutEvent::Progress {
                turn: m.turn,
                played: m.turn_played,
            }
        })
    }

    /// No more audio will be queued for `turn`. If all of it has already played, says so.
    pub fn complete_turn(&mut self, turn: TurnId) -> Option<PlayoutEvent> {
        self.turn_complete = Some((turn, true));
        if self.queue.iter().any(|(t, _)| *t == turn) {
            return None; // the last queued frame will carry the flag when sent
        }
        match self.in_flight.iter_mut().rev().find(|m| m.turn == turn) {
            Some(last) => {
                last.last_of_turn = true;
                None
            }
            None => Some(PlayoutEvent::Finished { turn }),
        }
    }

    /// Stops sending and takes back what the carrier has not confirmed playing (the caller
    /// will send `clear`): the audio stays queued, ready to resume from where the caller
    /// stopped hearing it.
    pub fn pause(&mut self, now: Instant) {
        if self.paused {
            return;
        }
        self.paused = true;
        while let Some(m) = self.in_flight.pop_back() {
            if self.current_turn == Some(m.turn) {
                self.turn_sent = self.turn_sent.saturating_sub(FRAME_DURATION);
            }
            self.queue.push_front((m.turn, m.frame));
        }
        self.cleared_through = self.next_seq;
        self.buffered_until = Some(now);
    }

    /// Sends again after a pause.
    pub fn resume(&mut self, now: Instant) {
        if self.paused {
            self.paused = false;
            if !self.queue.is_empty() {
                self.ready_since = Some(now);
            }
        }
    }

    /// Whether paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Drops everything queued and forgets what the carrier buffered (the caller will send
    /// `clear`). Returns how much of the cut turn had been confirmed as played.
    pub fn clear(&mut self, now: Instant) -> usize {
        let dropped = self.queue.len();
        self.queue.clear();
        self.paused = false;
        self.ready_since = None;
        self.cleared_through = self.next_seq;
        self.in_flight.clear();
        self.buffered_until = Some(now);
        self.turn_complete = None;
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(n: usize) -> Vec<AudioFrame> {
        vec![AudioFrame::silence(); n]
    }

    #[test]
    fn sends_a_burst_of_send_ahead_then_one_frame_per_twenty_ms() {
        let t0 = Instant::now();
        let mut p = Playout::new(Duration::from_millis(200));
        p.enqueue(t0, TurnId(1), frames(50), true);
        let mut burst = 0;
        while p.pop_due(t0).is_some() {
            burst += 1;
        }
        assert_eq!(burst, 10, "200 ms of send-ahead is 10 frames");
        assert_eq!(p.next_due(t0), Some(t0 + Duration::from_millis(20)));
        assert!(p.pop_due(t0 + Duration::from_millis(19)).is_none());
        assert!(p.pop_due(t0 + Duration::from_millis(20)).is_some());
        assert!(p.pop_due(t0 + Duration::from_millis(20)).is_none());
    }

    #[test]
    fn lateness_is_measured_against_the_ideal_schedule() {
        let t0 = Instant::now();
        let mut p = Playout::new(Duration::from_millis(40));
        p.enqueue(t0, TurnId(1), frames(5), true);
        assert_eq!(p.pop_due(t0).map(|d| d.scheduled), Some(t0));
        assert_eq!(p.pop_due(t0).map(|d| d.scheduled), Some(t0));
        // the third frame was due at t0+20ms; the pacer only got to it at t0+35ms
        let late = t0 + Duration::from_millis(35);
        assert_eq!(
            p.pop_due(late).map(|d| late - d.scheduled),
            Some(Duration::from_millis(15))
        );
        // a new turn after idle is not late for the time it did not exist
        let mut p = Playout::new(Duration::from_millis(40));
        p.enqueue(t0, TurnId(1), frames(1), true);
        p.pop_due(t0);
        let t1 = t0 + Duration::from_secs(5);
        p.enqueue(t1, TurnId(2), frames(1), true);
        assert_eq!(p.pop_due(t1).map(|d| d.scheduled), Some(t1));
    }

    #[test]
    fn marks_report_progress_and_the_end_of_the_turn() {
        let t0 = Instant::now();
        let mut p = Playout::new(Duration::from_millis(200));
        p.enqueue(t0, TurnId(3), frames(3), true);
        let marks: Vec<String> = std::iter::from_fn(|| p.pop_due(t0))
            .map(|d| d.mark)
            .collect();
        assert_eq!(marks, vec!["3:1", "3:2", "3:3"]);
        assert_eq!(
            p.on_mark("3:1", t0),
            Some(PlayoutEvent::Progress {
                turn: TurnId(3),
                played: Duration::from_millis(20)
            })
        );
        // a skipped mark is implied by a later one
        assert_eq!(
            p.on_mark("3:3", t0),
            Some(PlayoutEvent::Finished { turn: TurnId(3) })
        );
        assert!(p.is_idle());
        assert_eq!(p.on_mark("garbage", t0), None);
    }

    #[test]
    fn cleared_marks_are_ignored_and_pacing_restarts() {
        let t0 = Instant::now();
        let mut p = Playout::new(Duration::from_millis(100));
        p.enqueue(t0, TurnId(1), frames(20), true);
        while p.pop_due(t0).is_some() {}
        assert_eq!(p.clear(t0), 15);
        assert_eq!(
            p.on_mark("1:2", t0),
            None,
            "echoed after clear: not proof of playback"
        );
        p.enqueue(t0, TurnId(2), frames(2), true);
        assert!(
            p.pop_due(t0).is_some(),
            "after a clear the carrier buffer is empty"
        );
    }

    #[test]
    fn pause_takes_back_unconfirmed_audio_and_resume_sends_it_again() {
        let t0 = Instant::now();
        let mut p = Playout::new(Duration::from_millis(60));
        let numbered: Vec<AudioFrame> = (0..6)
            .map(|i| AudioFrame::from_slice(&[i as i16; 320]).expect("320"))
            .collect();
        p.enqueue(t0, TurnId(1), numbered, false);
        let sent: Vec<DueFrame> = std::iter::from_fn(|| p.pop_due(t0)).collect();
        assert_eq!(sent.len(), 3);
        assert!(
            p.on_mark(&sent[0].mark, t0).is_some(),
            "frame 0 confirmed played"
        );
        p.pause(t0);
        assert!(
            p.pop_due(t0 + Duration::from_secs(1)).is_none(),
            "nothing is sent while paused"
        );
        assert_eq!(
            p.on_mark(&sent[1].mark, t0),
            None,
            "echoed by the clear: not played"
        );
        p.resume(t0);
        let again: Vec<i16> = std::iter::from_fn(|| p.pop_due(t0))
            .map(|d| d.frame.samples()[0])
            .collect();
        assert_eq!(
            again,
            vec![1, 2, 3],
            "resumes with the first frame the caller did not hear"
        );
    }

    #[test]
    fn completing_a_turn_after_its_audio_played_finishes_it_at_once() {
        let t0 = Instant::now();
        let mut p = Playout::new(Duration::from_millis(200));
        p.enqueue(t0, TurnId(4), frames(2), false);
        let marks: Vec<String> = std::iter::from_fn(|| p.pop_due(t0))
            .map(|d| d.mark)
            .collect();
        assert_eq!(
            p.on_mark(&marks[1], t0),
            Some(PlayoutEvent::Progress {
                turn: TurnId(4),
                played: Duration::from_millis(40)
            })
        );
        assert_eq!(
            p.complete_turn(TurnId(4)),
            Some(PlayoutEvent::Finished { turn: TurnId(4) })
        );
        // and when audio is still in flight, its last mark finishes it
        p.enqueue(t0, TurnId(5), frames(2), false);
        let marks: Vec<String> = std::iter::from_fn(|| p.pop_due(t0))
            .map(|d| d.mark)
            .collect();
        assert_eq!(p.complete_turn(TurnId(5)), None);
        assert_eq!(
            p.on_mark(&marks[1], t0),
            Some(PlayoutEvent::Finished { turn: TurnId(5) })
        );
    }

    #[test]
    fn a_late_mark_pushes_the_schedule_out() {
        let t0 = Instant::now();
        let mut p = Playout::new(Duration::from_millis(40));
        p.enqueue(t0, TurnId(1), frames(10), true);
        while p.pop_due(t0).is_some() {}
        // Frame 1 was expected to finish at t0+20ms; its mark says it finished at t0+70ms
        // (more than one frame late, so it is drift, not packet quantisation),
        // so frame 2 ends at t0+90ms and only 20 ms is buffered: one more frame fits now,
        // not two (which the uncorrected estimate of an empty buffer would allow).
        let t = t0 + Duration::from_millis(70);
        p.on_mark("1:1", t);
        let mut sent = 0;
        while p.pop_due(t).is_some() {
            sent += 1;
        }
        assert_eq!(sent, 1);
        assert_eq!(
            p.next_due(t),
            Some(t0 + Duration::from_millis(110 + 20 - 40))
        );
    }

    #[test]
    fn a_mark_late_by_less_than_a_frame_is_quantisation_not_drift() {
        let t0 = Instant::now();
        let mut p = Playout::new(Duration::from_millis(40));
        p.enqueue(t0, TurnId(1), frames(10), true);
        while p.pop_due(t0).is_some() {}
        p.on_mark("1:1", t0 + Duration::from_millis(35));
        assert_eq!(
            p.next_due(t0),
            Some(t0 + Duration::from_millis(20)),
            "schedule unchanged"
        );
    }
}
