// The least a PSCI CPU_ON and CPU_OFF can cost: a core started here (MMU and caches off,
// x0 the physical address of a FloorMailbox) drops to EL1 as every secondary does, says
// it arrived, waits to be told to die, and calls CPU_OFF through the mailbox's conduit.
// No stack, no MMU, no Rust. With a GICv2 CPU interface in the mailbox it waits as the
// kernel's idle cores do, in WFI until an SGI (acknowledged and ended before CPU_OFF);
// without one, it polls.

    .section .text
    .global hotplug_floor_entry
hotplug_floor_entry:
    mov     x19, x0
    bl      enter_el1
    ldr     x20, [x19, #32]         // GICv2 CPU interface, or 0
    cbz     x20, 1f
    mov     w1, #0xff
    str     w1, [x20, #0x4]         // GICC_PMR: every priority
    mov     w1, #1
    str     w1, [x20, #0x0]         // GICC_CTLR: signal interrupts (PSTATE masks them)
1:  mov     x1, #1
    str     x1, [x19, #0]           // arrived
2:  ldr     x1, [x19, #8]           // die
    cbnz    x1, 4f
    cbz     x20, 2b
    wfi
3:  ldr     w1, [x20, #0xc]         // GICC_IAR
    and     w2, w1, #0x3ff
    cmp     w2, #1020               // 1020-1023: nothing pending
    b.hs    2b
    str     w1, [x20, #0x10]        // GICC_EOIR
    b       3b
4:  cbz     x20, 5f
    str     wzr, [x20, #0x0]        // GICC_CTLR off again, as the kernel leaves it
5:  ldr     x2, [x19, #16]          // conduit: 0 HVC, 1 SMC
    movz    w0, #0x0002             // PSCI_CPU_OFF, 0x84000002
    movk    w0, #0x8400, lsl #16
    cbnz    x2, 6f
    hvc     #0
    b       7f
6:  smc     #0
7:  str     x0, [x19, #24]          // CPU_OFF returned: its error
8:  wfi
    b       8b
