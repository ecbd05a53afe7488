//! Fault injection for CPU bring-up and teardown: what firmware and hardware can do to a
//! kernel that turns cores on and off, made to happen on demand so that every recovery
//! path runs in tests. Each fault is armed for one CPU and fires once, at the next
//! operation it applies to; the CPU can then be tried again.
//!
//! Armed with the bootarg `fault=KIND@CPU[,KIND@CPU...]` (fires during boot's bring-up
//! or at the first later operation) or the shell's `fault KIND CPU`.
//!
//! Everything of it is here: the kinds and their syntax, the armed set (this file); the
//! enable-method faults as a decorator around any `CpuOps` (`ops.rs`); and the few hooks
//! the state machine calls where only the CPU itself can misbehave, named as such
//! (`hooks.rs`). The real paths read without it.

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use arrayvec::ArrayVec;

use crate::MAX_CPUS;

#[cfg(target_os = "none")]
mod hooks;
#[cfg(target_os = "none")]
mod ops;

#[cfg(target_os = "none")]
pub use hooks::{CALLBACKS, at_arrival, at_death_request};
#[cfg(target_os = "none")]
pub use ops::{DECORATED, with_faults};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// PSCI CPU_ON answers INVALID_PARAMETERS (what it says for an MPIDR that names no core).
    CpuOnInvalid,
    /// PSCI CPU_ON answers ALREADY_ON.
    CpuOnAlreadyOn,
    /// PSCI CPU_ON answers DENIED.
    CpuOnDenied,
    /// The CPU starts but never reaches the kernel's online set: it is held at its entry
    /// until the controller gives up, then finds its boot cancelled and turns itself off.
    NoArrival,
    /// The CPU starts but hangs, for good, before it arrives (interrupts masked, as a core
    /// stuck between the firmware and the kernel): PSCI AFFINITY_INFO goes on saying ON,
    /// and CPU_ON of it answers ALREADY_ON for the rest of the boot.
    NeverArrives,
    /// Asked to die, the CPU never starts dying: it keeps running as if not asked.
    NoDeath,
    /// The CPU dies, but the enable method never confirms it is off (PSCI AFFINITY_INFO
    /// keeps answering ON, a parked spin-table CPU is not seen parked) within the timeout.
    DeathUnconfirmed,
    /// The CPU sees its death request in time but takes it only once the controller's
    /// deadline has passed, when the controller is giving up: exactly one of them wins.
    DeathTakenLate,
    /// A DOWN_PREPARE callback (the injector's own, after every other) refuses the
    /// CPU's teardown.
    DownPrepareRefused,
}

impl Fault {
    pub const ALL: [Fault; 9] = [
        Fault::CpuOnInvalid,
        Fault::CpuOnAlreadyOn,
        Fault::CpuOnDenied,
        Fault::NoArrival,
        Fault::NeverArrives,
        Fault::NoDeath,
        Fault::DeathUnconfirmed,
        Fault::DeathTakenLate,
        Fault::DownPrepareRefused,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::CpuOnInvalid => "cpu_on_invalid",
            Fault::CpuOnAlreadyOn => "cpu_on_already_on",
            Fault::CpuOnDenied => "cpu_on_denied",
            Fault::NoArrival => "no_arrival",
            Fault::NeverArrives => "never_arrives",
            Fault::NoDeath => "no_death",
            Fault::DeathUnconfirmed => "death_unconfirmed",
            Fault::DeathTakenLate => "death_taken_late",
            Fault::DownPrepareRefused => "down_prepare_refused",
        }
    }

    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    fn bit(self) -> u32 {
        1 << Fault::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a `KIND@CPU` list could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultSpecError<'a> {
    UnknownKind(&'a str),
    BadCpu(&'a str),
    MissingCpu(&'a str),
    TooMany(usize),
}

impl fmt::Display for FaultSpecError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultSpecError::UnknownKind(k) => {
                write!(f, "'{k}': unknown fault; one of")?;
                for fault in Fault::ALL {
                    write!(f, " {fault}")?;
                }
                Ok(())
            }
            FaultSpecError::BadCpu(c) => {
                write!(f, "'{c}': a CPU number below {MAX_CPUS}")
            }
            FaultSpecError::MissingCpu(k) => write!(f, "'{k}' needs a CPU: {k}@N"),
            FaultSpecError::TooMany(n) => write!(f, "more than {n} faults"),
        }
    }
}

/// Reads one `KIND@CPU`.
pub fn parse_one(spec: &str) -> Result<(Fault, usize), FaultSpecError<'_>> {
    let (kind, cpu) = spec
        .split_once('@')
        .ok_or(FaultSpecError::MissingCpu(spec))?;
    let fault = Fault::from_name(kind).ok_or(FaultSpecError::UnknownKind(kind))?;
    let cpu = cpu
        .parse::<usize>()
        .ok()
        .filter(|&c| c < MAX_CPUS)
        .ok_or(FaultSpecError::BadCpu(cpu))?;
    Ok((fault, cpu))
}

