//! Every CPU's backtrace on demand (Linux's `trigger_all_cpu_backtrace` and
//! `IPI_CPU_BACKTRACE`), for a CPU that wants to know what the others are doing: the
//! asking CPU prints its own backtrace, then asks each other online CPU in turn, by
//! [`gic::SGI_BACKTRACE`], to print its own from the interrupt it takes, where the
//! interrupted context shows what it was doing. One CPU prints at a time, so the parts do
//! not interleave, and each is waited for with a bound: a CPU that does not take the SGI
//! in time (spinning with interrupts masked, or stopped) is named instead, and the rest are
//! still asked. Neither side takes a lock another CPU may hold (the SGI goes out as the
//! Oops's stop does, each turn is one atomic word), so a CPU spinning on a lock, with
//! interrupts masked, may ask; nothing stops the kernel.
//!
//! One CPU asks at a time (`asker.rs`): a second one, or the asker again from an
//! interrupt, is told who is asking and skips. Each asked CPU's turn is a handshake
//! (`handshake.rs`): the CPU takes it on the SGI, or the asker, giving up, withdraws it,
//! whichever comes first; a CPU that takes its SGI after that finds nothing to answer and
//! prints nothing. Each CPU's part ends as an Oops report does, so a symboliser resolves
//! it:
//!
//! ```text
//! cpu2 backtrace:
//!   pc  0x0000000040089a20 lr  0x0000000040089a1c sp  0x0000c00000027e40
//! Call trace:
//!   #0  0x0000000040089a20
//!   #1  0x0000000040088f10
//! Kernel image at 0x40080000 (linked at 0x40080000); addresses above are where it runs
//! ```
//!
//! The asking CPU's own part has no `pc` line: it starts from where it was called.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering};

use arrayvec::ArrayString;

use super::asker::{Asker, Busy};
use super::cpumask::CpuMask;
use super::handshake::Handshake;
use super::{stacks, state};
use crate::MAX_CPUS;
use crate::arch::exceptions::{self, TrapFrame};
use crate::arch::{backtrace, cpu};
use crate::drivers::gic;
use crate::drivers::timer::Deadline;

/// How long an asked CPU has to take the SGI and start printing.
pub const ANSWER_TIMEOUT_US: u64 = 100_000;
/// How long a CPU that started printing has to finish (a slow UART, or a console lock
/// held by a stuck CPU, which costs each line a bounded wait).
pub const PRINT_TIMEOUT_US: u64 = 2_000_000;

/// Who may ask.
static ASKER: Asker = Asker::new();

/// Each CPU's turn to print: the asker requests, the CPU takes or the asker withdraws.
static TURNS: [Handshake; MAX_CPUS] = [const { Handshake::new() }; MAX_CPUS];

/// The number of the last turn each CPU finished printing.
static PRINTED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Where the report's lines go, whole lines at a time. The console sets it at boot
/// (`console::write_report_line`: it waits for the console lock only a bounded time);
/// it sits above this layer.
static OUTPUT: spin::Once<fn(&str)> = spin::Once::new();

/// Sets where the backtraces' lines go (once, at boot, before another CPU is up).
pub fn set_output(write_line: fn(&str)) {
    OUTPUT.call_once(|| write_line);
}

/// The longest line the report prints whole; a longer one goes out in pieces.
const LINE: usize = 160;

/// Collects text into whole lines and hands each to the output in one piece, so another
/// CPU's log line cannot land inside one.
struct Lines {
    line: ArrayString<LINE>,
}

impl Lines {
    fn new() -> Self {
        Self {
            line: ArrayString::new(),
        }
    }

    fn flush(&mut self) {
        if let Some(write_line) = OUTPUT.get()
            && !self.line.is_empty()
        {
            write_line(&self.line);
        }
        self.line.clear();
    }
}

impl Write for Lines {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.line.try_push(c).is_err() {
                self.flush();
                self.line.push(c);
            }
            if c == '\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        self.flush();
    }
}

/// What became of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backtraces {
    /// The other CPUs online when the request began.
    pub asked: CpuMask,
    /// Those whose backtrace was printed whole.
    pub printed: CpuMask,
}

