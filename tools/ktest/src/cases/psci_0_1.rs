//! The QEMU cases of PSCI 0.1: QEMU's virt tree with its `/psci` made `"arm,psci"` alone,
//! each with the CPU_ON and CPU_OFF numbers the Makefile gives it (build/dts/
//! qemu-virt-psci-0.1*.dtb). QEMU rewrites `/psci` in a tree given with `-dtb`, so each is
//! loaded unedited as the bad trees are (`bad_dtb::unedited_dtb`), and carries its boot
//! script in its own bootargs.
//!
//! PSCI 0.1 has no PSCI_VERSION: the version is the tree's, and said so. It has no
//! AFFINITY_INFO: a CPU taken offline is taken as off once it has gone into CPU_OFF, as
//! Linux takes it, and `cpu off` and `cpus` say it is not confirmed off. It has no
//! SYSTEM_OFF: `poweroff` ends the run through semihosting. That the kernel calls the
//! tree's numbers, not the standard ones QEMU also answers, shows where the tree's CPU_ON
//! number is one QEMU answers NOT_SUPPORTED: no CPU comes up.

use std::time::Duration;

use super::bad_dtb::unedited_dtb;
use crate::case::Case;

const QUICK: Duration = Duration::from_secs(30);

/// What `cpu off` and `cpus` say of a CPU whose death PSCI 0.1 cannot confirm.
const NOT_CONFIRMED: &str =
    "not confirmed off: it called CPU_OFF, and PSCI 0.1 has no AFFINITY_INFO to ask";

pub fn cases(base: Case) -> Vec<Case> {
    vec![
        Case {
            name: "psci-0.1-hotplug",
            about: "PSCI 0.1 with QEMU's numbers for CPU_ON (0xc4000003) and CPU_OFF \
                    (0x84000002), as Linux's Exynos trees give them: every CPU comes up, goes \
                    down and up again and through `hotplug 3`, each death said to be \
                    unconfirmed (no AFFINITY_INFO); the version is the tree's; `poweroff` \
                    by semihosting.",
            qemu_args: unedited_dtb("qemu-virt-psci-0.1.dtb"),
            expect: &[
                "psci: Hvc conduit, version 0.1 (the device tree's; no PSCI_VERSION): \
                 cpu_off 0x84000002, cpu_on 0xc4000003",
                "psci: 0.1 has no AFFINITY_INFO, SYSTEM_OFF or SYSTEM_RESET",
                "psci=hvc version=0.1 cpu_on=0xc4000003 cpu_off=0x84000002",
                "4 of 4 CPUs online: 0-3",
                "cpu=1 mpidr=0x1 method=psci state=online ",
                "hotslab> cpu off 1",
                "cpu off 1: done in",
                NOT_CONFIRMED,
                "cpu=1 mpidr=0x1 method=psci state=offline shell=no parked=no absent=no \
                 unconfirmed=yes",
                "cpu on 1: done in",
                "RESULT hotplug PASS cycles=3 ops=18 cpus=3",
                "hotslab> poweroff",
            ],
            forbid: &[
                "Oops:",
                "PSCI 0.1 ('arm,psci' alone) is not supported",
                "CPU_OFF failed",
                "PSCI_VERSION failed",
            ],
            timeout: QUICK,
            ..base
        },
        Case {
            name: "psci-0.1-qemu-own-0.1-numbers",
            about: "PSCI 0.1 with QEMU's own PSCI 0.1 numbers (CPU_ON 0x95c1ba60, CPU_OFF \
                    0x95c1ba5f), which no PSCI 0.2 caller uses: the CPUs come up, and one goes \
                    down and up again.",
            qemu_args: unedited_dtb("qemu-virt-psci-0.1-qemu-numbers.dtb"),
            expect: &[
                "psci: Hvc conduit, version 0.1 (the device tree's; no PSCI_VERSION): \
                 cpu_off 0x95c1ba5f, cpu_on 0x95c1ba60",
                "4 of 4 CPUs online: 0-3",
                "cpu off 2: done in",
                "cpu=2 mpidr=0x2 method=psci state=offline shell=no parked=no absent=no \
                 unconfirmed=yes",
                "cpu on 2: done in",
                "RESULT hotplug PASS cycles=1",
                "hotslab> poweroff",
            ],
            timeout: QUICK,
            ..base
        },
        Case {
            name: "psci-0.1-cpu-on-number-unanswered",
            about: "PSCI 0.1 whose cpu_on is 0x95c1ba61 (QEMU's PSCI 0.1 MIGRATE, which it \
                    answers NOT_SUPPORTED): the kernel calls that number, not the standard \
                    CPU_ON, so no CPU comes up, each saying why; the boot CPU runs the shell.",
            qemu_args: unedited_dtb("qemu-virt-psci-0.1-cpu-on-unanswered.dtb"),
            expect: &[
                "cpu1: PSCI CPU_ON for MPIDR 0x1 failed: PSCI call not supported; cpu1 stays \
                 offline",
                "cpu3: PSCI CPU_ON for MPIDR 0x3 failed: PSCI call not supported; cpu3 stays \
                 offline",
                "1 of 4 CPUs online: 0",
                "cpu=1 mpidr=0x1 method=psci state=offline ",
                "hotslab> cpu on 1",
                "cpu1: PSCI CPU_ON for MPIDR 0x1 failed: PSCI call not supported; cpu1 is \
                 offline now",
                "hotslab> poweroff",
            ],
            timeout: QUICK,
            ..base
        },
        Case {
            name: "psci-0.1-without-cpu-on",
            about: "PSCI 0.1 without a cpu_on number: the tree is read, the problem said, and \
                    every other CPU says in `cpus` why it can never come online.",
            qemu_args: unedited_dtb("qemu-virt-psci-0.1-no-cpu-on.dtb"),
            expect: &[
                "device tree: /psci: PSCI 0.1 without cpu_on: no CPU can be started through it",
                "psci=hvc version=0.1 cpu_on=none cpu_off=0x84000002",
                "1 of 4 CPUs online: 0",
                "cpu=1 mpidr=0x1 method=psci state=offline shell=no parked=no \
                 absent=psci-0.1-without-cpu-on",
                "hotslab> cpu on 1",
                "cpu: cpu1 cannot come online: enable-method psci, but /psci is PSCI 0.1 \
                 without a cpu_on function number",
                "hotslab> poweroff",
            ],
            timeout: QUICK,
            ..base
        },
        Case {
            name: "psci-0.1-without-cpu-off",
            about: "PSCI 0.1 without a cpu_off number: the CPUs come up, and `cpu off` is \
                    refused before anything is done, saying why, the shell's own CPU's too \
                    (the shell does not move); the CPUs stay online.",
            qemu_args: unedited_dtb("qemu-virt-psci-0.1-no-cpu-off.dtb"),
            expect: &[
                "device tree: /psci: PSCI 0.1 without cpu_off: no CPU can be taken offline \
                 through it",
                "4 of 4 CPUs online: 0-3",
                "hotslab> cpu off 1",
                "cpu: cpu1 cannot be taken offline: /psci is PSCI 0.1 without a cpu_off \
                 function number",
                "hotslab> cpu off 0",
                "cpu: cpu0 cannot be taken offline: /psci is PSCI 0.1 without a cpu_off \
                 function number",
                "cpu=0 mpidr=0x0 method=psci state=online shell=yes",
                "cpu=1 mpidr=0x1 method=psci state=online shell=no",
                "hotslab> poweroff",
            ],
            forbid: &["Oops:", "cpu off 1: done", "the shell moves to"],
            timeout: QUICK,
            ..base
        },
    ]
}
