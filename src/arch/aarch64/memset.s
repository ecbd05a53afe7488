// memset(dst: x0, byte: w1, count: x2) -> dst, for every store the compiler turns into a
// fill: slabs zeroed when they grow, tables of one entry per CPU or per pair of them.
//
// Aligned stores only, as the target is built for (strict alignment: memset also runs with
// the MMU off, where every access is Device memory and an unaligned one faults): single
// bytes up to a 16-byte boundary, then 64 bytes a round in four paired stores, then 16,
// then a word and bytes for the tail. No DC ZVA, which faults on Device memory too.

    .section .text.memset, "ax"
    .global memset
    .type memset, %function
    .balign 16
memset:
    mov     x8, x0                  // the cursor; x0 is returned as it came
    and     x1, x1, #0xff           // the byte in all eight of x1's
    orr     x1, x1, x1, lsl #8
    orr     x1, x1, x1, lsl #16
    orr     x1, x1, x1, lsl #32
    cbz     x2, 9f
    // Bytes until the cursor is 16-byte aligned (or the count runs out).
1:  tst     x8, #15
    b.eq    2f
    strb    w1, [x8], #1
    subs    x2, x2, #1
    b.ne    1b
    ret
    // 64 bytes a round.
2:  subs    x2, x2, #64
    b.lo    4f
3:  stp     x1, x1, [x8]
    stp     x1, x1, [x8, #16]
    stp     x1, x1, [x8, #32]
    stp     x1, x1, [x8, #48]
    add     x8, x8, #64
    subs    x2, x2, #64
    b.hs    3b
4:  adds    x2, x2, #64             // 0-63 left
    // 16 bytes a round.
5:  subs    x2, x2, #16
    b.lo    6f
    stp     x1, x1, [x8], #16
    b       5b
6:  adds    x2, x2, #16             // 0-15 left
    b.eq    9f
    tbz     x2, #3, 7f
    str     x1, [x8], #8
7:  ands    x2, x2, #7
    b.eq    9f
8:  strb    w1, [x8], #1
    subs    x2, x2, #1
    b.ne    8b
9:  ret
    .size memset, . - memset
