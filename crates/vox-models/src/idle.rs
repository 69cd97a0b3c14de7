//! How many of the machine's cores are idle right now, for work that can use more threads
//! when nothing else needs them (a Whisper pass on a quiet server).
//!
//! A sampler thread, started by the first caller, reads the kernel's CPU counters
//! (`/proc/stat`) every [`PERIOD`] and keeps the idle cores of the last period, with the
//! period's bounds (so a caller can add back what its own work used in it). The figure is
//! the whole machine's, so other processes count as much as Vox's own calls. Where the
//! counters cannot be read (not Linux) there is no figure, and callers keep to their base
//! threads.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How often the counters are read; also the window the figure covers.
const PERIOD: Duration = Duration::from_millis(100);

/// The idle cores of one period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
    pub idle_cores: f32,
}

impl Window {
    /// The share of this window that `from..to` covers (0 to 1).
    pub fn share(&self, from: Instant, to: Instant) -> f32 {
        let len = self.end.saturating_duration_since(self.start).as_secs_f32();
        let overlap = to
            .min(self.end)
            .saturating_duration_since(from.max(self.start))
            .as_secs_f32();
        if len > 0.0 {
            (overlap / len).min(1.0)
        } else {
            0.0
        }
    }
}

static LAST: Mutex<Option<Window>> = Mutex::new(None);
static SAMPLER: OnceLock<bool> = OnceLock::new();

/// The last period's idle cores (`None` where they cannot be measured, or before the first
/// period ends).
pub fn last_window() -> Option<Window> {
    if !*SAMPLER.get_or_init(start) {
        return None;
    }
    *LAST.lock().ok()?
}

/// Starts the sampler; whether the counters can be read.
fn start() -> bool {
    let Some(mut last) = read() else { return false };
    let mut since = Instant::now();
    std::thread::Builder::new()
        .name("idle-cores".into())
        .spawn(move || {
            loop {
                std::thread::sleep(PERIOD);
                let Some(now) = read() else { return };
                let at = Instant::now();
                if let Ok(mut w) = LAST.lock() {
                    *w = Some(Window {
                        start: since,
                        end: at,
                        idle_cores: idle_between(&last, &now) as f32 / 1000.0,
                    });
                }
                (last, since) = (now, at);
            }
        })
        .is_ok()
}

/// The aggregate CPU counters: (idle, total) jiffies, and the number of cores.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Counters {
    idle: u64,
    total: u64,
    cores: u32,
}

fn read() -> Option<Counters> {
    parse(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Parses `/proc/stat`: the `cpu` line's fields (user nice system idle iowait irq softirq
/// steal ...), idle being idle + iowait, and one `cpuN` line per core.
fn parse(stat: &str) -> Option<Counters> {
    let mut lines = stat.lines();
    let fields: Vec<u64> = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // guest time is already counted in user and nice
    let total = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    let cores = lines
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count() as u32;
    (cores > 0).then_some(Counters { idle, total, cores })
}

/// Idle cores between two readings, in thousandths.
fn idle_between(a: &Counters, b: &Counters) -> u32 {
    let total = b.total.saturating_sub(a.total);
    if total == 0 {
        return 0;
    }
    let idle = b.idle.saturating_sub(a.idle).min(total);
    (idle * u64::from(b.cores) * 1000 / total) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 0 50 800 50 0 0 0 0 0\n\
                        cpu0 50 0 25 400 25 0 0 0 0 0\n\
                        cpu1 50 0 25 400 25 0 0 0 0 0\n\
                        intr 1 2 3\n";

    #[test]
    fn reads_the_aggregate_line_and_counts_cores() {
        assert_eq!(
            parse(STAT),
            Some(Counters {
                idle: 850,
                total: 1000,
                cores: 2
            })
        );
        assert_eq!(parse("intr 1 2 3\n"), None);
        assert_eq!(parse("cpu  1 2 x\ncpu0 1 2 3\n"), None);
    }

    #[test]
    fn idle_cores_between_readings() {
        let a = Counters {
            idle: 850,
            total: 1000,
            cores: 2,
        };
        // 20 jiffies passed on 2 cores, 15 of them idle: 1.5 cores idle
        let b = Counters {
            idle: 865,
            total: 1020,
            cores: 2,
        };
        assert_eq!(idle_between(&a, &b), 1500);
        assert_eq!(idle_between(&a, &a), 0);
    }

    #[test]
    fn a_window_knows_how_much_of_it_a_stretch_covers() {
        let t = Instant::now();
        let w = Window {
            start: t,
            end: t + PERIOD,
            idle_cores: 1.0,
        };
        assert_eq!(w.share(t, t + PERIOD), 1.0);
        assert_eq!(w.share(t - PERIOD, t + PERIOD * 2), 1.0);
        assert!((w.share(t + PERIOD / 2, t + PERIOD * 3) - 0.5).abs() < 1e-3);
        assert_eq!(w.share(t - PERIOD * 2, t - PERIOD), 0.0);
    }

    #[test]
    fn the_sampler_reports_a_figure_in_range() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f32;
        let _ = last_window();
        std::thread::sleep(PERIOD * 5);
        match (read(), last_window()) {
            // a period has ended: the figure is the machine's, however busy it is
            (Some(_), Some(w)) => {
                assert!(
                    (0.0..=cores + 0.01).contains(&w.idle_cores),
                    "{w:?} of {cores}"
                );
                assert!(w.end > w.start && w.end <= Instant::now());
            }
            (Some(_), None) => panic!("no figure after five periods"),
            (None, w) => assert_eq!(w, None),
        }
    }
}
