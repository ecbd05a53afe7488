//! Arm semihosting: how the kernel talks to QEMU (or a debugger) when it has no console,
//! how it ends QEMU with an exit status, and how it reads a host file (`bench`'s counts).
//!
//! A semihosting call is `hlt #0xf000`. Where nobody services it (real hardware without a
//! debugger, QEMU without `-semihosting`) it is an undefined instruction; the exception
//! handler steps over it and the call returns [`UNAVAILABLE`], so calling is always safe.

use core::arch::asm;

const SYS_OPEN: u64 = 0x01;
const SYS_CLOSE: u64 = 0x02;
const SYS_WRITE0: u64 = 0x04;
const SYS_READ: u64 = 0x06;
const SYS_FLEN: u64 = 0x0c;
const SYS_REMOVE: u64 = 0x0e;
const SYS_ERRNO: u64 = 0x13;
/// SYS_OPEN's mode 1: `rb`.
const MODE_READ_BINARY: u64 = 1;
/// The longest host path the file calls take.
const PATH_MAX: usize = 255;
const SYS_EXIT: u64 = 0x18;
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

/// What a call returns when no semihosting host answered.
pub const UNAVAILABLE: u64 = u64::MAX;

/// The encoding of `hlt #0xf000`, which the exception handler recognises.
pub const HLT_SEMIHOSTING: u32 = 0xd45e_0000;

fn call(op: u64, arg: u64) -> u64 {
    let ret: u64;
    // SAFETY: `arg` points to the operation's parameter block, whose pointers each caller
    // gives with their lengths; the host reads those and writes only into a buffer SYS_READ
    // names, within its length. Without a host the exception handler returns UNAVAILABLE.
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

/// Why a host file could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileError {
    /// Nobody services semihosting.
    Unavailable,
    /// The path is longer than the calls take, or holds a NUL.
    BadPath,
    /// The host could not open it, with its errno (2: there is no such file).
    NotOpened(u64),
    /// It is larger than the buffer.
    TooLarge(u64),
    /// The host gave fewer bytes than it said the file holds.
    ShortRead,
}

/// `path` NUL-terminated, and its length without the NUL.
fn c_path(path: &str) -> Result<([u8; PATH_MAX + 1], u64), FileError> {
    let mut c = [0u8; PATH_MAX + 1];
    if path.len() > PATH_MAX || path.as_bytes().contains(&0) {
        return Err(FileError::BadPath);
    }
    c[..path.len()].copy_from_slice(path.as_bytes());
    Ok((c, path.len() as u64))
}

/// Reads the host file `path` whole into `buf`; how many bytes it holds.
pub fn read_file(path: &str, buf: &mut [u8]) -> Result<usize, FileError> {
    let (name, len) = c_path(path)?;
    let open = [name.as_ptr() as u64, MODE_READ_BINARY, len];
    let handle = call(SYS_OPEN, open.as_ptr() as u64);
    if handle == UNAVAILABLE {
        // The host's -1 for a file it could not open is UNAVAILABLE too; a host answers
        // SYS_ERRNO with why.
        return Err(match call(SYS_ERRNO, 0) {
            UNAVAILABLE => FileError::Unavailable,
            errno => FileError::NotOpened(errno),
        });
    }
    let result = (|| {
        let size = call(SYS_FLEN, [handle].as_ptr() as u64);
        if size > buf.len() as u64 {
            return Err(FileError::TooLarge(size));
        }
        let read = [handle, buf.as_mut_ptr() as u64, size];
        // SYS_READ answers with the number of bytes it did not read.
        match call(SYS_READ, read.as_ptr() as u64) {
            0 => Ok(size as usize),
            _ => Err(FileError::ShortRead),
        }
    })();
    call(SYS_CLOSE, [handle].as_ptr() as u64);
    result
}

/// Removes the host file `path`; whether the host did.
pub fn remove_file(path: &str) -> bool {
    let Ok((name, len)) = c_path(path) else {
        return false;
    };
    call(SYS_REMOVE, [name.as_ptr() as u64, len].as_ptr() as u64) == 0
}
