//! QEMU's raspi4b (four A72s, entered at EL2, secondaries on the firmware's spin table): the
//! same Image, with the project's tree or the upstream firmware's.

use std::time::Duration;

use crate::case::{Board, Case};
use crate::checks::free_pages_unchanged;

pub fn cases(base: Case) -> Vec<Case> {
    let rpi4 = base.on(&Board::RPI4, "");
    vec![
        Case {
            name: "rpi4-spin-table-park-and-release",
            about: "Each secondary parks and is released again, the boot CPU included; SGIs \
                    reach every core through the GIC-400's CPU-interface masks.",
            bootargs: "run=\"dt --raw; cpus --raw; ipi 1; ipi 2; ipi 3; cpu off 1; cpu off 2; \
                       cpu off 3; cpus --raw; cpu on 1; cpu on 2; cpu on 3; cpu off 0; cpu on 0; \
                       cpus --raw; ipi 2; poweroff\"",
            expect: &[
                "hotslab 0.1.0 on Raspberry Pi 4 Model B",
                "entered at EL2, now EL1; image at [0x0000080000-",
                "cpu3: online (spin-table, MPIDR 0x3)",
                // The console's clock, with which the kernel sets 115200 baud.
                "uart=serial@7e201000 kind=pl011 base=0xfe201000 size=0x200 console=yes irq=153 \
                 clock_hz=48000000",
                "uart=serial@7e215040 kind=mini-uart base=0xfe215040 size=0x40 console=no",
                "watchdog=0xfe100000 size=0x114",
                "gic=v2 distributor=0xff841000 distributor_size=0x1000",
                "gic_security=single",
                "psci=none",
                "cpu=3 mpidr=0x3 method=spin-table state=online",
                "ipi 1: 100 round trips",
                "ipi 3: 100 round trips",
                "cpu=1 mpidr=0x1 method=spin-table state=offline shell=no parked=yes",
                "cpu=3 mpidr=0x3 method=spin-table state=offline shell=no parked=yes",
                "cpu on 1: done in",
                "cpu on 3: done in",
                "cpu off 0: done in",
                "(shell now on cpu1)",
                "cpu on 0: done in",
                "4 of 4 CPUs online: 0-3",
                "ipi 2: 100 round trips",
                "hotslab> poweroff",
            ],
            ..rpi4
        },
        Case {
            name: "rpi4-hotplug-50-and-slab-stress",
            about: "Fifty hotplug cycles of the three secondaries through the spin table, then \
                    the 2004 scenario with the fix on: no race, no page lost.",
            bootargs: "run=\"mem --raw; hotplug 50; mem --raw; stress slab-hotplug 20; poweroff\"",
            expect: &[
                "RESULT hotplug PASS cycles=50 ops=300 cpus=3",
                "lost=(none)",
                "hotplug_lock=on",
                "RESULT stress-slab-hotplug PASS",
                "race1=0 race2=0 invariant_breaks=0 pages_leaked=0 objects_leaked=0",
            ],
            check: Some(free_pages_unchanged),
            timeout: Duration::from_secs(240),
            ..rpi4
        },
        Case {
            name: "rpi4-poweroff-refused-reboot-by-watchdog",
            about: "Without semihosting nothing can power a Pi off, and it says so; reboot goes \
                    through the SoC's watchdog (-no-reboot makes QEMU exit on the reset).",
            semihosting: false,
            qemu_args: &["-no-reboot"],
            bootargs: "run=\"poweroff; cpus --raw; reboot\"",
            expect: &[
                "poweroff: nothing can power this machine off",
                "cpu=0 mpidr=0x0 method=spin-table state=online shell=yes",
                "hotslab> reboot",
            ],
            ..rpi4
        },
        Case {
            name: "rpi4-oops-symbolised-then-reboot",
            about: "The image runs 1 GiB below its link address here: the Oops still \
                    symbolises; then panic=reboot resets the SoC through the watchdog.",
            semihosting: false,
            qemu_args: &["-no-reboot"],
            bootargs: "panic=reboot run=\"crash null\"",
            expect: &[
                "Oops: cpu0: synchronous exception from EL1: data abort",
                "(image at 0x80000, linked at 0x40080000)",
                "in hotslab::arch::aarch64::exceptions::provoke at src/arch/aarch64/exceptions.rs:",
                "cpu0: rebooting (panic=reboot)",
            ],
            forbid: &[],
            ..rpi4
        },
        Case {
            name: "rpi4-upstream-dtb-mini-uart",
            about: "The firmware's tree as distributions ship it: its stdout-path is the mini \
                    UART, and QEMU's edits leave FDT_NOP tokens in it.",
            dtb: Some("upstream/bcm2711-rpi-4-b.dtb"),
            bootargs: "run=\"dt --raw; cpus --raw; cpu off 2; cpu on 2; ipi 3; poweroff\"",
            expect: &[
                "stdout_path=serial1",
                // Its clock unknown: the firmware's baud rate is kept.
                "uart=serial@7e215040 kind=mini-uart base=0xfe215040 size=0x40 console=yes \
                 irq=125 clock_hz=none",
                "cpu=2 mpidr=0x2 method=spin-table state=online",
                "cpu on 2: done in",
                "ipi 3: 100 round trips",
                "hotslab> poweroff",
            ],
            forbid: &["Oops:", "device tree: "],
            ..rpi4
        },
        Case {
            name: "rpi4-upstream-dtb-console-bootarg",
            about: "`console=serial0` moves the console from the firmware's mini UART to the \
                    PL011.",
            dtb: Some("upstream/bcm2711-rpi-4-b.dtb"),
            bootargs: "console=serial0,115200 run=\"dt --raw; poweroff\"",
            expect: &[
                "uart=serial@7e201000 kind=pl011 base=0xfe201000 size=0x200 console=yes",
                "uart=serial@7e215040 kind=mini-uart base=0xfe215040 size=0x40 console=no",
                "hotslab> poweroff",
            ],
            ..rpi4
        },
    ]
}
