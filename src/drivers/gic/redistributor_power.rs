//! A GICv3 redistributor's power and wake handshakes: GICR_PWRR on a GIC-600 or GIC-700
//! (power the redistributor up before its CPU uses it) and GICR_WAKER everywhere (tell it
//! whether its CPU interface is awake). Each write is read back and each wait is bounded
//! ([`poll::until`]): where the register ignores us the outcome says so, where the
//! hardware never answers the error names what did not come.
//!
//! GICR_WAKER ignores writes more often than not. It is Secure when the GIC has two
//! security states (GICD_CTLR.DS = 0: RAZ/WI to a Non-secure kernel, which is every kernel
//! a normal loader starts), and KVM's vGICv3 makes it RAZ/WI outright. arm-gic's
//! `redistributor_mark_core_asleep` sets ProcessorSleep and polls ChildrenAsleep with no
//! bound and no check that the bit stuck, so on such a GIC it never returns; Linux's
//! `gic_enable_redist` (drivers/irqchip/irq-gic-v3.c) reads ProcessorSleep back, gives
//! ChildrenAsleep a second, and reports a redistributor that does not answer. This is
//! Linux's protocol.
//!
//! **Whether a CPU going offline sleeps its redistributor at all.** Only with one
//! security state. The GICv3 power-down sequence (set ProcessorSleep, wait for
//! ChildrenAsleep, then power the PE off) is the job of whoever powers the PE off. With
//! two security states that is the PSCI firmware: GICR_WAKER is Secure, and the firmware's
//! CPU_OFF sleeps the redistributor itself (Trusted Firmware-A's `gicv3_cpuif_disable` /
//! `gicv3_rdistif_mark_core_asleep`); the kernel touching it could only be ignored. With
//! one security state the register is the kernel's and nothing below it may know about the
//! GIC (QEMU's own PSCI does not), so the kernel does it, as Linux does on the CPU-PM path
//! it takes when `gic_dist_security_disabled()` (Linux never does at hotplug, leaving it
//! to firmware). A parked spin-table core never comes here: it sleeps in WFI waiting for
//! an SGI, which only an awake redistributor delivers. Bring-up always wakes the
//! redistributor, in whatever state the last offline or the firmware left it.
//!
//! Portable: the registers are [`Register`]s; the host tests run every outcome against
//! fake redistributors, KVM's among them.

use super::GicError;
use super::poll::{self, Clock, Register};
use super::security::SecurityView;

const PROCESSOR_SLEEP: u32 = 1 << 1;
const CHILDREN_ASLEEP: u32 = 1 << 2;

/// What going offline did with the redistributor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offline {
    /// ProcessorSleep set and ChildrenAsleep seen.
    Asleep,
    /// ProcessorSleep does not stick (RAZ/WI, as under KVM): nothing to put to sleep.
    WakerIgnoresWrites,
    /// Two security states: GICR_WAKER is the firmware's, and its CPU_OFF sleeps it.
    LeftToFirmware,
}

/// What bringing the CPU up did with the redistributor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// It was asleep and is awake now.
    Woken,
    /// GICR_WAKER reads awake (or RAZ): nothing to do.
    AlreadyAwake,
}

/// Prepares the redistributor of a CPU going offline (on that CPU, its CPU interface's
/// Group 1 already off): sleeps it where that is the kernel's job (see the module doc).
pub fn offline(
    view: SecurityView,
    waker: &mut impl Register,
    clock: &mut impl Clock,
) -> Result<Offline, GicError> {
    if view != SecurityView::Single {
        return Ok(Offline::LeftToFirmware);
    }
    let value = waker.read();
    waker.write(value | PROCESSOR_SLEEP);
    if waker.read() & PROCESSOR_SLEEP == 0 {
        return Ok(Offline::WakerIgnoresWrites);
    }
    poll::until(
        clock,
        "GICR_WAKER.ChildrenAsleep to read 1 (this CPU's redistributor going to sleep)",
        || waker.read() & CHILDREN_ASLEEP != 0,
    )?;
    Ok(Offline::Asleep)
}

