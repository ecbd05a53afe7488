//! A core's MPIDR affinity (Aff3..Aff0, as a device tree's `/cpus/cpu@N` `reg` gives it
//! and PSCI takes it): a type of its own, so that it cannot be passed where a logical CPU
//! number or an address is meant.

use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mpidr(u64);

impl Mpidr {
    pub const fn new(affinity: u64) -> Self {
        Self(affinity)
    }

    /// The affinity bits, as PSCI and the GIC take them.
    pub const fn affinity(self) -> u64 {
        self.0
    }
}

impl fmt::LowerHex for Mpidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}
