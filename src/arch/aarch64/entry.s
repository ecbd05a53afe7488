// The arm64 Image header and the boot CPU's first instructions: from the loader's hand-off
// to the first Rust function, with the MMU still off.

// Image header (Documentation/arch/arm64/booting.rst): QEMU, U-Boot's booti and the
// Raspberry Pi firmware read it, and pass the DTB's address in x0.
    .section .text.head, "ax"
    .global _start
_start:
    b       primary_entry           // code0
    .long   0                       // code1
    .quad   0x80000                 // text_offset: where in a 2 MiB block to load us
    .quad   __image_size            // image_size: BSS included
    .quad   0xa                     // flags: little-endian, 4 KiB pages, any physical address
    .quad   0                       // res2
    .quad   0                       // res3
    .quad   0                       // res4
    .ascii  "ARM\x64"               // magic
    .long   0                       // res5: no PE/COFF header

    .section .text.boot, "ax"

// x0 = physical address of the DTB; the MMU is off; the EL is 2 or 1.
// The outermost frame: its call-frame information says there is no caller, so debuggers
// end backtraces here.
    .cfi_sections .debug_frame
primary_entry:
    .cfi_startproc
    .cfi_undefined x30
    mov     x19, x0
    mrs     x20, CurrentEL
    lsr     x20, x20, #2
    bl      enter_el1
    bl      cpu_early_setup

    // Relocate: add the distance between where we run and where we were linked to every
    // R_AARCH64_RELATIVE place. Any other relocation type is a build error (see Makefile).
    adrp    x0, _start
    add     x0, x0, :lo12:_start
    adrp    x1, link_address_of_start
    ldr     x1, [x1, :lo12:link_address_of_start]
    sub     x21, x0, x1             // x21 = runtime - link
    cbz     x21, 2f
    adrp    x2, __rela_start
    add     x2, x2, :lo12:__rela_start
    adrp    x3, __rela_end
    add     x3, x3, :lo12:__rela_end
1:  cmp     x2, x3
    b.hs    2f
    ldp     x4, x5, [x2], #16       // r_offset, r_info
    ldr     x6, [x2], #8            // r_addend
    cmp     w5, #1027               // R_AARCH64_RELATIVE
    b.ne    park
    add     x6, x6, x21
    str     x6, [x4, x21]
    b       1b
2:
    // Zero BSS (16-byte aligned at both ends by linker.ld).
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
3:  cmp     x0, x1
    b.hs    4f
    stp     xzr, xzr, [x0], #16
    b       3b
4:
    adrp    x0, boot_stack_top
    add     x0, x0, :lo12:boot_stack_top
    mov     sp, x0
    bl      install_vectors
    mov     x29, xzr                // terminates frame-pointer backtraces
    mov     x30, xzr
    mov     x0, x19                 // DTB
    mov     x1, x20                 // the EL we were entered at
    mov     x2, x21                 // relocation offset
    bl      boot_primary            // does not return
    b       park
    .cfi_endproc

// Drop from EL2 to EL1 if entered at EL2; returns at EL1 with the same x30.
// Clobbers x0. Everything EL1 needs from EL2 is set here, once per core.
    .global enter_el1
enter_el1:
    mrs     x0, CurrentEL
    lsr     x0, x0, #2
    cmp     x0, #1
    b.eq    at_el1
    cmp     x0, #2
    b.ne    park                    // EL3 entry (no loader) is not supported
    mov     x0, #(1 << 31)          // HCR_EL2.RW: EL1 is AArch64; no traps, no stage 2
    msr     hcr_el2, x0
    mov     x0, #3                  // CNTHCTL_EL2.EL1PCTEN|EL1PCEN: physical timer for EL1
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr        // virtual count == physical count
    mov     x0, #0x33ff             // CPTR_EL2: no FP/SIMD traps
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    mrs     x0, midr_el1            // what EL1 reads as MIDR/MPIDR
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    mrs     x0, id_aa64pfr0_el1     // GICv3 system registers implemented?
    ubfx    x0, x0, #24, #4
    cbz     x0, 1f
    mrs     x0, S3_4_C12_C9_5       // ICC_SRE_EL2: SRE | Enable (EL1 may use ICC_*_EL1)
    orr     x0, x0, #0x1            // SRE
    orr     x0, x0, #0x8            // Enable
    msr     S3_4_C12_C9_5, x0
    isb
    msr     S3_4_C12_C11_0, xzr     // ICH_HCR_EL2: no virtual interrupts
1:  mov     x0, #0x0800             // SCTLR_EL1 RES1 bits, MMU and caches off
    movk    x0, #0x30d0, lsl #16
    msr     sctlr_el1, x0
    mov     x0, #0x3c5              // SPSR_EL2: EL1h, DAIF masked
    msr     spsr_el2, x0
    msr     elr_el2, x30
    eret
at_el1:
    mov     x0, #0x0800
    movk    x0, #0x30d0, lsl #16
    msr     sctlr_el1, x0
    isb
    ret

// At EL1, before any Rust code: SP_EL1 selected, interrupts masked, FP/SIMD trapped.
// The kernel is compiled without FP/SIMD (aarch64-unknown-none-softfloat), so the
// exception vectors save none of those registers; a use anyway is an Oops that says so
// (fpsimd.rs). CPACR_EL1 resets to an unknown value: FPEN = 0b00 traps EL1 and EL0.
    .global cpu_early_setup
cpu_early_setup:
    msr     spsel, #1
    msr     daifset, #0xf
    msr     cpacr_el1, xzr
    isb
    ret

install_vectors:
    adrp    x0, exception_vectors
    add     x0, x0, :lo12:exception_vectors
    msr     vbar_el1, x0
    isb
    ret

    .global park
park:
    msr     daifset, #0xf
1:  wfe
    b       1b

    .section .data.rel.ro, "aw"
    .balign 8
// Holds _start's link-time address until relocation makes it the runtime one.
link_address_of_start:
    .quad   _start

// The boot CPU's stack, from the first Rust code to its idle loop, with no guard page
// below it: 128 KiB. Measured at its deepest: 64.5 KiB on QEMU's virt when a CPU's
// bring-up fails (boot_primary's 32 KiB frame, holding the Platform and copies of it, under
// the bring-up's 16 KiB), 66.5 KiB reading a tree nested 16 levels deep (the reader's
// limit; 800 bytes a level).
    .section .bss.boot_stack, "aw", %nobits
    .balign 4096
    .global boot_stack
boot_stack:
    .space  0x20000
    .global boot_stack_top
boot_stack_top:
