//! Arm semihosting: how the kernel talks to QEMU (or a debugger) when it has no console,
//! and how it ends QEMU with an exit status.
//!
//! A semihosting call is `hlt #0xf000`. Where nobody services it (real hardware without a
//! debugger, QEMU without `-semihosting`) it is an undefined instruction; the exception
//! handler steps over it and the call returns [`UNAVAILABLE`], so calling is always safe.

use core::arch::asm;

const SYS_WRITE0: u64 = 0x04;
const SYS_EXIT: u64 = 0x18;
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

/// What a call returns when no semihosting host answered.
pub const UNAVAILABLE: u64 = u64::MAX;

/// The encoding of `hlt #0xf000`, which the exception handler recognises.
pub const HLT_SEMIHOSTING: u32 = 0xd45e_0000;

fn call(op: u64, arg: u64) -> u64 {
    let ret: u64;
    // SAFETY: the host only reads the memory `arg` points to for the operations used here;
    // without a host the exception handler returns UNAVAILABLE.
    unsafe {
        asm!("hlt #0xf000", inout("x0") op => ret, in("x1") arg, options(nostack));
    }
    ret
}

/// Writes `text` to the host's console, in NUL-terminated chunks.
pub fn write_str(text: &str) {
    let mut chunk = [0u8; 128];
    for piece in text.as_bytes().chunks(chunk.len() - 1) {
        chunk[..piece.len()].copy_from_slice(piece);
        chunk[piece.len()] = 0;
        if call(SYS_WRITE0, chunk.as_ptr() as u64) == UNAVAILABLE {
            return;
        }
    }
}

/// A `core::fmt` sink for semihosting.
pub struct Writer;

impl core::fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write_str(s);
        Ok(())
    }
}

/// Ends the emulation with `status`; returns only if no host answered.
pub fn exit(status: u32) {
    let block = [ADP_STOPPED_APPLICATION_EXIT, u64::from(status)];
    call(SYS_EXIT, block.as_ptr() as u64);
}
