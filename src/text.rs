//! Formatting into a fixed buffer that cuts off what does not fit instead of failing:
//! names, log lines and shell output, where there is no heap to grow into (or none wanted).

use core::fmt;

use arrayvec::ArrayString;

/// A `fmt::Write` into `buf` that keeps what fits, whole characters only, and leaves
/// `keep_free` bytes of it unused (for a newline to come).
pub struct Truncating<'a, const N: usize> {
    buf: &'a mut ArrayString<N>,
    keep_free: usize,
}

impl<'a, const N: usize> Truncating<'a, N> {
    pub fn new(buf: &'a mut ArrayString<N>) -> Self {
        Self { buf, keep_free: 0 }
    }

    /// Leaves `bytes` of the buffer free.
    pub fn keeping_free(buf: &'a mut ArrayString<N>, bytes: usize) -> Self {
        Self {
            buf,
            keep_free: bytes,
        }
    }
}

impl<const N: usize> fmt::Write for Truncating<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.buf.len() + c.len_utf8() + self.keep_free > N {
                break;
            }
            self.buf.push(c);
        }
        Ok(())
    }
}

/// `args` formatted onto the end of `buf`, as much as fits.
pub fn push_truncated<const N: usize>(buf: &mut ArrayString<N>, args: fmt::Arguments<'_>) {
    let _ = fmt::write(&mut Truncating::new(buf), args);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_a_whole_character_and_keeps_room() {
        let mut s = ArrayString::<6>::new();
        push_truncated(&mut s, format_args!("ab{}", "cdéfg"));
        assert_eq!(s.as_str(), "abcdé");
        let mut line = ArrayString::<4>::new();
        let _ = fmt::write(
            &mut Truncating::keeping_free(&mut line, 1),
            format_args!("xyzw"),
        );
        assert_eq!(line.as_str(), "xyz");
    }
}
