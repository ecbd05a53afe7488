//! A core's MPIDR affinity (Aff3..Aff0, as a device tree's `/cpus/cpu@N` `reg` gives it,
//! PSCI takes it and the GIC routes by it): a type of its own, so that it cannot be passed
//! where a logical CPU number or an address is meant, and the one place that knows which
//! bits of MPIDR_EL1 are affinity.

use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mpidr(u64);

impl Mpidr {
    /// The bits of MPIDR_EL1 that name a core: Aff3 (39:32) and Aff2..Aff0 (23:0). The
    /// others are U, MT and the RES1 bit 31, which say something about the core, not
    /// which core it is.
    pub const AFFINITY_MASK: u64 = 0xff_00ff_ffff;

    /// An affinity value, as a device tree's `reg` or PSCI gives it. Bits outside
    /// [`Mpidr::AFFINITY_MASK`] are kept: whoever reads a tree checks for them
    /// ([`Mpidr::is_affinity_only`]).
    pub const fn new(affinity: u64) -> Self {
        Self(affinity)
    }

    /// The affinity fields of an MPIDR_EL1 value as the register reads.
    pub const fn from_register(mpidr_el1: u64) -> Self {
        Self(mpidr_el1 & Self::AFFINITY_MASK)
    }

    /// From the four affinity levels, Aff0 first.
    pub const fn from_levels([aff0, aff1, aff2, aff3]: [u8; 4]) -> Self {
        Self((aff3 as u64) << 32 | (aff2 as u64) << 16 | (aff1 as u64) << 8 | aff0 as u64)
    }

    /// The affinity bits, as PSCI and the GIC take them.
    pub const fn affinity(self) -> u64 {
        self.0
    }

    /// Whether only the affinity fields are set.
    pub const fn is_affinity_only(self) -> bool {
        self.0 & !Self::AFFINITY_MASK == 0
    }

    /// Affinity level `level` (0-3).
    pub const fn level(self, level: u32) -> u8 {
        let shift = match level {
            0 => 0,
            1 => 8,
            2 => 16,
            _ => 32,
        };
        (self.0 >> shift) as u8
    }
}

impl fmt::LowerHex for Mpidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_register_keeps_only_the_affinity_fields() {
        // U (30), the RES1 bit 31 and MT (24) dropped; Aff3 kept.
        let m = Mpidr::from_register(0x0000_0012_c1ab_cdef);
        assert_eq!(m.affinity(), 0x12_00ab_cdef);
        assert!(m.is_affinity_only());
        assert!(!Mpidr::new(1 << 31).is_affinity_only());
    }

    #[test]
    fn levels_are_where_the_architecture_puts_them() {
        let m = Mpidr::from_levels([0x10, 0x21, 0x32, 0x43]);
        assert_eq!(m.affinity(), 0x43_0032_2110);
        assert_eq!(
            [m.level(0), m.level(1), m.level(2), m.level(3)],
            [0x10, 0x21, 0x32, 0x43]
        );
    }
}
