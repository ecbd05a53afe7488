//! What the locks need of the machine: which CPU this is, whether its interrupts are
//! masked, where the code is, and the clock. On the host (the portable code's tests) there
//! is one CPU, no interrupts and no clock: locks there are plain spin locks.

#[cfg(target_os = "none")]
mod imp {
    use crate::arch::cpu;
    use crate::drivers::timer;

    pub fn cpu_id() -> usize {
        cpu::id()
    }

    pub fn irqs_enabled() -> bool {
        !cpu::irqs_masked()
    }

    /// Interrupts masked until it drops.
    pub type Masked = cpu::IrqsMasked;

    pub fn mask() -> Masked {
        cpu::mask_irqs()
    }

    /// The address of the code where this is inlined.
    #[inline(always)]
    pub fn pc() -> usize {
        cpu::program_counter()
    }

    /// Microseconds since power-on.
    pub fn now_us() -> Option<u64> {
        Some(timer::now_ns() / 1000)
    }
}

#[cfg(not(target_os = "none"))]
mod imp {
    pub fn cpu_id() -> usize {
        0
    }

    pub fn irqs_enabled() -> bool {
        true
    }

    /// The host has no interrupts to mask.
    pub struct Masked;

    pub fn mask() -> Masked {
        Masked
    }

    #[inline(always)]
    pub fn pc() -> usize {
        0
    }

    pub fn now_us() -> Option<u64> {
        None
    }
}

pub use imp::*;
