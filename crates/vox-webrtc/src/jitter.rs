//! Reordering RTP packets, and telling lost ones from late ones.

use std::collections::BTreeMap;

/// What comes out of the buffer, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The packet with this place in the sequence.
    Packet {
        /// Its RTP timestamp.
        timestamp: u32,
        /// Its payload.
        payload: Vec<u8>,
    },
    /// This place's packet did not come in time.
    Lost,
}

/// Counts, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets taken in.
    pub received: u64,
    /// Packets that came after their place was given up as lost, or behind the start.
    pub late: u64,
    /// Packets seen twice.
    pub duplicate: u64,
    /// Places given up as lost.
    pub lost: u64,
}

/// Puts RTP packets back in order. A gap in the sequence is waited for while fewer than
/// `depth` packets are held behind it; then the missing place comes out as [`Slot::Lost`] and
/// the packet arriving for it later is dropped as late. With 20 ms packets, a depth of 3
/// tolerates 60 ms of reordering and adds no delay when nothing is out of order.
#[derive(Debug)]
pub struct JitterBuffer {
    depth: usize,
    /// The extended sequence number of the next place to come out.
    next: Option<u64>,
    /// The highest extended sequence number seen, to unwrap the 16-bit numbers.
    highest: Option<u64>,
    held: BTreeMap<u64, (u32, Vec<u8>)>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer holding at most `depth` packets behind a gap (at least 1).
    pub fn new(depth: usize) -> Self {
        Self {
            depth: depth.max(1),
            next: None,
            highest: None,
            held: BTreeMap::new(),
            stats: JitterStats::default(),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The 16-bit sequence number `seq` extended to the value nearest the highest seen.
    fn extend(&self, seq: u16) -> u64 {
        let Some(highest) = self.highest else {
            // room below the first packet, for packets that overtook it
            return (1 << 16) + u64::from(seq);
        };
        let cycle = highest & !0xFFFF;
        let candidates = [
            cycle.checked_sub(1 << 16).map(|c| c + u64::from(seq)),
            Some(cycle + u64::from(seq)),
            Some(cycle + (1 << 16) + u64::from(seq)),
        ];
        candidates
            .into_iter()
            .flatten()
            .min_by_key(|c| c.abs_diff(highest))
            .unwrap_or(cycle + u64::from(seq))
    }

    /// Takes in a packet.
    pub fn push(&mut self, seq: u16, timestamp: u32, payload: Vec<u8>) {
        self.stats.received += 1;
        let ext = self.extend(seq);
        if self.highest.is_none_or(|h| ext > h) {
            self.highest = Some(ext);
        }
        let next = *self.next.get_or_insert(ext);
        if ext < next {
            self.stats.late += 1;
            return;
        }
        if self.held.contains_key(&ext) {
            self.stats.duplicate += 1;
            return;
        }
        self.held.insert(ext, (timestamp, payload));
    }

    /// The next slot, if it is ready: the next packet when it is here, or `Lost` when the
    /// buffer holds `depth` packets behind a gap.
    pub fn pop(&mut self) -> Option<Slot> {
        let next = self.next?;
        if let Some((timestamp, payload)) = self.held.remove(&next) {
            self.next = Some(next + 1);
            return Some(Slot::Packet { timestamp, payload });
        }
        if self.held.len() >= self.depth {
            self.next = Some(next + 1);
            self.stats.lost += 1;
            return Some(Slot::Lost);
        }
        None
    }

    /// The payload of the next packet, if it is held: right after a [`Slot::Lost`], that is
    /// the packet following the lost one, whose in-band FEC can rebuild it.
    pub fn peek_next(&self) -> Option<&[u8]> {
        let next = self.next?;
        self.held.get(&next).map(|(_, p)| p.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(j: &mut JitterBuffer) -> Vec<Option<u32>> {
        std::iter::from_fn(|| j.pop())
            .map(|s| match s {
                Slot::Packet { timestamp, .. } => Some(timestamp),
                Slot::Lost => None,
            })
            .collect()
    }

    #[test]
    fn in_order_packets_come_straight_out() {
        let mut j = JitterBuffer::new(3);
        for k in 0..5u16 {
            j.push(k, u32::from(k) * 960, vec![1]);
            assert_eq!(drain(&mut j), [Some(u32::from(k) * 960)], "no delay");
        }
        assert_eq!(j.stats().lost, 0);
    }

    #[test]
    fn a_reordered_packet_takes_its_place() {
        let mut j = JitterBuffer::new(3);
        j.push(10, 0, vec![]);
        j.push(12, 2, vec![]);
        assert_eq!(drain(&mut j), [Some(0)], "12 waits for 11");
        j.push(11, 1, vec![]);
        assert_eq!(drain(&mut j), [Some(1), Some(2)]);
        assert_eq!(
            j.stats(),
            JitterStats {
                received: 3,
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_gap_is_given_up_after_depth_packets_and_its_packet_is_late() {
        let mut j = JitterBuffer::new(3);
        j.push(1, 1, vec![]);
        assert_eq!(drain(&mut j), [Some(1)]);
        j.push(3, 3, vec![]);
        j.push(4, 4, vec![]);
        assert_eq!(drain(&mut j), [], "two behind the gap: still waiting");
        j.push(5, 5, vec![]);
        assert_eq!(drain(&mut j), [None, Some(3), Some(4), Some(5)]);
        j.push(2, 2, vec![]);
        j.push(5, 5, vec![]);
        assert_eq!(drain(&mut j), []);
        assert_eq!(
            j.stats(),
            JitterStats {
                received: 6,
                late: 2,
                duplicate: 0,
                lost: 1
            }
        );
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut j = JitterBuffer::new(2);
        for (seq, ts) in [(65_534u16, 0u32), (65_535, 1), (1, 3), (0, 2), (2, 4)] {
            j.push(seq, ts, vec![]);
        }
        assert_eq!(drain(&mut j), [Some(0), Some(1), Some(2), Some(3), Some(4)]);
    }

    #[test]
    fn duplicates_are_dropped_and_fec_can_see_the_next_packet() {
        let mut j = JitterBuffer::new(2);
        j.push(7, 0, vec![7]);
        j.push(7, 0, vec![7]);
        assert_eq!(drain(&mut j), [Some(0)]);
        j.push(9, 2, vec![9]);
        j.push(10, 3, vec![10]);
        assert_eq!(j.pop(), Some(Slot::Lost));
        assert_eq!(
            j.peek_next(),
            Some(&[9u8][..]),
            "the packet after the lost one"
        );
        assert_eq!(j.stats().duplicate, 1);
    }
}
