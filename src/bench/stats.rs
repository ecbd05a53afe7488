//! Samples of one measurement and what the benchmarks report of them: the median and the
//! 99th percentile (nearest rank), and times printed in microseconds with one decimal.

use core::fmt;

use arrayvec::ArrayVec;

/// Up to `N` samples, in nanoseconds (or any unit the caller keeps to).
#[derive(Clone, Debug, Default)]
pub struct Samples<const N: usize> {
    values: ArrayVec<u64, N>,
    sorted: bool,
}

impl<const N: usize> Samples<N> {
    pub fn new() -> Self {
        Self {
            values: ArrayVec::new(),
            sorted: true,
        }
    }

    /// Adds a sample; beyond `N` samples the rest are dropped (and `len` says so).
    pub fn push(&mut self, value: u64) {
        if self.values.try_push(value).is_ok() {
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

    pub fn median(&mut self) -> u64 {
        self.percentile(50)
    }

    pub fn p99(&mut self) -> u64 {
        self.percentile(99)
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
    fn times_print_rounded() {
        assert_eq!(format!("{}", Micros(52_349)), "52.3");
        assert_eq!(format!("{}", Micros(52_350)), "52.4");
        assert_eq!(format!("{}", Micros(40)), "0.0");
        assert_eq!(format!("{}", Millis(19_204_400)), "19.204");
        assert_eq!(format!("{}", Millis(999_600)), "1.000");
        assert_eq!(format!("{}", Hundredths(1205)), "12.05");
    }
}
