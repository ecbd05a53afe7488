//! `linux-peer`: the measuring program of the Linux peer, a freestanding static aarch64
//! Linux executable (no libc) run by the peer's initramfs /init. This file owns the entry
//! point, the command line and the `boot` measurement; `hotplug` is in its own module.
//!
//! ```text
//! linux-peer boot             RESULT peer-boot PASS boot_ms=<ms since the machine started>
//! linux-peer hotplug CYCLES   RESULT peer-hotplug PASS cpus=.. cycles=.. offline_us=.. ...
//! ```
//!
//! Every result is one `RESULT` line on standard output; a failure prints
//! `RESULT peer-<name> FAIL reason=...` and exits with status 1 (101 after a panic).

#![no_std]
#![no_main]

mod hotplug;
mod sys;
mod text;

use core::panic::PanicInfo;

use text::Text;

/// The process entry point. Linux starts it with the stack pointer at `argc`, followed by
/// the `argv` pointers; the frame pointer and link register are zeroed so that the chain
/// of frames ends here.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "mov x29, xzr",
        "mov x30, xzr",
        "mov x0, sp",
        "bl {main}",
        "brk #0",
        main = sym main,
    )
}

const USAGE: &str = "usage: linux-peer boot | linux-peer hotplug CYCLES";

/// At most this many arguments are looked at.
const MAX_ARGS: usize = 8;

/// Runs the command named by the arguments, then exits with its status.
///
/// # Safety
/// `sp` must be the stack pointer Linux started the process with.
unsafe extern "C" fn main(sp: *const usize) -> ! {
    let mut args: [&[u8]; MAX_ARGS] = [&[]; MAX_ARGS];
    // SAFETY: Linux puts argc at the initial stack pointer, then argc pointers to
    // NUL-terminated strings that live as long as the process.
    let argc = unsafe { *sp }.min(MAX_ARGS);
    for (i, arg) in args.iter_mut().enumerate().take(argc) {
        // SAFETY: as above; `i < argc`.
        *arg = unsafe { c_str(*sp.add(1 + i).cast::<*const u8>()) };
    }
    let status = match &args[1..argc.max(1)] {
        [b"boot"] => boot(),
        [b"hotplug", args @ ..] => hotplug::run(args),
        _ => {
            Text::new()
                .str("RESULT peer-command FAIL reason=usage")
                .print();
            Text::new().str(USAGE).print();
            1
        }
    };
    sys::exit(status)
}

/// The bytes of the NUL-terminated string at `p`, without the NUL.
///
/// # Safety
/// `p` must point to a NUL-terminated string that lives for `'a`.
unsafe fn c_str<'a>(p: *const u8) -> &'a [u8] {
    let mut len = 0;
    // SAFETY: the caller vouches for every byte up to the NUL.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: the `len` bytes just read.
    unsafe { core::slice::from_raw_parts(p, len) }
}

/// `ticks / freq` seconds as a count of `1 / per_second` seconds, rounded to the nearest.
fn ticks_to(ticks: u64, freq: u64, per_second: u64) -> u64 {
    let (ticks, freq, per_second) = (u128::from(ticks), u128::from(freq), u128::from(per_second));
    ((ticks * per_second + freq / 2) / freq) as u64
}

/// `linux-peer boot`: how long after the machine started this program got to run. The
/// virtual counter starts with the machine, so the time covers the whole boot up to init.
fn boot() -> i32 {
    let now = sys::counter();
    let us = ticks_to(now, sys::counter_freq(), 1_000_000);
    Text::new()
        .str("RESULT peer-boot PASS boot_ms=")
        .fixed(us, 3)
        .print();
    0
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    let mut line = Text::new();
    line.str("RESULT peer-panic FAIL reason=panic");
    if let Some(location) = info.location() {
        line.str(" at=")
            .str(location.file())
            .str(":")
            .uint(location.line().into());
    }
    line.print();
    sys::exit(101)
}
