//! Fault-injection cases: PSCI CPU_ON errors, a CPU that never comes online, one that
//! never starts dying, one whose death is never confirmed (`fault=` and `fault`). Each
//! failure must be reported, roll the CPU back, free what was made for it (the free page
//! count is the same at every `mem`), leave the other CPUs working, and let the CPU be
//! tried again.

use std::time::Duration;

use super::{Case, free_pages_unchanged};

/// Each injected timeout costs 5 s of the kernel's patience.
const TIMEOUT: Duration = Duration::from_secs(90);

pub fn cases(base: &Case) -> Vec<Case> {
    vec![
        Case {
            name: "fault-psci-cpu-on-errors",
            bootargs: "fault=cpu_on_denied@2 run=\"slab check; cpu on 2; cpu off 2; mem; \
                       fault cpu_on_already_on 2; cpu on 2; slab check; mem; \
                       fault cpu_on_invalid 2; cpu on 2; slab check; mem; \
                       fault cpu_on_denied 2; fault; cpu on 2; slab check; mem; cpu on 2; \
                       hotplug 2; cpu off 2; mem; slab check; poweroff\"",
            expect: &[
                "cpu2: fault injected: cpu_on_denied",
                "cpu2: PSCI CPU_ON for MPIDR 0x2 failed: PSCI call denied; cpu2 stays offline",
                "3 of 4 CPUs online: 0-1,3",
                "failed: Core already on; cpu2 is offline now",
                "failed: Invalid parameters to PSCI call (does the device tree name a core that exists?); cpu2 is offline now",
                "cpu2: cpu_on_denied",
                "failed: PSCI call denied; cpu2 is offline now",
                "RESULT hotplug PASS cycles=2 ops=12 cpus=3",
                "slab check: every cache has an array for every CPU",
            ],
            check: Some(free_pages_unchanged),
            forbid: &["Oops:", "BROKEN"],
            timeout: TIMEOUT,
            ..*base
        },
        Case {
            name: "fault-cpu-never-arrives",
            bootargs: "fault=no_arrival@3 run=\"slab check; cpu on 3; cpu off 3; mem; \
                       fault no_arrival 3; cpu on 3; slab check; mem; cpu on 3; hotplug 2; \
                       cpu off 3; mem; slab check; poweroff\"",
            expect: &[
                "cpu3: fault injected: no_arrival",
                "cpu3 did not come online within 5000 ms (it is off again); cpu3 stays offline",
                "cpu on 3: done in",
                "cpu: cpu3 did not come online within 5000 ms (it is off again); cpu3 is offline now",
                "RESULT hotplug PASS cycles=2 ops=12 cpus=3",
                "slab check: every cache has an array for every CPU",
            ],
            check: Some(free_pages_unchanged),
            forbid: &["Oops:", "BROKEN"],
            timeout: TIMEOUT,
            ..*base
        },
        Case {
            name: "fault-cpu-never-dies-or-is-unconfirmed",
            bootargs: "run=\"cpu off 2; mem; cpu on 2; fault no_death 1; cpu off 1; cpus; \
                       slab check; ipi 1; fault death_unconfirmed 2; cpu off 2; cpus; \
                       slab check; cpu on 2; cpu off 2; mem; cpu on 2; hotplug 2; slab check; \
                       poweroff\"",
            expect: &[
                "cpu1: fault injected: no_death",
                "cpu: cpu1 did not start dying within 5000 ms; cpu1 is online now",
                "  1  0x1          psci         online",
                "ipi 1: 100 round trips",
                "cpu2: fault injected: death_unconfirmed",
                "cpu: cpu2: the CPU did not confirm it is off; cpu2 is dying now",
                "  2  0x2          psci         dying",
                "cpu2: now confirmed off",
                "RESULT hotplug PASS cycles=2 ops=12 cpus=3",
                "slab check: every cache has an array for every CPU",
            ],
            check: Some(free_pages_unchanged),
            forbid: &["Oops:", "BROKEN"],
            timeout: TIMEOUT,
            ..*base
        },
        Case {
            // The same on the spin-table method: a late CPU parks itself, an unconfirmed
            // one is found parked when asked again.
            name: "rpi4-fault-spin-table",
            machine: "raspi4b",
            dtb: Some("rpi4.dtb"),
            bootargs: "fault=no_arrival@3 run=\"cpu on 3; fault death_unconfirmed 2; \
                       cpu off 2; cpu on 2; fault no_death 1; cpu off 1; hotplug 2; \
                       slab check; poweroff\"",
            expect: &[
                "cpu3 did not come online within 5000 ms (it is off again); cpu3 stays offline",
                "cpu on 3: done in",
                "cpu: cpu2: the CPU did not confirm it is off; cpu2 is dying now",
                "cpu2: now confirmed off",
                "cpu: cpu1 did not start dying within 5000 ms; cpu1 is online now",
                "RESULT hotplug PASS cycles=2 ops=12 cpus=3",
                "slab check: every cache has an array for every CPU",
            ],
            forbid: &["Oops:", "BROKEN"],
            timeout: TIMEOUT,
            ..*base
        },
    ]
}
