//! The `psci` enable method: CPU_ON with the MPIDR and the secondary entry point, CPU_OFF
//! from the dying core, and on the controller the confirmation that it is off:
//! AFFINITY_INFO until it says OFF (PSCI 0.2 and later).
//!
//! PSCI 0.1 calls CPU_ON and CPU_OFF by the numbers the device tree gives, and has no
//! AFFINITY_INFO: nothing can be asked whether a core is off. Linux then takes a core
//! whose death it saw reported as dead (`cpu_psci_cpu_kill` returns 0 without
//! `affinity_info`). Here the dying core marks, as its last store to memory, that it is
//! going into CPU_OFF (and marks it again if the call returns: the firmware refused); the
//! controller waits for the first mark and reports the death as [`Death::Unconfirmable`],
//! never as confirmed, and a CPU_ON that finds the second says what it found.
//! Firmware may still be turning such a core off when the next CPU_ON comes: CPU_ON then
//! answers ALREADY_ON, and is asked again for a bounded time. Without a `cpu_on` number
//! no CPU can be started (`cpu_init` says why); without `cpu_off` none can be taken down
//! (`can_go_offline`), as in Linux's `cpu_psci_cpu_prepare` and `cpu_psci_cpu_disable`.
//!
//! A core started and never arrived is described by what AFFINITY_INFO says of it (ON:
//! it left the firmware; ON_PENDING: it never did), with the platform's known cause where
//! there is one: Trusted Firmware-A's Raspberry Pi port brings a core back from CPU_OFF
//! only through a warm reset (RMR_EL3), which QEMU does not perform.

use core::sync::atomic::{AtomicU8, Ordering};

use super::cpu_ops::{CpuOps, Death, OpsError, Stuck};
use super::state::Absence;
use crate::MAX_CPUS;
use crate::arch::cpu;
use crate::arch::psci::{AffinityState, Error, Psci};
use crate::drivers::timer::Deadline;
use crate::dt::{EnableMethod, Mpidr};
use crate::mm::region::PhysAddr;

/// How long CPU_ON of a PSCI 0.1 core that went into CPU_OFF is asked again while the
/// firmware answers ALREADY_ON (it may still be turning the core off).
const STILL_GOING_OFF_US: u64 = 100_000;

pub struct PsciOps {
    psci: Psci,
    /// The firmware powers a core off by a warm reset into its holding pen
    /// (`Platform::psci_off_by_warm_reset`).
    off_by_warm_reset: bool,
}

/// Why a core that went through CPU_OFF under Trusted Firmware-A's Raspberry Pi port does
/// not come back under QEMU.
const NO_WARM_RESET: &str = "Trusted Firmware-A's Raspberry Pi port powers a core off by a \
     warm reset through RMR_EL3 into its holding pen, where CPU_ON finds it; QEMU ignores \
     RMR_EL3, so under QEMU a core once turned off stays in the firmware's WFI (a real Pi \
     resets it)";

static PSCI_OPS: spin::Once<PsciOps> = spin::Once::new();

/// Where each CPU's last CPU_OFF stands, as the dying core marks it: [`NOT_OFF`] until
/// its last store before the call ([`IN_CPU_OFF`]), [`CPU_OFF_RETURNED`] if the call
/// returned; [`NOT_OFF`] again when it is started.
static LAST_CPU_OFF: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(NOT_OFF) }; MAX_CPUS];
const NOT_OFF: u8 = 0;
const IN_CPU_OFF: u8 = 1;
const CPU_OFF_RETURNED: u8 = 2;

impl PsciOps {
    /// Sets the conduit and the function numbers from the device tree's /psci node, and
    /// whether the firmware powers a core off by a warm reset.
    pub fn init(psci: Psci, off_by_warm_reset: bool) {
        PSCI_OPS.call_once(|| PsciOps {
            psci,
            off_by_warm_reset,
        });
    }

    /// The platform's known cause for a core that stays in the firmware.
    fn stays_in_firmware_cause(&self) -> Option<&'static str> {
        self.off_by_warm_reset.then_some(NO_WARM_RESET)
    }

    pub fn get() -> Option<&'static PsciOps> {
        PSCI_OPS.get()
    }

    /// CPU_ON; for PSCI 0.1, asked again for a while if it answers ALREADY_ON for a core
    /// last seen going into CPU_OFF. Says how often it was asked again.
    fn cpu_on(&self, cpu: usize, target: Mpidr, entry: u64) -> Result<(), Error> {
        let last_off = LAST_CPU_OFF[cpu].swap(NOT_OFF, Ordering::AcqRel);
        if last_off == CPU_OFF_RETURNED {
            crate::pr_err!(
                "cpu{cpu}: its last PSCI CPU_OFF returned (the firmware refused it): it was \
                 halted in the kernel, not off"
            );
        }
        let going_off = last_off == IN_CPU_OFF;
        let result = self.psci.cpu_on(target, entry, cpu as u64);
        if !(going_off && self.psci.v0_1().is_some() && result == Err(Error::AlreadyOn)) {
            return result;
        }
        let deadline = Deadline::after_us(STILL_GOING_OFF_US);
        let mut again = 0u32;
        loop {
            again += 1;
            let result = self.psci.cpu_on(target, entry, cpu as u64);
            if result != Err(Error::AlreadyOn) || deadline.passed() {
                crate::pr_info!(
                    "cpu{cpu}: PSCI 0.1 CPU_ON answered ALREADY_ON (its CPU_OFF not yet \
                     done), asked {again} more time(s): {result:?}"
                );
                return result;
            }
            core::hint::spin_loop();
        }
    }
}

