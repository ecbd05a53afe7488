//! Sets of logical CPUs: a plain value ([`CpuMask`]) and a shared, atomically updated one
//! ([`AtomicCpuMask`]) for the possible, present and online sets. A set is a bitmap of
//! [`MAX_CPUS`] bits in 64-bit words, as Linux's `cpumask_t`; each word of an
//! [`AtomicCpuMask`] is updated atomically, and a whole-set read sees each word as it was
//! at some moment (the kernel's sets change one CPU at a time).

use core::fmt;

#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, Ordering};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU64, Ordering};

use crate::MAX_CPUS;

/// The words of a set.
const WORDS: usize = MAX_CPUS.div_ceil(64);

/// A set of logical CPU ids below [`MAX_CPUS`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CpuMask([u64; WORDS]);

impl Default for CpuMask {
    fn default() -> Self {
        Self::empty()
    }
}

/// The word and the bit in it of `cpu`.
const fn place(cpu: usize) -> (usize, u64) {
    (cpu / 64, 1 << (cpu % 64))
}

impl CpuMask {
    pub const fn empty() -> Self {
        CpuMask([0; WORDS])
    }

    /// CPUs `0..n` (all of them from [`MAX_CPUS`] up).
    pub const fn first(n: usize) -> Self {
        let mut words = [0; WORDS];
        let mut w = 0;
        while w < WORDS {
            let below = n.saturating_sub(w * 64);
            words[w] = if below >= 64 {
                u64::MAX
            } else {
                (1 << below) - 1
            };
            w += 1;
        }
        CpuMask(words)
    }

    pub const fn single(cpu: usize) -> Self {
        let mut mask = Self::empty();
        if cpu < MAX_CPUS {
            let (w, bit) = place(cpu);
            mask.0[w] = bit;
        }
        mask
    }

    /// The set whose CPUs 0-63 are the bits of `bits` (and none above).
    pub const fn from_low_word(bits: u64) -> Self {
        let mut mask = Self::empty();
        mask.0[0] = bits;
        mask
    }

    pub const fn contains(self, cpu: usize) -> bool {
        if cpu >= MAX_CPUS {
            return false;
        }
        let (w, bit) = place(cpu);
        self.0[w] & bit != 0
    }

    /// Adds `cpu`; one at or beyond [`MAX_CPUS`] is no CPU, and is ignored.
    pub fn insert(&mut self, cpu: usize) {
        if cpu < MAX_CPUS {
            let (w, bit) = place(cpu);
            self.0[w] |= bit;
        }
    }

    pub fn remove(&mut self, cpu: usize) {
        if cpu < MAX_CPUS {
            let (w, bit) = place(cpu);
            self.0[w] &= !bit;
        }
    }

    pub const fn len(self) -> usize {
        let mut n = 0;
        let mut w = 0;
        while w < WORDS {
            n += self.0[w].count_ones() as usize;
            w += 1;
        }
        n
    }

    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The CPUs in both sets.
    pub fn and(self, other: CpuMask) -> CpuMask {
        CpuMask(core::array::from_fn(|w| self.0[w] & other.0[w]))
    }

    /// The CPUs in either set.
    pub fn or(self, other: CpuMask) -> CpuMask {
        CpuMask(core::array::from_fn(|w| self.0[w] | other.0[w]))
    }

    /// The CPUs of this set that are not in `other`.
    pub fn minus(self, other: CpuMask) -> CpuMask {
        CpuMask(core::array::from_fn(|w| self.0[w] & !other.0[w]))
    }

    pub fn without(mut self, cpu: usize) -> CpuMask {
        self.remove(cpu);
        self
    }

    /// The CPUs in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        let mut words = self.0;
        let mut w = 0;
        core::iter::from_fn(move || {
            while w < WORDS {
                if words[w] != 0 {
                    let bit = words[w].trailing_zeros() as usize;
                    words[w] &= words[w] - 1;
                    return Some(w * 64 + bit);
                }
                w += 1;
            }
            None
        })
    }
}

