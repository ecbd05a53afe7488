// Where a secondary core starts (PSCI CPU_ON's entry, or a spin-table release): the MMU is
// off and the EL is 2 or 1. It finds its logical id by MPIDR in SECONDARY_BOOT, turns its
// MMU on with the boot CPU's settings before touching its stacks (which exist only in the
// MMU's stack window), and enters Rust.

    .section .text.boot, "ax"
    .global secondary_entry
secondary_entry:
    bl      enter_el1
    bl      cpu_early_setup
    mrs     x0, mpidr_el1
    movz    x1, #{affinity_mask_0}  // Mpidr::AFFINITY_MASK
    movk    x1, #{affinity_mask_16}, lsl #16
    movk    x1, #{affinity_mask_32}, lsl #32
    and     x0, x0, x1
    adrp    x1, SECONDARY_BOOT
    add     x1, x1, :lo12:SECONDARY_BOOT
    add     x2, x1, #32             // the per-CPU entries follow four registers
    mov     x3, #0
1:  cmp     x3, #{max_cpus}
    b.hs    park                    // not ours to run
    ldp     x4, x5, [x2], #16       // mpidr, stack top
    ldr     x7, [x2], #16           // overflow stack top (then padding)
    cmp     x4, x0
    b.ne    2f
    cbnz    x5, 3f
2:  add     x3, x3, #1
    b       1b
3:  ldr     x6, [x1, #0]
    msr     mair_el1, x6
    ldr     x6, [x1, #8]
    msr     tcr_el1, x6
    ldr     x6, [x1, #16]
    msr     ttbr0_el1, x6
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x6, [x1, #24]
    msr     sctlr_el1, x6
    isb
    // The stacks are in the stack window, mapped only now that the MMU is on; the
    // exception vectors switch to the overflow stack when SP leaves the stack (stack.rs).
    mov     sp, x5
    msr     tpidrro_el0, x7
    adrp    x0, exception_vectors
    add     x0, x0, :lo12:exception_vectors
    msr     vbar_el1, x0
    isb
    mov     x29, xzr
    mov     x30, xzr
    mov     x0, x3
    bl      secondary_main          // does not return
    b       park

// secondary_restart(id, stack_top): a parked core (MMU on) starts over on a fresh stack.
    .section .text
    .global secondary_restart
secondary_restart:
    mov     sp, x1
    mov     x29, xzr
    mov     x30, xzr
    bl      secondary_main
    b       park
