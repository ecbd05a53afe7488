//! How a CPU is turned on and off: one implementation per device-tree `enable-method`,
//! behind one trait (the shape of Linux's `cpu_operations`).

use core::fmt;

use super::psci_ops::PsciOps;
use super::spin_table::SpinTableOps;
use super::state::Absence;
use crate::arch::psci::{self, AffinityState};

use crate::MAX_CPUS;
use crate::dt::{Cpu, EnableMethod, Mpidr};
use crate::mm::region::PhysAddr;

/// Why an enable method could not do its part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpsError {
    /// PSCI refused CPU_ON for this MPIDR (e.g. INVALID_PARAMETERS for an MPIDR that
    /// names no core, ALREADY_ON, ON_PENDING, DENIED), and the likely cause where the
    /// platform has a known one.
    CpuOn {
        mpidr: Mpidr,
        error: psci::Error,
        likely_cause: Option<&'static str>,
    },
    /// The CPU did not confirm its death in time.
    DeathNotConfirmed,
    /// The CPU has no enable method this kernel can use.
    NoMethod,
}

impl fmt::Display for OpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpsError::CpuOn {
                mpidr,
                error,
                likely_cause,
            } => {
                write!(f, "PSCI CPU_ON for MPIDR {mpidr:#x} failed: {error}")?;
                match error {
                    psci::Error::InvalidParameters => {
                        write!(f, " (does the device tree name a core that exists?)")?
                    }
                    psci::Error::OnPending => write!(
                        f,
                        " (ON_PENDING: an earlier CPU_ON of this core never completed, the \
                         core has not left the firmware)"
                    )?,
                    _ => {}
                }
                if let Some(cause) = likely_cause {
                    write!(f, "; likely cause: {cause}")?;
                }
                Ok(())
            }
            OpsError::DeathNotConfirmed => write!(f, "the CPU did not confirm it is off"),
            OpsError::NoMethod => write!(f, "no usable enable method"),
        }
    }
}

/// What an enable method can say of a CPU that has left the kernel for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    /// It is off: PSCI AFFINITY_INFO says so, or the core is seen parked.
    Confirmed,
    /// It went into its last call (PSCI 0.1's CPU_OFF) and has not come back, but nothing
    /// can be asked whether it is off: PSCI 0.1 has no AFFINITY_INFO. Linux takes such a
    /// CPU as dead (`op_cpu_kill` without `cpu_kill`); so does this kernel, and says so.
    Unconfirmable,
}

impl fmt::Display for Death {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Death::Confirmed => "confirmed off",
            Death::Unconfirmable => {
                "not confirmed off: it called CPU_OFF, and PSCI 0.1 has no AFFINITY_INFO to ask"
            }
        })
    }
}

/// What an enable method can say of a CPU it started that never reached the kernel and
/// is not confirmed off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stuck {
    /// What the firmware says of the core (PSCI AFFINITY_INFO), where it can be asked.
    pub firmware_says: Option<AffinityState>,
    /// The likely cause, where the platform has a known one.
    pub likely_cause: Option<&'static str>,
}

impl fmt::Display for Stuck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.firmware_says {
            Some(AffinityState::OnPending) => write!(
                f,
                "the firmware says ON_PENDING (AFFINITY_INFO): it took the CPU_ON, but the \
                 core never left the firmware"
            )?,
            Some(AffinityState::On) => write!(
                f,
                "the firmware says ON (AFFINITY_INFO): the core left the firmware but never \
                 arrived in the kernel"
            )?,
            Some(AffinityState::Off) => write!(
                f,
                "the firmware says OFF (AFFINITY_INFO), though not within the wait for it"
            )?,
            None => write!(
                f,
                "and is not confirmed off: it may be stuck outside the kernel"
            )?,
        }
        if let Some(cause) = self.likely_cause {
            write!(f, "; likely cause: {cause}")?;
        }
        Ok(())
    }
}