impl FromIterator<usize> for CpuMask {
    fn from_iter<I: IntoIterator<Item = usize>>(cpus: I) -> Self {
        let mut mask = CpuMask::empty();
        for cpu in cpus {
            mask.insert(cpu);
        }
        mask
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
pub struct AtomicCpuMask([AtomicU64; WORDS]);

#[cfg(not(loom))]
impl AtomicCpuMask {
    pub const fn new() -> Self {
        AtomicCpuMask([const { AtomicU64::new(0) }; WORDS])
    }
}

#[cfg(loom)]
impl AtomicCpuMask {
    pub fn new() -> Self {
        AtomicCpuMask(core::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl AtomicCpuMask {
    pub fn get(&self) -> CpuMask {
        CpuMask(core::array::from_fn(|w| self.0[w].load(Ordering::Acquire)))
    }

    pub fn set(&self, mask: CpuMask) {
        for (word, bits) in self.0.iter().zip(mask.0) {
            word.store(bits, Ordering::Release);
        }
    }

    pub fn contains(&self, cpu: usize) -> bool {
        cpu < MAX_CPUS && {
            let (w, bit) = place(cpu);
            self.0[w].load(Ordering::Acquire) & bit != 0
        }
    }

    pub fn insert(&self, cpu: usize) {
        if cpu < MAX_CPUS {
            let (w, bit) = place(cpu);
            self.0[w].fetch_or(bit, Ordering::AcqRel);
        }
    }

    pub fn remove(&self, cpu: usize) {
        if cpu < MAX_CPUS {
            let (w, bit) = place(cpu);
            self.0[w].fetch_and(!bit, Ordering::AcqRel);
        }
    }

    /// Adds every CPU of `mask`.
    pub fn insert_all(&self, mask: CpuMask) {
        for (word, bits) in self.0.iter().zip(mask.0) {
            if bits != 0 {
                word.fetch_or(bits, Ordering::AcqRel);
            }
        }
    }

    /// Empties the set and returns what it held (each word taken at once).
    pub fn take(&self) -> CpuMask {
        CpuMask(core::array::from_fn(|w| {
            self.0[w].swap(0, Ordering::AcqRel)
        }))
    }
}

impl Default for AtomicCpuMask {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut m = CpuMask::first(4);
        assert_eq!(m.len(), 4);
        m.remove(2);
        assert!(!m.contains(2) && m.contains(3));
        m.insert(63);
        m.insert(64);
        m.insert(MAX_CPUS - 1);
        assert_eq!(
            m.iter().collect::<Vec<_>>(),
            vec![0, 1, 3, 63, 64, MAX_CPUS - 1]
        );
        assert!(!m.contains(MAX_CPUS));
        m.insert(MAX_CPUS);
        assert_eq!(m.len(), 6, "a CPU beyond the ceiling is no CPU");
        assert_eq!(CpuMask::first(MAX_CPUS).len(), MAX_CPUS);
        assert_eq!(CpuMask::first(MAX_CPUS + 9).len(), MAX_CPUS);
        assert_eq!(CpuMask::first(65).iter().last(), Some(64));
        assert_eq!(
            m.without(0).and(CpuMask::first(8)),
            CpuMask::from_low_word(0b1010)
        );
        assert_eq!(
            CpuMask::first(70).minus(CpuMask::first(66)),
            [66, 67, 68, 69].into_iter().collect()
        );
        assert_eq!(CpuMask::single(3).or(CpuMask::single(130)).len(), 2);
    }

    #[test]
    fn displays_as_a_cpulist() {
        let mut m = CpuMask::first(4);
        m.insert(6);
        m.insert(8);
        m.insert(9);
        assert_eq!(m.to_string(), "0-3,6,8-9");
        assert_eq!(CpuMask::empty().to_string(), "(none)");
        assert_eq!(
            CpuMask::first(MAX_CPUS).to_string(),
            format!("0-{}", MAX_CPUS - 1)
        );
        assert_eq!(
            [62, 63, 64, 65, 200]
                .into_iter()
                .collect::<CpuMask>()
                .to_string(),
            "62-65,200"
        );
    }

    #[test]
    fn atomic_mask() {
        let a = AtomicCpuMask::new();
        a.insert(1);
        a.insert(5);
        a.insert(300);
        a.remove(1);
        assert_eq!(a.get(), [5, 300].into_iter().collect());
        a.insert_all(CpuMask::first(3));
        assert_eq!(a.take().len(), 5);
        assert!(a.get().is_empty());
    }
}
