//! Turning the machine off and resetting it: PSCI where the device tree has it, semihosting
//! (which also carries an exit status to QEMU), and for reset the BCM2835/BCM2711 watchdog
//! (a Raspberry Pi under its stock firmware has no PSCI). PSCI 0.1 has no SYSTEM_OFF or
//! SYSTEM_RESET (and its firmware's numbers for them, if any, are not in the tree), so
//! with it the other ways are tried, as with no PSCI. Nothing can switch a Pi 4 off:
//! `poweroff` says so rather than pretend.

use core::fmt;

use crate::arch::psci::{self, Psci};
use crate::arch::semihosting;
use crate::boot;
use crate::drivers::bcm2835_watchdog::Watchdog;
use crate::drivers::timer::Deadline;

#[derive(Debug)]
pub enum PowerError {
    /// PSCI refused or returned.
    Psci(psci::Error),
    /// No PSCI with SYSTEM_OFF in the device tree (none, or `psci_0_1`) and no
    /// semihosting host.
    NoMethod { psci_0_1: bool },
    /// No PSCI with SYSTEM_RESET (none, or `psci_0_1`), and no watchdog to reset the board
    /// with.
    NoResetMethod { psci_0_1: bool },
    /// The watchdog was armed but the machine is still running.
    WatchdogDidNotFire,
}

impl fmt::Display for PowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PowerError::Psci(e) => write!(f, "PSCI failed: {e:?}"),
            PowerError::NoMethod { psci_0_1 } => write!(
                f,
                "nothing can power this machine off: the device tree has no PSCI{} and no \
                 semihosting host answered (on a Raspberry Pi, remove the power)",
                if *psci_0_1 {
                    " but 0.1, which has no SYSTEM_OFF,"
                } else {
                    ""
                }
            ),
            PowerError::NoResetMethod { psci_0_1 } => write!(
                f,
                "nothing can reset this machine: the device tree has neither PSCI{} nor a \
                 watchdog this kernel drives",
                if *psci_0_1 {
                    " (only 0.1, which has no SYSTEM_RESET)"
                } else {
                    ""
                }
            ),
            PowerError::WatchdogDidNotFire => {
                write!(f, "the watchdog was armed but the machine did not reset")
            }
        }
    }
}

/// PSCI, if the device tree describes it.
pub fn psci() -> Option<Psci> {
    boot::try_platform()?.psci.map(Psci::new)
}

/// PSCI with SYSTEM_OFF and SYSTEM_RESET (0.2 or later), if the device tree describes it;
/// and whether it describes PSCI 0.1 instead.
fn psci_with_system_calls() -> (Option<Psci>, bool) {
    match psci() {
        Some(p) if p.has_standard_functions() => (Some(p), false),
        Some(_) => (None, true),
        None => (None, false),
    }
}

/// Powers off; `status` reaches QEMU's exit code through semihosting. Returns only when
/// nothing could power the machine off.
pub fn poweroff(status: u32) -> PowerError {
    crate::console::flush();
    let (psci, psci_0_1) = psci_with_system_calls();
    let via_psci = || psci.map(|p| p.system_off());
    let mut error = PowerError::NoMethod { psci_0_1 };
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

/// Resets the machine: PSCI SYSTEM_RESET, else the SoC's watchdog. Returns only on failure.
pub fn reboot() -> PowerError {
    crate::console::flush();
    let (psci, psci_0_1) = psci_with_system_calls();
    if let Some(psci) = psci {
        return match psci.system_reset() {
            Err(e) => PowerError::Psci(e),
            Ok(()) => PowerError::NoResetMethod { psci_0_1 },
        };
    }
    let Some(watchdog) = boot::try_platform().and_then(Watchdog::from_platform) else {
        return PowerError::NoResetMethod { psci_0_1 };
    };
    watchdog.reset_soc();
    // It fires after about 150 us; give it plenty.
    let deadline = Deadline::after_us(100_000);
    while !deadline.passed() {
        core::hint::spin_loop();
    }
    PowerError::WatchdogDidNotFire
}
