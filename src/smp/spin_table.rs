//! The `spin-table` enable method. First start: write the entry point to the CPU's
//! `cpu-release-addr` (the firmware's pen polls it with its caches off), clean that line
//! to the point of coherency, then `sev`. Firmware cannot take a core back, so offlining
//! parks it: the core waits at EL1 in a WFE loop (MMU on, interrupts masked, its GIC
//! interface off) until its release flag is set.

use core::sync::atomic::Ordering;

use super::cpu_ops::{CpuOps, OpsError};
use super::state::slot;
use crate::arch::{cpu, smp};
use crate::drivers::timer::Deadline;

pub struct SpinTableOps;

impl CpuOps for SpinTableOps {
    fn name(&self) -> &'static str {
        "spin-table"
    }

    fn boot(&self, cpu: usize, _mpidr: u64, entry: u64) -> Result<(), OpsError> {
        let s = slot(cpu);
        if s.ever_started.load(Ordering::Acquire) {
            // Parked in our own loop: release it.
            s.release.store(true, Ordering::Release);
            cpu::send_event();
            return Ok(());
        }
        let crate::dt::EnableMethod::SpinTable { release_addr } =
            crate::boot::platform().cpus[cpu].enable_method
        else {
            return Err(OpsError::NoMethod);
        };
        crate::arch::mmu::write_release_address(release_addr, entry);
        cpu::send_event();
        Ok(())
    }

    fn die(&self, cpu: usize) -> ! {
        let s = slot(cpu);
        s.parked.store(true, Ordering::Release);
        while !s.release.swap(false, Ordering::AcqRel) {
            cpu::wait_for_event();
        }
        s.parked.store(false, Ordering::Release);
        smp::restart(cpu)
    }

    fn confirm_dead(&self, cpu: usize, _mpidr: u64, timeout_us: u64) -> Result<(), OpsError> {
        let deadline = Deadline::after_us(timeout_us);
        while !slot(cpu).parked.load(Ordering::Acquire) {
            if deadline.passed() {
                return Err(OpsError::DeathNotConfirmed);
            }
            core::hint::spin_loop();
        }
        Ok(())
    }
}
