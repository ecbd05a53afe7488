//! The GIC seen Non-secure: QEMU's virt with `secure=on` gives the GIC two security states
//! and boots the kernel Non-secure, as firmware does on real boards, so the Secure side owns
//! the interrupt groups (and, on a GICv3, GICR_WAKER). With GICv2 and with GICv3 the boot
//! log and `dt` must name that view, and CPUs must go off and on, alone, in cycles, and
//! under the slab's hotplug stress.

use std::time::Duration;

use crate::case::Case;
use crate::checks::passed_with_counts;

/// Both hotplug runs passed, and the stress lost nothing and caught no race.
fn hotplug_and_stress_passed(output: &str) -> Result<(), String> {
    passed_with_counts(output, "hotplug", &["cycles", "ops", "censuses"], &[])?;
    passed_with_counts(
        output,
        "stress-slab-hotplug",
        &["cycles", "hotplug_ops"],
        &[
            "race1",
            "race2",
            "invariant_breaks",
            "pages_leaked",
            "objects_leaked",
        ],
    )
}

pub fn cases(base: Case) -> Vec<Case> {
    let secure_on = Case {
        bootargs: "run=\"dt; dt --raw; cpu off 1; cpus --raw; cpu on 1; hotplug 3; \
                   stress slab-hotplug 3; poweroff\"",
        // An error of the interrupt controller's at boot, bring-up or power-off.
        forbid: &["Oops:", "interrupt controller"],
        check: Some(hotplug_and_stress_passed),
        timeout: Duration::from_secs(60),
        ..base
    };
    vec![
        Case {
            name: "secure-on-gicv2-non-secure-hotplug",
            about: "A GICv2 with the Security Extensions, seen Non-secure: the distributor is \
                    enabled through the Non-secure view's bit (not the one arm-gic's setup \
                    writes), the view is named, and CPUs go off and on, in cycles and \
                    under the slab stress.",
            machine: "virt,gic-version=2,secure=on",
            expect: &[
                "GICv2, non-secure; CPUs possible 0-3, present 0-3",
                "4 of 4 CPUs online: 0-3",
                "security: non-secure: groups are the Secure side's, ours Group 1",
                "gic_security=non-secure",
                "cpu off 1: done in",
                "cpu=1 mpidr=0x1 method=psci state=offline ",
                "cpu on 1: done in",
                "RESULT hotplug PASS cycles=3 ops=18 cpus=3 ",
                "lost=(none)",
                "RESULT stress-slab-hotplug PASS",
            ],
            ..secure_on
        },
        Case {
            name: "secure-on-gicv3-non-secure-hotplug",
            about: "A GICv3 with two security states (GICD_CTLR.DS=0), seen Non-secure: the \
                    view is named, offline leaves GICR_WAKER to the firmware, and CPUs go off \
                    and on, in cycles and under the slab stress.",
            machine: "virt,gic-version=3,secure=on",
            expect: &[
                "GICv3, non-secure; CPUs possible 0-3, present 0-3",
                "4 of 4 CPUs online: 0-3",
                "security: non-secure: groups and GICR_WAKER are the Secure side's",
                "gic_security=non-secure",
                "cpu off 1: done in",
                "cpu=1 mpidr=0x1 method=psci state=offline ",
                "cpu on 1: done in",
                "RESULT hotplug PASS cycles=3 ops=18 cpus=3 ",
                "lost=(none)",
                "RESULT stress-slab-hotplug PASS",
            ],
            ..secure_on
        },
    ]
}
