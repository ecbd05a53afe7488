//! Stress scenarios run from the shell, and what they share: the record of their
//! failures, and their end, where the CPUs they ran on are waited for and every CPU they
//! took down is brought back.

pub mod fpsimd;
pub mod slab_hotplug;
pub mod stress_all;

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU64, Ordering};

use arrayvec::ArrayString;

use crate::smp::cpumask::CpuMask;
use crate::smp::{hotplug, state, work};
use crate::sync::IrqSpinLock;

/// A failure's description, as a scenario reports it.
pub type FailureText = ArrayString<512>;

/// A scenario's failures, from any CPU: how many, and what the first one was.
pub struct Failures {
    count: AtomicU64,
    first: IrqSpinLock<Option<FailureText>>,
}

impl Failures {
    pub const fn new() -> Self {
        Self {
            count: AtomicU64::new(0),
            first: IrqSpinLock::new(crate::lock_class!("stress first failure"), None),
        }
    }

    /// Forgets the last run's.
    pub fn clear(&self) {
        self.count.store(0, Ordering::Relaxed);
        *self.first.lock() = None;
    }

    pub fn record(&self, args: fmt::Arguments<'_>) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock();
        if first.is_none() {
            let mut text = FailureText::new();
            let _ = text.write_fmt(args);
            *first = Some(text);
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn first(&self) -> Option<FailureText> {
        *self.first.lock()
    }
}

impl Default for Failures {
    fn default() -> Self {
        Self::new()
    }
}

/// How long a scenario's jobs may take to notice it has stopped.
const JOBS_STOP_US: u64 = 30_000_000;

/// Waits for the jobs on `workers` to return (they have been told to stop), then brings
/// every CPU of `cycled` that is offline back online; each problem goes to `fail`.
pub fn wind_down(workers: CpuMask, cycled: CpuMask, fail: impl Fn(fmt::Arguments<'_>)) {
    if let Err(busy) = work::wait_for_jobs(workers, JOBS_STOP_US) {
        fail(format_args!(
            "the job on cpu {busy} did not stop within {} s",
            JOBS_STOP_US / 1_000_000
        ));
    }
    for cpu in cycled.iter() {
        if !state::online().contains(cpu)
            && let Err(e) = hotplug::cpu_up(cpu)
        {
            fail(format_args!("bringing cpu{cpu} back: {e}"));
        }
    }
}
