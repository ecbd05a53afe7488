//! Turning the machine off and resetting it: PSCI where the device tree has it, and
//! semihosting (which also carries an exit status to QEMU).

use core::fmt;

use crate::arch::psci::{self, Psci};
use crate::arch::semihosting;
use crate::boot;

#[derive(Debug)]
pub enum PowerError {
    /// PSCI refused or returned.
    Psci(psci::Error),
    /// No PSCI node in the device tree and no semihosting host.
    NoMethod,
}

impl fmt::Display for PowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PowerError::Psci(e) => write!(f, "PSCI failed: {e:?}"),
            PowerError::NoMethod => write!(
                f,
                "nothing can do that here: the device tree has no PSCI and no semihosting host answered"
            ),
        }
    }
}

/// PSCI, if the device tree describes it.
pub fn psci() -> Option<Psci> {
    boot::try_platform()?.psci.map(Psci::new)
}

/// Powers off; `status` reaches QEMU's exit code through semihosting. Returns only when
/// nothing could power the machine off.
pub fn poweroff(status: u32) -> PowerError {
    crate::console::flush();
    let via_psci = || psci().map(|p| p.system_off());
    let mut error = PowerError::NoMethod;
    if status == 0 {
        if let Some(Err(e)) = via_psci() {
            error = PowerError::Psci(e);
        }
        semihosting::exit(0);
    } else {
        // PSCI cannot carry a status: try semihosting first.
        semihosting::exit(status);
        if let Some(Err(e)) = via_psci() {
            error = PowerError::Psci(e);
        }
    }
    error
}

/// Resets the machine. Returns only on failure.
pub fn reboot() -> PowerError {
    crate::console::flush();
    match psci().map(|p| p.system_reset()) {
        Some(Err(e)) => PowerError::Psci(e),
        _ => PowerError::NoMethod,
    }
}
