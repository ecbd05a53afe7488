//! The `psci` enable method: CPU_ON with the MPIDR and the secondary entry point, CPU_OFF
//! from the dying core, AFFINITY_INFO from the controller to confirm it is off.

use super::cpu_ops::{CpuOps, OpsError};
use crate::arch::cpu;
use crate::arch::psci::{AffinityState, Psci};
use crate::drivers::timer::Deadline;
use crate::dt::Mpidr;
use crate::mm::region::PhysAddr;

pub struct PsciOps {
    psci: Psci,
}

static PSCI_OPS: spin::Once<PsciOps> = spin::Once::new();

impl PsciOps {
    /// Sets the conduit from the device tree's /psci node.
    pub fn init(psci: Psci) {
        PSCI_OPS.call_once(|| PsciOps { psci });
    }

    pub fn get() -> Option<&'static PsciOps> {
        PSCI_OPS.get()
    }
}

impl CpuOps for PsciOps {
    fn name(&self) -> &'static str {
        "psci"
    }

    fn starts_with_cpu_on(&self) -> bool {
        true
    }

    fn boot(&self, cpu: usize, mpidr: Mpidr, entry: PhysAddr) -> Result<(), OpsError> {
        self.psci
            .cpu_on(mpidr.affinity(), entry.0, cpu as u64)
            .map_err(|error| OpsError::CpuOn { mpidr, error })
    }

    fn die(&self, cpu: usize) -> ! {
        if let Err(e) = crate::drivers::gic::shutdown_cpu(cpu) {
            // Nothing better can be done here than to say so and go: CPU_OFF still follows.
            crate::pr_err!("cpu{cpu}: interrupt controller at power-off: {e}");
        }
        let e = self.psci.cpu_off();
        // CPU_OFF returned: the firmware refused. Nothing can run here any more; wait
        // where the controller's AFFINITY_INFO will report us as still on.
        crate::pr_err!("cpu{cpu}: PSCI CPU_OFF failed: {e:?}; halting");
        cpu::halt()
    }

    fn confirm_dead(&self, _cpu: usize, mpidr: Mpidr, timeout_us: u64) -> Result<(), OpsError> {
        let deadline = Deadline::after_us(timeout_us);
        loop {
            if let Ok(AffinityState::Off) = self.psci.affinity_info(mpidr.affinity()) {
                return Ok(());
            }
            if deadline.passed() {
                return Err(OpsError::DeathNotConfirmed);
            }
            core::hint::spin_loop();
        }
    }
}
