//! Sets of logical CPUs: a plain value ([`CpuMask`]) and a shared, atomically updated one
//! ([`AtomicCpuMask`]) for the possible, present and online sets.

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::MAX_CPUS;

const _: () = assert!(MAX_CPUS <= 64, "CpuMask is one 64-bit word");

/// A set of logical CPU ids below [`MAX_CPUS`].
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuMask(u64);

impl CpuMask {
    pub const fn empty() -> Self {
        CpuMask(0)
    }

    /// CPUs `0..n`.
    pub const fn first(n: usize) -> Self {
        if n >= 64 {
            CpuMask(u64::MAX)
        } else {
            CpuMask((1 << n) - 1)
        }
    }

    pub const fn single(cpu: usize) -> Self {
        CpuMask(1 << cpu)
    }

    pub const fn from_bits(bits: u64) -> Self {
        CpuMask(bits)
    }

    pub const fn bits(self) -> u64 {
        self.0
    }

    pub const fn contains(self, cpu: usize) -> bool {
        cpu < MAX_CPUS && self.0 & (1 << cpu) != 0
    }

    pub fn insert(&mut self, cpu: usize) {
        self.0 |= 1 << cpu;
    }

    pub fn remove(&mut self, cpu: usize) {
        self.0 &= !(1 << cpu);
    }

    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn and(self, other: CpuMask) -> CpuMask {
        CpuMask(self.0 & other.0)
    }

    pub const fn without(self, cpu: usize) -> CpuMask {
        CpuMask(self.0 & !(1 << cpu))
    }

    /// The CPUs in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        core::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let cpu = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(cpu)
        })
    }
}

impl fmt::Debug for CpuMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Lists the set as ranges, like Linux's cpulist: `0-3,6`.
impl fmt::Display for CpuMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut cpus = self.iter().peekable();
        while let Some(start) = cpus.next() {
            let mut end = start;
            while cpus.peek() == Some(&(end + 1)) {
                end = cpus.next().unwrap_or(end);
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if end == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
        }
        if first {
            f.write_str("(none)")?;
        }
        Ok(())
    }
}

/// A CPU set many cores read and update.
pub struct AtomicCpuMask(AtomicU64);

impl AtomicCpuMask {
    pub const fn new() -> Self {
        AtomicCpuMask(AtomicU64::new(0))
    }

    pub fn get(&self) -> CpuMask {
        CpuMask(self.0.load(Ordering::Acquire))
    }

    pub fn set(&self, mask: CpuMask) {
        self.0.store(mask.0, Ordering::Release);
    }

    pub fn contains(&self, cpu: usize) -> bool {
        self.get().contains(cpu)
    }

    pub fn insert(&self, cpu: usize) {
        self.0.fetch_or(1 << cpu, Ordering::AcqRel);
    }

    pub fn remove(&self, cpu: usize) {
        self.0.fetch_and(!(1 << cpu), Ordering::AcqRel);
    }
}

impl Default for AtomicCpuMask {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut m = CpuMask::first(4);
        assert_eq!(m.len(), 4);
        m.remove(2);
        assert!(!m.contains(2) && m.contains(3));
        m.insert(63);
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![0, 1, 3, 63]);
        assert!(!m.contains(64));
        assert_eq!(CpuMask::first(64).len(), 64);
        assert_eq!(m.without(0).and(CpuMask::first(8)), CpuMask(0b1010));
    }

    #[test]
    fn displays_as_a_cpulist() {
        let mut m = CpuMask::first(4);
        m.insert(6);
        m.insert(8);
        m.insert(9);
        assert_eq!(m.to_string(), "0-3,6,8-9");
        assert_eq!(CpuMask::empty().to_string(), "(none)");
    }

    #[test]
    fn atomic_mask() {
        let a = AtomicCpuMask::new();
        a.insert(1);
        a.insert(5);
        a.remove(1);
        assert_eq!(a.get(), CpuMask::single(5));
    }
}
