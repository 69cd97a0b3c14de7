//! How long agent audio takes from being sent to being heard at the browser: the playout
//! cursor runs this far behind what was sent in real time. Marks are echoed that long after
//! the audio before them went out, so "what was heard" of a reply cut off by a barge-in
//! (the engine keeps only that) is what had played, not what had been sent.
//!
//! The browser does not say how much audio it holds; its RTCP receiver reports give the two
//! things that decide it: the round trip (from our sender reports' echo: LSR/DLSR) and the
//! RFC 3550 interarrival jitter. The estimate is half the round trip (the one-way network
//! time) plus the receiver's jitter buffer, modelled as a floor for a steady stream plus a
//! multiple of the jitter (WebRTC receivers size their buffers from the spread of arrival
//! times, of which the RFC 3550 figure is a smoothed mean deviation). Before the first
//! report with a round trip, and on loopback or a clean LAN, it is [`PLAYOUT_DELAY`].
//!
//! Its error, as far as measured (Chromium 156 on loopback, tests/e2e_console.rs; the numbers
//! in BENCHMARKS.md): Chromium's own jitter buffer held 18-53 ms (about 30 steady), below
//! the floor, while a reply's first audio became audible 123 ms after it was sent (onset at
//! -40 dBFS, so that includes the speech's quiet attack), above it: the floor is within
//! about ±60 ms on loopback, untested on a real network. With jitter, receivers adapt to the
//! 95th percentile of the arrival delay, which four mean deviations approach but do not
//! bound (a burst of late packets can hold more for a few seconds).

use std::time::Duration;

/// The delay with no network time or jitter: the browser's jitter buffer and output on a
/// steady stream.
pub const PLAYOUT_DELAY: Duration = Duration::from_millis(60);

/// The jitter buffer's floor under jitter: one packet and the output buffer.
const JITTERY_FLOOR: Duration = Duration::from_millis(40);

/// Mean deviations of arrival time the jitter buffer is taken to cover.
const JITTER_MULTIPLE: u32 = 4;

/// No estimate goes past this (a browser drops audio it would hold longer).
const MAX_PLAYOUT_DELAY: Duration = Duration::from_millis(500);

/// The playout delay for a round trip and an RFC 3550 jitter, both as the receiver reported.
pub fn playout_delay(round_trip: Duration, jitter: Duration) -> Duration {
    let buffer = PLAYOUT_DELAY.max(JITTERY_FLOOR + jitter * JITTER_MULTIPLE);
    (round_trip / 2 + buffer).min(MAX_PLAYOUT_DELAY)
}

/// What the browser's receiver reports say of our stream, if they say anything yet.
pub(crate) fn from_stats(report: &rtc::statistics::report::RTCStatsReport) -> Option<Duration> {
    report.iter().find_map(|e| match e {
        rtc::statistics::report::RTCStatsReportEntry::RemoteInboundRtp(s)
            if s.round_trip_time_measurements > 0 =>
        {
            let secs = |x: f64| Duration::from_secs_f64(x.clamp(0.0, 10.0));
            Some(playout_delay(
                secs(s.round_trip_time),
                secs(s.received_rtp_stream_stats.jitter),
            ))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_clean_path_is_the_steady_floor_and_the_network_adds_half_its_round_trip() {
        assert_eq!(playout_delay(Duration::ZERO, Duration::ZERO), PLAYOUT_DELAY);
        assert_eq!(playout_delay(MS(2), MS(1)), MS(61));
        assert_eq!(playout_delay(MS(100), Duration::ZERO), MS(110));
    }

    #[test]
    fn jitter_grows_the_buffer_up_to_a_bound() {
        // 10 ms of mean deviation: 40 + 4 x 10 = 80 ms of buffer
        assert_eq!(playout_delay(Duration::ZERO, MS(10)), MS(80));
        assert_eq!(playout_delay(MS(40), MS(30)), MS(180));
        assert_eq!(playout_delay(MS(800), MS(200)), MAX_PLAYOUT_DELAY);
    }
}
