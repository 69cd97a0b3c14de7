//! Outbound audio in chunks of an exact size, with the marks sent between them kept at the
//! byte where they were sent: Exotel takes chunks of at least 3.2 kB in multiples of 320
//! bytes, Vonage 20 ms frames exactly, while a resampler's output per frame varies by a
//! sample or two.

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Rechunker {
    chunk: usize,
    pending: Vec<u8>,
    /// Marks not yet sent, each with the length of `pending` when it was sent to us.
    marks: Vec<(usize, String)>,
}

/// What to send, in order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Audio(Vec<u8>),
    Mark(String),
}

impl Rechunker {
    /// Chunks of exactly `chunk` bytes (at least 2).
    pub(crate) fn new(chunk: usize) -> Self {
        let chunk = chunk.max(2);
        Self {
            chunk,
            pending: Vec::with_capacity(chunk * 2),
            marks: Vec::new(),
        }
    }

    /// The chunk size.
    pub(crate) fn chunk(&self) -> usize {
        self.chunk
    }

    /// Audio in; every full chunk (and the marks within it) out.
    pub(crate) fn audio(&mut self, bytes: &[u8], out: &mut Vec<Piece>) {
        self.pending.extend_from_slice(bytes);
        while self.pending.len() >= self.chunk {
            self.emit(self.chunk, out);
        }
    }

    /// A mark after the audio given so far: at once when nothing is held, else after it.
    pub(crate) fn mark(&mut self, name: &str, out: &mut Vec<Piece>) {
        if self.pending.is_empty() {
            out.push(Piece::Mark(name.to_owned()));
        } else {
            self.marks.push((self.pending.len(), name.to_owned()));
        }
    }

    /// Drops what is held (a clear): those marks will never play.
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
        self.marks.clear();
    }

    /// The held tail, padded with silence (zero bytes: 16-bit PCM) to a full chunk.
    pub(crate) fn flush(&mut self, out: &mut Vec<Piece>) {
        if !self.pending.is_empty() {
            self.pending.resize(self.chunk, 0);
            self.emit(self.chunk, out);
        }
        for (_, m) in self.marks.drain(..) {
            out.push(Piece::Mark(m));
        }
    }

    /// Whether audio or marks are held.
    pub(crate) fn holds(&self) -> bool {
        !self.pending.is_empty() || !self.marks.is_empty()
    }

    fn emit(&mut self, n: usize, out: &mut Vec<Piece>) {
        let rest = self.pending.split_off(n);
        out.push(Piece::Audio(std::mem::replace(&mut self.pending, rest)));
        let mut kept = Vec::with_capacity(self.marks.len());
        for (at, m) in self.marks.drain(..) {
            if at <= n {
                out.push(Piece::Mark(m));
            } else {
                kept.push((at - n, m));
            }
        }
        self.marks = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_exact_and_marks_follow_their_audio() {
        let mut r = Rechunker::new(4);
        let mut out = Vec::new();
        r.audio(&[1, 2, 3], &mut out);
        r.mark("a", &mut out);
        r.audio(&[4, 5, 6], &mut out);
        r.mark("b", &mut out);
        assert_eq!(
            out,
            [Piece::Audio(vec![1, 2, 3, 4]), Piece::Mark("a".into())],
            "a's audio is in the first chunk, b's is not complete"
        );
        out.clear();
        r.audio(&[7, 8, 9], &mut out);
        assert_eq!(
            out,
            [Piece::Audio(vec![5, 6, 7, 8]), Piece::Mark("b".into())]
        );
        out.clear();
        r.flush(&mut out);
        assert_eq!(
            out,
            [Piece::Audio(vec![9, 0, 0, 0])],
            "the tail padded with silence"
        );
        out.clear();
        r.mark("c", &mut out);
        assert_eq!(out, [Piece::Mark("c".into())], "nothing held: at once");
        r.audio(&[1], &mut out);
        r.mark("d", &mut out);
        r.clear();
        out.clear();
        r.flush(&mut out);
        assert!(
            out.is_empty() && !r.holds(),
            "cleared audio and its marks are gone"
        );
    }
}
