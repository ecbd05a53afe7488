//! The BCM2835/BCM2711 power-management watchdog (`brcm,bcm2835-pm-wdt`): the way to reset
//! a Raspberry Pi, which has no PSCI under its stock firmware. Arming it with a short
//! timeout and a full-reset configuration resets the SoC, as Linux's `bcm2835_restart`
//! does; the firmware then boots again from the start.

use super::mmio::Mmio;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::ReadWrite;

register_structs! {
    Registers {
        (0x00 => _before),
        (0x1c => rstc: ReadWrite<u32>),
        (0x20 => _rsts),
        (0x24 => wdog: ReadWrite<u32>),
        (0x28 => @END),
    }
}

/// Every write carries this in its top byte, or the block ignores it.
const PASSWORD: u32 = 0x5a00_0000;
/// RSTC.WRCFG: what the watchdog does when it fires.
const RSTC_WRCFG_MASK: u32 = 0x30;
const RSTC_WRCFG_FULL_RESET: u32 = 0x20;
/// Watchdog ticks are 16 us: fire after about 150 us.
const RESET_TICKS: u32 = 10;

/// The watchdog of the power-management block at a fixed MMIO address.
pub struct Watchdog {
    regs: Mmio<Registers>,
}

impl Watchdog {
    /// The watchdog the device tree describes, if any.
    pub fn from_platform(platform: &crate::dt::Platform<'_>) -> Option<Self> {
        let region = platform.watchdog?;
        // SAFETY: boot maps the DT's watchdog region as Device memory for the kernel's
        // lifetime (`arch::aarch64::boot`), and only the reset path writes it.
        Some(unsafe { Self::new(region.base) })
    }

    /// # Safety
    /// `base` must be the physical (identity-mapped, Device memory) address of the PM
    /// block's registers, which nothing else drives.
    pub const unsafe fn new(base: u64) -> Self {
        Self {
            // SAFETY: the caller's contract is `Mmio::new`'s.
            regs: unsafe { Mmio::new(base) },
        }
    }

    /// Arms the watchdog to reset the SoC about 150 us from now. The caller waits.
    pub fn reset_soc(&self) {
        let r = &*self.regs;
        r.wdog.set(PASSWORD | RESET_TICKS);
        let rstc = r.rstc.get() & !RSTC_WRCFG_MASK;
        r.rstc.set(PASSWORD | rstc | RSTC_WRCFG_FULL_RESET);
    }
}
