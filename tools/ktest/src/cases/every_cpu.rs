//! Every CPU QEMU's virt can give: 512 on a GICv3, the kernel's ceiling. All of them come
//! online at boot, go down and up again in a `hotplug` cycle, and carry the 2004 scenario
//! (`stress slab-hotplug`) and the soak (`stress all`); a tree with eight CPUs beyond the
//! ceiling is in `bad_dtb`.

use std::time::Duration;

use crate::case::Case;
use crate::checks::{hotplug_and_scenario_passed, passed_with_counts};

/// Each run passed, did something and lost nothing.
fn all_passed(output: &str) -> Result<(), String> {
    hotplug_and_scenario_passed(output)?;
    passed_with_counts(
        output,
        "stress-all",
        &["hotplug_ops", "caches", "objects"],
        &["failures", "pages_leaked", "objects_leaked"],
    )
}

pub fn cases(base: Case) -> Vec<Case> {
    vec![Case {
        name: "every-cpu-512-gicv3-hotplug-and-stress",
        about: "512 CPUs on a GICv3, QEMU's most: all online at boot, every other one down \
                and up again in a hotplug cycle, then the 2004 scenario and the soak \
                across all of them, nothing lost.",
        machine: "virt,gic-version=3",
        smp: 512,
        memory: "2G",
        bootargs: "run=\"dt --raw; hotplug 1; stress slab-hotplug 3; stress all 3; cpus --raw; poweroff\"",
        expect: &[
            "512 CPU(s) in the device tree; cpu0 (MPIDR 0x0) is booting",
            "GICv3: 512 redistributor(s) in 2 region(s), 512 of them for the kernel's CPUs",
            "CPUs possible 0-511, present 0-511",
            "512 of 512 CPUs online: 0-511",
            "redistributors=0x80a0000 size=0xf60000 found=123",
            "redistributors=0x4000000000 size=0x4000000 found=389",
            "gic_redistributors=512 matched=512 range_selectors=no broadcast=yes",
            "slab: 33016 bytes per cache for 512 possible CPUs",
            "RESULT hotplug PASS cycles=1 ops=1022 cpus=511 ",
            "RESULT stress-slab-hotplug PASS",
            "RESULT stress-all PASS",
            "cpu=511 mpidr=0x1f0f method=psci state=online shell=no parked=no absent=no unconfirmed=no socket=0 cluster=0 core=511 thread=0",
            "hotslab> poweroff",
        ],
        forbid: &["Oops:", "beyond the limit", "did not answer"],
        check: Some(all_passed),
        timeout: Duration::from_secs(240),
        ..base
    }]
}
