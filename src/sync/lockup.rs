//! The lockup detector: a wait that goes on past its bound (a spin on a lock, a cross-call
//! whose handler does not finish, a wait for the hotplug lock) says so once, with what it
//! waits for and on whom, the locks held on both sides when `lockdep` is on, and every
//! CPU's backtrace, each CPU giving its own on an SGI (Linux's softlockup and
//! `trigger_all_cpu_backtrace`). It does not stop the kernel: the wait goes on.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering};

use super::machine;

/// How long a wait spins before it is reported.
pub const LOCKUP_MS: u64 = 3_000;

/// Rounds of a wait between looks at the clock.
const ROUNDS_PER_LOOK: u32 = 1024;

/// Where reports are written: given a function that writes the report, it runs it with
/// the console's writer (installed by the console).
pub type ReportSink = fn(&mut dyn FnMut(&mut dyn Write));
/// Asks every online CPU for its backtrace (installed by `smp`).
pub type EveryCpuBacktrace = fn();

static SINK: spin::Once<ReportSink> = spin::Once::new();
static BACKTRACES: spin::Once<EveryCpuBacktrace> = spin::Once::new();
static LOCKUPS: AtomicU64 = AtomicU64::new(0);

/// Sets where lock reports go (once, at boot).
pub fn set_report_sink(sink: ReportSink) {
    SINK.call_once(|| sink);
}

/// Sets how a lockup report gets every CPU's backtrace (once, at boot).
pub fn set_every_cpu_backtrace(backtrace: EveryCpuBacktrace) {
    BACKTRACES.call_once(|| backtrace);
}

/// Writes a report through the sink; dropped if there is none yet.
pub fn write_report(f: &mut dyn FnMut(&mut dyn Write)) {
    if let Some(sink) = SINK.get() {
        sink(f);
    }
}

/// Lockups reported since boot.
pub fn lockups() -> u64 {
    LOCKUPS.load(Ordering::Relaxed)
}

/// One wait's watch: call [`Watch::spin`] on every round; reported past `BOUND_MS`
/// ([`LOCKUP_MS`] unless the wait is for something held longer by design). Two zeroed
/// words, so that making one where a wait may begin costs one store.
pub struct Watch<const BOUND_MS: u64 = LOCKUP_MS> {
    /// When the wait was first looked at, plus one; 0 until then.
    started_us: u64,
    /// Rounds so far in the low 32 bits; [`REPORTED`] once reported.
    state: u64,
}

const REPORTED: u64 = 1 << 63;

impl<const BOUND_MS: u64> Default for Watch<BOUND_MS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const BOUND_MS: u64> Watch<BOUND_MS> {
    pub const fn new() -> Self {
        Self {
            started_us: 0,
            state: 0,
        }
    }

    /// When the wait was first looked at (now, if this is the first look).
    fn started(&mut self, now: u64) -> u64 {
        if self.started_us == 0 {
            self.started_us = now + 1;
        }
        self.started_us - 1
    }

    /// One round of the wait. Past its bound, reports once: `describe` writes what is
    /// waited for and on whom.
    #[inline]
    pub fn spin(&mut self, describe: impl FnOnce(&mut dyn Write) -> fmt::Result) {
        let rounds = (self.state as u32).wrapping_add(1);
        self.state = (self.state & REPORTED) | u64::from(rounds);
        if self.reported() || !rounds.is_multiple_of(ROUNDS_PER_LOOK) {
            return;
        }
        self.look(describe);
    }

    /// Reports now, once: for a wait with a bound of its own (`waited_ms`) that it has
    /// passed.
    #[cold]
    #[inline(never)]
    pub fn overdue(
        &mut self,
        waited_ms: u64,
        describe: impl FnOnce(&mut dyn Write) -> fmt::Result,
    ) {
        if !self.reported() {
            self.report(waited_ms, describe);
        }
    }

    #[cold]
    #[inline(never)]
    fn look(&mut self, describe: impl FnOnce(&mut dyn Write) -> fmt::Result) {
        let Some(now) = machine::now_us() else {
            return;
        };
        let started = self.started(now);
        let waited_ms = (now - started) / 1000;
        if waited_ms >= BOUND_MS {
            self.report(waited_ms, describe);
        }
    }

    #[cold]
    #[inline(never)]
    fn report(&mut self, waited_ms: u64, describe: impl FnOnce(&mut dyn Write) -> fmt::Result) {
        self.state |= REPORTED;
        LOCKUPS.fetch_add(1, Ordering::Relaxed);
        let cpu = machine::cpu_id();
        // Before the report holds the console's lock, which would be listed too.
        let held = super::lockdep::held_by(cpu);
        let mut describe = Some(describe);
        write_report(&mut |out| {
            let _ = write!(out, "BUG: lockup: cpu{cpu} waited {waited_ms} ms ");
            if let Some(describe) = describe.take() {
                let _ = describe(out);
            }
            if let Some(held) = &held {
                let _ = held.write(out);
            }
        });
        if let Some(backtraces) = BACKTRACES.get() {
            backtraces();
        }
    }

    /// Whether this wait has been reported.
    pub fn reported(&self) -> bool {
        self.state & REPORTED != 0
    }
}
