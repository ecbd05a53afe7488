//! Device drivers: MMIO only, at the physical addresses the device tree gives (the kernel
//! runs identity-mapped).

pub mod bcm2835_watchdog;
pub mod gic;
pub mod mini_uart;
pub mod mmio;
pub mod pl011;
pub mod timer;
pub mod uart;
