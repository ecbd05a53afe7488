// The EL1 exception vector table: every entry saves the interrupted context as a
// TrapFrame (see exceptions.rs for its layout) and calls handle_exception(kind, frame).

.equ FRAME_SIZE, 0x110              // x0-x30, sp, elr, spsr: 34 words

.macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0x00]
    mov     x0, #\kind
    b       exception_common
.endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global exception_vectors
exception_vectors:
    VECTOR 0        // current EL, SP0: sync
    VECTOR 1        //                  irq
    VECTOR 2        //                  fiq
    VECTOR 3        //                  serror
    VECTOR 4        // current EL, SPx: sync
    VECTOR 5        //                  irq
    VECTOR 6        //                  fiq
    VECTOR 7        //                  serror
    VECTOR 8        // lower EL, AArch64
    VECTOR 9
    VECTOR 10
    VECTOR 11
    VECTOR 12       // lower EL, AArch32
    VECTOR 13
    VECTOR 14
    VECTOR 15

exception_common:
    stp     x2, x3, [sp, #0x10]
    stp     x4, x5, [sp, #0x20]
    stp     x6, x7, [sp, #0x30]
    stp     x8, x9, [sp, #0x40]
    stp     x10, x11, [sp, #0x50]
    stp     x12, x13, [sp, #0x60]
    stp     x14, x15, [sp, #0x70]
    stp     x16, x17, [sp, #0x80]
    stp     x18, x19, [sp, #0x90]
    stp     x20, x21, [sp, #0xa0]
    stp     x22, x23, [sp, #0xb0]
    stp     x24, x25, [sp, #0xc0]
    stp     x26, x27, [sp, #0xd0]
    stp     x28, x29, [sp, #0xe0]
    add     x1, sp, #FRAME_SIZE     // the interrupted sp
    stp     x30, x1, [sp, #0xf0]
    mrs     x1, elr_el1
    mrs     x2, spsr_el1
    stp     x1, x2, [sp, #0x100]
    // A frame record (x29, elr) so backtraces continue into the interrupted code.
    stp     x29, x1, [sp, #-16]!
    mov     x29, sp
    add     x1, sp, #16             // frame
    bl      handle_exception
    add     sp, sp, #16
    // The handler may have changed elr/spsr (e.g. to step over an instruction).
    ldp     x1, x2, [sp, #0x100]
    msr     elr_el1, x1
    msr     spsr_el1, x2
    ldp     x0, x1, [sp, #0x00]
    ldp     x2, x3, [sp, #0x10]
    ldp     x4, x5, [sp, #0x20]
    ldp     x6, x7, [sp, #0x30]
    ldp     x8, x9, [sp, #0x40]
    ldp     x10, x11, [sp, #0x50]
    ldp     x12, x13, [sp, #0x60]
    ldp     x14, x15, [sp, #0x70]
    ldp     x16, x17, [sp, #0x80]
    ldp     x18, x19, [sp, #0x90]
    ldp     x20, x21, [sp, #0xa0]
    ldp     x22, x23, [sp, #0xb0]
    ldp     x24, x25, [sp, #0xc0]
    ldp     x26, x27, [sp, #0xd0]
    ldp     x28, x29, [sp, #0xe0]
    ldr     x30, [sp, #0xf0]
    add     sp, sp, #FRAME_SIZE
    eret
