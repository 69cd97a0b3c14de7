//! Opus in and out of Vox's internal frames.

use vox_core::{AudioFrame, FRAME_SAMPLES, INTERNAL_RATE};

use crate::jitter::{JitterBuffer, Slot};

/// The RTP clock of Opus, whatever the audio's bandwidth (RFC 7587).
pub const RTP_CLOCK_HZ: u32 = 48_000;
/// RTP timestamp ticks in one 20 ms frame.
pub const RTP_TICKS_PER_FRAME: u32 = RTP_CLOCK_HZ / 50;
/// The longest Opus packet: 120 ms (at 16 kHz).
const MAX_PACKET_SAMPLES: usize = INTERNAL_RATE.samples_in_ms(120);
/// A gap in RTP timestamps between consecutive packets longer than this is not filled with
/// silence (a sender that paused, or a clock jump), only noted.
const MAX_FILL_FRAMES: u32 = 50;

/// An Opus error, with what Vox was doing.
#[derive(Debug, thiserror::Error)]
#[error("opus {what}: {source}")]
pub struct OpusError {
    what: &'static str,
    #[source]
    source: opus::Error,
}

fn err(what: &'static str) -> impl FnOnce(opus::Error) -> OpusError {
    move |source| OpusError { what, source }
}

/// What became of a call's incoming packets: the counts behind its audio quality.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiveStats {
    /// RTP packets taken in.
    pub received: u64,
    /// Packets that came after their place was given up as lost (dropped).
    pub late: u64,
    /// Packets seen twice (dropped).
    pub duplicate: u64,
    /// Lost packets rebuilt from the next packet's in-band FEC.
    pub recovered: u64,
    /// Lost packets concealed by Opus without FEC (its guess from the audio before).
    pub concealed: u64,
    /// Packets Opus could not decode (concealed instead).
    pub corrupt: u64,
}

impl ReceiveStats {
    /// Each count with a stable label, for metrics.
    pub fn by_outcome(&self) -> [(&'static str, u64); 6] {
        [
            ("received", self.received),
            ("late", self.late),
            ("duplicate", self.duplicate),
            ("recovered", self.recovered),
            ("concealed", self.concealed),
            ("corrupt", self.corrupt),
        ]
    }
}

/// The caller's side: RTP packets of Opus in, 20 ms frames at 16 kHz out, in order, with
/// lost packets concealed.
#[derive(Debug)]
pub struct OpusIn {
    decoder: opus::Decoder,
    jitter: JitterBuffer,
    pcm: Vec<i16>,
    pending: Vec<i16>,
    /// RTP timestamp expected of the next packet, to notice senders' pauses (DTX).
    expected_ts: Option<u32>,
    /// Samples per packet, as last decoded (what a lost packet is concealed with).
    last_packet_samples: usize,
    concealed: u64,
    recovered: u64,
    corrupt: u64,
}

impl OpusIn {
    /// A decoder whose jitter buffer holds up to `depth` packets behind a gap.
    pub fn new(depth: usize) -> Result<Self, OpusError> {
        Ok(Self {
            decoder: opus::Decoder::new(INTERNAL_RATE.hz(), opus::Channels::Mono)
                .map_err(err("decoder"))?,
            jitter: JitterBuffer::new(depth),
            pcm: vec![0; MAX_PACKET_SAMPLES],
            pending: Vec::with_capacity(2 * MAX_PACKET_SAMPLES),
            expected_ts: None,
            last_packet_samples: FRAME_SAMPLES,
            concealed: 0,
            recovered: 0,
            corrupt: 0,
        })
    }

    /// What became of the packets so far.
    pub fn stats(&self) -> ReceiveStats {
        let jitter = self.jitter.stats();
        ReceiveStats {
            received: jitter.received,
            late: jitter.late,
            duplicate: jitter.duplicate,
            recovered: self.recovered,
            concealed: self.concealed,
            corrupt: self.corrupt,
        }
    }

