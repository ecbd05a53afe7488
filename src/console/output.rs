//! Where console text goes: the UART (serialised by one lock, which also guards the log
//! ring), or, when the kernel is dying or has no UART, straight out without the lock or
//! over semihosting.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use arrayvec::ArrayString;

use super::level::{CONSOLE_LOGLEVEL_DEFAULT, Level};
use super::ring::LogRing;
use crate::arch::{cpu, semihosting};
use crate::drivers::timer;
use crate::drivers::uart::Uart;
use crate::sync::IrqSpinLock;
use crate::text::Truncating;

/// How much log the ring keeps.
pub const LOG_BYTES: usize = 64 * 1024;
/// The longest log line; longer ones are cut.
const MAX_LOG_LINE: usize = 512;

static UART: spin::Once<Uart> = spin::Once::new();
/// Serialises console output and guards the log ring.
static CONSOLE: IrqSpinLock<LogRing<LOG_BYTES>> =
    IrqSpinLock::new(crate::lock_class!("console"), LogRing::new());

/// Starts the console on `uart`. Call once, with the MMU on.
pub fn init(uart: Uart, clock_hz: Option<u32>) {
    uart.init(clock_hz);
    UART.call_once(|| uart);
}

struct UartWriter<'a>(&'a Uart);

impl Write for UartWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s);
        Ok(())
    }
}

/// Shell output: to the UART only.
pub fn print(args: fmt::Arguments<'_>) {
    let _serialised = CONSOLE.lock();
    if let Some(uart) = UART.get() {
        let _ = UartWriter(uart).write_fmt(args);
    }
}

/// Formats one log line with its timestamp and CPU into `line` (empty), where the caller
/// keeps it: returned by value, its 512 bytes would be copied once more for every line.
fn format_line(line: &mut ArrayString<MAX_LOG_LINE>, args: fmt::Arguments<'_>) {
    let ns = timer::now_ns();
    let _ = write!(
        // Room kept for the newline.
        Truncating::keeping_free(line, 1),
        "[{:5}.{:06}] cpu{}: {}",
        ns / 1_000_000_000,
        (ns / 1000) % 1_000_000,
        cpu::id(),
        args
    );
    line.push('\n');
}

/// Lines of a level below this reach the console (`loglevel=`, `quiet`).
static CONSOLE_LOGLEVEL: AtomicU8 = AtomicU8::new(CONSOLE_LOGLEVEL_DEFAULT);

/// Sets the console log level (`console::level`).
pub fn set_console_loglevel(level: u8) {
    CONSOLE_LOGLEVEL.store(level, Ordering::Relaxed);
}

/// Appends a timestamped line to the log, and writes it to the console if its level is
/// shown there.
pub fn log_line(level: Level, args: fmt::Arguments<'_>) {
    let mut line = ArrayString::new();
    format_line(&mut line, args);
    let mut ring = CONSOLE.lock();
    ring.push(line.as_bytes());
    if !level.shown_at(CONSOLE_LOGLEVEL.load(Ordering::Relaxed)) {
        return;
    }
    match UART.get() {
        Some(uart) => uart.write_str(&line),
        None => semihosting::write_str(&line),
    }
}

/// Writes the whole log ring to the console (`dmesg`).
pub fn dump_log() {
    let ring = CONSOLE.lock();
    let (older, newer) = ring.contents();
    if let Some(uart) = UART.get() {
        for part in [older, newer] {
            for chunk in part.utf8_chunks() {
                uart.write_str(chunk.valid());
            }
        }
    }
}

/// Reads a byte the user typed, if any.
pub fn read_byte() -> Option<u8> {
    UART.get()?.read_byte()
}

/// Output for crash reports: takes the console lock if it is free, else writes over
/// whoever holds it (a dying kernel must not wait). Falls back to semihosting without a
/// UART.
pub struct Emergency;

impl Write for Emergency {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let _serialised = CONSOLE.try_lock();
        match UART.get() {
            Some(uart) => {
                uart.write_str(s);
                uart.flush();
            }
            None => semihosting::write_str(s),
        }
        Ok(())
    }
}

