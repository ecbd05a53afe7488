// The kernel's only FP/SIMD instructions (fpsimd.rs): `make test` checks that no other
// function of the image names an FP or vector register.
//
// hold_vector_registers_asm(expected: *const VectorFile, seen: *mut VectorFile, until: u64)
//
// Loads v0-v31, FPCR
// and FPSR from `expected`, spins with interrupts as the caller left them until the
// system counter (CNTPCT_EL0) reaches `until`, then stores all of them into `seen`. Any
// difference is what an exception taken during the spin changed. Nothing between the
// loads and the stores touches a vector register, so only an exception can. The caller
// has FP/SIMD access enabled (CPACR_EL1.FPEN) for the duration.
//
// VectorFile: v0-v31 (16 bytes each, at 0x000), FPCR at 0x200, FPSR at 0x208.
// AAPCS64: d8-d15 are the caller's, kept on the stack and put back.

    .arch_extension fp
    .arch_extension simd
    .section .text.hold_vector_registers_asm, "ax"
    .global hold_vector_registers_asm
    .balign 4
hold_vector_registers_asm:
    stp     x29, x30, [sp, #-80]!
    mov     x29, sp
    stp     d8, d9, [sp, #16]
    stp     d10, d11, [sp, #32]
    stp     d12, d13, [sp, #48]
    stp     d14, d15, [sp, #64]

    ldr     x9, [x0, #0x200]
    msr     fpcr, x9
    ldr     x9, [x0, #0x208]
    msr     fpsr, x9
    ldp     q0, q1, [x0, #0x000]
    ldp     q2, q3, [x0, #0x020]
    ldp     q4, q5, [x0, #0x040]
    ldp     q6, q7, [x0, #0x060]
    ldp     q8, q9, [x0, #0x080]
    ldp     q10, q11, [x0, #0x0a0]
    ldp     q12, q13, [x0, #0x0c0]
    ldp     q14, q15, [x0, #0x0e0]
    ldp     q16, q17, [x0, #0x100]
    ldp     q18, q19, [x0, #0x120]
    ldp     q20, q21, [x0, #0x140]
    ldp     q22, q23, [x0, #0x160]
    ldp     q24, q25, [x0, #0x180]
    ldp     q26, q27, [x0, #0x1a0]
    ldp     q28, q29, [x0, #0x1c0]
    ldp     q30, q31, [x0, #0x1e0]

1:  isb
    mrs     x9, cntpct_el0
    cmp     x9, x2
    b.lo    1b

    stp     q0, q1, [x1, #0x000]
    stp     q2, q3, [x1, #0x020]
    stp     q4, q5, [x1, #0x040]
    stp     q6, q7, [x1, #0x060]
    stp     q8, q9, [x1, #0x080]
    stp     q10, q11, [x1, #0x0a0]
    stp     q12, q13, [x1, #0x0c0]
    stp     q14, q15, [x1, #0x0e0]
    stp     q16, q17, [x1, #0x100]
    stp     q18, q19, [x1, #0x120]
    stp     q20, q21, [x1, #0x140]
    stp     q22, q23, [x1, #0x160]
    stp     q24, q25, [x1, #0x180]
    stp     q26, q27, [x1, #0x1a0]
    stp     q28, q29, [x1, #0x1c0]
    stp     q30, q31, [x1, #0x1e0]
    mrs     x9, fpcr
    str     x9, [x1, #0x200]
    mrs     x9, fpsr
    str     x9, [x1, #0x208]

    ldp     d8, d9, [sp, #16]
    ldp     d10, d11, [sp, #32]
    ldp     d12, d13, [sp, #48]
    ldp     d14, d15, [sp, #64]
    ldp     x29, x30, [sp], #80
    ret

// use_fpsimd_asm(): one FP instruction, with whatever access the core has: at EL1 outside
// with_fpsimd it traps, which is what `crash fpsimd` shows.
    .section .text.use_fpsimd_asm, "ax"
    .global use_fpsimd_asm
    .balign 4
use_fpsimd_asm:
    fmov    d0, xzr
    ret
