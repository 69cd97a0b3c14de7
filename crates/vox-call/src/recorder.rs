//! The call recording: a two-channel WAV (16 kHz, 16-bit; left the caller, right the agent)
//! written with hound as the call goes.
//!
//! Positions are samples from the actor's start. The caller's audio is continuous (the
//! carrier streams silence too), so it is placed by frame count; the agent's is placed at
//! the time it was scheduled to play, and when the caller barges in, agent audio after the
//! cut is removed (it was cleared at the carrier, never heard). Audio older than
//! [`KEEP_SAMPLES`] behind the caller's position is written out, so memory stays bounded
//! whatever the call's length. Writing happens on the actor's loop through hound's 8 KiB
//! buffer: one small write to the page cache per ~130 ms of audio, cheaper than handing the
//! samples to another thread.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Samples per second.
pub const RATE: u32 = 16_000;
/// Audio kept in memory before writing (2 s): the agent's audio is at most the send-ahead
/// ahead of now, so nothing written is changed afterwards.
const KEEP_SAMPLES: u64 = 2 * RATE as u64;

/// See the module docs.
pub struct Recorder {
    writer: hound::WavWriter<BufWriter<File>>,
    path: PathBuf,
    /// Samples per channel already written.
    written: u64,
    caller: VecDeque<i16>,
    agent: VecDeque<i16>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

fn put(track: &mut VecDeque<i16>, base: u64, at: u64, samples: &[i16]) {
    let (skip, at) = if at < base {
        ((base - at) as usize, base)
    } else {
        (0, at)
    };
    let Some(samples) = samples.get(skip..) else {
        return;
    };
    let idx = (at - base) as usize;
    if track.len() < idx {
        track.resize(idx, 0);
    }
    for (i, s) in samples.iter().enumerate() {
        match track.get_mut(idx + i) {
            Some(x) => *x = *s,
            None => track.push_back(*s),
        }
    }
}

impl Recorder {
    /// Starts a recording at `path` (its directory is created).
    pub fn create(path: &Path) -> Result<Self, hound::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        Ok(Self {
            writer: hound::WavWriter::create(path, spec)?,
            path: path.to_owned(),
            written: 0,
            caller: VecDeque::new(),
            agent: VecDeque::new(),
        })
    }

    /// Caller audio starting at sample `at`.
    pub fn caller(&mut self, at: u64, samples: &[i16]) -> Result<(), hound::Error> {
        put(&mut self.caller, self.written, at, samples);
        let upto = (at + samples.len() as u64).saturating_sub(KEEP_SAMPLES);
        self.flush(upto)
    }

    /// Agent audio scheduled to play from sample `at`.
    pub fn agent(&mut self, at: u64, samples: &[i16]) {
        put(&mut self.agent, self.written, at, samples);
    }

    /// The agent was cut off at sample `at`: what was queued after it was never heard.
    pub fn cut_agent(&mut self, at: u64) {
        let keep = at.saturating_sub(self.written) as usize;
        self.agent.truncate(keep);
    }

    fn flush(&mut self, upto: u64) -> Result<(), hound::Error> {
        while self.written < upto {
            let c = self.caller.pop_front().unwrap_or(0);
            let a = self.agent.pop_front().unwrap_or(0);
            self.writer.write_sample(c)?;
            self.writer.write_sample(a)?;
            self.written += 1;
        }
        Ok(())
    }

    /// Writes the rest and closes the file; returns its path.
    pub fn finish(mut self) -> Result<PathBuf, hound::Error> {
        let end = self.written + self.caller.len().max(self.agent.len()) as u64;
        self.flush(end)?;
        self.writer.finalize()?;
        Ok(self.path)
    }
}