/// Wakes the redistributor of a CPU coming up (on that CPU), where it is asleep.
pub fn wake(waker: &mut impl Register, clock: &mut impl Clock) -> Result<Wake, GicError> {
    let value = waker.read();
    if value & (PROCESSOR_SLEEP | CHILDREN_ASLEEP) == 0 {
        return Ok(Wake::AlreadyAwake);
    }
    let wrote = value & !PROCESSOR_SLEEP;
    waker.write(wrote);
    let reads = waker.read();
    if reads & PROCESSOR_SLEEP != 0 {
        return Err(GicError::Ignored {
            register: "GICR_WAKER",
            wrote,
            reads,
            why: "this CPU's redistributor stays asleep, and only the Secure side can wake it",
        });
    }
    poll::until(
        clock,
        "GICR_WAKER.ChildrenAsleep to read 0 (this CPU's redistributor waking)",
        || waker.read() & CHILDREN_ASLEEP == 0,
    )?;
    Ok(Wake::Woken)
}

/// GICR_IIDR's ProductID and Implementer of the redistributors with a GICR_PWRR.
const POWERED_MODELS: [u32; 3] = [
    0x0200_043b, // GIC-600
    0x0300_043b, // GIC-600AE
    0x0400_043b, // GIC-700
];
const MODEL_MASK: u32 = 0xff00_0fff;

/// GICR_PWRR bits.
const RDPD: u32 = 1 << 0;
const RDGPD: u32 = 1 << 2;
const RDGPO: u32 = 1 << 3;

