//! How a CPU is turned on and off: one implementation per device-tree `enable-method`,
//! behind one trait (the shape of Linux's `cpu_operations`).

use core::fmt;

use super::psci_ops::PsciOps;
use super::spin_table::SpinTableOps;
use super::state::Absence;
use crate::arch::psci;
use crate::dt::EnableMethod;

/// Why an enable method could not do its part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpsError {
    /// PSCI refused CPU_ON for this MPIDR (e.g. INVALID_PARAMETERS for an MPIDR that
    /// names no core, ALREADY_ON, DENIED).
    CpuOn { mpidr: u64, error: psci::Error },
    /// The CPU did not confirm its death in time.
    DeathNotConfirmed,
    /// The CPU has no enable method this kernel can use.
    NoMethod,
}

impl fmt::Display for OpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpsError::CpuOn { mpidr, error } => {
                write!(f, "PSCI CPU_ON for MPIDR {mpidr:#x} failed: {error}")?;
                if *error == psci::Error::InvalidParameters {
                    write!(f, " (does the device tree name a core that exists?)")?;
                }
                Ok(())
            }
            OpsError::DeathNotConfirmed => write!(f, "the CPU did not confirm it is off"),
            OpsError::NoMethod => write!(f, "no usable enable method"),
        }
    }
}

pub trait CpuOps: Sync {
    /// `psci` or `spin-table`, as `cpus` shows it.
    fn name(&self) -> &'static str;

    /// Starts `cpu` (MPIDR `mpidr`) at the physical address `entry` (first start) or
    /// releases it from where it waits.
    fn boot(&self, cpu: usize, mpidr: u64, entry: u64) -> Result<(), OpsError>;

    /// The dying CPU's last step, on the dying CPU, interrupts masked: its GIC interface
    /// off and PSCI CPU_OFF, or parking until released.
    fn die(&self, cpu: usize) -> !;

    /// On the controller: waits (until `timeout_us`) for `cpu` to be truly off or parked.
    fn confirm_dead(&self, cpu: usize, mpidr: u64, timeout_us: u64) -> Result<(), OpsError>;
}

/// The operations for a device-tree enable method, or why there are none.
pub fn for_method(method: EnableMethod<'_>) -> Result<&'static dyn CpuOps, Absence> {
    match method {
        EnableMethod::Psci => PsciOps::get()
            .map(|ops| ops as &'static dyn CpuOps)
            .ok_or(Absence::PsciWithoutNode),
        EnableMethod::SpinTable { .. } => Ok(&SpinTableOps),
        EnableMethod::Unsupported("psci") => Err(Absence::PsciWithoutNode),
        EnableMethod::Unsupported("spin-table") => Err(Absence::SpinTableWithoutAddress),
        EnableMethod::Unsupported(_) => Err(Absence::UnknownMethod),
        EnableMethod::None => Err(Absence::NoEnableMethod),
    }
}
