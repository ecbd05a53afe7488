//! hotslab: an EL1 kernel for 64-bit Arm whose slab caches survive CPU hotplug.
//!
//! The crate is the whole kernel. Its portable parts (the device tree reader, bootargs,
//! the page allocator, the log ring and the shell's parsing) compile on the host too and
//! are unit-tested there; everything that touches the machine is built only for
//! `target_os = "none"`. See docs/architecture.md for the layers, the map of modules and
//! the boot flow.

#![cfg_attr(not(test), no_std)]
// Every unsafe block says why it is sound, and every unsafe function what its caller
// promises: kept true by the compiler, not by review.
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

extern crate alloc;

pub mod bench;
pub mod console;
pub mod drivers;
pub mod dt;
pub mod mm;
pub mod rng;
pub mod smp;
pub mod sync;
pub mod text;

#[cfg(target_os = "none")]
pub mod arch;
#[cfg(target_os = "none")]
pub mod boot;
#[cfg(target_os = "none")]
pub mod panic;
#[cfg(target_os = "none")]
pub mod power;
#[cfg(target_os = "none")]
pub mod selftest;

/// The most CPUs the kernel manages; device-tree CPUs beyond it are reported and left out.
/// (A GICv2 system addresses at most 8.)
pub const MAX_CPUS: usize = 512;
