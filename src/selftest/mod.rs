//! Stress scenarios run from the shell, and what they share: their end, where the CPUs
//! they ran on are waited for and every CPU they took down is brought back.

pub mod slab_hotplug;
pub mod stress_all;

use core::fmt;

use crate::drivers::timer::Deadline;
use crate::smp::cpumask::CpuMask;
use crate::smp::{hotplug, state, work};

/// How long a scenario's jobs may take to notice it has stopped.
const JOBS_STOP_US: u64 = 30_000_000;

/// Waits for the jobs on `workers` to return (they have been told to stop), then brings
/// every CPU of `cycled` that is offline back online; each problem goes to `fail`.
pub fn wind_down(workers: CpuMask, cycled: CpuMask, fail: impl Fn(fmt::Arguments<'_>)) {
    let give_up = Deadline::after_us(JOBS_STOP_US);
    while workers.iter().any(work::busy) {
        if give_up.passed() {
            fail(format_args!(
                "a job did not stop within {} s",
                JOBS_STOP_US / 1_000_000
            ));
            break;
        }
        core::hint::spin_loop();
    }
    for cpu in cycled.iter() {
        if !state::online().contains(cpu)
            && let Err(e) = hotplug::cpu_up(cpu)
        {
            fail(format_args!("bringing cpu{cpu} back: {e}"));
        }
    }
}
