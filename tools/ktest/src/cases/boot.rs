//! Booting: virt with each GIC version, entered at EL1 and at EL2, with 1, 4 and 20 CPUs;
//! the shell driven by `run=` and typed on the serial line; a relocated Image; reboot; and
//! the two ways a boot cannot start (a tree without a UART, no tree at all).

use crate::case::{Case, Kernel};

pub fn cases(base: Case) -> Vec<Case> {
    vec![
        Case {
            name: "virt-gicv2-el1-4cpus-shell",
            about: "Boots virt with a GICv2 at EL1 on four CPUs; help, dt, cpus, mem and dmesg \
                    say what the device tree gave, and a bad command or argument is refused by \
                    name.",
            bootargs: "run=\"help; dt; cpus; mem; dmesg; bogus; cpus extra; crash sideways; poweroff\"",
            expect: &[
                "entered at EL1, now EL1",
                "psci: Hvc conduit, version",
                "hotslab> help",
                "crash null|undefined|stack|serror|locked|fpsimd|panic",
                "gic:         GICv2, distributor [0x0008000000-0x000800ffff]",
                "GICv2, no security extensions; CPUs possible 0-3, present 0-3",
                "security: no security extensions: every register ours",
                "console:     pl011@9000000",
                "memory:      [0x0040000000-0x005fffffff] (512 MiB)",
                "  3  0x3          psci         online",
                "  0  0x0          psci         online",
                "  total       131072  (512 MiB)",
                "cpu0: 4 CPU(s) in the device tree",
                "bogus: unknown command",
                "cpus: too many arguments (at most 0)",
                "crash: argument 1 'sideways': expected null, undefined, stack, serror, locked, fpsimd or panic",
                "usage: crash null|undefined|stack|serror|locked|fpsimd|panic",
                "hotslab> poweroff",
            ],
            ..base
        },
        Case {
            name: "virt-gicv3-el2-4cpus",
            about: "Entered at EL2, the kernel drops to EL1 and finds a GICv3 and PSCI over \
                    SMC.",
            machine: "virt,gic-version=3,virtualization=on",
            bootargs: "run=\"dt; cpus; poweroff\"",
            expect: &[
                "entered at EL2, now EL1",
                "gic:         GICv3",
                "GICv3, one security state; CPUs possible 0-3",
                "security: one security state: GICD_CTLR.DS=1",
                "psci: Smc conduit",
                "psci:        Smc",
            ],
            ..base
        },
        Case {
            name: "virt-gicv3-el2-20cpus",
            about: "Twenty CPUs across two clusters (MPIDR 0x100 onward) all come online.",
            machine: "virt,gic-version=3,virtualization=on",
            smp: 20,
            bootargs: "run=\"cpus; poweroff\"",
            expect: &[
                "20 CPU(s) in the device tree",
                " 16  0x100        psci         online",
                " 19  0x103        psci         online",
            ],
            ..base
        },
        Case {
            name: "virt-1cpu-cortex-a53",
            about: "One Cortex-A53 and no enable method: the shell runs, and `cpu on 0` says \
                    the CPU is online.",
            cpu: "cortex-a53",
            smp: 1,
            bootargs: "run=\"cpus; mem; cpu on 0; poweroff\"",
            expect: &[
                "1 CPU(s) in the device tree",
                "  0  0x0          none         online",
                // Online first: that it has no enable method does not matter here.
                "cpu: cpu0 is online",
            ],
            ..base
        },
        Case {
            name: "relocated-image",
            about: "Running 4 MiB above its link address, the Oops still symbolises: the report \
                    says where the image is, and the addresses are moved back before lookup.",
            kernel: Kernel::Relocated,
            bootargs: "panic=poweroff run=\"mem; crash null\"",
            expect: &[
                "relocated by 0x400000",
                "[0x0040480000-",
                "(image at 0x40480000, linked at 0x40080000)",
                "in hotslab::arch::aarch64::exceptions::provoke at src/arch/aarch64/exceptions.rs:",
            ],
            forbid: &[],
            exit_code: 1,
            ..base
        },
        Case {
            name: "reboot",
            about: "The machine resets and boots the kernel again, which reboots again: seeing \
                    the second boot is the proof.",
            bootargs: "run=\"reboot\"",
            expect: &["hotslab> reboot"],
            until: Some(("cpu0: hotslab 0.", 2)),
            ..base
        },
        Case {
            name: "typed-line-editing",
            about: "The shell typed on the serial line: backspace and Ctrl-C work, an arrow \
                    key is swallowed, and an unknown boot option is warned about.",
            bootargs: "bogus-option",
            typed: b"cpz\x7fus\rmem\x03dmesg\r\x1b[Apoweroff\r",
            expect: &[
                "bootargs: 'bogus-option': unknown option, ignored",
                "CPU  MPIDR",
                "mem^C",
                "bogus-option",
            ],
            forbid: &["cpz: unknown", "memdmesg"],
            ..base
        },
        Case {
            name: "device-tree-without-uart",
            about: "A tree that names no UART: the kernel says so over semihosting and stops.",
            dtb: Some("virt-no-uart.dtb"),
            expect: &[
                "hotslab: cannot boot: the device tree at 0x",
                "names no UART",
            ],
            forbid: &["hotslab>"],
            exit_code: 1,
            ..base
        },
        Case {
            name: "no-device-tree-pointer",
            about: "Entered with x0 = 0 (the ELF, no tree): the kernel says there is no device \
                    tree and stops.",
            kernel: Kernel::Elf,
            expect: &["hotslab: cannot boot: no device tree: x0 was 0 at entry"],
            forbid: &["hotslab>"],
            exit_code: 1,
            ..base
        },
    ]
}
