//! Long jobs handed to another CPU: run from its idle loop in thread context, interrupts
//! enabled, so a job may take locks, wait, and make cross-calls (a cross-call itself runs
//! in interrupt context and must be short). One job per CPU at a time. A CPU with a job
//! goes offline only after the job returns: its idle loop is where it dies. So the jobs
//! are told, the way Linux parks a CPU's kthreads: from DOWN_PREPARE a CPU's job sees
//! [`should_stop`] and no new job starts there; DOWN_FAILED, when the CPU stays, and
//! DEAD, when it went, lift that again.

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use super::cpumask::CpuMask;
use super::hotplug::{CallbackError, HotplugCallbacks};
use super::percpu::PerCpu;
use super::{hotplug, state};
use crate::drivers::gic;
use crate::drivers::timer::Deadline;
use crate::sync::lockdep::{self, DoingWork};
use crate::sync::{LockClass, SpinLock};

/// A wait for other CPUs' jobs to return, as the lock validator knows it (Linux's
/// `flush_work` map): a job's locks are ordered after what its waiter holds.
static JOB_WAIT: &LockClass = crate::wait_class!("cpu job wait");

pub type Job = fn(u64);

pub struct Slot {
    job: SpinLock<Option<(Job, u64)>>,
    busy: AtomicBool,
    /// The CPU is going down: its job should return, and no new one starts.
    stopping: AtomicBool,
}

pub static SLOTS: PerCpu<Slot> = PerCpu::new("job slots", |_| Slot {
    job: SpinLock::new(crate::lock_class!("cpu work slot"), None),
    busy: AtomicBool::new(false),
    stopping: AtomicBool::new(false),
});

/// The jobs' place in the hotplug state machine.
pub static CALLBACKS: HotplugCallbacks = HotplugCallbacks {
    name: "work",
    order: 30,
    up_prepare: None,
    up_canceled: None,
    online: None,
    down_prepare: Some(stop_jobs),
    down_failed: Some(resume_jobs),
    dead: Some(resume_jobs),
};

fn stop_jobs(cpu: usize) -> Result<(), CallbackError> {
    SLOTS[cpu].stopping.store(true, Ordering::Release);
    Ok(())
}

fn resume_jobs(cpu: usize) {
    SLOTS[cpu].stopping.store(false, Ordering::Release);
}

/// For a job on `cpu`: whether to return now (the CPU is going down).
pub fn should_stop(cpu: usize) -> bool {
    SLOTS[cpu].stopping.load(Ordering::Acquire)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkError {
    Offline(usize),
    Busy(usize),
    /// The CPU is on its way down.
    Stopping(usize),
    /// A CPU cannot hand a job to itself: it would wait for its own idle loop.
    IsCaller(usize),
}

impl fmt::Display for WorkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkError::Offline(c) => write!(f, "cpu{c} is offline"),
            WorkError::Busy(c) => write!(f, "cpu{c} is running a job already"),
            WorkError::Stopping(c) => write!(f, "cpu{c} is going down"),
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
    } else if should_stop(cpu) {
        Err(WorkError::Stopping(cpu))
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

/// Waits until no CPU of `cpus` has a job, for at most `timeout_us`; `Err` with those
/// that still have one.
pub fn wait_for_jobs(cpus: CpuMask, timeout_us: u64) -> Result<(), CpuMask> {
    lockdep::wait_for(JOB_WAIT, crate::arch::cpu::program_counter());
    let deadline = Deadline::after_us(timeout_us);
    loop {
        let busy: CpuMask = cpus.iter().filter(|&c| busy(c)).collect();
        if busy.is_empty() {
            return Ok(());
        }
        if deadline.passed() {
            return Err(busy);
        }
        core::hint::spin_loop();
    }
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
        let _waiter_waits = DoingWork::begin(JOB_WAIT);
        job(arg);
        SLOTS[cpu].busy.store(false, Ordering::Release);
    }
}
