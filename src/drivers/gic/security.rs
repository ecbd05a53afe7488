//! Which view of the GIC's registers this kernel has, and how the distributor and CPU
//! interface are turned on in each.
//!
//! A GIC with two security states (GICv2 with the Security Extensions, GICv3 with
//! GICD_CTLR.DS = 0) shows many registers differently to Secure and to Non-secure accesses,
//! and nothing the kernel can read says which accesses it makes: what its writes do says.
//! A kernel entered Non-secure (every loader QEMU, U-Boot or the Pi firmware has) finds:
//!
//! | view | found by | our interrupts | the enables |
//! |---|---|---|---|
//! | one security state | GICD_TYPER.SecurityExtn = 0 (v2: no Security Extensions; v3: GICD_CTLR.DS = 1) | v2: Group 0; v3: Group 1 | every bit ours |
//! | non-secure | two states, and this CPU's banked group register (GICD_IGROUPR0 / GICR_IGROUPR0) ignores writes: it is RAZ/WI to Non-secure accesses | Group 1, where the Secure side (firmware, or QEMU's boot code standing in for it) must have put them | v2 GICD_CTLR bit 0 `Enable` (the Secure view's EnableGrp1; bit 1 is RAZ/WI); v3 EnableGrp1A and ARE_NS |
//! | secure | two states, and the group register takes our write | v2: Group 0; v3: Secure Group 1 | v2 EnableGrp0; v3 EnableGrp1S, ARE_S, ARE_NS |
//!
//! In every view the kernel acknowledges through the one register that serves the group it
//! uses: GICv2's GICC_IAR (Group 0 for a Secure or single-state access, Group 1 for a
//! Non-secure one; GICC_AIAR is RAZ to Non-secure accesses), GICv3's ICC_IAR1_EL1 (Group 1
//! of the security state the CPU is in). Each enable is read back: a register that ignores
//! the write is an error that names the register and what reads back, not a machine where
//! no interrupt ever arrives.
//!
//! Portable: registers are [`Register`]s, and the host tests below drive each view through
//! fakes that behave as QEMU's models (hw/intc/arm_gic.c, arm_gicv3_dist.c) and the GIC
//! architecture specifications (IHI 0048B, IHI 0069) say.

use core::fmt;

use super::GicError;
use super::poll::{self, Clock, Register};

/// The kernel's view of the GIC's registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityView {
    /// The GIC has one security state: every register is the kernel's.
    Single,
    /// Two security states, and the kernel's accesses are Non-secure.
    NonSecure,
    /// Two security states, and the kernel's accesses are Secure.
    Secure,
}

impl SecurityView {
    /// Finds the view. `private_groups` is this CPU's banked group register for
    /// interrupts 0-31 (GICv2 GICD_IGROUPR0, GICv3 GICR_IGROUPR0): RAZ/WI to a Non-secure
    /// access when there are two security states, writable by a Secure one. All ones are
    /// written and anything that reads back means Secure: SGI bits 0-15 exist on every GIC
    /// (unimplemented PPIs' bits read 0 in any view). The register is left as found.
    pub fn probe(security_extensions: bool, private_groups: &mut impl Register) -> Self {
        if !security_extensions {
            return SecurityView::Single;
        }
        let found = private_groups.read();
        private_groups.write(!0);
        let took = private_groups.read();
        private_groups.write(found);
        if took == 0 {
            SecurityView::NonSecure
        } else {
            SecurityView::Secure
        }
    }

    /// Whether the kernel sets its interrupts' groups. Not in the Non-secure view: the
    /// Secure side owns them, and one it left in a group we cannot use cannot be enabled
    /// by us either, which the enable's read-back reports.
    pub fn owns_groups(self) -> bool {
        self != SecurityView::NonSecure
    }