pub trait CpuOps: Sync {
    /// `psci` or `spin-table`, as `cpus` shows it.
    fn name(&self) -> &'static str;

    /// Starts `cpu` (MPIDR `mpidr`) at the physical address `entry` (first start) or
    /// releases it from where it waits.
    fn boot(&self, cpu: usize, mpidr: Mpidr, entry: PhysAddr) -> Result<(), OpsError>;

    /// The dying CPU's last step, on the dying CPU, interrupts masked: its GIC interface
    /// off and PSCI CPU_OFF, or parking until released.
    fn die(&self, cpu: usize) -> !;

    /// On the controller: waits (until `timeout_us`) for `cpu` to be truly off or parked,
    /// or, where the method cannot tell that, to have made its last call.
    fn confirm_dead(&self, cpu: usize, mpidr: Mpidr, timeout_us: u64) -> Result<Death, OpsError>;

    /// On the controller, once `cpu` was started, never arrived and is not confirmed off:
    /// what the method can say of where it is.
    fn stuck(&self, _cpu: usize, _mpidr: Mpidr) -> Stuck {
        Stuck::default()
    }

    /// Asked before anything is done to take `cpu` down (Linux's `cpu_disable`): why it
    /// cannot be taken offline at all, if it cannot.
    fn can_go_offline(&self, _cpu: usize) -> Result<(), &'static str> {
        Ok(())
    }

    /// Whether starting a CPU is a PSCI CPU_ON, whose error answers the fault injector
    /// can fake.
    fn starts_with_cpu_on(&self) -> bool {
        false
    }

    /// Once, at boot: takes from the device tree's `method` what this method needs to
    /// drive `cpu` later (Linux's `cpu_init`), or says why it cannot.
    fn cpu_init(&self, _cpu: usize, _method: EnableMethod<'_>) -> Result<(), Absence> {
        Ok(())
    }
}

/// What CPU bring-up keeps of each CPU the device tree lists: its MPIDR and its enable
/// method's operations, or why it has none.
struct CpuEntry {
    mpidr: Mpidr,
    ops: Result<&'static dyn CpuOps, Absence>,
}

/// One entry per CPU the kernel manages, in a table sized at boot.
static CPUS: spin::Once<&'static [CpuEntry]> = spin::Once::new();

/// Once, at boot: each listed CPU's MPIDR and operations, each method's `cpu_init` run;
/// false if there was no memory for the table (then no CPU has operations).
pub fn init_cpus(cpus: &[Cpu<'_>]) -> bool {
    let table = crate::mm::table::leak(cpus.len().min(MAX_CPUS), |cpu| {
        let dt = &cpus[cpu];
        CpuEntry {
            mpidr: dt.mpidr,
            ops: for_method(dt.enable_method)
                .and_then(|ops| ops.cpu_init(cpu, dt.enable_method).map(|()| ops))
                .map(|ops| super::fault::with_faults(cpu, ops)),
        }
    });
    CPUS.call_once(|| table.unwrap_or(&[]));
    table.is_some()
}

/// Whether `cpu` can be driven, or why not.
pub fn drivable(cpu: usize) -> Result<(), Absence> {
    match CPUS.get().and_then(|cpus| cpus.get(cpu)) {
        Some(entry) => entry.ops.map(|_| ()),
        None => Err(Absence::NoMemory),
    }
}

/// The operations that drive `cpu`, if it has any.
pub fn ops(cpu: usize) -> Option<&'static dyn CpuOps> {
    CPUS.get()?.get(cpu)?.ops.ok()
}

/// `cpu`'s MPIDR affinity, as the device tree gives it (0 for a CPU it does not list).
pub fn mpidr(cpu: usize) -> Mpidr {
    CPUS.get()
        .and_then(|cpus| cpus.get(cpu))
        .map_or(Mpidr::default(), |e| e.mpidr)
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
