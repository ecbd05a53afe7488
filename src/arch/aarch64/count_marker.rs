//! Count markers: instructions that change nothing, which QEMU's counting plugin
//! (`tools/counts`) recognises by their encoding when it translates them, to count the
//! guest instructions, loads and stores a CPU executes between two of them.
//!
//! A marker is `orr xN, xN, xN`: xN ORed with itself, written back to itself. That is an
//! ordinary integer instruction with no effect, by the definition of ORR, on every Arm
//! core and on QEMU without the plugin; it takes an issue slot as a NOP does and traps
//! nowhere. Each marker has its own register, whose value is its argument:
//!
//! | marker | instruction | argument |
//! |---|---|---|
//! | [`start`] | `orr x9, x9, x9` | the bracket's tag |
//! | [`end`] | `orr x10, x10, x10` | the bracket's tag |
//! | [`checkpoint`] | `orr x11, x11, x11` | the checkpoint's id |
//! | [`publish`] | `orr x12, x12, x12` | a nonce the published records echo |
//!
//! Why not the alternatives: a `hint #N` from the unallocated hint space is a NOP today,
//! but that space is where BTI, PAC, CSDB, CLRBHB and CHKFEAT came from, so a future core
//! may give it a meaning; a write to an otherwise unused system register changes state,
//! can trap (to EL2 on a hypervisor) and goes through a helper under QEMU. A compiler never
//! emits a self-ORR (it removes moves to self), so the plugin cannot mistake compiled code
//! for a marker.
//!
//! The markers are compiler barriers for memory (the asm is not `nomem`), so the memory
//! accesses of what they bracket stay between them.

use core::arch::asm;

/// The checkpoints boot sets at the end of each of its phases (`bench boot` splits the boot
/// at the same places with the counter).
pub mod phase {
    /// The first Rust of the boot CPU: what ran before is the loader's and `entry.s`'s.
    pub const ENTRY: u64 = 1;
    pub const DEVICE_TREE: u64 = 2;
    pub const MMU: u64 = 3;
    pub const MEMORY: u64 = 4;
    /// The boot log written.
    pub const LOG: u64 = 5;
    /// Every CPU brought up.
    pub const CPUS: u64 = 6;
    /// The first prompt.
    pub const READY: u64 = 7;
}

/// Opens a bracket: what this CPU executes from here to [`end`] with the same `tag` is
/// added to the tag's counts.
#[inline(always)]
pub fn start(tag: u64) {
    // SAFETY: `orr x9, x9, x9` leaves every register, flag and memory location as it was.
    unsafe { asm!("orr x9, x9, x9", in("x9") tag, options(nostack, preserves_flags)) };
}

/// Closes the bracket [`start`] opened with `tag` on this CPU.
#[inline(always)]
pub fn end(tag: u64) {
    // SAFETY: `orr x10, x10, x10` changes nothing.
    unsafe { asm!("orr x10, x10, x10", in("x10") tag, options(nostack, preserves_flags)) };
}

/// Keeps this CPU's counts since it started, under `id`.
#[inline(always)]
pub fn checkpoint(id: u64) {
    // SAFETY: `orr x11, x11, x11` changes nothing.
    unsafe { asm!("orr x11, x11, x11", in("x11") id, options(nostack, preserves_flags)) };
}

/// Asks the plugin to write every count it keeps where the kernel reads it, tagged with
/// `nonce`, before the next instruction runs.
#[inline(always)]
pub fn publish(nonce: u64) {
    // SAFETY: `orr x12, x12, x12` changes nothing.
    unsafe { asm!("orr x12, x12, x12", in("x12") nonce, options(nostack, preserves_flags)) };
}

/// Guest instructions, loads and stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    pub insns: u64,
    pub loads: u64,
    pub stores: u64,
}

/// A bracket of known contents, for checking the counter: two loads, an add and a store,
/// then a loop of `loops` rounds of a subtract, a store and a branch (`loops` at least 1).
/// Returns what it must count as: `5 + 3 * loops` instructions (the `mov` that sets the
/// loop counter included), 2 loads and `1 + loops` stores.
#[inline(never)]
pub fn calibration(tag: u64, loops: u64) -> Expected {
    let loops = loops.max(1);
    let mut cells = [1u64, 2, 0, 0];
    // SAFETY: the block reads the first two of `cells` and writes the last two, all inside
    // the array, which lives on this stack frame across the asm; it uses only the
    // registers it names.
    unsafe {
        asm!(
            "orr x9, x9, x9",
            "ldr {a}, [{cells}]",
            "ldr {b}, [{cells}, #8]",
            "add {a}, {a}, {b}",
            "str {a}, [{cells}, #16]",
            "mov {n}, {loops}",
            "2:",
            "subs {n}, {n}, #1",
            "str {n}, [{cells}, #24]",
            "b.ne 2b",
            "orr x10, x10, x10",
            cells = in(reg) cells.as_mut_ptr(),
            loops = in(reg) loops,
            a = out(reg) _,
            b = out(reg) _,
            n = out(reg) _,
            in("x9") tag,
            in("x10") tag,
            options(nostack),
        );
    }
    debug_assert_eq!(cells[2], 3);
    Expected {
        insns: 5 + 3 * loops,
        loads: 2,
        stores: 1 + loops,
    }
}