/// Makes a recording whose writer died (a killed process leaves the header's sizes as they
/// were at the start) readable: the `data` chunk's and the RIFF sizes are set from the
/// file's length, cut down to whole sample frames. Returns the samples per channel. Leaves a
/// finished recording as it is.
pub fn repair(path: &Path) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let len = f.metadata()?.len();
    let mut head = [0u8; 12];
    f.read_exact(&mut head)?;
    if &head[..4] != b"RIFF" || &head[8..] != b"WAVE" {
        return Err(bad("not a WAV file"));
    }
    let mut at = 12u64;
    let mut block_align = 0u64;
    loop {
        let mut chunk = [0u8; 8];
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut chunk)?;
        let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        match &chunk[..4] {
            b"fmt " => {
                let mut fmt = [0u8; 14];
                f.read_exact(&mut fmt)?;
                block_align = u64::from(u16::from_le_bytes([fmt[12], fmt[13]]));
            }
            b"data" => {
                if block_align == 0 {
                    return Err(bad("no fmt chunk before the data"));
                }
                let start = at + 8;
                let data = (len.saturating_sub(start) / block_align) * block_align;
                let data32 = u32::try_from(data).map_err(|_| bad("longer than a WAV can say"))?;
                f.seek(SeekFrom::Start(at + 4))?;
                f.write_all(&data32.to_le_bytes())?;
                let riff = u32::try_from(start + data - 8).map_err(|_| bad("too long"))?;
                f.seek(SeekFrom::Start(4))?;
                f.write_all(&riff.to_le_bytes())?;
                f.set_len(start + data)?;
                f.sync_all()?;
                return Ok(data / block_align);
            }
            _ => {}
        }
        at += 8 + size + (size & 1);
        if at >= len {
            return Err(bad("no data chunk"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_placed_cut_and_written() {
        let dir = std::env::temp_dir().join(format!("vox-rec-{}", std::process::id()));
        let path = dir.join("sub/call.wav");
        let mut r = Recorder::create(&path).expect("create");
        // 3 s of caller audio (value 1) in 20 ms frames; agent audio (value 2) at 0.5-1.0 s,
        // cut at 0.8 s; more agent audio at 2.0-2.5 s
        r.agent(8_000, &[2; 8_000]);
        r.cut_agent(12_800);
        for f in 0..150u64 {
            r.caller(f * 320, &[1; 320]).expect("caller");
            if f == 100 {
                r.agent(32_000, &[2; 8_000]);
            }
        }
        let out = r.finish().expect("finish");
        let mut wav = hound::WavReader::open(&out).expect("open");
        assert_eq!((wav.spec().channels, wav.spec().sample_rate), (2, 16_000));
        let s: Vec<i16> = wav.samples::<i16>().map(|x| x.expect("sample")).collect();
        assert_eq!(s.len(), 2 * 48_000);
        let left: Vec<i16> = s.iter().step_by(2).copied().collect();
        let right: Vec<i16> = s.iter().skip(1).step_by(2).copied().collect();
        assert!(left.iter().all(|&x| x == 1), "the caller throughout");
        let agent_at = |i: usize| right[i];
        assert_eq!(
            (
                agent_at(7_999),
                agent_at(8_000),
                agent_at(12_799),
                agent_at(12_800)
            ),
            (0, 2, 2, 0),
            "placed and cut"
        );
        assert_eq!(
            (
                agent_at(31_999),
                agent_at(32_000),
                agent_at(39_999),
                agent_at(40_000)
            ),
            (0, 2, 2, 0)
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_recording_cut_off_by_a_crash_is_repaired() {
        let dir = std::env::temp_dir().join(format!("vox-rec-crash-{}", std::process::id()));
        let path = dir.join("call.wav");
        let mut r = Recorder::create(&path).expect("create");
        for f in 0..200u64 {
            r.caller(f * 320, &[7; 320]).expect("caller");
        }
        let done = r.finish().expect("finish");
        let whole = std::fs::read(&done).expect("read");
        // what a killed writer leaves: the header as created (sizes 0), the samples, and
        // half a sample frame at the end
        let mut crashed = whole.clone();
        crashed[4..8].copy_from_slice(&0u32.to_le_bytes());
        let data_at = whole.windows(4).position(|w| w == b"data").expect("data");
        crashed[data_at + 4..data_at + 8].copy_from_slice(&0u32.to_le_bytes());
        crashed.extend_from_slice(&[1, 2]);
        std::fs::write(&path, &crashed).expect("write");
        let read = |p: &Path| {
            hound::WavReader::open(p)
                .map(|w| w.into_samples::<i16>().count())
                .unwrap_or(0)
        };
        assert_eq!(read(&path), 0, "unreadable before");
        assert_eq!(repair(&path).expect("repair"), 64_000);
        assert_eq!(std::fs::read(&path).expect("read"), whole, "as if finished");
        assert_eq!(
            repair(&path).expect("again"),
            64_000,
            "a finished file stays"
        );
        std::fs::write(&path, b"not a wav at all").expect("write");
        assert!(repair(&path).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
