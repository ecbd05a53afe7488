//! PSCI through the SMCCC conduit the device tree names (`/psci/method`), chosen at run
//! time, by the function numbers the tree's PSCI has. The `smccc` crate fixes the conduit
//! as a type parameter and calls the standard numbers of PSCI 0.2 and later; this wrapper
//! is the one place that turns the tree's choice into that type, and that calls PSCI 0.1's
//! CPU_ON and CPU_OFF by the numbers the tree gives instead (as Linux's `psci_0_1_init`
//! does). PSCI 0.1 has no PSCI_VERSION, AFFINITY_INFO, SYSTEM_OFF or SYSTEM_RESET: asked
//! for one, this answers NOT_SUPPORTED without calling the firmware, since the standard
//! numbers may mean anything to it.

use smccc::error::success_or_error_32;
use smccc::psci;
pub use smccc::psci::{AffinityState, Error, LowestAffinityLevel, Version};
use smccc::{Call, Hvc, Smc};

use crate::dt::{FunctionIds, Mpidr, PsciFunctions, PsciMethod, PsciNode};

/// PSCI 0.1's CPU_OFF argument, as Linux passes it (`cpu_psci_cpu_die`): a power state of
/// type power-down (bit 16), which no known firmware reads.
const POWER_DOWN_STATE: u64 = 1 << 16;

/// PSCI firmware reached through one conduit.
#[derive(Clone, Copy, Debug)]
pub struct Psci {
    node: PsciNode,
}

macro_rules! via {
    ($self:ident, $f:ident($($arg:expr),*)) => {
        match $self.node.method {
            PsciMethod::Hvc => psci::$f::<Hvc>($($arg),*),
            PsciMethod::Smc => psci::$f::<Smc>($($arg),*),
        }
    };
}

impl Psci {
    pub const fn new(node: PsciNode) -> Self {
        Self { node }
    }

    pub fn method(&self) -> PsciMethod {
        self.node.method
    }

    /// PSCI 0.1's function numbers, or `None` for PSCI 0.2 and later.
    pub fn v0_1(&self) -> Option<FunctionIds> {
        match self.node.functions {
            PsciFunctions::V0_1(ids) => Some(ids),
            PsciFunctions::Standard => None,
        }
    }

    /// Whether CPU_ON can be called at all (PSCI 0.1 only by a number the tree gives).
    pub fn has_cpu_on(&self) -> bool {
        self.v0_1().is_none_or(|ids| ids.cpu_on.is_some())
    }

    pub fn has_cpu_off(&self) -> bool {
        self.v0_1().is_none_or(|ids| ids.cpu_off.is_some())
    }

    /// Whether AFFINITY_INFO, SYSTEM_OFF and SYSTEM_RESET exist: not in PSCI 0.1.
    pub fn has_standard_functions(&self) -> bool {
        self.v0_1().is_none()
    }

    /// PSCI_VERSION; PSCI 0.1 has none to call.
    pub fn version(&self) -> Result<Version, Error> {
        self.standard()?;
        via!(self, version())
    }

    /// Starts the core with MPIDR `target` at physical address `entry`, with `context` in
    /// its x0.
    pub fn cpu_on(&self, target: Mpidr, entry: u64, context: u64) -> Result<(), Error> {
        let target = target.affinity();
        match self.v0_1() {
            None => via!(self, cpu_on(target, entry, context)),
            Some(ids) => {
                let id = ids.cpu_on.ok_or(Error::NotSupported)?;
                self.call_v0_1(id, [target, entry, context])
            }
        }
    }

    /// Turns the calling core off; returns only on failure.
    pub fn cpu_off(&self) -> Result<(), Error> {
        match self.v0_1() {
            None => via!(self, cpu_off()),
            Some(ids) => {
                let id = ids.cpu_off.ok_or(Error::NotSupported)?;
                self.call_v0_1(id, [POWER_DOWN_STATE, 0, 0])
            }
        }
    }

    pub fn affinity_info(&self, target: Mpidr) -> Result<AffinityState, Error> {
        self.standard()?;
        via!(
            self,
            affinity_info(target.affinity(), LowestAffinityLevel::All)
        )
    }

    pub fn system_off(&self) -> Result<(), Error> {
        self.standard()?;
        via!(self, system_off())
    }

    pub fn system_reset(&self) -> Result<(), Error> {
        self.standard()?;
        via!(self, system_reset())
    }

    /// NOT_SUPPORTED, without a call, where the standard numbers do not apply.
    fn standard(&self) -> Result<(), Error> {
        if self.has_standard_functions() {
            Ok(())
        } else {
            Err(Error::NotSupported)
        }
    }

    /// A PSCI 0.1 call by the tree's number `id`, with three arguments in x1-x3 and the
    /// result in w0, as Linux's `invoke_psci_fn` makes it: 64-bit registers whatever the
    /// number's calling convention (an SMC32 function ignores their upper halves), the
    /// result read as a 32-bit status.
    fn call_v0_1(&self, id: u32, args: [u64; 3]) -> Result<(), Error> {
        let mut regs = [0u64; 17];
        regs[..3].copy_from_slice(&args);
        let result = match self.node.method {
            PsciMethod::Hvc => Hvc::call64(id, regs)[0],
            PsciMethod::Smc => Smc::call64(id, regs)[0],
        };
        success_or_error_32(result as u32)
    }
}
