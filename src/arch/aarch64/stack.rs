//! Where every CPU's stacks live, so that running off the end of one is caught.
//!
//! Each logical CPU owns one slot of a window of virtual addresses above every physical
//! address the identity map can hold. A slot is twice [`STACK_SIZE`] long and aligned to
//! that, and holds, from its base up:
//!
//! ```text
//! | guard page | overflow stack | guard | stack (STACK_SIZE) |
//! ```
//!
//! Only the two stacks are mapped; the rest of the slot is never mapped, so a stack that
//! grows down past its base faults at once (every frame larger than a page is probed page
//! by page by the compiler, so no frame steps over the guard). Because the stack is the
//! upper half of a slot aligned to twice its size, bit [`STACK_SHIFT`] of an address is
//! set inside the stack and clear anywhere below it: the exception vectors test that one
//! bit of SP before they store anything (Linux's `kernel_ventry` does the same with its
//! vmap'ed stacks), and on an overflow switch to the CPU's overflow stack, whose top each
//! core keeps in TPIDRRO_EL0, to report it.
//!
//! The boot CPU starts on a stack in the image's BSS (with an unmapped page below it) and
//! moves to its slot once the page allocator runs.

use core::ops::Range;

use super::mmu::{self, Attributes, MapError};
use crate::MAX_CPUS;

/// log2 of [`STACK_SIZE`]: the bit of SP the exception vectors test.
pub const STACK_SHIFT: u32 = 15;
/// Each CPU's stack: 32 KiB. The deepest paths measured (`cpu off 0` then `stress all`
/// and `bench` on the CPU the shell moved to) use under half of it; `mem` shows every
/// CPU's high-water mark.
pub const STACK_SIZE: u64 = 1 << STACK_SHIFT;
/// What an overflow is reported on: the Oops report and its backtrace, with room to spare.
pub const OVERFLOW_STACK_SIZE: u64 = 8 << 10;

const PAGE: u64 = 4096;
const SLOT_SIZE: u64 = 2 * STACK_SIZE;

/// The window's first address: above the identity map's reach (and the release-address
/// alias at 2^47), inside the 48-bit space TTBR0 translates, aligned to a slot.
pub const WINDOW_BASE: u64 = 3 << 46;

const _: () = assert!(WINDOW_BASE.is_multiple_of(SLOT_SIZE));
const _: () = assert!(PAGE + OVERFLOW_STACK_SIZE + PAGE <= STACK_SIZE);
const _: () = assert!(WINDOW_BASE + MAX_CPUS as u64 * SLOT_SIZE <= 1 << 48);
const _: () = assert!(mmu::RELEASE_ALIAS + crate::dt::MAX_RELEASE_ADDR <= WINDOW_BASE);

/// The virtual addresses the window covers: every CPU's slot.
pub fn window() -> Range<u64> {
    WINDOW_BASE..WINDOW_BASE + MAX_CPUS as u64 * SLOT_SIZE
}

/// One CPU's two stacks, as virtual address ranges (lowest address first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuStacks {
    pub stack: Range<u64>,
    pub overflow: Range<u64>,
}

impl CpuStacks {
    /// The pages the two stacks take.
    pub const STACK_PAGES: usize = (STACK_SIZE / PAGE) as usize;
    pub const OVERFLOW_PAGES: usize = (OVERFLOW_STACK_SIZE / PAGE) as usize;

    /// Where `cpu`'s stacks are in the window.
    pub fn of(cpu: usize) -> Self {
        assert!(cpu < MAX_CPUS, "cpu{cpu} has no stack slot");
        let slot = WINDOW_BASE + cpu as u64 * SLOT_SIZE;
        let overflow = slot + PAGE;
        Self {
            stack: slot + STACK_SIZE..slot + SLOT_SIZE,
            overflow: overflow..overflow + OVERFLOW_STACK_SIZE,
        }
    }

    /// Whether `addr` lies in the unmapped pages under this CPU's stack, which a stack
    /// overflow runs into.
    pub fn below_stack(&self, addr: u64) -> bool {
        (self.overflow.end..self.stack.start).contains(&addr)
    }
}