    /// Takes in one RTP packet's sequence number, timestamp and payload; `out` receives the
    /// frames that are now ready, in order.
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        payload: Vec<u8>,
        mut out: impl FnMut(AudioFrame),
    ) {
        self.jitter.push(seq, timestamp, payload);
        while let Some(slot) = self.jitter.pop() {
            match slot {
                Slot::Packet { timestamp, payload } => {
                    self.fill_pause(timestamp, &mut out);
                    let n = match self.decoder.decode(&payload, &mut self.pcm, false) {
                        Ok(n) => n,
                        Err(_) => {
                            self.corrupt += 1;
                            self.conceal()
                        }
                    };
                    if n > 0 {
                        self.last_packet_samples = n;
                    }
                    self.emit(n, &mut out);
                    let ticks =
                        (n as u64 * u64::from(RTP_CLOCK_HZ) / u64::from(INTERNAL_RATE.hz())) as u32;
                    self.expected_ts = Some(timestamp.wrapping_add(ticks));
                }
                Slot::Lost => {
                    let len = self.last_packet_samples.min(self.pcm.len());
                    let fec = self.jitter.peek_next().and_then(|next| {
                        self.decoder.decode(next, &mut self.pcm[..len], true).ok()
                    });
                    let n = match fec {
                        Some(n) if n > 0 => {
                            self.recovered += 1;
                            n
                        }
                        _ => {
                            self.concealed += 1;
                            self.conceal()
                        }
                    };
                    self.emit(n, &mut out);
                    let ticks =
                        (n as u64 * u64::from(RTP_CLOCK_HZ) / u64::from(INTERNAL_RATE.hz())) as u32;
                    self.expected_ts = self.expected_ts.map(|t| t.wrapping_add(ticks));
                }
            }
        }
    }

    /// Opus's concealment for one packet's length; the samples are in `pcm`.
    fn conceal(&mut self) -> usize {
        let len = self.last_packet_samples.min(self.pcm.len());
        self.decoder
            .decode(&[], &mut self.pcm[..len], false)
            .unwrap_or_else(|_| {
                self.pcm[..len].fill(0);
                len
            })
    }

    /// A sender that paused (DTX, muted track) skips timestamps: the pause comes out as
    /// silence so the caller's timeline keeps real time.
    fn fill_pause(&mut self, timestamp: u32, out: &mut impl FnMut(AudioFrame)) {
        let Some(expected) = self.expected_ts else {
            return;
        };
        let gap = timestamp.wrapping_sub(expected);
        let frames = gap / RTP_TICKS_PER_FRAME;
        // a "gap" past half the timestamp space is a packet from the past, not a pause
        if gap < (1 << 31) && (1..=MAX_FILL_FRAMES).contains(&frames) {
            for _ in 0..frames {
                self.pending.extend_from_slice(&[0; FRAME_SAMPLES]);
            }
            self.flush(out);
        }
    }

    fn emit(&mut self, n: usize, out: &mut impl FnMut(AudioFrame)) {
        self.pending.extend_from_slice(&self.pcm[..n]);
        self.flush(out);
    }

    fn flush(&mut self, out: &mut impl FnMut(AudioFrame)) {
        let whole = self.pending.len() / FRAME_SAMPLES * FRAME_SAMPLES;
        for chunk in self.pending[..whole].chunks_exact(FRAME_SAMPLES) {
            if let Some(frame) = AudioFrame::from_slice(chunk) {
                out(frame);
            }
        }
        self.pending.drain(..whole);
    }
}

/// The agent's side: 20 ms frames at 16 kHz in, one Opus packet each out.
#[derive(Debug)]
pub struct OpusOut {
    encoder: opus::Encoder,
    buf: Vec<u8>,
}

impl OpusOut {
    /// An encoder for speech (VoIP mode, in-band FEC on, `complexity` 0-10: lower costs
    /// less CPU per call for slightly worse quality).
    pub fn new(complexity: i32) -> Result<Self, OpusError> {
        let mut encoder = opus::Encoder::new(
            INTERNAL_RATE.hz(),
            opus::Channels::Mono,
            opus::Application::Voip,
        )
        .map_err(err("encoder"))?;
        encoder
            .set_complexity(complexity.clamp(0, 10))
            .map_err(err("complexity"))?;
        encoder.set_inband_fec(true).map_err(err("fec"))?;
        encoder.set_packet_loss_perc(5).map_err(err("loss"))?;
        Ok(Self {
            encoder,
            buf: vec![0; 1500],
        })
    }