impl Backtraces {
    /// Asked, and no whole backtrace from them.
    pub fn missing(&self) -> CpuMask {
        self.asked.minus(self.printed)
    }
}

/// What one asked CPU did.
enum Answer {
    Printed,
    /// It did not start within [`ANSWER_TIMEOUT_US`].
    Silent,
    /// It started, and did not finish within [`PRINT_TIMEOUT_US`].
    Unfinished,
}

/// Prints this CPU's backtrace, then each other online CPU's, one at a time, naming any
/// that does not answer. Interrupts may be masked or not; no lock is taken, and every wait
/// is bounded: at most [`ANSWER_TIMEOUT_US`] for a CPU that does not answer.
pub fn all_cpus_backtrace() -> Result<Backtraces, Busy> {
    let me = cpu::id();
    let mut out = Lines::new();
    let _asking = match ASKER.begin(me) {
        Ok(asking) => asking,
        Err(busy) => {
            let _ = if busy.holder == me {
                writeln!(
                    out,
                    "cpu{me}: no backtraces: this CPU is already printing every CPU's"
                )
            } else {
                writeln!(
                    out,
                    "cpu{me}: no backtraces: cpu{} is printing every CPU's",
                    busy.holder
                )
            };
            return Err(busy);
        }
    };
    let _ = writeln!(out, "cpu{me} backtrace:");
    exceptions::write_backtrace(&mut out, None, cpu::frame_pointer(), stacks::stack_of(me));
    backtrace::write_image_line(&mut out);

    let asked = state::online().without(me);
    let mut printed = CpuMask::empty();
    for target in asked.iter() {
        let _ = match ask(target) {
            Answer::Printed => {
                printed.insert(target);
                Ok(())
            }
            Answer::Silent if !state::online().contains(target) => {
                writeln!(out, "cpu{target}: no backtrace: it went offline")
            }
            Answer::Silent => writeln!(
                out,
                "cpu{target}: no backtrace within {} ms (interrupts masked?)",
                ANSWER_TIMEOUT_US / 1000
            ),
            Answer::Unfinished => writeln!(
                out,
                "cpu{target}: started its backtrace and did not finish it within {} ms",
                PRINT_TIMEOUT_US / 1000
            ),
        };
    }
    Ok(Backtraces { asked, printed })
}

/// Gives `target` its turn, sends it the SGI, and waits (bounded) for it to print.
fn ask(target: usize) -> Answer {
    let turn = &TURNS[target];
    let request = turn.request();
    gic::send_sgi_emergency(gic::SGI_BACKTRACE, CpuMask::single(target));
    let deadline = Deadline::after_us(ANSWER_TIMEOUT_US);
    while !turn.taken(request) {
        if deadline.passed() && turn.withdraw(request) {
            return Answer::Silent;
        }
        core::hint::spin_loop();
    }
    let deadline = Deadline::after_us(PRINT_TIMEOUT_US);
    while PRINTED[target].load(Ordering::Acquire) != request.number() {
        if deadline.passed() {
            return Answer::Unfinished;
        }
        core::hint::spin_loop();
    }
    Answer::Printed
}

/// The backtrace SGI's handler: if this CPU has a turn to take, prints where the
/// interrupt found it (`interrupted`) and the frame-pointer chain from there; if not (it
/// took the SGI after the asker gave up on it), nothing. Interrupts masked; no lock.
pub fn answer(interrupted: &TrapFrame) {
    let me = cpu::id();
    let turn = &TURNS[me];
    let Some(request) = turn.pending() else {
        return;
    };
    if !turn.take(request) {
        return;
    }
    {
        let mut out = Lines::new();
        let _ = writeln!(out, "cpu{me} backtrace:");
        let _ = writeln!(
            out,
            "  pc  {:#018x} lr  {:#018x} sp  {:#018x}",
            interrupted.elr, interrupted.x[30], interrupted.sp
        );
        exceptions::write_backtrace(
            &mut out,
            Some(interrupted.elr),
            interrupted.x[29],
            stacks::stack_of(me),
        );
        backtrace::write_image_line(&mut out);
    }
    PRINTED[me].store(request.number(), Ordering::Release);
}
