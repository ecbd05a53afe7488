//! The assembly a core runs before Rust: the arm64 Image header, the EL2→EL1 drop, the
//! FP/SIMD trap, self-relocation, BSS and the boot stack (`entry.s`), and the exception vector
//! table (`vectors.s`).

core::arch::global_asm!(
    include_str!("entry.s"),
    boot_stack_size = const BOOT_STACK_SIZE,
    paint = const super::stack::PAINT,
    hvc_raise_serror = const HVC_RAISE_SERROR,
);

/// The function number of the EL2 stub's one service: raise a virtual SError at EL1 (a
/// vendor-specific hypervisor call, SMCCC owner 6).
pub const HVC_RAISE_SERROR: u64 = 0xc600_0001;

/// The boot CPU's first stack: the device tree is read and the page tables are built on
/// it, before the CPU moves to its slot of the stack window. Most of that runs with the MMU
/// off, where its guard page cannot fault: 64 KiB, four times the most measured (9 KiB
/// for QEMU's virt tree, 16.6 KiB for one nested as deep as the reader goes).
pub const BOOT_STACK_SIZE: u64 = 64 << 10;
core::arch::global_asm!(
    include_str!("vectors.s"),
    stack_shift = const super::stack::STACK_SHIFT,
    overflow_size = const super::stack::OVERFLOW_STACK_SIZE,
);

/// Whether this kernel was entered at EL2 (and so left its stub there), as the boot CPU
/// found it.
static ENTERED_AT_EL2: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Records the EL the boot CPU was entered at (once, at boot, with the MMU on).
pub fn set_entry_el(el: u64) {
    ENTERED_AT_EL2.store(el == 2, core::sync::atomic::Ordering::Relaxed);
}

/// Whether the EL2 stub is there to serve [`HVC_RAISE_SERROR`].
pub fn entered_at_el2() -> bool {
    ENTERED_AT_EL2.load(core::sync::atomic::Ordering::Relaxed)
}
