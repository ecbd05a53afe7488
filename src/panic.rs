//! What happens when the kernel cannot go on: a Rust panic, or an exception the handler
//! reports as an Oops. Either way the report names what broke, where, and on which CPU,
//! with a backtrace; then every other CPU is stopped (and the report says which did), and
//! the bootarg `panic=` decides: halt (default), poweroff (QEMU exits with status 1), or
//! reboot.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use crate::arch::{backtrace, cpu, exceptions};
use crate::console::Emergency;
use crate::dt::bootargs::PanicAction;
use crate::smp::stop;

static ACTION: AtomicU8 = AtomicU8::new(PanicAction::Halt as u8);

/// The CPU stopping the machine, or [`NOBODY`].
static STOPPING: AtomicUsize = AtomicUsize::new(NOBODY);
const NOBODY: usize = usize::MAX;

/// Whether each CPU is already reporting: a fault while reporting must not recurse.
static REPORTING: [AtomicBool; crate::MAX_CPUS] =
    [const { AtomicBool::new(false) }; crate::MAX_CPUS];

pub fn set_action(action: PanicAction) {
    ACTION.store(action as u8, Ordering::Relaxed);
}

fn action() -> PanicAction {
    match ACTION.load(Ordering::Relaxed) {
        x if x == PanicAction::Poweroff as u8 => PanicAction::Poweroff,
        x if x == PanicAction::Reboot as u8 => PanicAction::Reboot,
        _ => PanicAction::Halt,
    }
}

/// Reports `what` with a backtrace (from `pc`, where the fault was, if known, then the
/// frame-pointer chain at `fp`), then carries out `panic=`.
pub fn die(what: fmt::Arguments<'_>, pc: Option<u64>, fp: u64) -> ! {
    cpu::mask_irqs_for_good();
    let id = cpu::id();
    let mut out = Emergency;
    if REPORTING[id % crate::MAX_CPUS].swap(true, Ordering::Relaxed) {
        let _ = writeln!(
            out,
            "\nOops: cpu{id}: fault while reporting a fault; halted"
        );
        cpu::halt();
    }
    let _ = writeln!(out, "\nOops: cpu{id}: {what}");
    exceptions::write_backtrace(&mut out, pc, fp, crate::smp::stacks::stack_of(id));
    backtrace::write_image_line(&mut out);
    // One CPU stops the machine; one that dies meanwhile has said its piece, and stops.
    if STOPPING
        .compare_exchange(NOBODY, id, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        let _ = writeln!(
            out,
            "cpu{id}: stopped (another CPU is stopping the machine)"
        );
        stop::stop_this_cpu();
    }
    report_stop(&mut out, id, stop::stop_others());
    match action() {
        PanicAction::Halt => {
            let _ = writeln!(
                out,
                "cpu{id}: halted (bootarg panic=poweroff or panic=reboot instead)"
            );
        }
        PanicAction::Poweroff => {
            let _ = writeln!(out, "cpu{id}: powering off (panic=poweroff)");
            let e = crate::power::poweroff(1);
            let _ = writeln!(out, "cpu{id}: {e}; halted");
        }
        PanicAction::Reboot => {
            let _ = writeln!(out, "cpu{id}: rebooting (panic=reboot)");
            let e = crate::power::reboot();
            let _ = writeln!(out, "cpu{id}: {e}; halted");
        }
    }
    cpu::halt()
}

/// Says which of the other CPUs stopped.
fn report_stop(out: &mut Emergency, id: usize, result: stop::Stopped) {
    let _ = match (
        result.asked.is_empty(),
        result.sent,
        result.running().is_empty(),
    ) {
        (true, _, _) => writeln!(out, "cpu{id}: no other CPU was online"),
        (false, false, _) => writeln!(
            out,
            "cpu{id}: cpu {} not stopped: no interrupt controller to send them the stop",
            result.asked
        ),
        (false, true, true) => writeln!(out, "cpu{id}: stopped cpu {}", result.stopped),
        (false, true, false) => writeln!(
            out,
            "cpu{id}: stopped cpu {}; cpu {} did not stop within {} ms (interrupts masked?)",
            result.stopped,
            result.running(),
            stop::STOP_TIMEOUT_US / 1000
        ),
    };
}

#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let fp = cpu::frame_pointer();
    match info.location() {
        Some(l) => die(
            format_args!(
                "panic at {}:{}:{}: {}",
                l.file(),
                l.line(),
                l.column(),
                info.message()
            ),
            None,
            fp,
        ),
        None => die(format_args!("panic: {}", info.message()), None, fp),
    }
}
