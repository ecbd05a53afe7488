//! The assembly a core runs before Rust: the arm64 Image header, the EL2→EL1 drop, the
//! FP/SIMD trap, self-relocation, BSS and the boot stack (`entry.s`), and the exception vector
//! table (`vectors.s`).

core::arch::global_asm!(include_str!("entry.s"));
core::arch::global_asm!(include_str!("vectors.s"));
