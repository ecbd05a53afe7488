//! The running core: its identity, its interrupt mask, and waiting.

use core::arch::asm;

use aarch64_cpu::asm::{wfe, wfi};
use aarch64_cpu::registers::{MPIDR_EL1, Readable, TPIDR_EL1, Writeable};

use crate::dt::Mpidr;

/// The MPIDR affinity fields (Aff3, Aff2, Aff1, Aff0) of this core, as the DT's `reg`
/// writes them.
pub fn mpidr() -> Mpidr {
    Mpidr::from_register(MPIDR_EL1.get())
}

/// This core's logical CPU id (its index in the DT's /cpus), kept in TPIDR_EL1.
pub fn id() -> usize {
    TPIDR_EL1.get() as usize
}

/// Records this core's logical id. Called once per core, before it logs anything.
pub fn set_id(id: usize) {
    TPIDR_EL1.set(id as u64);
}

/// The interrupt mask state saved by [`irq_save`].
#[derive(Clone, Copy)]
#[must_use]
pub struct IrqState(u64);

impl IrqState {
    /// The saved DAIF value, for code that carries it as a plain number.
    pub fn raw(self) -> u64 {
        self.0
    }

    /// Back from [`IrqState::raw`]; only the interrupt mask bits are ever restored.
    pub fn from_raw(raw: u64) -> Self {
        IrqState(raw & DAIF_MASK_BITS)
    }
}

/// DAIF's D, A, I and F bits.
const DAIF_MASK_BITS: u64 = 0b1111 << 6;

/// Masks IRQs and FIQs on this core and returns the previous state.
pub fn irq_save() -> IrqState {
    let daif: u64;
    // SAFETY: reading DAIF and masking interrupts is always permitted at EL1.
    unsafe { asm!("mrs {}, daif", "msr daifset, #3", out(reg) daif, options(nostack)) };
    IrqState(daif)
}

/// Restores the interrupt mask saved by [`irq_save`].
pub fn irq_restore(state: IrqState) {
    // SAFETY: restoring a DAIF value read from this core.
    unsafe { asm!("msr daif, {}", in(reg) state.0, options(nostack)) };
}

/// Whether IRQs are masked on this core.
pub fn irqs_masked() -> bool {
    let daif: u64;
    // SAFETY: reading DAIF has no side effects.
    unsafe { asm!("mrs {}, daif", out(reg) daif, options(nomem, nostack)) };
    daif & (1 << 7) != 0
}

/// Waits for an interrupt (which wakes the core even while masked).
pub fn wait_for_interrupt() {
    wfi();
}

/// Completes every memory access made so far, then waits for an interrupt: Linux's
/// `cpu_do_idle` (`dsb(sy); wfi();`). WFI does not wait for earlier stores to be seen by
/// other cores (the core may stop, its stores still buffered, until it wakes), so a store
/// another core waits for before it acts (a "parked" flag) needs the DSB first.
pub fn wait_for_interrupt_stores_complete() {
    // SAFETY: DSB SY and WFI have no effect on memory beyond completing accesses already
    // made; WFI returns on any interrupt, even masked.
    unsafe { asm!("dsb sy", "wfi", options(nostack)) };
}

/// Waits for an event or interrupt.
pub fn wait_for_event() {
    wfe();
}

/// Stops this core for good: interrupts masked, waiting forever.
pub fn halt() -> ! {
    let _ = irq_save();
    loop {
        wfi();
    }
}

/// The current frame pointer (x29), where a backtrace of the caller starts.
#[inline(always)]
pub fn frame_pointer() -> u64 {
    let fp: u64;
    // SAFETY: reading x29 has no side effects.
    unsafe { asm!("mov {}, x29", out(reg) fp, options(nomem, nostack)) };
    fp
}

/// The address of the code this is inlined into: where a lock is taken, for reports.
#[inline(always)]
pub fn program_counter() -> usize {
    let pc: usize;
    // SAFETY: ADR only computes an address; it reads and writes nothing.
    unsafe { asm!("adr {}, .", out(reg) pc, options(nomem, nostack, preserves_flags)) };
    pc
}

/// The exception level we run at (always 1 once booted).
pub fn current_el() -> u64 {
    let el: u64;
    // SAFETY: reading CurrentEL has no side effects.
    unsafe { asm!("mrs {}, CurrentEL", out(reg) el, options(nomem, nostack)) };
    (el >> 2) & 3
}

/// Lets IRQs in on this core.
pub fn enable_irqs() {
    // SAFETY: unmasking IRQs at EL1; the vectors are installed before any core runs Rust.
    unsafe { asm!("msr daifclr, #2", options(nostack)) };
}

/// Lets SError interrupts (asynchronous aborts) in on this core, once its vectors and the
/// fatal handler can report them.
pub fn unmask_serror() {
    // SAFETY: unmasking SError at EL1; the vectors are installed before any core runs Rust.
    unsafe { asm!("msr daifclr, #4", options(nostack)) };
}

/// Masks IRQs on this core.
pub fn disable_irqs() {
    // SAFETY: masking interrupts is always permitted.
    unsafe { asm!("msr daifset, #2", options(nostack)) };
}

/// Wakes cores waiting in WFE.
pub fn send_event() {
    // SAFETY: DSB then SEV: stores before it are visible to the woken cores.
    unsafe { asm!("dsb ish", "sev", options(nostack)) };
}
