//! Device drivers: MMIO only, at the physical addresses the device tree gives (the kernel
//! runs identity-mapped). Only the GIC driver's portable decisions are built on the host,
//! for its tests; the rest needs the machine.

pub mod gic;

#[cfg(target_os = "none")]
pub mod bcm2835_watchdog;
#[cfg(target_os = "none")]
pub mod mini_uart;
#[cfg(target_os = "none")]
pub mod mmio;
#[cfg(target_os = "none")]
pub mod pl011;
#[cfg(target_os = "none")]
pub mod timer;
#[cfg(target_os = "none")]
pub mod uart;
