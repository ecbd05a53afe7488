//! The enable-method faults, as a decorator around any `CpuOps`: CPU_ON answering an
//! error (for a method whose start is a PSCI CPU_ON), and a death never confirmed. CPU
//! bring-up drives every CPU through its decorator; with nothing armed it only forwards.

use spin::Once;

use super::{FAULTS, Fault};
use crate::arch::psci::Error;
use crate::drivers::timer::Deadline;
use crate::dt::{EnableMethod, Mpidr};
use crate::mm::region::PhysAddr;
use crate::smp::cpu_ops::{CpuOps, Death, OpsError, Stuck};
use crate::smp::percpu::PerCpu;
use crate::smp::state::{Absence, HotplugState, slot};

/// `cpu`'s operations, with the faults armed for it.
pub struct WithFaults {
    inner: Once<&'static dyn CpuOps>,
}

pub static DECORATED: PerCpu<WithFaults> = PerCpu::new("fault injection's wrappers", |_| {
    WithFaults { inner: Once::new() }
});

/// `ops`, as CPU bring-up is to drive `cpu` with them: through the injector.
pub fn with_faults(cpu: usize, ops: &'static dyn CpuOps) -> &'static dyn CpuOps {
    match DECORATED.get(cpu) {
        Some(decorated) => {
            decorated.inner.call_once(|| ops);
            decorated
        }
        None => ops,
    }
}

impl WithFaults {
    fn inner(&self) -> &'static dyn CpuOps {
        *self
            .inner
            .get()
            .expect("a CPU's decorator is made with its operations")
    }
}

impl CpuOps for WithFaults {
    fn name(&self) -> &'static str {
        self.inner().name()
    }

    fn starts_with_cpu_on(&self) -> bool {
        self.inner().starts_with_cpu_on()
    }

    fn cpu_init(&self, cpu: usize, method: EnableMethod<'_>) -> Result<(), Absence> {
        self.inner().cpu_init(cpu, method)
    }

    fn boot(&self, cpu: usize, mpidr: Mpidr, entry: PhysAddr) -> Result<(), OpsError> {
        if self.starts_with_cpu_on() {
            let injected = [
                (Fault::CpuOnInvalid, Error::InvalidParameters),
                (Fault::CpuOnAlreadyOn, Error::AlreadyOn),
                (Fault::CpuOnDenied, Error::Denied),
            ]
            .into_iter()
            .find(|&(fault, _)| FAULTS.take(fault, cpu));
            if let Some((fault, error)) = injected {
                crate::pr_notice!("cpu{cpu}: fault injected: {fault}");
                return Err(OpsError::CpuOn {
                    mpidr,
                    error,
                    likely_cause: None,
                });
            }
        }
        self.inner().boot(cpu, mpidr, entry)
    }

    fn die(&self, cpu: usize) -> ! {
        self.inner().die(cpu)
    }

    fn can_go_offline(&self, cpu: usize) -> Result<(), &'static str> {
        self.inner().can_go_offline(cpu)
    }

    fn stuck(&self, cpu: usize, mpidr: Mpidr) -> Stuck {
        self.inner().stuck(cpu, mpidr)
    }

    fn confirm_dead(&self, cpu: usize, mpidr: Mpidr, timeout_us: u64) -> Result<Death, OpsError> {
        // Only a death is left unconfirmed: the look a failed bring-up takes at a CPU that
        // never arrived (OFFLINE by then) leaves the fault armed for the CPU's teardown.
        let dying = slot(cpu).state() == HotplugState::Dying;
        if dying && FAULTS.take(Fault::DeathUnconfirmed, cpu) {
            crate::pr_notice!("cpu{cpu}: fault injected: {}", Fault::DeathUnconfirmed);
            // The method is not asked; the wait runs out as it would.
            let deadline = Deadline::after_us(timeout_us);
            while !deadline.passed() {
                core::hint::spin_loop();
            }
            return Err(OpsError::DeathNotConfirmed);
        }
        self.inner().confirm_dead(cpu, mpidr, timeout_us)
    }
}