/// How long a report waits for the console lock before writing over its holder: about
/// two log lines at 115200 baud.
const REPORT_LOCK_WAIT_US: u64 = 20_000;
/// Whether the last report's wait for the console lock ran out: its holder may be stuck,
/// so the next report tries only once rather than waiting again.
static REPORT_WAIT_RAN_OUT: AtomicBool = AtomicBool::new(false);

/// The console lock for a report, if it comes free within [`REPORT_LOCK_WAIT_US`] (at
/// once after a wait that ran out, and never when this CPU holds it). A report never
/// waits longer: the holder may be the CPU that is stuck.
fn console_for_report() -> Option<crate::sync::IrqSpinLockGuard<'static, LogRing<LOG_BYTES>>> {
    let mut serialised = CONSOLE.try_lock();
    let mine = || CONSOLE.holder().is_some_and(|(cpu, _)| cpu == cpu::id());
    if serialised.is_none() && !REPORT_WAIT_RAN_OUT.load(Ordering::Relaxed) && !mine() {
        let deadline = timer::Deadline::after_us(REPORT_LOCK_WAIT_US);
        while serialised.is_none() && !deadline.passed() {
            core::hint::spin_loop();
            serialised = CONSOLE.try_lock();
        }
    }
    REPORT_WAIT_RAN_OUT.store(serialised.is_none(), Ordering::Relaxed);
    serialised
}

/// Writes a lock validator or lockup report (`sync`'s report sink), ending with the line
/// `tools/symbolize` needs: under the console lock and into the log ring too when the
/// lock can be had (see [`console_for_report`]), else over whoever holds it, out only.
pub fn write_report(report: &mut dyn FnMut(&mut dyn Write)) {
    let mut guard = console_for_report();
    let mut out = ReportWriter {
        ring: guard.as_deref_mut(),
    };
    report(&mut out);
    crate::arch::backtrace::write_image_line(&mut out);
}

/// A report's text: to the UART (or semihosting), and into the log ring when it has it.
struct ReportWriter<'a> {
    ring: Option<&'a mut LogRing<LOG_BYTES>>,
}

impl Write for ReportWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(ring) = self.ring.as_deref_mut() {
            ring.push(s.as_bytes());
        }
        match UART.get() {
            Some(uart) => uart.write_str(s),
            None => semihosting::write_str(s),
        }
        Ok(())
    }
}

/// Writes one line of a report a CPU prints for another that waits on it (a backtrace
/// asked for by SGI), so the line is not cut into another CPU's log line when the console
/// lock can be had (see [`console_for_report`]). Falls back to semihosting without a UART.
pub fn write_report_line(line: &str) {
    let _serialised = console_for_report();
    match UART.get() {
        Some(uart) => uart.write_str(line),
        None => semihosting::write_str(line),
    }
}

/// Waits until the UART has sent everything written so far.
pub fn flush() {
    if let Some(uart) = UART.get() {
        uart.flush();
    }
}

/// The CPU that runs the shell and reads the UART.
static CONSOLE_CPU: AtomicUsize = AtomicUsize::new(0);
/// Whether the console CPU can sleep on its timer between looks at the UART.
static TICK: AtomicBool = AtomicBool::new(false);

pub fn is_console_cpu(cpu: usize) -> bool {
    CONSOLE_CPU.load(Ordering::Acquire) == cpu
}

/// Moves the shell to `cpu` (which must then be woken to notice).
pub fn set_console_cpu(cpu: usize) {
    CONSOLE_CPU.store(cpu, Ordering::Release);
}

/// Lets [`wait_for_input`] sleep between looks (interrupt controller and timer are up).
pub fn enable_input_tick() {
    TICK.store(true, Ordering::Release);
}

/// How often an idle shell looks at the UART.
const INPUT_POLL_US: u64 = 10_000;

/// Waits a little for the user to type: sleeps in WFI until the next timer tick (or any
/// other interrupt), so an idle shell does not keep a core busy. The UART is polled, not
/// interrupt-driven, so the shell can move between CPUs without rerouting anything.
pub fn wait_for_input() {
    if TICK.load(Ordering::Acquire) {
        cpu::disable_irqs();
        timer::arm_oneshot_us(INPUT_POLL_US);
        cpu::wait_for_interrupt();
        cpu::enable_irqs();
    } else {
        core::hint::spin_loop();
    }
}
