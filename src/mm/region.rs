//! A range of physical addresses, the unit in which the device tree describes memory and
//! devices and in which the page allocator is given memory.

use core::fmt;

/// A physical address: a type of its own where it travels with other numbers (a CPU's
/// entry point, next to its MPIDR and logical id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhysAddr(pub u64);

/// `size` bytes of physical address space starting at `base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhysRegion {
    pub base: u64,
    pub size: u64,
}

impl PhysRegion {
    pub const fn new(base: u64, size: u64) -> Self {
        Self { base, size }
    }

    /// One past the last byte, saturating at the top of the address space.
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    /// The addresses it covers.
    pub const fn range(&self) -> core::ops::Range<u64> {
        self.base..self.end()
    }

    pub const fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr < self.end()
    }

    pub const fn overlaps(&self, other: &PhysRegion) -> bool {
        self.base < other.end() && other.base < self.end()
    }

    /// The smallest page-aligned region that covers this one.
    pub const fn page_aligned_outward(&self, page: u64) -> PhysRegion {
        let base = self.base & !(page - 1);
        let end = self.end().saturating_add(page - 1) & !(page - 1);
        PhysRegion::new(base, end - base)
    }
}

impl fmt::Display for PhysRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:#012x}-{:#012x}]",
            self.base,
            self.end().saturating_sub(1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_and_alignment() {
        let a = PhysRegion::new(0x1000, 0x1000);
        assert!(a.overlaps(&PhysRegion::new(0x1fff, 1)));
        assert!(!a.overlaps(&PhysRegion::new(0x2000, 1)));
        assert!(!a.overlaps(&PhysRegion::new(0, 0x1000)));
        assert_eq!(
            PhysRegion::new(0x1234, 0x10).page_aligned_outward(0x1000),
            PhysRegion::new(0x1000, 0x1000)
        );
        assert_eq!(PhysRegion::new(u64::MAX - 1, 8).end(), u64::MAX);
    }
}