/// Reads a `KIND@CPU,KIND@CPU` list: every entry, or the first bad one.
pub fn parse_list(list: &str) -> impl Iterator<Item = Result<(Fault, usize), FaultSpecError<'_>>> {
    list.split(',').filter(|s| !s.is_empty()).map(parse_one)
}

/// Reads a whole `fault=` list: every entry, or the first bad one, so that a list with a
/// mistake arms nothing.
pub fn parse_all(list: &str) -> Result<ArrayVec<(Fault, usize), MAX_SPECS>, FaultSpecError<'_>> {
    let mut specs = ArrayVec::new();
    for spec in parse_list(list) {
        specs
            .try_push(spec?)
            .map_err(|_| FaultSpecError::TooMany(MAX_SPECS))?;
    }
    Ok(specs)
}

/// The most faults one `fault=` list arms.
pub const MAX_SPECS: usize = 16;

/// The faults armed, one bit per kind, per CPU.
pub struct FaultSet {
    armed: [AtomicU32; MAX_CPUS],
}

impl Default for FaultSet {
    fn default() -> Self {
        Self::new()
    }
}

impl FaultSet {
    pub const fn new() -> Self {
        Self {
            armed: [const { AtomicU32::new(0) }; MAX_CPUS],
        }
    }

    pub fn arm(&self, fault: Fault, cpu: usize) {
        if let Some(a) = self.armed.get(cpu) {
            a.fetch_or(fault.bit(), Ordering::AcqRel);
        }
    }

    /// Whether `fault` was armed for `cpu`, disarming it: a fault fires once.
    pub fn take(&self, fault: Fault, cpu: usize) -> bool {
        self.armed
            .get(cpu)
            .is_some_and(|a| a.fetch_and(!fault.bit(), Ordering::AcqRel) & fault.bit() != 0)
    }

    /// The faults still armed for `cpu`.
    pub fn armed(&self, cpu: usize) -> impl Iterator<Item = Fault> {
        let bits = self.armed.get(cpu).map_or(0, |a| a.load(Ordering::Acquire));
        Fault::ALL.into_iter().filter(move |f| bits & f.bit() != 0)
    }
}

/// The kernel's armed faults.
pub static FAULTS: FaultSet = FaultSet::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_with_a_mistake_arms_nothing() {
        assert_eq!(
            parse_all("cpu_on_denied@1,no_death@2").unwrap().as_slice(),
            [(Fault::CpuOnDenied, 1), (Fault::NoDeath, 2)]
        );
        assert_eq!(
            parse_all("no_death@2,bogus@1"),
            Err(FaultSpecError::UnknownKind("bogus"))
        );
        let many = "no_death@1,".repeat(MAX_SPECS + 1);
        assert_eq!(parse_all(&many), Err(FaultSpecError::TooMany(MAX_SPECS)));
    }

    #[test]
    fn specs_and_errors() {
        assert_eq!(parse_one("no_arrival@3"), Ok((Fault::NoArrival, 3)));
        assert_eq!(
            parse_list("cpu_on_denied@1,,death_unconfirmed@2").collect::<Vec<_>>(),
            [
                Ok((Fault::CpuOnDenied, 1)),
                Ok((Fault::DeathUnconfirmed, 2))
            ]
        );
        assert_eq!(
            parse_one("no_arrival"),
            Err(FaultSpecError::MissingCpu("no_arrival"))
        );
        assert_eq!(
            parse_one("bogus@1"),
            Err(FaultSpecError::UnknownKind("bogus"))
        );
        assert_eq!(
            parse_one("no_death@512"),
            Err(FaultSpecError::BadCpu("512"))
        );
        assert_eq!(parse_one("no_death@511"), Ok((Fault::NoDeath, 511)));
        assert_eq!(parse_one("no_death@x"), Err(FaultSpecError::BadCpu("x")));
        assert!(
            FaultSpecError::UnknownKind("bogus")
                .to_string()
                .contains("cpu_on_denied")
        );
    }

    #[test]
    fn a_fault_fires_once_for_its_cpu_only() {
        let set = FaultSet::new();
        set.arm(Fault::NoDeath, 2);
        set.arm(Fault::CpuOnDenied, 2);
        assert!(!set.take(Fault::NoDeath, 1));
        assert_eq!(
            set.armed(2).collect::<Vec<_>>(),
            [Fault::CpuOnDenied, Fault::NoDeath]
        );
        assert!(set.take(Fault::NoDeath, 2));
        assert!(!set.take(Fault::NoDeath, 2));
        assert_eq!(set.armed(2).collect::<Vec<_>>(), [Fault::CpuOnDenied]);
        set.arm(Fault::NoArrival, MAX_CPUS);
        assert!(!set.take(Fault::NoArrival, MAX_CPUS));
    }
}
