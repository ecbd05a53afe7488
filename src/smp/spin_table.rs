//! The `spin-table` enable method. First start: write the entry point to the CPU's
//! `cpu-release-addr` (the firmware's pen polls it with its caches off, in WFE), clean that
//! line to the point of coherency, then `sev`. Firmware cannot take a core back, so
//! offlining parks it: the core waits at EL1 in WFI (MMU on, interrupts masked at PSTATE,
//! its GIC interface on for the release SGI alone) until its release flag is set and the
//! SGI wakes it. WFI, not WFE: under QEMU's multi-threaded TCG, WFE does not sleep, so a
//! core parked in a WFE loop spins on a host core; WFI sleeps until an interrupt is
//! pending, even one PSTATE masks, on QEMU as on a Cortex-A72.

use core::sync::atomic::{AtomicU64, Ordering};

use super::cpu_ops::{CpuOps, Death, OpsError};
use super::cpumask::CpuMask;
use super::state::{Absence, slot};
use crate::MAX_CPUS;
use crate::arch::{cpu, smp};
use crate::drivers::gic;
use crate::drivers::timer::Deadline;
use crate::dt::{EnableMethod, Mpidr};
use crate::mm::region::PhysAddr;

pub struct SpinTableOps;

/// Each CPU's `cpu-release-addr` (0: none), from `cpu_init`.
static RELEASE_ADDRS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

impl CpuOps for SpinTableOps {
    fn cpu_init(&self, cpu: usize, method: EnableMethod<'_>) -> Result<(), Absence> {
        match method {
            EnableMethod::SpinTable { release_addr } if release_addr != 0 => {
                RELEASE_ADDRS[cpu].store(release_addr, Ordering::Release);
                Ok(())
            }
            _ => Err(Absence::SpinTableWithoutAddress),
        }
    }

    fn name(&self) -> &'static str {
        "spin-table"
    }

    fn boot(&self, cpu: usize, _mpidr: Mpidr, entry: PhysAddr) -> Result<(), OpsError> {
        let s = slot(cpu);
        if s.ever_started() {
            // Parked in our own loop: release it, and wake it (the SGI orders the flag
            // before it: `send_sgi` begins with a barrier).
            s.release();
            gic::send_sgi(gic::SGI_KICK, CpuMask::single(cpu));
            return Ok(());
        }
        let release_addr = RELEASE_ADDRS[cpu].load(Ordering::Acquire);
        if release_addr == 0 {
            return Err(OpsError::NoMethod);
        }
        crate::arch::mmu::write_release_address(release_addr, entry.0);
        cpu::send_event();
        Ok(())
    }

    fn die(&self, cpu: usize) -> ! {
        gic::park_cpu(cpu, &crate::smp::private_interrupts());
        let s = slot(cpu);
        s.park();
        while !s.take_release() {
            // A pending interrupt ends WFI though masked; taking it off the interface
            // (acknowledge and end) lets the next WFI sleep again. The DSB before the WFI
            // completes the `parked` store (and the GIC writes) first: the controller's
            // `confirm_dead` waits for that store, and a sleeping core may hold it
            // buffered.
            cpu::wait_for_interrupt_stores_complete();
            while let Some(irq) = gic::acknowledge() {
                gic::end(irq);
            }
        }
        s.unpark();
        smp::restart(cpu)
    }

    fn confirm_dead(&self, cpu: usize, _mpidr: Mpidr, timeout_us: u64) -> Result<Death, OpsError> {
        let deadline = Deadline::after_us(timeout_us);
        while !slot(cpu).parked() {
            if deadline.passed() {
                return Err(OpsError::DeathNotConfirmed);
            }
            core::hint::spin_loop();
        }
        Ok(Death::Confirmed)
    }
}
