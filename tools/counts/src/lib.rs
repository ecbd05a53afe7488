//! A QEMU TCG plugin that counts, per vCPU, the guest instructions executed and the guest
//! memory accesses made (loads and stores apart) between the markers the kernel's `bench`
//! sets, and hands the counts back to the kernel through a file it reads over
//! semihosting.
//!
//! ```text
//! qemu-system-aarch64 ... -icount shift=0,sleep=off \
//!     -plugin file=target/release/libcounts.so,out=build/counts.txt \
//!     -append 'bench.counts=build/counts.txt run="bench slab"'
//! ```
//!
//! Counting is inline: each translated instruction gets an add to its vCPU's instruction
//! counter, each memory access an add to its vCPU's load or store counter (QEMU's per-vCPU
//! scoreboard; no call per instruction). At translation the plugin looks at every
//! instruction's bytes; a marker (`marker`) gets a call instead of the add, which reads
//! the marker's register and keeps the counts in the `ledger`. A publish marker writes the
//! ledger to `out` (to a temporary file renamed over it, so the kernel never reads half),
//! before the instruction after it runs.
//!
//! Counts between two markers of one vCPU do not depend on the host; what they include
//! that another vCPU decides (a wait for another CPU) is fixed only when the vCPUs take
//! turns in a fixed order, which `-icount shift=0,sleep=off` gives (one thread, the clock
//! driven by instructions executed).
//!
//! Built for plugin API version 4, QEMU 9.2 to 10.0's (10.1 has 5, and loads 4 too).

pub mod ledger;
pub mod marker;
pub mod spin;
// The plugin itself, which calls into QEMU: not part of the host tests, which have no
// QEMU to link against.
#[cfg(not(test))]
mod plugin;
