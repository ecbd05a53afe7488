//! Long jobs handed to another CPU: run from its idle loop in thread context, interrupts
//! enabled, so a job may take locks, wait, and make cross-calls (a cross-call itself runs
//! in interrupt context and must be short). One job per CPU at a time. A CPU with a job
//! goes offline only after the job returns: its idle loop is where it dies.

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use super::cpumask::CpuMask;
use super::{hotplug, state};
use crate::MAX_CPUS;
use crate::drivers::gic;

pub type Job = fn(u64);

struct Slot {
    job: spin::Mutex<Option<(Job, u64)>>,
    busy: AtomicBool,
}

static SLOTS: [Slot; MAX_CPUS] = [const {
    Slot {
        job: spin::Mutex::new(None),
        busy: AtomicBool::new(false),
    }
}; MAX_CPUS];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkError {
    Offline(usize),
    Busy(usize),
    /// A CPU cannot hand a job to itself: it would wait for its own idle loop.
    IsCaller(usize),
}

impl fmt::Display for WorkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkError::Offline(c) => write!(f, "cpu{c} is offline"),
            WorkError::Busy(c) => write!(f, "cpu{c} is running a job already"),
            WorkError::IsCaller(c) => write!(f, "cpu{c} is the caller"),
        }
    }
}

/// Has `cpu` run `job(arg)` from its idle loop; returns at once.
pub fn start_on(cpu: usize, job: Job, arg: u64) -> Result<(), WorkError> {
    hotplug::cpus_read_lock();
    let result = if cpu == crate::arch::cpu::id() {
        Err(WorkError::IsCaller(cpu))
    } else if !state::online().contains(cpu) {
        Err(WorkError::Offline(cpu))
    } else if SLOTS[cpu].busy.swap(true, Ordering::AcqRel) {
        Err(WorkError::Busy(cpu))
    } else {
        *SLOTS[cpu].job.lock() = Some((job, arg));
        gic::send_sgi(gic::SGI_KICK, CpuMask::single(cpu));
        Ok(())
    };
    hotplug::cpus_read_unlock();
    result
}

/// Whether `cpu` has a job it has not finished.
pub fn busy(cpu: usize) -> bool {
    SLOTS[cpu].busy.load(Ordering::Acquire)
}

/// From `cpu`'s idle loop, interrupts enabled: runs its job, if one is waiting.
pub fn run_pending(cpu: usize) {
    assert!(
        !crate::arch::cpu::irqs_masked(),
        "cpu{cpu}: a job would run with interrupts masked and answer no cross-call"
    );
    let job = SLOTS[cpu].job.lock().take();
    if let Some((job, arg)) = job {
        job(arg);
        SLOTS[cpu].busy.store(false, Ordering::Release);
    }
}
