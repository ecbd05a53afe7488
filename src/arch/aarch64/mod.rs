//! AArch64 at EL1: entry and the Image header, EL2→EL1, self-relocation, the MMU, exception
//! vectors and the Oops report, cache maintenance, the hotplug floor's stub, CPU registers
//! (the GICv3 CPU interface's among them), the SMCCC conduit for PSCI, semihosting, and
//! the count markers of `bench`.

pub mod backtrace;
pub mod boot;
pub mod cache;
pub mod count_marker;
pub mod cpu;
pub mod entry;
pub mod exceptions;
pub mod fpsimd;
pub mod hotplug_floor;
pub mod icc;
pub mod layout;
pub mod memset;
pub mod mmu;
pub mod psci;
pub mod semihosting;
pub mod smp;
pub mod stack;