impl CpuOps for PsciOps {
    fn name(&self) -> &'static str {
        "psci"
    }

    fn starts_with_cpu_on(&self) -> bool {
        true
    }

    fn cpu_init(&self, _cpu: usize, _method: EnableMethod<'_>) -> Result<(), Absence> {
        if self.psci.has_cpu_on() {
            Ok(())
        } else {
            Err(Absence::PsciWithoutCpuOn)
        }
    }

    fn can_go_offline(&self, _cpu: usize) -> Result<(), &'static str> {
        if self.psci.has_cpu_off() {
            Ok(())
        } else {
            Err("/psci is PSCI 0.1 without a cpu_off function number")
        }
    }

    fn boot(&self, cpu: usize, mpidr: Mpidr, entry: PhysAddr) -> Result<(), OpsError> {
        self.cpu_on(cpu, mpidr, entry.0)
            .map_err(|error| OpsError::CpuOn {
                mpidr,
                error,
                likely_cause: if error == Error::OnPending {
                    self.stays_in_firmware_cause()
                } else {
                    None
                },
            })
    }

    fn die(&self, cpu: usize) -> ! {
        if let Err(e) = crate::drivers::gic::shutdown_cpu(cpu) {
            // Nothing better can be done here than to say so and go: CPU_OFF still follows.
            crate::pr_err!("cpu{cpu}: interrupt controller at power-off: {e}");
        }
        // The last store before CPU_OFF: what PSCI 0.1's controller waits for.
        LAST_CPU_OFF[cpu].store(IN_CPU_OFF, Ordering::Release);
        let e = self.psci.cpu_off();
        LAST_CPU_OFF[cpu].store(CPU_OFF_RETURNED, Ordering::Release);
        // CPU_OFF returned: the firmware refused. Nothing can run here any more; wait
        // where the controller's AFFINITY_INFO will report us as still on (PSCI 0.1: where
        // the controller, if it is still waiting, will not see us in CPU_OFF).
        crate::pr_err!("cpu{cpu}: PSCI CPU_OFF failed: {e:?}; halting");
        cpu::halt()
    }

    fn stuck(&self, _cpu: usize, mpidr: Mpidr) -> Stuck {
        let firmware_says = self.psci.affinity_info(mpidr).ok();
        Stuck {
            firmware_says,
            likely_cause: match firmware_says {
                Some(AffinityState::OnPending) => self.stays_in_firmware_cause(),
                _ => None,
            },
        }
    }

    fn confirm_dead(&self, cpu: usize, mpidr: Mpidr, timeout_us: u64) -> Result<Death, OpsError> {
        let deadline = Deadline::after_us(timeout_us);
        if !self.psci.has_standard_functions() {
            // PSCI 0.1: no AFFINITY_INFO. The most that can be known is that the core
            // went into CPU_OFF and has not come back out.
            loop {
                match LAST_CPU_OFF[cpu].load(Ordering::Acquire) {
                    IN_CPU_OFF => return Ok(Death::Unconfirmable),
                    CPU_OFF_RETURNED => return Err(OpsError::DeathNotConfirmed),
                    _ if deadline.passed() => return Err(OpsError::DeathNotConfirmed),
                    _ => core::hint::spin_loop(),
                }
            }
        }
        if wait_until_off(&self.psci, mpidr, &deadline) {
            Ok(Death::Confirmed)
        } else {
            Err(OpsError::DeathNotConfirmed)
        }
    }
}

/// The first and the longest pause between two AFFINITY_INFO calls, in counter ticks'
/// microseconds.
const FIRST_PAUSE_US: u64 = 2;
const LONGEST_PAUSE_US: u64 = 50;

/// Asks AFFINITY_INFO until `mpidr`'s core reads OFF (true) or `deadline` passes (false),
/// pausing between calls, from 2 us doubling to 50 us, as Linux's `cpu_psci_cpu_kill`
/// sleeps between its. Each call traps into the firmware, which may hold what the dying
/// core needs to finish going off: under QEMU, the lock every vCPU takes for its firmware
/// calls and device accesses, held for a walk of every vCPU per call. Asked back to back
/// at 512 CPUs, the controller kept the dying core from its own last steps for up to
/// 90 ms an offline; paced, 0.5-0.6 ms (single boots, `bench scale`).
pub fn wait_until_off(psci: &Psci, mpidr: Mpidr, deadline: &Deadline) -> bool {
    let mut pause_us = FIRST_PAUSE_US;
    loop {
        if let Ok(AffinityState::Off) = psci.affinity_info(mpidr) {
            return true;
        }
        if deadline.passed() {
            return false;
        }
        let pause = Deadline::after_us(pause_us);
        while !pause.passed() && !deadline.passed() {
            core::hint::spin_loop();
        }
        pause_us = (pause_us * 2).min(LONGEST_PAUSE_US);
    }
}