/// Powers up the redistributor of a CPU coming up, on a GIC-600 or GIC-700 (the sequence
/// of arm-gic's `gicr_power_on` and Trusted Firmware-A's `gic600_pwr_on`: wait until the
/// redistributor group is not between power states, clear RDPD, until it reads clear).
/// Returns whether this redistributor has the register at all.
pub fn power_on(
    iidr: u32,
    pwrr: &mut impl Register,
    clock: &mut impl Clock,
) -> Result<bool, GicError> {
    if !POWERED_MODELS.contains(&(iidr & MODEL_MASK)) {
        return Ok(false);
    }
    poll::until(
        clock,
        "GICR_PWRR.RDPD to read 0 (this CPU's GIC-600/700 redistributor powering up)",
        || {
            let state = pwrr.read();
            // RDGPD != RDGPO: the group is on its way between power states.
            if (state & RDGPD != 0) != (state & RDGPO != 0) {
                return false;
            }
            pwrr.write(0);
            pwrr.read() & RDPD == 0
        },
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::poll::LIMIT_US;
    use super::poll::fake::SteppingClock;
    use super::*;

    /// Reads a fake takes before it calls the wait unbounded: far more than a bounded
    /// wait's thousand (a look a millisecond of [`SteppingClock`] for [`LIMIT_US`]).
    const READS_BEFORE_CALLED_UNBOUNDED: u32 = 100_000;

    /// A GICR_WAKER of one of three kinds.
    struct FakeWaker {
        state: u32,
        kind: Kind,
        reads: u32,
        writes: u32,
    }

    #[derive(Clone, Copy)]
    enum Kind {
        /// KVM's, and a Secure one seen Non-secure: reads 0, ignores writes.
        RazWi,
        /// ChildrenAsleep follows ProcessorSleep after `lag` more reads.
        Behaves { lag: u32 },
        /// ProcessorSleep sticks; ChildrenAsleep never moves from `children`.
        StuckChildren { children: bool },
    }

    impl FakeWaker {
        fn new(kind: Kind, asleep: bool) -> Self {
            let state = match (kind, asleep) {
                (Kind::RazWi, _) => 0,
                (_, true) => PROCESSOR_SLEEP | CHILDREN_ASLEEP,
                (_, false) => 0,
            };
            let state = match kind {
                Kind::StuckChildren { children } => {
                    (state & PROCESSOR_SLEEP) | if children { CHILDREN_ASLEEP } else { 0 }
                }
                _ => state,
            };
            Self {
                state,
                kind,
                reads: 0,
                writes: 0,
            }
        }
    }

    impl Register for FakeWaker {
        fn read(&mut self) -> u32 {
            self.reads += 1;
            assert!(
                self.reads < READS_BEFORE_CALLED_UNBOUNDED,
                "GICR_WAKER read {} times: the wait on it is unbounded",
                self.reads
            );
            if let Kind::Behaves { lag } = self.kind {
                // ChildrenAsleep catches up with ProcessorSleep `lag` reads after a write.
                if self.reads >= lag {
                    let sleep = self.state & PROCESSOR_SLEEP != 0;
                    self.state =
                        (self.state & !CHILDREN_ASLEEP) | if sleep { CHILDREN_ASLEEP } else { 0 };
                }
            }
            self.state
        }

        fn write(&mut self, value: u32) {
            self.writes += 1;
            match self.kind {
                Kind::RazWi => {}
                Kind::Behaves { .. } => {
                    self.state = (self.state & CHILDREN_ASLEEP) | (value & PROCESSOR_SLEEP);
                    self.reads = 0;
                }
                Kind::StuckChildren { .. } => {
                    self.state = (self.state & CHILDREN_ASLEEP) | (value & PROCESSOR_SLEEP)
                }
            }
        }
    }

    fn offline_with(kind: Kind) -> (Result<Offline, GicError>, FakeWaker) {
        let mut waker = FakeWaker::new(kind, false);
        let result = offline(SecurityView::Single, &mut waker, &mut SteppingClock::new());
        (result, waker)
    }

    #[test]
    fn offline_on_a_waker_that_ignores_writes_ends_at_once() {
        let (result, waker) = offline_with(Kind::RazWi);
        assert_eq!(result, Ok(Offline::WakerIgnoresWrites));
        assert!(waker.reads <= 2, "{} reads", waker.reads);
    }

    #[test]
    fn offline_on_a_waker_that_behaves_waits_for_children_asleep() {
        let (result, waker) = offline_with(Kind::Behaves { lag: 10 });
        assert_eq!(result, Ok(Offline::Asleep));
        assert_eq!(waker.state, PROCESSOR_SLEEP | CHILDREN_ASLEEP);
    }

    #[test]
    fn offline_on_a_redistributor_that_never_sleeps_is_a_reported_timeout() {
        let (result, waker) = offline_with(Kind::StuckChildren { children: false });
        let error = result.unwrap_err();
        assert_eq!(
            error,
            GicError::Timeout {
                waiting_for: "GICR_WAKER.ChildrenAsleep to read 1 (this CPU's redistributor \
                              going to sleep)",
                limit_us: LIMIT_US,
            }
        );
        assert!(waker.reads > 100, "it waited ({} reads)", waker.reads);
        assert!(error.to_string().contains("1000000 us"), "{error}");
    }

    #[test]
    fn offline_with_two_security_states_leaves_the_waker_to_firmware() {
        for view in [SecurityView::NonSecure, SecurityView::Secure] {
            let mut waker = FakeWaker::new(Kind::Behaves { lag: 0 }, false);
            let result = offline(view, &mut waker, &mut SteppingClock::new());
            assert_eq!(result, Ok(Offline::LeftToFirmware));
            assert_eq!((waker.reads, waker.writes), (0, 0), "untouched");
        }
    }

    #[test]
    fn wake_clears_processor_sleep_and_waits_for_children() {
        let mut waker = FakeWaker::new(Kind::Behaves { lag: 10 }, true);
        assert_eq!(wake(&mut waker, &mut SteppingClock::new()), Ok(Wake::Woken));
        assert_eq!(waker.state, 0);
        // Awake already (or RAZ): nothing written.
        for kind in [Kind::Behaves { lag: 0 }, Kind::RazWi] {
            let mut waker = FakeWaker::new(kind, false);
            assert_eq!(
                wake(&mut waker, &mut SteppingClock::new()),
                Ok(Wake::AlreadyAwake)
            );
            assert_eq!(waker.writes, 0);
        }
    }

    #[test]
    fn wake_of_a_redistributor_that_stays_asleep_is_a_reported_timeout() {
        let mut waker = FakeWaker::new(Kind::StuckChildren { children: true }, true);
        let error = wake(&mut waker, &mut SteppingClock::new()).unwrap_err();
        assert!(matches!(error, GicError::Timeout { .. }), "{error}");
        assert!(
            error.to_string().contains("redistributor waking"),
            "{error}"
        );
    }

    /// Asleep, and its ProcessorSleep a write cannot clear.
    struct SecureAsleep {
        reads: u32,
    }

    impl Register for SecureAsleep {
        fn read(&mut self) -> u32 {
            self.reads += 1;
            assert!(
                self.reads < READS_BEFORE_CALLED_UNBOUNDED,
                "GICR_WAKER read {} times: the wait on it is unbounded",
                self.reads
            );
            PROCESSOR_SLEEP | CHILDREN_ASLEEP
        }
        fn write(&mut self, _: u32) {}
    }

    #[test]
    fn wake_of_a_redistributor_only_the_secure_side_can_wake_says_so() {
        let error = wake(&mut SecureAsleep { reads: 0 }, &mut SteppingClock::new()).unwrap_err();
        assert!(
            matches!(
                error,
                GicError::Ignored {
                    register: "GICR_WAKER",
                    ..
                }
            ),
            "{error}"
        );
    }

    /// A GIC-600's GICR_PWRR: the group reaches its power state `transit` reads after a
    /// write, and RDPD clears only once it has (never, for `transit` of `u32::MAX`).
    struct FakePower {
        state: u32,
        transit: u32,
        transit_left: u32,
        reads: u32,
    }

    impl Register for FakePower {
        fn read(&mut self) -> u32 {
            self.reads += 1;
            assert!(
                self.reads < READS_BEFORE_CALLED_UNBOUNDED,
                "GICR_PWRR read {} times: the wait on it is unbounded",
                self.reads
            );
            if self.transit_left > 0 {
                self.transit_left -= 1;
                return self.state | RDGPD;
            }
            self.state
        }
        fn write(&mut self, value: u32) {
            if self.transit_left == 0 && self.transit != u32::MAX {
                self.state = value & RDPD;
            } else {
                self.transit_left = self.transit;
            }
        }
    }

    const GIC_600: u32 = 0x0200_043b;
    /// QEMU's GICv3: an r0p0 GIC-500, which has no GICR_PWRR.
    const QEMU_GICV3: u32 = 0x0000_043b;

    #[test]
    fn power_on_powers_a_gic_600_redistributor_up() {
        let mut pwrr = FakePower {
            state: RDPD,
            transit: 3,
            transit_left: 3,
            reads: 0,
        };
        assert_eq!(
            power_on(GIC_600, &mut pwrr, &mut SteppingClock::new()),
            Ok(true)
        );
        assert_eq!(pwrr.state & RDPD, 0);
    }

    #[test]
    fn power_on_leaves_other_redistributors_alone() {
        let mut pwrr = FakePower {
            state: RDPD,
            transit: 0,
            transit_left: 0,
            reads: 0,
        };
        assert_eq!(
            power_on(QEMU_GICV3, &mut pwrr, &mut SteppingClock::new()),
            Ok(false)
        );
        assert_eq!(pwrr.state, RDPD, "untouched");
    }

    #[test]
    fn power_on_of_a_group_stuck_in_transit_is_a_reported_timeout() {
        let mut pwrr = FakePower {
            state: RDPD,
            transit: u32::MAX,
            transit_left: u32::MAX,
            reads: 0,
        };
        let error = power_on(GIC_600, &mut pwrr, &mut SteppingClock::new()).unwrap_err();
        assert!(error.to_string().contains("GICR_PWRR.RDPD"), "{error}");
    }
}
