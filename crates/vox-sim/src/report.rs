use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// Agent audio received in reply to one caller turn.
#[derive(Debug)]
pub(crate) struct ReplyTrace {
    pub(crate) speech_end: Instant,
    pub(crate) first_audio: Option<Instant>,
    /// Arrival time and length of audio of each media message.
    pub(crate) arrivals: Vec<(Instant, Duration)>,
}

impl ReplyTrace {
    pub(crate) fn new(speech_end: Instant) -> Self {
        Self {
            speech_end,
            first_audio: None,
            arrivals: Vec::new(),
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

/// One caller turn and the agent's reply to it.
#[derive(Debug, Clone, Serialize)]
pub struct TurnReport {
    /// Turn number in the script (from 0).
    pub turn: usize,
    /// When the caller's speech started, ms after the stream started.
    pub onset_ms: Option<f64>,
    /// When the caller's speech ended, ms after the stream started.
    pub speech_end_ms: Option<f64>,
    /// Caller end of speech -> first agent audio received.
    pub response_latency_ms: Option<f64>,
    /// Agent audio received in reply.
    pub reply_audio_ms: f64,
    /// Whether this turn started while the agent was speaking.
    pub barged_in: bool,
    /// Barge-in onset -> `clear` received.
    pub clear_ms: Option<f64>,
    /// Barge-in onset -> agent audio stopped playing (first silent 20 ms).
    pub barge_in_to_silence_ms: Option<f64>,
    /// Agent audio messages received after the clear while the caller was still talking.
    pub frames_after_clear: u64,
    /// Largest deviation of a reply frame's arrival from the ideal paced schedule.
    pub jitter_max_ms: f64,
    /// Reply frames that arrived after the playback buffer had run dry (audible gaps).
    pub late_frames: u64,
    /// Total length of those gaps.
    pub underrun_ms: f64,
    /// Where in the reply's audio each gap came (ms of audio played before it): tells a
    /// stall at a sentence boundary from one inside a sentence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub underrun_at_ms: Vec<f64>,
    #[serde(skip)]
    pub(crate) jitter_samples: Vec<f64>,
}

impl TurnReport {
    pub(crate) fn new(turn: usize) -> Self {
        Self {
            turn,
            onset_ms: None,
            speech_end_ms: None,
            response_latency_ms: None,
            reply_audio_ms: 0.0,
            barged_in: false,
            clear_ms: None,
            barge_in_to_silence_ms: None,
            frames_after_clear: 0,
            jitter_max_ms: 0.0,
            late_frames: 0,
            underrun_ms: 0.0,
            underrun_at_ms: Vec::new(),
            jitter_samples: Vec::new(),
        }
    }

    /// Computes latency, pacing jitter and underruns from the reply's arrivals.
    ///
    /// Jitter: a server with send-ahead `S` sends the first `S` of a reply at once and then
    /// one frame per frame duration, so frame k (starting `c_k` into the reply, lasting
    /// `d_k`) ideally arrives `max(0, c_k + d_k - S)` after the first. The deviation from
    /// that, less the smallest deviation of the reply, is the frame's jitter.
    /// `buffer`: how much the caller holds before playing a reply's first frame (a browser's
    /// jitter buffer; nothing for a carrier, which the server feeds ahead of time).
    pub(crate) fn apply_reply(
        &mut self,
        trace: &ReplyTrace,
        send_ahead: Duration,
        buffer: Duration,
    ) {
        let Some(&(a0, _)) = trace.arrivals.first() else {
            return;
        };
        self.response_latency_ms = trace
            .first_audio
            .map(|f| ms(f.saturating_duration_since(trace.speech_end)));
        let mut offset = Duration::ZERO;
        let mut deviations = Vec::with_capacity(trace.arrivals.len());
        let mut play_end = a0 + buffer;
        for (k, &(at, dur)) in trace.arrivals.iter().enumerate() {
            let ideal = (offset + dur).saturating_sub(send_ahead);
            deviations.push(
                at.saturating_duration_since(a0).as_secs_f64() * 1000.0
                    - ideal.as_secs_f64() * 1000.0,
            );
            if k > 0 && at > play_end {
                self.late_frames += 1;
                self.underrun_ms += ms(at - play_end);
                self.underrun_at_ms.push(ms(offset));
                play_end = at + dur;
            } else {
                play_end += dur;
            }
            offset += dur;
        }
        self.reply_audio_ms = ms(offset);
        let min = deviations.iter().copied().fold(f64::INFINITY, f64::min);
        self.jitter_samples = deviations.iter().map(|d| d - min).collect();
        self.jitter_max_ms =
            (self.jitter_samples.iter().copied().fold(0.0, f64::max) * 10.0).round() / 10.0;
    }
}

pub(crate) struct Counters {
    pub(crate) marks_received: u64,
    pub(crate) marks_echoed: u64,
    pub(crate) marks_cleared: u64,
    pub(crate) marks_pending: u64,
    pub(crate) marks_out_of_order: u64,
    pub(crate) missing_frames: u64,
    pub(crate) clears: u64,
    pub(crate) sim_late_ticks: u64,
    pub(crate) duration_ms: f64,
    pub(crate) greeting_ms: Option<f64>,
}

/// The report of one simulated call.
#[derive(Debug, Clone, Serialize)]
pub struct CallReport {
    /// Call number in the run (from 0).
    pub call: usize,
    /// No errors.
    pub ok: bool,
    /// Stream start -> hang-up.
    pub duration_ms: f64,
    /// Stream start (`start` sent) -> first agent audio, when the agent spoke before the
    /// caller's first turn.
    pub greeting_ms: Option<f64>,
    /// Per caller turn.
    pub turns: Vec<TurnReport>,
    /// 99th percentile of reply-frame jitter over the call.
    pub jitter_p99_ms: f64,
    /// Reply frames that arrived after the playback buffer ran dry.
    pub late_frames: u64,
    /// Agent frames never received (gaps in the server's mark numbering).
    pub missing_frames: u64,
    /// Marks received from the server.
    pub marks_received: u64,
    /// Marks echoed after their audio played.
    pub marks_echoed: u64,
    /// Marks echoed because a clear dropped their audio.
    pub marks_cleared: u64,
    /// Marks still waiting when the call ended.
    pub marks_pending: u64,
    /// Marks whose sequence number did not increase.
    pub marks_out_of_order: u64,
    /// `clear` messages received.
    pub clears: u64,
    /// Ticks this simulator ran more than 20 ms late (the simulator itself overloaded).
    pub sim_late_ticks: u64,
    /// The server's close frame code, if it closed.
    pub close_code: Option<u16>,
    /// The server's close reason.
    pub close_reason: Option<String>,
    /// What went wrong.
    pub errors: Vec<String>,
}

impl CallReport {
    pub(crate) fn build(
        call: usize,
        turns: Vec<TurnReport>,
        c: Counters,
        close: Option<(u16, String)>,
        errors: Vec<String>,
    ) -> Self {
        let mut jitter: Vec<f64> = turns
            .iter()
            .flat_map(|t| t.jitter_samples.iter().copied())
            .collect();
        Self {
            call,
            ok: errors.is_empty(),
            duration_ms: c.duration_ms,
            greeting_ms: c.greeting_ms,
            jitter_p99_ms: percentile(&mut jitter, 0.99).unwrap_or(0.0),
            late_frames: turns.iter().map(|t| t.late_frames).sum(),
            turns,
            missing_frames: c.missing_frames,
            marks_received: c.marks_received,
            marks_echoed: c.marks_echoed,
            marks_cleared: c.marks_cleared,
            marks_pending: c.marks_pending,
            marks_out_of_order: c.marks_out_of_order,
            clears: c.clears,
            sim_late_ticks: c.sim_late_ticks,
            close_code: close.as_ref().map(|c| c.0),
            close_reason: close.map(|c| c.1),
            errors,
        }
    }
}

/// Percentiles of one measure, in ms.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Dist {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
}

impl Dist {
    fn of(mut v: Vec<f64>) -> Self {
        Self {
            n: v.len(),
            p50: percentile(&mut v, 0.50),
            p95: percentile(&mut v, 0.95),
            p99: percentile(&mut v, 0.99),
            max: percentile(&mut v, 1.0),
        }
    }
}

fn percentile(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let idx = ((v.len() as f64 - 1.0) * q).round() as usize;
    Some((v[idx.min(v.len() - 1)] * 10.0).round() / 10.0)
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Calls placed.
    pub calls: usize,
    /// Calls with errors.
    pub calls_failed: usize,
    /// Caller end of speech -> first agent audio, over all answered turns.
    pub response_latency_ms: Dist,
    /// Stream start -> first agent audio (the greeting), over the calls that had one.
    pub greeting_ms: Dist,
    /// Barge-in onset -> agent audio stopped.
    pub barge_in_to_silence_ms: Dist,
    /// Reply-frame jitter against the ideal paced schedule, over all frames.
    pub jitter_ms: Dist,
    /// Audible gaps: frames late for playback, over all calls.
    pub late_frames: u64,
    /// Frames never received, over all calls.
    pub missing_frames: u64,
    /// Agent frames received after a clear, over all calls.
    pub frames_after_clear: u64,
    /// Simulator ticks more than 20 ms late (if non-zero, the load generator was the limit).
    pub sim_late_ticks: u64,
    /// Close codes seen, with counts.
    pub close_codes: BTreeMap<String, usize>,
    /// First few distinct errors.
    pub errors: Vec<String>,
}

impl Summary {
    /// Aggregates call reports.
    pub fn from_calls(calls: &[CallReport]) -> Self {
        let turns = || calls.iter().flat_map(|c| c.turns.iter());
        let mut close_codes = BTreeMap::new();
        for c in calls {
            *close_codes
                .entry(c.close_code.map_or("none".into(), |c| c.to_string()))
                .or_insert(0) += 1;
        }
        let mut errors: Vec<String> = calls
            .iter()
            .flat_map(|c| c.errors.iter().cloned())
            .collect();
        errors.sort();
        errors.dedup();
        errors.truncate(10);
        Self {
            calls: calls.len(),
            calls_failed: calls.iter().filter(|c| !c.ok).count(),
            response_latency_ms: Dist::of(turns().filter_map(|t| t.response_latency_ms).collect()),
            greeting_ms: Dist::of(calls.iter().filter_map(|c| c.greeting_ms).collect()),
            barge_in_to_silence_ms: Dist::of(
                turns().filter_map(|t| t.barge_in_to_silence_ms).collect(),
            ),
            jitter_ms: Dist::of(
                turns()
                    .flat_map(|t| t.jitter_samples.iter().copied())
                    .collect(),
            ),
            late_frames: calls.iter().map(|c| c.late_frames).sum(),
            missing_frames: calls.iter().map(|c| c.missing_frames).sum(),
            frames_after_clear: turns().map(|t| t.frames_after_clear).sum(),
            sim_late_ticks: calls.iter().map(|c| c.sim_late_ticks).sum(),
            close_codes,
            errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfectly_paced_reply_has_no_jitter_and_no_gaps() {
        let t0 = Instant::now();
        let mut trace = ReplyTrace::new(t0);
        // 10 frames at once (200 ms send-ahead), then one every 20 ms
        for k in 0..30u64 {
            let at =
                t0 + Duration::from_millis(500) + Duration::from_millis(20 * k.saturating_sub(9));
            trace.arrivals.push((at, Duration::from_millis(20)));
        }
        trace.first_audio = Some(trace.arrivals[0].0);
        let mut t = TurnReport::new(0);
        t.apply_reply(&trace, Duration::from_millis(200), Duration::ZERO);
        assert_eq!(t.response_latency_ms, Some(500.0));
        assert_eq!(t.jitter_max_ms, 0.0);
        assert_eq!(t.late_frames, 0);
        assert_eq!(t.reply_audio_ms, 600.0);
    }

    #[test]
    fn a_stalled_frame_shows_as_jitter_and_a_gap() {
        let t0 = Instant::now();
        let mut trace = ReplyTrace::new(t0);
        // no send-ahead: one frame every 20 ms, then the server stalls 50 ms before frame 5
        for k in 0..10u64 {
            let extra = if k >= 5 { 50 } else { 0 };
            trace.arrivals.push((
                t0 + Duration::from_millis(20 * k + extra),
                Duration::from_millis(20),
            ));
        }
        let mut t = TurnReport::new(0);
        t.apply_reply(&trace, Duration::from_millis(20), Duration::ZERO);
        assert_eq!(t.jitter_max_ms, 50.0);
        assert_eq!(t.late_frames, 1);
        assert_eq!(t.underrun_ms, 50.0);
        assert_eq!(t.underrun_at_ms, [100.0], "after five frames of audio");
    }

    #[test]
    fn a_browser_buffer_absorbs_a_stall_shorter_than_itself() {
        let t0 = Instant::now();
        let trace = |stall: u64| {
            let mut trace = ReplyTrace::new(t0);
            for k in 0..10u64 {
                let extra = if k >= 5 { stall } else { 0 };
                trace.arrivals.push((
                    t0 + Duration::from_millis(20 * k + extra),
                    Duration::from_millis(20),
                ));
            }
            trace
        };
        let buffer = Duration::from_millis(60);
        let mut t = TurnReport::new(0);
        t.apply_reply(&trace(50), Duration::ZERO, buffer);
        assert_eq!(t.late_frames, 0);
        let mut t = TurnReport::new(0);
        t.apply_reply(&trace(70), Duration::ZERO, buffer);
        assert_eq!(t.late_frames, 1);
        assert_eq!(t.underrun_ms, 10.0);
    }
}