    /// One frame as one Opus packet (20 ms, [`RTP_TICKS_PER_FRAME`] ticks of RTP clock).
    pub fn encode(&mut self, frame: &AudioFrame) -> Result<&[u8], OpusError> {
        let n = self
            .encoder
            .encode(frame.samples(), &mut self.buf)
            .map_err(err("encode"))?;
        Ok(&self.buf[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 ms frames of a 440 Hz tone.
    fn tone(frames: usize) -> Vec<AudioFrame> {
        (0..frames)
            .map(|f| {
                let s: Vec<i16> = (0..FRAME_SAMPLES)
                    .map(|i| {
                        let t = (f * FRAME_SAMPLES + i) as f32 / 16_000.0;
                        ((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16
                    })
                    .collect();
                AudioFrame::from_slice(&s).expect("frame")
            })
            .collect()
    }

    fn rms(frames: &[AudioFrame]) -> f64 {
        let (sum, n) = frames
            .iter()
            .flat_map(|f| f.samples().iter())
            .fold((0.0, 0usize), |(s, n), &x| {
                (s + f64::from(x) * f64::from(x), n + 1)
            });
        (sum / n.max(1) as f64).sqrt()
    }

    fn packets(frames: &[AudioFrame]) -> Vec<Vec<u8>> {
        let mut enc = OpusOut::new(5).expect("encoder");
        frames
            .iter()
            .map(|f| enc.encode(f).expect("encode").to_vec())
            .collect()
    }

    #[test]
    fn a_tone_round_trips_frame_for_frame() {
        let sent = tone(50);
        let mut dec = OpusIn::new(3).expect("decoder");
        let mut got = Vec::new();
        for (k, p) in packets(&sent).into_iter().enumerate() {
            dec.push(k as u16, k as u32 * RTP_TICKS_PER_FRAME, p, |f| got.push(f));
        }
        assert_eq!(
            got.len(),
            sent.len(),
            "one frame per packet, no delay in order"
        );
        let (a, b) = (rms(&sent[10..]), rms(&got[10..]));
        assert!(
            (b / a - 1.0).abs() < 0.2,
            "level kept: sent rms {a:.0}, got {b:.0}"
        );
    }

    #[test]
    fn lost_and_reordered_packets_keep_the_timeline() {
        let sent = tone(40);
        let ps = packets(&sent);
        let mut dec = OpusIn::new(3).expect("decoder");
        let mut got = Vec::new();
        // 12 and 13 swap places; 20 never comes
        let mut order: Vec<usize> = (0..40).filter(|&k| k != 20).collect();
        order.swap(12, 13);
        for k in order {
            dec.push(
                k as u16,
                k as u32 * RTP_TICKS_PER_FRAME,
                ps[k].clone(),
                |f| got.push(f),
            );
        }
        assert_eq!(got.len(), 40, "the lost packet's 20 ms is filled in");
        let stats = dec.stats();
        assert_eq!(stats.recovered + stats.concealed, 1);
        assert!(
            rms(&got[20..21]) > 1000.0,
            "filled with sound, not silence: {}",
            rms(&got[20..21])
        );
        assert_eq!((stats.received, stats.late), (39, 0));
    }

    #[test]
    fn a_pause_in_timestamps_comes_out_as_silence() {
        let sent = tone(10);
        let ps = packets(&sent);
        let mut dec = OpusIn::new(3).expect("decoder");
        let mut got = Vec::new();
        for (k, p) in ps.into_iter().enumerate() {
            // after the fifth packet the sender paused for 100 ms (DTX)
            let ts =
                k as u32 * RTP_TICKS_PER_FRAME + if k >= 5 { 5 * RTP_TICKS_PER_FRAME } else { 0 };
            dec.push(k as u16, ts, p, |f| got.push(f));
        }
        assert_eq!(got.len(), 15);
        assert_eq!(rms(&got[5..10]), 0.0);
    }

    #[test]
    fn garbage_is_concealed_not_fatal() {
        let mut dec = OpusIn::new(3).expect("decoder");
        let mut got = 0;
        dec.push(0, 0, vec![0xFF; 3], |_| got += 1);
        assert_eq!((got, dec.stats().corrupt), (1, 1));
    }
}
