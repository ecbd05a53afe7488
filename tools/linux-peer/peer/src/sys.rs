//! The peer's whole interface to Linux and the hardware: the few aarch64 Linux system
//! calls it makes, issued directly with `svc #0`, and the generic timer's virtual counter,
//! which Linux lets EL0 read.

use core::arch::asm;

/// A negative return from a system call: the `errno` it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// No such file or directory.
    pub const ENOENT: Errno = Errno(2);
}

/// An open file descriptor.
#[derive(Clone, Copy, Debug)]
pub struct Fd(i32);

/// Standard output.
pub const STDOUT: Fd = Fd(1);

/// `openat`'s `dirfd` for paths relative to the current directory.
const AT_FDCWD: isize = -100;
/// `open` flags: read and write; close on exec.
pub const O_RDWR: usize = 0o2;
pub const O_CLOEXEC: usize = 0o2_000_000;

/// aarch64 system call numbers (include/uapi/asm-generic/unistd.h).
const SYS_OPENAT: usize = 56;
const SYS_WRITE: usize = 64;
const SYS_PREAD64: usize = 67;
const SYS_PWRITE64: usize = 68;
const SYS_EXIT_GROUP: usize = 94;

/// System call `nr` with four arguments; unused ones are passed as 0.
///
/// # Safety
/// The arguments must be what system call `nr` expects: pointers must be valid for the
/// reads and writes it makes.
unsafe fn syscall(nr: usize, a0: usize, a1: usize, a2: usize, a3: usize) -> Result<usize, Errno> {
    let ret: isize;
    // SAFETY: the caller vouches for the arguments; the kernel preserves every register
    // except x0, which holds the result.
    unsafe {
        asm!(
            "svc #0",
            in("x8") nr,
            inlateout("x0") a0 as isize => ret,
            in("x1") a1,
            in("x2") a2,
            in("x3") a3,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// Opens `path`, which must end with a NUL byte.
pub fn open(path: &[u8], flags: usize) -> Result<Fd, Errno> {
    assert_eq!(path.last(), Some(&0), "path without a terminating NUL");
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let fd = unsafe {
        syscall(
            SYS_OPENAT,
            AT_FDCWD as usize,
            path.as_ptr() as usize,
            flags,
            0,
        )?
    };
    Ok(Fd(fd as i32))
}

/// Writes `buf` to `fd`'s current position; returns how many bytes were written.
pub fn write(fd: Fd, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
    unsafe {
        syscall(
            SYS_WRITE,
            fd.0 as usize,
            buf.as_ptr() as usize,
            buf.len(),
            0,
        )
    }
}

/// Reads into `buf` from offset `offset` of `fd`; returns how many bytes were read.
pub fn pread(fd: Fd, buf: &mut [u8], offset: usize) -> Result<usize, Errno> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    unsafe {
        syscall(
            SYS_PREAD64,
            fd.0 as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            offset,
        )
    }
}

/// Writes `buf` at offset `offset` of `fd`; returns how many bytes were written.
pub fn pwrite(fd: Fd, buf: &[u8], offset: usize) -> Result<usize, Errno> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
    unsafe {
        syscall(
            SYS_PWRITE64,
            fd.0 as usize,
            buf.as_ptr() as usize,
            buf.len(),
            offset,
        )
    }
}

/// Ends the process with status `code`.
pub fn exit(code: i32) -> ! {
    // SAFETY: no pointers; exit_group does not return.
    let _ = unsafe { syscall(SYS_EXIT_GROUP, code as usize, 0, 0, 0) };
    unreachable!("exit_group returned");
}

/// The virtual counter, `CNTVCT_EL0`: ticks since the machine started (QEMU's virt board
/// starts it at 0 and Linux leaves its offset at 0 when entered at EL1).
pub fn counter() -> u64 {
    let ticks: u64;
    // SAFETY: reads a register Linux makes readable at EL0 (`CNTKCTL_EL1.EL0VCTEN`); the ISB
    // keeps the read from being made early, ahead of the code it is timing.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) ticks, options(nomem, nostack)) };
    ticks
}

/// The counter's frequency in Hz, `CNTFRQ_EL0`.
pub fn counter_freq() -> u64 {
    let freq: u64;
    // SAFETY: reads a register readable at EL0 whenever the counter is.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) freq, options(nomem, nostack)) };
    freq
}
