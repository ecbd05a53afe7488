//! The kernel log's memory: a fixed-size ring of bytes that keeps the newest lines.

/// A byte ring of `N` bytes; writing past the end overwrites the oldest bytes.
pub struct LogRing<const N: usize> {
    buf: [u8; N],
    /// Bytes ever written; the next write goes to `written % N`.
    written: u64,
}

impl<const N: usize> Default for LogRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LogRing<N> {
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            written: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        // Only the last N bytes of a huge write can survive.
        let bytes = &bytes[bytes.len().saturating_sub(N)..];
        let start = (self.written % N as u64) as usize;
        let first = bytes.len().min(N - start);
        self.buf[start..start + first].copy_from_slice(&bytes[..first]);
        self.buf[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.written += bytes.len() as u64;
    }

    /// Total bytes ever written (the log's sequence number).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The kept contents, oldest first, as two slices. After a wrap the partly
    /// overwritten oldest line is dropped, so the contents start at a line.
    pub fn contents(&self) -> (&[u8], &[u8]) {
        if self.written <= N as u64 {
            return (&self.buf[..self.written as usize], &[]);
        }
        let start = (self.written % N as u64) as usize;
        let (older, newer) = (&self.buf[start..], &self.buf[..start]);
        match older.iter().position(|&b| b == b'\n') {
            Some(nl) => (&older[nl + 1..], newer),
            None => {
                let nl = newer.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
                (&newer[nl..], &[])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<const N: usize>(r: &LogRing<N>) -> String {
        let (a, b) = r.contents();
        String::from_utf8([a, b].concat()).unwrap()
    }

    #[test]
    fn keeps_everything_until_full() {
        let mut r = LogRing::<32>::new();
        r.push(b"one\n");
        r.push(b"two\n");
        assert_eq!(text(&r), "one\ntwo\n");
        assert_eq!(r.written(), 8);
    }

    #[test]
    fn wraps_to_whole_newest_lines() {
        let mut r = LogRing::<16>::new();
        for line in ["aaaa\n", "bbbb\n", "cccc\n", "dddd\n"] {
            r.push(line.as_bytes());
        }
        // 20 bytes into 16: of "aaaa\n" only the newline is left, and is dropped.
        assert_eq!(text(&r), "bbbb\ncccc\ndddd\n");
        r.push(b"e\n");
        // Now "bbbb\n" is partly overwritten: it goes whole.
        assert_eq!(text(&r), "cccc\ndddd\ne\n");
    }

    #[test]
    fn a_write_larger_than_the_ring() {
        let mut r = LogRing::<8>::new();
        r.push(b"0123456789\nabcdef\n");
        assert_eq!(text(&r), "\nabcdef\n");
        r.push(b"x\n");
        assert_eq!(text(&r), "x\n");
    }
}