/// Maps `cpu`'s stack at `stack_pages` and its overflow stack at `overflow_pages` (the
/// physical addresses of [`CpuStacks::STACK_PAGES`] and [`CpuStacks::OVERFLOW_PAGES`]
/// contiguous pages) into its slot.
///
/// # Safety
/// The pages are this CPU's alone from now on (never freed or used otherwise), and the
/// slot is not mapped yet.
pub unsafe fn map(cpu: usize, stack_pages: u64, overflow_pages: u64) -> Result<(), MapError> {
    let stacks = CpuStacks::of(cpu);
    for (range, pa) in [
        (stacks.stack, stack_pages),
        (stacks.overflow, overflow_pages),
    ] {
        for (i, va) in range.step_by(PAGE as usize).enumerate() {
            // SAFETY: the caller gives these pages to this slot for good, and the slot's
            // entries are empty; the window's tables were made at boot.
            unsafe { mmu::map_page_live(va, pa + i as u64 * PAGE, Attributes::Data)? };
        }
    }
    Ok(())
}

unsafe extern "C" {
    fn run_on_stack(stack_top: u64, overflow_top: u64, entry: extern "C" fn() -> !) -> !;
}

/// Moves this core onto `stacks` (mapped by [`map`]) and calls `entry` there; whatever was
/// on the old stack is left behind for good.
///
/// # Safety
/// `stacks` are this core's, mapped, and nothing else runs on them.
pub unsafe fn switch_to(stacks: &CpuStacks, entry: extern "C" fn() -> !) -> ! {
    // SAFETY: the caller guarantees the stacks; `run_on_stack` sets SP and TPIDRRO_EL0
    // and never returns.
    unsafe { run_on_stack(stacks.stack.end, stacks.overflow.end, entry) }
}

/// How many bytes of `range` were ever used, for a stack painted with [`PAINT`] when it
/// was mapped: the distance from its top to the lowest word that lost its paint.
pub fn high_water(range: &Range<u64>) -> u64 {
    let mut addr = range.start;
    while addr < range.end {
        // SAFETY: the range is a mapped stack; reading a word another core may be writing
        // gives either value, both of which are a fine answer to "was this ever used".
        let word = unsafe { (addr as *const u64).read_volatile() };
        if word != PAINT {
            break;
        }
        addr += 8;
    }
    range.end - addr
}

/// What a stack is filled with before first use, so its high-water mark can be read.
pub const PAINT: u64 = 0x57ac_57ac_57ac_57ac;

/// Fills both of a CPU's stacks, mapped and not yet run on, with [`PAINT`], in plain paired
/// stores (the boot CPU paints every
/// CPU's stacks, 40 KiB each, so a store per word would cost it 15,000 instructions a CPU).
/// Plain stores are enough: the owner first runs on the stacks after it is started, which
/// orders them as it orders everything else written for it before its start.
pub fn paint(stacks: &CpuStacks) {
    for range in [&stacks.stack, &stacks.overflow] {
        let words = ((range.end - range.start) / 8) as usize;
        // SAFETY: the caller's CPU has these stacks mapped, page-aligned, and nobody runs
        // on them or reads them while this borrow lives: the slice is theirs alone.
        let stack = unsafe { core::slice::from_raw_parts_mut(range.start as *mut u64, words) };
        // A cache line (64 bytes) a round, in paired stores.
        let (lines, rest) = stack.as_chunks_mut::<8>();
        for line in lines {
            *line = [PAINT; 8];
        }
        rest.fill(PAINT);
    }
}

core::arch::global_asm!(
    "
    .section .text
    .global run_on_stack
// run_on_stack(stack_top, overflow_top, entry): SP and the overflow stack set, frame chain
// ended, then entry(), which does not return. The outermost frame of the new stack: its
// call-frame information says there is no caller, so debuggers end backtraces here.
run_on_stack:
    .cfi_startproc
    .cfi_undefined x30
    msr     tpidrro_el0, x1
    mov     sp, x0
    mov     x29, xzr
    mov     x30, xzr
    blr     x2
    b       park
    .cfi_endproc
"
);