    /// What this view is called on a GIC of `version`.
    pub fn name(self, version: u8) -> &'static str {
        match (self, version) {
            (SecurityView::Single, 2) => "no security extensions",
            (SecurityView::Single, _) => "one security state",
            (SecurityView::NonSecure, _) => "non-secure",
            (SecurityView::Secure, _) => "secure",
        }
    }

    /// The view as one word, for output that programs read.
    pub fn key(self) -> &'static str {
        match self {
            SecurityView::Single => "single",
            SecurityView::NonSecure => "non-secure",
            SecurityView::Secure => "secure",
        }
    }

    /// What the kernel does in this view on a GIC of `version`, in a phrase.
    pub fn meaning(self, version: u8) -> &'static str {
        match (self, version) {
            (SecurityView::Single, 2) => {
                "every register ours; interrupts in Group 0, acknowledged through GICC_IAR"
            }
            (SecurityView::NonSecure, 2) => {
                "groups are the Secure side's, ours Group 1; GICD_CTLR bit 0 enables Group 1; \
                 acknowledged through GICC_IAR"
            }
            (SecurityView::Secure, 2) => {
                "interrupts in Group 0, signalled as IRQ and acknowledged through GICC_IAR"
            }
            (SecurityView::Single, _) => {
                "GICD_CTLR.DS=1, every register ours; interrupts in Group 1; the redistributor \
                 sleeps when its CPU goes offline"
            }
            (SecurityView::NonSecure, _) => {
                "groups and GICR_WAKER are the Secure side's, ours Non-secure Group 1; \
                 firmware's CPU_OFF sleeps the redistributor"
            }
            (SecurityView::Secure, _) => {
                "interrupts in Secure Group 1; firmware's CPU_OFF sleeps the redistributor"
            }
        }
    }
}

/// "GICv2, non-secure": a GIC's version and the kernel's view of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Description {
    pub version: u8,
    pub view: SecurityView,
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GICv{}, {}", self.version, self.view.name(self.version))
    }
}

/// GICv2 GICD_CTLR and GICC_CTLR bit 0: the enable of the group the kernel uses in every
/// view (EnableGrp0 in the Secure and single-state layouts, `Enable`/EnableGrp1 in the
/// Non-secure one).
const V2_ENABLE: u32 = 1 << 0;

/// Turns a GICv2 distributor on: GICD_CTLR bit 0, read back.
pub fn enable_v2_distributor(ctlr: &mut impl Register) -> Result<(), GicError> {
    ctlr.write(V2_ENABLE);
    let reads = ctlr.read();
    if reads & V2_ENABLE == 0 {
        return Err(GicError::Ignored {
            register: "GICD_CTLR",
            wrote: V2_ENABLE,
            reads,
            why: "the distributor stays off, so no interrupt reaches any CPU",
        });
    }
    Ok(())
}

/// Turns this CPU's GICv2 interface on: every priority let through (GICC_PMR 0xff), then
/// GICC_CTLR bit 0, which also clears what the Secure and single-state layouts have beside
/// it (FIQEn, so Group 0 is signalled as IRQ; AckCtl; EOImode); both read back.
pub fn enable_v2_cpu_interface(
    ctlr: &mut impl Register,
    pmr: &mut impl Register,
) -> Result<(), GicError> {
    pmr.write(0xff);
    let reads = pmr.read();
    if reads == 0 {
        return Err(GicError::Ignored {
            register: "GICC_PMR",
            wrote: 0xff,
            reads,
            why: "every interrupt stays masked (a Non-secure write is ignored while the \
                  Secure side keeps the mask in the lower half)",
        });
    }
    ctlr.write(V2_ENABLE);
    let reads = ctlr.read();
    if reads & V2_ENABLE == 0 {
        return Err(GicError::Ignored {
            register: "GICC_CTLR",
            wrote: V2_ENABLE,
            reads,
            why: "this CPU interface stays off, so no interrupt reaches this CPU",
        });
    }
    Ok(())
}

/// GICv3 GICD_CTLR bits, named for each layout.
mod v3_ctlr {
    /// Single state and Secure layouts.
    pub const ENABLE_GRP1NS: u32 = 1 << 1;
    /// Non-secure layout (affinity routing on): the Secure layout's EnableGrp1NS.
    pub const ENABLE_GRP1A: u32 = 1 << 1;
    pub const ENABLE_GRP1S: u32 = 1 << 2;
    /// ARE in the single-state layout, ARE_S in the Secure one, ARE_NS in the Non-secure.
    pub const ARE_LOW: u32 = 1 << 4;
    /// ARE_NS in the Secure layout.
    pub const ARE_NS_SECURE: u32 = 1 << 5;
    pub const RWP: u32 = 1 << 31;
}

