// The EL1 exception vector table: every entry checks that SP is still inside its stack,
// saves the interrupted context as a TrapFrame (see exceptions.rs for its layout) and
// calls handle_exception(kind, frame).
//
// The stack check (stack.rs has the layout): a CPU's stack is the upper half of a slot
// aligned to twice its size, so bit STACK_SHIFT of any address inside it is set, and clear
// in the unmapped pages below. The test needs a register, so x0 is kept in the sum SP + x0
// meanwhile (Linux's kernel_ventry). Below its stack, SP moves to the CPU's overflow stack
// (its top in TPIDRRO_EL0; EL0 never runs, so its thread registers are free), the
// interrupted SP kept in TPIDR_EL0 and x0 in SP_EL0, and stack_overflow reports it. An
// exception taken on the overflow stack itself goes on there; one taken before the CPU
// has an overflow stack (the boot CPU's first stack) goes on where it is.

.equ FRAME_SIZE, 0x110              // x0-x30, sp, elr, spsr: 34 words

.macro VECTOR kind
vector_\kind\()_start:
    sub     sp, sp, #FRAME_SIZE
    add     sp, sp, x0              // sp' = sp + x0
    sub     x0, sp, x0              // x0 = sp
    tbz     x0, #{stack_shift}, 1f  // below the stack: overflowed
    sub     x0, sp, x0              // x0 back
    sub     sp, sp, x0              // sp back
    stp     x0, x1, [sp, #0x00]
    mov     x0, #\kind
    b       exception_common
1:  msr     tpidr_el0, x0           // the interrupted sp, less a frame
    sub     x0, sp, x0
    msr     sp_el0, x0              // the interrupted x0
    mrs     x0, tpidrro_el0         // this CPU's overflow stack top, 0 if none yet
    cbz     x0, 2f
    mov     sp, x0
    mrs     x0, tpidr_el0
    sub     x0, sp, x0              // how far below the overflow stack's top it was
    cmp     x0, #{overflow_size}
    b.hs    3f                      // not on the overflow stack: a stack overflow
2:  mrs     x0, tpidr_el0           // go on where it was
    mov     sp, x0
    mrs     x0, sp_el0
    stp     x0, x1, [sp, #0x00]
    mov     x0, #\kind
    b       exception_common
3:  mrs     x0, sp_el0
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0x00]
    mov     x0, #\kind
    b       stack_overflow_common
    .org    vector_\kind\()_start + 0x80     // an entry has 32 instructions: more is an error
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

// Saves x2-x29 into the frame at sp (x0, x1 are saved already).
.macro SAVE_X2_TO_X29
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
.endm

// On the overflow stack, with the frame's x0, x1 saved: the rest of the frame (the
// interrupted sp from TPIDR_EL0), then the report, which does not return.
stack_overflow_common:
    SAVE_X2_TO_X29
    mrs     x1, tpidr_el0
    add     x1, x1, #FRAME_SIZE     // the interrupted sp
    stp     x30, x1, [sp, #0xf0]
    mrs     x1, elr_el1
    mrs     x2, spsr_el1
    stp     x1, x2, [sp, #0x100]
    stp     x29, x1, [sp, #-16]!
    mov     x29, sp
    add     x1, sp, #16             // frame
    bl      handle_stack_overflow
    b       park

exception_common:
    SAVE_X2_TO_X29
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
