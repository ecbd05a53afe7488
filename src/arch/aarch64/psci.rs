//! PSCI through the SMCCC conduit the device tree names (`/psci/method`), chosen at run
//! time. The `smccc` crate fixes the conduit as a type parameter; this wrapper is the one
//! place that turns the DT's choice into that type.

use smccc::psci;
pub use smccc::psci::{AffinityState, Error, LowestAffinityLevel, Version};
use smccc::{Hvc, Smc};

use crate::dt::PsciMethod;

/// PSCI firmware reached through one conduit.
#[derive(Clone, Copy, Debug)]
pub struct Psci {
    method: PsciMethod,
}

macro_rules! via {
    ($self:ident, $f:ident($($arg:expr),*)) => {
        match $self.method {
            PsciMethod::Hvc => psci::$f::<Hvc>($($arg),*),
            PsciMethod::Smc => psci::$f::<Smc>($($arg),*),
        }
    };
}

impl Psci {
    pub const fn new(method: PsciMethod) -> Self {
        Self { method }
    }

    pub fn method(&self) -> PsciMethod {
        self.method
    }

    pub fn version(&self) -> Result<Version, Error> {
        via!(self, version())
    }

    /// Starts the core with MPIDR `target` at physical address `entry`, with `context` in
    /// its x0.
    pub fn cpu_on(&self, target: u64, entry: u64, context: u64) -> Result<(), Error> {
        via!(self, cpu_on(target, entry, context))
    }

    /// Turns the calling core off; returns only on failure.
    pub fn cpu_off(&self) -> Result<(), Error> {
        via!(self, cpu_off())
    }

    pub fn affinity_info(&self, target: u64) -> Result<AffinityState, Error> {
        via!(self, affinity_info(target, LowestAffinityLevel::All))
    }

    pub fn system_off(&self) -> Result<(), Error> {
        via!(self, system_off())
    }

    pub fn system_reset(&self) -> Result<(), Error> {
        via!(self, system_reset())
    }
}
