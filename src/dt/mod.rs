//! The device tree: the one place where the kernel learns the machine.
//!
//! [`Platform::parse`] reads a flattened device tree blob into a typed description of what
//! the kernel needs: memory and reserved ranges, `/chosen`, the UARTs and which is the
//! console, the interrupt controller, PSCI (0.2 and later, or 0.1 with the tree's function
//! numbers), the architected timer, the BCM2835 watchdog and the CPUs, every address
//! translated through the parents' `ranges`. Parsing is pure (no hardware access, no
//! allocation) and compiles on the host, where it is unit-tested on real blobs.
//!
//! The blob is walked with `dtoolkit`, after a structural check of our own (`blob`) that
//! is dtoolkit's without its one defect, the refusal of names longer than the
//! specification's 31 characters that Linux's and QEMU's trees use; so a corrupt blob is
//! an error value, never a panic, and every tree dtc reads is read (see docs/device-tree.md
//! on why dtoolkit and not the `fdt` crate).
//! Problems in the tree's content (a UART without `reg`, an unknown enable method) are
//! collected as [`Problem`]s and reported at boot; only a blob the kernel cannot run from
//! at all is a [`DtError`]. What the reader cannot use it leaves out, so every platform it
//! returns keeps the promises of [`Platform::check_consistency`] (no overlapping RAM, no
//! region that wraps, interrupts in range, MPIDRs that name cores...), which boot code
//! relies on; the mutation tests and the fuzz targets hold it to them on damaged blobs.

pub mod blob;
pub mod bootargs;
pub mod cells;
mod consistency;
mod interrupts;
mod mpidr;
mod platform;
mod psci;
mod topology;
mod walk;

pub use consistency::{Inconsistency, MAX_RELEASE_ADDR};
pub use mpidr::Mpidr;
pub use platform::{
    Cpu, DtError, EnableMethod, Gic, MAX_GICV3_REDIST_REGIONS, MAX_MEMORY_REGIONS,
    MAX_RESERVATIONS, Platform, Problem, Reservation, Timer, TreeReader, Uart, UartKind,
};
pub use psci::{FunctionIds, PsciFunctions, PsciMethod, PsciNode};
pub use topology::Topology;

/// The size a blob's header claims, read before the blob is trusted. `None` when `header`
/// is shorter than the 8 bytes holding magic and size, or the magic is wrong.
pub fn blob_size(header: &[u8]) -> Option<usize> {
    const FDT_MAGIC: u32 = 0xd00d_feed;
    let magic = u32::from_be_bytes(header.get(0..4)?.try_into().ok()?);
    let size = u32::from_be_bytes(header.get(4..8)?.try_into().ok()?);
    (magic == FDT_MAGIC).then_some(size as usize)
}

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod mutation_tests;
#[cfg(test)]
mod test_tree;
#[cfg(test)]
mod tests;
