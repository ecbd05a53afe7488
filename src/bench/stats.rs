//! Samples of one measurement and what the benchmarks report of them: the median and the
//! 99th percentile (nearest rank), times printed in microseconds with one decimal, and
//! each part's verdict from its own sanity checks.

use alloc::vec::Vec;
use core::fmt;

/// Up to `N` samples, in nanoseconds (or any unit the caller keeps to). Their room is
/// taken from the heap when the samples are made, not from the stack of whichever CPU
/// runs the benchmark (16 KiB on a secondary), and a sample added is never an allocation.
#[derive(Clone, Debug)]
pub struct Samples<const N: usize> {
    values: Vec<u64>,
    sorted: bool,
}

impl<const N: usize> Default for Samples<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Samples<N> {
    pub fn new() -> Self {
        Self {
            values: Vec::with_capacity(N),
            sorted: true,
        }
    }

    /// Adds a sample; beyond `N` samples the rest are dropped (and `len` says so).
    pub fn push(&mut self, value: u64) {
        if self.values.len() < N {
            self.values.push(value);
            self.sorted = false;
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.values.sort_unstable();
            self.sorted = true;
        }
    }

    /// The `p`th percentile, nearest rank (p in 1..=100); 0 without samples.
    pub fn percentile(&mut self, p: usize) -> u64 {
        self.sort();
        let n = self.values.len();
        if n == 0 {
            return 0;
        }
        let rank = (p.clamp(1, 100) * n).div_ceil(100);
        self.values[rank - 1]
    }

    /// The smallest sample; 0 without samples.
    pub fn min(&self) -> u64 {
        self.values.iter().copied().min().unwrap_or(0)
    }

    pub fn median(&mut self) -> u64 {
        self.percentile(50)
    }

    pub fn p99(&mut self) -> u64 {
        self.percentile(99)
    }
}

/// A benchmark part's sanity checks, and the verdict on its RESULT line: `PASS` only if
/// every one held, else `FAIL` with the first that did not as `reason=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    failed: Option<&'static str>,
}

impl Verdict {
    pub const fn new() -> Self {
        Self { failed: None }
    }

    /// Fails the part with `reason` (a word, no spaces) unless `ok`.
    pub fn check(&mut self, ok: bool, reason: &'static str) {
        if !ok && self.failed.is_none() {
            self.failed = Some(reason);
        }
    }

    /// `samples` of `what` are usable: some were taken, the median is above zero (the
    /// clock moved) and not above the p99.
    pub fn samples<const N: usize>(&mut self, samples: &mut Samples<N>, what: &'static str) {
        let (median, p99) = (samples.median(), samples.p99());
        self.check(!samples.is_empty() && median > 0 && median <= p99, what);
    }

    pub fn passed(&self) -> bool {
        self.failed.is_none()
    }

    /// `PASS` or `FAIL`, for the front of the line.
    pub fn word(&self) -> &'static str {
        if self.passed() { "PASS" } else { "FAIL" }
    }
}

/// ` reason=...` after a failed verdict's numbers; nothing after a passed one.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failed {
            Some(reason) => write!(f, " reason={reason}"),
            None => Ok(()),
        }
    }
}

/// Nanoseconds shown as microseconds with one decimal: `52.3`.
#[derive(Clone, Copy, Debug)]
pub struct Micros(pub u64);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0 + 50) / 100;
        write!(f, "{}.{}", tenths / 10, tenths % 10)
    }
}

/// Nanoseconds shown as milliseconds with three decimals: `19.204`.
#[derive(Clone, Copy, Debug)]
pub struct Millis(pub u64);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = (self.0 + 500) / 1000;
        write!(f, "{}.{:03}", us / 1000, us % 1000)
    }
}

/// Hundredths shown with two decimals: `12.34`.
#[derive(Clone, Copy, Debug)]
pub struct Hundredths(pub u64);

impl fmt::Display for Hundredths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p99_by_nearest_rank() {
        let mut s = Samples::<200>::new();
        for v in (1..=100).rev() {
            s.push(v);
        }
        assert_eq!(s.median(), 50);
        assert_eq!(s.p99(), 99);
        assert_eq!(s.percentile(100), 100);
        s.push(1000);
        assert_eq!(s.percentile(100), 1000);
        assert_eq!(s.median(), 51);
    }

    #[test]
    fn few_samples_and_none() {
        let mut s = Samples::<4>::new();
        assert_eq!(s.median(), 0);
        s.push(7);
        assert_eq!((s.median(), s.p99()), (7, 7));
        for v in [1, 2, 3, 4] {
            s.push(v);
        }
        assert_eq!(s.len(), 4, "a full set drops what does not fit");
    }

    #[test]
    fn a_verdict_fails_on_its_first_broken_check() {
        let mut v = Verdict::new();
        let mut good = Samples::<4>::new();
        good.push(3);
        good.push(5);
        v.samples(&mut good, "good");
        assert_eq!((v.word(), v.to_string()), ("PASS", String::new()));
        v.samples(&mut Samples::<4>::new(), "empty");
        let mut zero = Samples::<4>::new();
        zero.push(0);
        v.samples(&mut zero, "zero");
        v.check(false, "later");
        assert_eq!(
            (v.word(), v.to_string()),
            ("FAIL", " reason=empty".to_string())
        );
    }

    #[test]
    fn times_print_rounded() {
        assert_eq!(format!("{}", Micros(52_349)), "52.3");
        assert_eq!(format!("{}", Micros(52_350)), "52.4");
        assert_eq!(format!("{}", Micros(40)), "0.0");
        assert_eq!(format!("{}", Millis(19_204_400)), "19.204");
        assert_eq!(format!("{}", Millis(999_600)), "1.000");
        assert_eq!(format!("{}", Hundredths(1205)), "12.05");
    }
}
