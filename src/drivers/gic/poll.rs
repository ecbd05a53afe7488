//! The seam between the GIC driver's decisions and the hardware: a 32-bit register and a
//! clock, as the portable code sees them, and the bounded wait built on both. In the
//! kernel a register is a tock-registers field of a mapped block and the clock is the
//! generic timer; the host tests put fakes in their place.

use tock_registers::RegisterLongName;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::ReadWrite;

use super::GicError;

/// One 32-bit register.
pub trait Register {
    fn read(&mut self) -> u32;
    fn write(&mut self, value: u32);
}

impl<R: RegisterLongName> Register for &ReadWrite<u32, R> {
    fn read(&mut self) -> u32 {
        self.get()
    }

    fn write(&mut self, value: u32) {
        self.set(value);
    }
}

/// Where a bounded wait reads the time.
pub trait Clock {
    fn now_us(&mut self) -> u64;
}

/// How long the GIC gets to finish anything we wait for: the second Linux gives the same
/// waits (`gic_do_wait_for_rwp` and `gic_enable_redist` in drivers/irqchip/irq-gic-v3.c).
pub const LIMIT_US: u64 = 1_000_000;

/// Polls `done` until it holds, or fails once [`LIMIT_US`] has passed without it, naming
/// `waiting_for` (what was awaited, and of whom) in the error.
pub fn until(
    clock: &mut impl Clock,
    waiting_for: &'static str,
    mut done: impl FnMut() -> bool,
) -> Result<(), GicError> {
    let start = clock.now_us();
    loop {
        if done() {
            return Ok(());
        }
        if clock.now_us().saturating_sub(start) >= LIMIT_US {
            // One more look: the limit may have passed between the last look and now.
            return match done() {
                true => Ok(()),
                false => Err(GicError::Timeout {
                    waiting_for,
                    limit_us: LIMIT_US,
                }),
            };
        }
        core::hint::spin_loop();
    }
}

#[cfg(test)]
pub mod fake {
    //! A clock that moves on by a fixed step at every look, so a bounded wait gives up
    //! after a known number of polls; the fakes of registers are in the tests that use them.

    use super::Clock;

    pub struct SteppingClock {
        pub now_us: u64,
        pub step_us: u64,
    }

    impl SteppingClock {
        /// A clock at 0 moving on 1 ms a look: a full-length wait is about a thousand polls.
        pub fn new() -> Self {
            Self {
                now_us: 0,
                step_us: 1_000,
            }
        }
    }

    impl Clock for SteppingClock {
        fn now_us(&mut self) -> u64 {
            self.now_us += self.step_us;
            self.now_us
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::SteppingClock;
    use super::*;

    #[test]
    fn a_wait_ends_when_its_condition_holds() {
        let mut looks = 0;
        let result = until(&mut SteppingClock::new(), "three looks", || {
            looks += 1;
            looks == 3
        });
        assert_eq!(result, Ok(()));
        assert_eq!(looks, 3);
    }

    #[test]
    fn a_wait_that_never_ends_is_an_error_naming_what_it_waited_for() {
        let mut clock = SteppingClock::new();
        let result = until(&mut clock, "the impossible", || false);
        assert_eq!(
            result,
            Err(GicError::Timeout {
                waiting_for: "the impossible",
                limit_us: LIMIT_US
            })
        );
        assert!(clock.now_us >= LIMIT_US && clock.now_us <= LIMIT_US + 2 * clock.step_us);
    }
}
