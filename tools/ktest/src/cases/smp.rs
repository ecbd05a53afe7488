//! CPU hotplug on virt: every CPU off and on (the boot CPU included), hundreds of cycles
//! with cross-call censuses, 20 CPUs on a GICv3, every refusal `cpu` can give, a CPU whose
//! MPIDR names no core, and `maxcpus=` / `nosmp`.

use std::time::Duration;

use crate::case::Case;
use crate::checks::free_pages_unchanged;

pub fn cases(base: Case) -> Vec<Case> {
    vec![
        Case {
            name: "hotplug-gicv2-el1-500-cycles",
            about: "Every CPU off and on, the boot CPU included (the shell moves off it first), \
                    then 500 cycles of the other three; each half cycle checks that cross-calls \
                    reach exactly the online CPUs. The page counts before and after must match.",
            bootargs: "run=\"mem --raw; cpu off 0; cpus --raw; cpu on 0; cpu off 2; cpu on 2; \
                       cpu off 3; cpu on 3; cpu off 1; cpu on 1; ipi 1; ipi 3; hotplug 500; \
                       cpus --raw; mem --raw; poweroff\"",
            expect: &[
                "cpu off 0: the shell moves to cpu1, which takes cpu0 down",
                "(shell now on cpu1)",
                "cpu=0 mpidr=0x0 method=psci state=offline",
                "cpu=1 mpidr=0x1 method=psci state=online shell=yes",
                "cpu on 0: done in",
                "cpu off 2: done in",
                "cpu on 2: done in",
                "cpu off 3: done in",
                "cpu on 3: done in",
                "(shell now on cpu0)",
                "ipi 1: 100 round trips",
                "ipi 3: 100 round trips",
                "RESULT hotplug PASS cycles=500 ops=3000 cpus=3 censuses=1000 ",
                "lost=(none)",
            ],
            timeout: Duration::from_secs(400),
            check: Some(free_pages_unchanged),
            ..base
        },
        Case {
            name: "hotplug-gicv3-el2-20cpus",
            about: "Hotplug on 20 CPUs with a GICv3: single CPUs off and on, cross-calls to the \
                    second cluster, the boot CPU off and on, five cycles of every CPU.",
            machine: "virt,gic-version=3,virtualization=on",
            smp: 20,
            bootargs: "run=\"cpu off 16; cpu off 19; cpus --raw; ipi 18; cpu on 16; cpu on 19; \
                       ipi 19; cpu off 0; cpu on 0; hotplug 5; poweroff\"",
            expect: &[
                "20 of 20 CPUs online: 0-19",
                "cpu=16 mpidr=0x100 method=psci state=offline",
                "cpu=19 mpidr=0x103 method=psci state=offline",
                "cpu=17 mpidr=0x101 method=psci state=online",
                "ipi 18: 100 round trips",
                "ipi 19: 100 round trips",
                "cpu on 19: done in",
                "(shell now on cpu1)",
                "RESULT hotplug PASS cycles=5 ops=190 cpus=19 censuses=10 ",
            ],
            timeout: Duration::from_secs(240),
            ..base
        },
        Case {
            name: "hotplug-refusals",
            about: "Every refusal of `cpu` and `ipi`: already offline or online, the last \
                    online CPU, no such CPU, a bad argument.",
            smp: 2,
            bootargs: "run=\"cpu off 1; cpu off 1; cpu off 0; ipi 1; ipi 0; cpu on 7; \
                       cpu off x; cpu on 1; cpu on 1; ipi 1; poweroff\"",
            expect: &[
                "cpu off 1: done in",
                "cpu: cpu1 is offline",
                "cpu: cpu0 is the last online CPU",
                "ipi: cpu 1 offline",
                "ipi: cpu0 runs the shell; a round trip needs another CPU",
                "cpu: there is no cpu7 (CPUs are 0-1)",
                "cpu: argument 2 'x': expected a CPU number",
                "cpu on 1: done in",
                "cpu: cpu1 is online",
                "ipi 1: 100 round trips",
            ],
            ..base
        },
        Case {
            name: "wrong-mpidr-rolls-back",
            about: "A CPU whose device-tree MPIDR names no core: CPU_ON fails, the CPU rolls \
                    back to offline, the rest boots, and `cpu on` can try again (and fail the \
                    same way).",
            smp: 3,
            dtb: Some("virt-bad-mpidr.dtb"),
            bootargs: "run=\"cpus --raw; cpu on 2; cpu on 2; cpu off 1; cpu on 1; hotplug 3; \
                       poweroff\"",
            expect: &[
                "cpu2: PSCI CPU_ON for MPIDR 0x7 failed: Invalid parameters to PSCI call",
                "cpu2 stays offline",
                "2 of 3 CPUs online: 0-1",
                "cpu=2 mpidr=0x7 method=psci state=offline",
                "cpu: cpu2: PSCI CPU_ON for MPIDR 0x7 failed",
                "; cpu2 is offline now",
                "RESULT hotplug PASS cycles=3 ops=6 cpus=1",
            ],
            ..base
        },
        Case {
            name: "maxcpus-2",
            about: "`maxcpus=2` leaves the other CPUs offline, and `cpu on` brings one up \
                    later.",
            bootargs: "maxcpus=2 run=\"cpus --raw; cpu on 3; cpus --raw; poweroff\"",
            expect: &[
                "cpu2: left offline (maxcpus); `cpu on 2` brings it up",
                "2 of 4 CPUs online: 0-1",
                "cpu=2 mpidr=0x2 method=psci state=offline",
                "cpu on 3: done in",
                "cpu=3 mpidr=0x3 method=psci state=online",
            ],
            ..base
        },
        Case {
            name: "nosmp",
            about: "`nosmp` leaves every secondary CPU offline.",
            bootargs: "nosmp run=\"cpus --raw; poweroff\"",
            expect: &[
                "cpu1: left offline (nosmp)",
                "1 of 4 CPUs online: 0",
                "cpu=1 mpidr=0x1 method=psci state=offline",
            ],
            ..base
        },
    ]
}
