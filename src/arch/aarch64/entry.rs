//! The assembly a core runs before Rust: the arm64 Image header, the EL2→EL1 drop, the
//! FP/SIMD trap, self-relocation, BSS and the boot stack (`entry.s`), and the exception vector
//! table (`vectors.s`).

core::arch::global_asm!(
    include_str!("entry.s"),
    boot_stack_size = const BOOT_STACK_SIZE,
    paint = const super::stack::PAINT,
);

/// The boot CPU's first stack: the device tree is read and the page tables are built on
/// it, before the CPU moves to its slot of the stack window.
pub const BOOT_STACK_SIZE: u64 = 32 << 10;
core::arch::global_asm!(
    include_str!("vectors.s"),
    stack_shift = const super::stack::STACK_SHIFT,
    overflow_size = const super::stack::OVERFLOW_STACK_SIZE,
);
