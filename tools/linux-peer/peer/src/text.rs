//! Text built without an allocator or `core::fmt`: a fixed-capacity byte buffer with the
//! number formatting the peer's output lines and sysfs paths need.

use crate::sys;

/// Long enough for any line or path the peer makes; longer text is cut short.
const CAPACITY: usize = 256;

/// A line of text being built.
pub struct Text {
    buf: [u8; CAPACITY],
    len: usize,
}

impl Text {
    pub const fn new() -> Self {
        Text {
            buf: [0; CAPACITY],
            len: 0,
        }
    }

    /// The text so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let n = bytes.len().min(CAPACITY - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        self
    }

    /// Appends a string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Appends `n` in decimal.
    pub fn uint(&mut self, mut n: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.bytes(&digits[i..])
    }

    /// Appends `n / 10^decimals` in decimal with exactly `decimals` digits after the point:
    /// `fixed(12345, 3)` is `12.345`.
    pub fn fixed(&mut self, n: u64, decimals: u32) -> &mut Self {
        let scale = 10u64.pow(decimals);
        self.uint(n / scale);
        if decimals > 0 {
            let frac = n % scale;
            self.str(".");
            // Leading zeros of the fraction.
            let mut digit = scale / 10;
            while digit > 1 && frac < digit {
                self.str("0");
                digit /= 10;
            }
            self.uint(frac);
        }
        self
    }

    /// Writes the text and a newline to standard output in one write, so that lines from
    /// different programs on the console do not interleave.
    pub fn print(&mut self) {
        // Room for the newline even in a full buffer.
        self.len = self.len.min(CAPACITY - 1);
        self.str("\n");
        let mut rest = self.as_bytes();
        while !rest.is_empty() {
            match sys::write(sys::STDOUT, rest) {
                Ok(n) => rest = &rest[n..],
                Err(_) => break,
            }
        }
    }
}