/// Turns a GICv3 distributor on in `view`'s layout, as Linux's `gic_dist_init` does: off,
/// wait for the write to take (GICD_CTLR.RWP), then affinity routing and the group we use,
/// wait again, and read back.
pub fn enable_v3_distributor(
    ctlr: &mut impl Register,
    view: SecurityView,
    clock: &mut impl Clock,
) -> Result<(), GicError> {
    use v3_ctlr::*;
    let (want, group) = match view {
        SecurityView::Single => (ARE_LOW | ENABLE_GRP1NS, ENABLE_GRP1NS),
        SecurityView::NonSecure => (ARE_LOW | ENABLE_GRP1A, ENABLE_GRP1A),
        SecurityView::Secure => (ARE_LOW | ARE_NS_SECURE | ENABLE_GRP1S, ENABLE_GRP1S),
    };
    for value in [0, want] {
        ctlr.write(value);
        poll::until(
            clock,
            "GICD_CTLR.RWP to read 0 (the distributor taking a control write)",
            || ctlr.read() & RWP == 0,
        )?;
    }
    let reads = ctlr.read() & !RWP;
    if reads & want != want {
        return Err(GicError::Ignored {
            register: "GICD_CTLR",
            wrote: want,
            reads,
            why: if reads & group == 0 {
                "the distributor stays off for our group, so no interrupt reaches any CPU"
            } else {
                "affinity routing stays off, which the system-register interface this kernel \
                 uses needs"
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Each fake holds a register's state as the Secure side would see it and answers the
    //! kernel's accesses the way QEMU's model answers an access of that security state.

    use super::poll::fake::SteppingClock;
    use super::*;

    /// A banked group register: `writable` is what the access may change (0: RAZ/WI).
    struct GroupRegister {
        state: u32,
        writable: u32,
    }

    impl Register for GroupRegister {
        fn read(&mut self) -> u32 {
            self.state & self.writable
        }
        fn write(&mut self, value: u32) {
            self.state = (self.state & !self.writable) | (value & self.writable);
        }
    }

    /// Non-secure: RAZ/WI. Secure or single-state: a GIC-400's (PPIs 16-24 unimplemented).
    fn groups(view: SecurityView) -> GroupRegister {
        match view {
            SecurityView::NonSecure => GroupRegister {
                state: !0,
                writable: 0,
            },
            _ => GroupRegister {
                state: 0,
                writable: 0xfe00_ffff,
            },
        }
    }

    /// GICv2 GICD_CTLR as hw/intc/arm_gic.c answers it.
    struct V2DistributorControl {
        /// The Secure view's EnableGrp0 (bit 0) and EnableGrp1 (bit 1).
        state: u32,
        view: SecurityView,
    }

    impl Register for V2DistributorControl {
        fn read(&mut self) -> u32 {
            match self.view {
                // "The NS bank of this register is just an alias of the EnableGrp1 bit."
                SecurityView::NonSecure => (self.state >> 1) & 1,
                _ => self.state,
            }
        }
        fn write(&mut self, value: u32) {
            match self.view {
                SecurityView::NonSecure => self.state = (self.state & !2) | ((value & 1) << 1),
                _ => self.state = value & 3,
            }
        }
    }

    /// GICv2 GICC_CTLR (enable bits only) and GICC_PMR as arm_gic.c answers them.
    struct V2CpuControl {
        state: u32,
        view: SecurityView,
    }

    impl Register for V2CpuControl {
        fn read(&mut self) -> u32 {
            match self.view {
                SecurityView::NonSecure => (self.state & 2) >> 1,
                _ => self.state,
            }
        }
        fn write(&mut self, value: u32) {
            match self.view {
                SecurityView::NonSecure => self.state = (self.state & !2) | ((value << 1) & 2),
                _ => self.state = value & 0x7ff,
            }
        }
    }

    struct V2PriorityMask {
        state: u32,
        view: SecurityView,
    }

    impl Register for V2PriorityMask {
        fn read(&mut self) -> u32 {
            match self.view {
                SecurityView::NonSecure if self.state & 0x80 != 0 => (self.state << 1) & 0xff,
                SecurityView::NonSecure => 0,
                _ => self.state,
            }
        }
        fn write(&mut self, value: u32) {
            match self.view {
                SecurityView::NonSecure if self.state & 0x80 != 0 => {
                    self.state = 0x80 | (value >> 1)
                }
                SecurityView::NonSecure => {}
                _ => self.state = value & 0xff,
            }
        }
    }

    #[test]
    fn the_view_follows_what_the_group_register_takes() {
        for view in [SecurityView::NonSecure, SecurityView::Secure] {
            let mut register = groups(view);
            let before = register.state;
            assert_eq!(SecurityView::probe(true, &mut register), view);
            assert_eq!(
                register.state, before,
                "the probe leaves the groups as found"
            );
        }
        // Without the Security Extensions the register is not even looked at.
        let mut untouched = groups(SecurityView::NonSecure);
        assert_eq!(
            SecurityView::probe(false, &mut untouched),
            SecurityView::Single
        );
    }

    #[test]
    fn a_non_secure_v2_distributor_is_enabled_for_group_1() {
        // QEMU's virt,secure=on booting a kernel Non-secure: everything reset, groups 1.
        let mut ctlr = V2DistributorControl {
            state: 0,
            view: SecurityView::NonSecure,
        };
        assert_eq!(enable_v2_distributor(&mut ctlr), Ok(()));
        assert_eq!(
            ctlr.state, 0b10,
            "Group 1 forwarded, Group 0 the Secure side's"
        );
    }

    #[test]
    fn arm_gics_setup_leaves_a_non_secure_v2_distributor_off() {
        // What GicV2::setup does with GICD_TYPER.SecurityExtn set: set bit 1.
        let mut ctlr = V2DistributorControl {
            state: 0,
            view: SecurityView::NonSecure,
        };
        let value = ctlr.read() | 1 << 1;
        ctlr.write(value);
        assert_eq!(ctlr.state, 0, "bit 1 is RAZ/WI to a Non-secure access");
    }

    #[test]
    fn v2_distributors_in_the_other_views_are_enabled_for_group_0() {
        for view in [SecurityView::Single, SecurityView::Secure] {
            let mut ctlr = V2DistributorControl { state: 0, view };
            assert_eq!(enable_v2_distributor(&mut ctlr), Ok(()));
            assert_eq!(ctlr.state, 0b01, "{view:?}");
        }
    }

    #[test]
    fn a_v2_distributor_the_firmware_enabled_stays_enabled() {
        // The Pi 4's armstub enables both groups before dropping to the kernel.
        let mut ctlr = V2DistributorControl {
            state: 0b11,
            view: SecurityView::NonSecure,
        };
        assert_eq!(enable_v2_distributor(&mut ctlr), Ok(()));
        assert_eq!(ctlr.state & 0b10, 0b10);
    }

    struct Ignores(u32);

    impl Register for Ignores {
        fn read(&mut self) -> u32 {
            self.0
        }
        fn write(&mut self, _: u32) {}
    }

    #[test]
    fn a_v2_distributor_that_ignores_the_enable_is_an_error_naming_it() {
        let error = enable_v2_distributor(&mut Ignores(0)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "GICD_CTLR reads 0x0 after we wrote 0x1: the distributor stays off, so no \
             interrupt reaches any CPU"
        );
    }

    #[test]
    fn a_v2_cpu_interface_is_enabled_in_every_view() {
        for view in [
            SecurityView::Single,
            SecurityView::NonSecure,
            SecurityView::Secure,
        ] {
            let mut ctlr = V2CpuControl { state: 0, view };
            // QEMU resets the mask to 0x80 where it stands in for Secure firmware.
            let mut pmr = V2PriorityMask { state: 0x80, view };
            assert_eq!(
                enable_v2_cpu_interface(&mut ctlr, &mut pmr),
                Ok(()),
                "{view:?}"
            );
            let group_enable = if view == SecurityView::NonSecure {
                2
            } else {
                1
            };
            assert_eq!(ctlr.state, group_enable, "{view:?}");
            assert_eq!(pmr.state, 0xff, "{view:?}");
        }
    }

    #[test]
    fn a_priority_mask_the_secure_side_holds_low_is_an_error() {
        let mut ctlr = V2CpuControl {
            state: 0,
            view: SecurityView::NonSecure,
        };
        let mut pmr = V2PriorityMask {
            state: 0,
            view: SecurityView::NonSecure,
        };
        let error = enable_v2_cpu_interface(&mut ctlr, &mut pmr).unwrap_err();
        assert!(matches!(
            error,
            GicError::Ignored {
                register: "GICC_PMR",
                ..
            }
        ));
        assert_eq!(ctlr.state, 0, "the interface is not turned on masked");
        let error = enable_v2_cpu_interface(&mut Ignores(0), &mut Ignores(0xff)).unwrap_err();
        assert!(matches!(
            error,
            GicError::Ignored {
                register: "GICC_CTLR",
                ..
            }
        ));
    }

    /// GICv3 GICD_CTLR as hw/intc/arm_gicv3_dist.c answers it (affinity routing always
    /// on), with RWP held for `busy` reads after each write; `busy` of `u32::MAX` never
    /// clears.
    struct V3DistributorControl {
        /// The Secure (or single-state) layout.
        state: u32,
        view: SecurityView,
        busy: u32,
        busy_left: u32,
        reads: u32,
    }

    impl V3DistributorControl {
        fn new(view: SecurityView, busy: u32) -> Self {
            Self {
                state: 0,
                view,
                busy,
                busy_left: 0,
                reads: 0,
            }
        }
    }

    const DS: u32 = 1 << 6;
    const ARE_S: u32 = 1 << 4;
    const ARE_NS: u32 = 1 << 5;

    impl Register for V3DistributorControl {
        fn read(&mut self) -> u32 {
            self.reads += 1;
            assert!(
                self.reads < 100_000,
                "GICD_CTLR read {} times: the wait on it is unbounded",
                self.reads
            );
            let rwp = if self.busy_left > 0 {
                self.busy_left = self.busy_left.saturating_sub(1);
                v3_ctlr::RWP
            } else {
                0
            };
            rwp | match self.view {
                SecurityView::Single => self.state | DS | ARE_S,
                SecurityView::Secure => self.state | ARE_S | ARE_NS,
                SecurityView::NonSecure => (self.state | ARE_S) & (ARE_S | (1 << 1)),
            }
        }
        fn write(&mut self, value: u32) {
            let mask = match self.view {
                SecurityView::Single => 0b011,
                SecurityView::Secure => 0b111,
                SecurityView::NonSecure => 0b010,
            };
            self.state = (self.state & !mask) | (value & mask);
            self.busy_left = self.busy;
        }
    }

    #[test]
    fn a_v3_distributor_is_enabled_for_the_group_of_each_view() {
        for (view, group_enable) in [
            (SecurityView::Single, 1 << 1),
            (SecurityView::NonSecure, 1 << 1),
            (SecurityView::Secure, 1 << 2),
        ] {
            let mut ctlr = V3DistributorControl::new(view, 5);
            assert_eq!(
                enable_v3_distributor(&mut ctlr, view, &mut SteppingClock::new()),
                Ok(()),
                "{view:?}"
            );
            assert_eq!(ctlr.state, group_enable, "{view:?}");
        }
    }

    #[test]
    fn a_v3_distributor_whose_write_never_completes_is_a_timeout() {
        let mut ctlr = V3DistributorControl::new(SecurityView::Single, u32::MAX);
        let error =
            enable_v3_distributor(&mut ctlr, SecurityView::Single, &mut SteppingClock::new())
                .unwrap_err();
        assert!(matches!(error, GicError::Timeout { .. }));
        assert!(error.to_string().contains("GICD_CTLR.RWP"), "{error}");
    }

    /// A Non-secure GICD_CTLR whose ARE_NS the Secure side left off for good.
    struct LegacyNonSecure(u32);

    impl Register for LegacyNonSecure {
        fn read(&mut self) -> u32 {
            self.0
        }
        fn write(&mut self, value: u32) {
            self.0 = value & (1 << 1);
        }
    }

    #[test]
    fn a_v3_distributor_without_affinity_routing_is_an_error_saying_so() {
        let error = enable_v3_distributor(
            &mut LegacyNonSecure(0),
            SecurityView::NonSecure,
            &mut SteppingClock::new(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("affinity routing"), "{error}");
        let error = enable_v3_distributor(
            &mut Ignores(0),
            SecurityView::NonSecure,
            &mut SteppingClock::new(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("stays off"), "{error}");
    }

    #[test]
    fn descriptions_name_the_version_and_the_view() {
        let name = |version, view| Description { version, view }.to_string();
        assert_eq!(
            name(2, SecurityView::Single),
            "GICv2, no security extensions"
        );
        assert_eq!(name(2, SecurityView::NonSecure), "GICv2, non-secure");
        assert_eq!(name(3, SecurityView::Single), "GICv3, one security state");
        assert_eq!(name(3, SecurityView::Secure), "GICv3, secure");
    }
}
