//! The Arm generic timer's system counter: the kernel's clock. It counts from machine
//! reset, so times are "since power-on" (CNTVOFF_EL2 is 0 when we came through EL2).

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTPCT_EL0, Readable};

/// The counter now, in ticks. Ordered after earlier instructions (ISB).
pub fn ticks() -> u64 {
    barrier::isb(barrier::SY);
    CNTPCT_EL0.get()
}

/// Ticks per second.
pub fn frequency() -> u64 {
    CNTFRQ_EL0.get().max(1)
}

pub fn ticks_to_ns(ticks: u64) -> u64 {
    (u128::from(ticks) * 1_000_000_000 / u128::from(frequency())) as u64
}

pub fn us_to_ticks(us: u64) -> u64 {
    (u128::from(us) * u128::from(frequency()) / 1_000_000) as u64
}

/// Nanoseconds since machine start.
pub fn now_ns() -> u64 {
    ticks_to_ns(ticks())
}

/// A point in time a wait gives up at.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(u64);

impl Deadline {
    pub fn after_us(us: u64) -> Self {
        Deadline(ticks().saturating_add(us_to_ticks(us)))
    }

    /// The deadline [`Deadline::ticks`] gave, kept as a plain number.
    pub fn at_ticks(ticks: u64) -> Self {
        Deadline(ticks)
    }

    pub fn passed(&self) -> bool {
        ticks() >= self.0
    }

    /// The counter value it passes at.
    pub fn ticks(&self) -> u64 {
        self.0
    }
}

/// Arms this core's EL1 physical timer to interrupt once, `us` from now. Callers go on to
/// WFI: the ISB makes the write to CNTP_CTL_EL0 take effect before that (a System register
/// write is guaranteed to affect later instructions only after a context synchronization
/// event; Linux's `arch_timer_reg_write_cp15` follows its CNTP_CTL write with `isb()`).
/// Without it a core could sleep with the timer not yet armed, and never wake.
pub fn arm_oneshot_us(us: u64) {
    use aarch64_cpu::registers::{CNTP_CTL_EL0, CNTP_TVAL_EL0, Writeable};
    CNTP_TVAL_EL0.set(us_to_ticks(us).min(u64::from(u32::MAX >> 1)));
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
    barrier::isb(barrier::SY);
}

/// Stops this core's timer interrupt; the ISB, as in [`arm_oneshot_us`], makes it stopped
/// for what follows (an interrupt handler returning, a core going offline).
pub fn disarm() {
    use aarch64_cpu::registers::{CNTP_CTL_EL0, Writeable};
    CNTP_CTL_EL0.set(0);
    barrier::isb(barrier::SY);
}
