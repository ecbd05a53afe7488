//! The Raspberry Pi 4's real boot chains on QEMU's raspi4b: Trusted Firmware-A's BL31 as
//! the ARM stub (PSCI over SMC), U-Boot booting the kernel from `make sdcard`'s card image
//! by itself, and both together; Debian's builds of each, as a card carries them.

use std::time::Duration;

use crate::case::{Board, Case, Chain, Kernel};

/// What the chain through BL31 must show of it: BL31's own lines, the tree it edited, and
/// the kernel entered at EL2 with PSCI over SMC and every CPU started by CPU_ON.
const THROUGH_TF_A: [&str; 6] = [
    "BL31: v2.8(debug)",
    "Changed device tree to advertise PSCI.",
    "entered at EL2, now EL1",
    "cpu0: psci: Smc conduit, version 1.1",
    "cpu2: online (psci, MPIDR 0x2)",
    "4 of 4 CPUs online: 0-3",
];

/// What none of them may show. BL31 prints warnings of its own ("WARNING: BL31:
/// cortex_a72: CPU workaround for 1319367 was missing!"): the kernel's are the lock
/// validator's, named here.
const FORBID: [&str; 7] = [
    "Oops:",
    "BUG:",
    "BROKEN",
    "WARNING: possible",
    "WARNING: inconsistent",
    "WARNING: bad unlock",
    "WARNING: held lock",
];

pub fn cases(base: Case) -> Vec<Case> {
    let rpi4 = base.on(&Board::RPI4, "");
    vec![
        Case {
            name: "rpi4-tf-a-psci",
            about: "Through TF-A's BL31, loaded as the VideoCore firmware loads an ARM stub: \
                    PSCI over SMC, its reserved memory kept, every CPU started by CPU_ON, \
                    CPU_OFF confirmed by AFFINITY_INFO; CPU_ON after it, which QEMU cannot \
                    serve (no warm reset on RMR_EL3), says so, and the kernel stays whole.",
            kernel: Kernel::Through(Chain::TfA),
            // The firmware's reset through the SoC's watchdog, at PSCI SYSTEM_OFF, ends QEMU.
            qemu_args: &["-no-reboot"],
            bootargs: "lockdep run=\"dt --raw; mem --raw; cpu off 2; cpus --raw; cpu on 2; cpus --raw; \
                       slab check; cpu on 2; slab check; ipi 1; ipi 3; slab create t 64; \
                       slab alloc t 100; slab free t 100; slab destroy t; poweroff\"",
            expect: &[
                THROUGH_TF_A[0],
                THROUGH_TF_A[1],
                THROUGH_TF_A[2],
                THROUGH_TF_A[3],
                THROUGH_TF_A[4],
                THROUGH_TF_A[5],
                "psci=smc version=1.1",
                "reserved=0x0 size=0x80000 name=atf@0 no_map=yes",
                // The page allocator keeps BL31's memory out.
                "kept=0x0 size=0x80000 what=atf@0",
                "cpu off 2: done in",
                // Off, and confirmed so (AFFINITY_INFO said OFF).
                "cpu=2 mpidr=0x2 method=psci state=offline shell=no parked=no absent=no \
                 unconfirmed=no",
                "cpu: cpu2 did not come online within 5000 ms (the firmware says ON_PENDING \
                 (AFFINITY_INFO): it took the CPU_ON, but the core never left the firmware; \
                 likely cause: Trusted Firmware-A's Raspberry Pi port powers a core off by a \
                 warm reset through RMR_EL3",
                "QEMU ignores RMR_EL3",
                "cpu2 is offline now",
                // UP_CANCELED gave its arrays back, once: as many as the CPUs up need.
                "slab check: 24 per-CPU arrays out, as needed (8 caches x 3 CPUs)",
                "slab check: every cache has an array for every CPU from UP_PREPARE to DEAD",
                // Tried again: the firmware still has it pending; nothing else changes.
                "PSCI CPU_ON for MPIDR 0x2 failed: Core already being turned on (ON_PENDING",
                "ipi 1: 100 round trips",
                "ipi 3: 100 round trips",
                "slab destroy t: done",
                "hotslab> poweroff",
                "rpi3: PSCI_SYSTEM_OFF",
            ],
            forbid: &FORBID,
            timeout: Duration::from_secs(90),
            ..rpi4
        },
        Case {
            name: "rpi4-u-boot-card",
            about: "U-Boot, as the firmware's kernel, finds the kernel on make sdcard's card \
                    image and boots it by itself (extlinux.conf); hotplug through the spin \
                    table and the 2004 scenario with the fix on.",
            kernel: Kernel::Through(Chain::UBoot),
            dtb: Some("upstream/bcm2711-rpi-4-b.dtb"),
            typed: b"hotplug 20\rstress slab-hotplug 10\rslab check\rpoweroff\r",
            expect: &[
                "U-Boot 2023.01",
                "Retrieving file: /extlinux/extlinux.conf",
                "Starting kernel ...",
                "entered at EL2, now EL1",
                "bootargs \"run=\"cpus\"\"",
                "cpu3: online (spin-table, MPIDR 0x3)",
                "RESULT hotplug PASS cycles=20 ops=120 cpus=3",
                "RESULT stress-slab-hotplug PASS",
                "race1=0 race2=0 invariant_breaks=0 pages_leaked=0 objects_leaked=0",
                "slab check: 32 per-CPU arrays out, as needed (8 caches x 4 CPUs)",
                "hotslab> poweroff",
            ],
            forbid: &FORBID,
            timeout: Duration::from_secs(180),
            ..rpi4
        },
        Case {
            name: "rpi4-tf-a-u-boot-card",
            about: "Both chains as a card with both boots: BL31, then U-Boot from the \
                    firmware's kernel address, then the kernel from the card, with PSCI.",
            kernel: Kernel::Through(Chain::TfAUBoot),
            dtb: Some("upstream/bcm2711-rpi-4-b.dtb"),
            qemu_args: &["-no-reboot"],
            typed: b"cpus --raw\rslab check\rpoweroff\r",
            expect: &[
                THROUGH_TF_A[0],
                THROUGH_TF_A[1],
                "U-Boot 2023.01",
                "Retrieving file: /extlinux/extlinux.conf",
                "Starting kernel ...",
                THROUGH_TF_A[2],
                THROUGH_TF_A[3],
                THROUGH_TF_A[4],
                THROUGH_TF_A[5],
                "cpu=3 mpidr=0x3 method=psci state=online",
                "slab check: 32 per-CPU arrays out, as needed (8 caches x 4 CPUs)",
                "hotslab> poweroff",
            ],
            forbid: &FORBID,
            timeout: Duration::from_secs(120),
            ..rpi4
        },
    ]
}
