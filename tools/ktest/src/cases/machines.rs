//! Machines and trees nobody here wrote: QEMU's xlnx-versal-virt with the tree QEMU makes
//! for it (names longer than 31 characters), QEMU's raspi3b with Linux's own
//! bcm2837-rpi-3-b.dtb (no GIC: one CPU), and QEMU's virt tree with the CPUs' enable
//! methods taken out. Each reaches the shell, and `cpus` says why CPUs stay off.

use crate::case::Case;

pub fn cases(base: Case) -> Vec<Case> {
    vec![
        Case {
            name: "versal-virt-own-tree",
            about: "QEMU's own tree for the board: a PL011, a GICv3, PSCI over SMC, entered at \
                    EL2; its USB node has `snps,quirk-frame-length-adjustment` (34 characters).",
            machine: "xlnx-versal-virt",
            // The board counts its Cortex-R5s too: it wants at least 4; two are A72s.
            smp: 4,
            bootargs: "run=\"dt --raw; cpus --raw; cpu off 1; cpu on 1; ipi 1; stress fpsimd 3; \
                       poweroff\"",
            expect: &[
                "hotslab 0.1.0 on Xilinx Versal Virtual development board",
                "entered at EL2, now EL1",
                "uart=uart@ff000000 kind=pl011 base=0xff000000 size=0x1000 console=yes",
                "gic=v3 distributor=0xf9000000 distributor_size=0x10000",
                "gic_security=non-secure",
                "psci=smc ",
                "cpu=1 mpidr=0x1 method=psci state=online",
                "cpu off 1: done in",
                "cpu on 1: done in",
                "ipi 1: 100 round trips",
                "RESULT stress-fpsimd PASS",
                "hotslab> poweroff",
            ],
            forbid: &["Oops:", "malformed"],
            ..base
        },
        Case {
            name: "rpi3b-linux-tree-without-gic",
            about: "Linux's tree for a Raspberry Pi 3 on QEMU's board: both UARTs, spin-table \
                    CPUs, but the BCM2836 interrupt controller rather than a GIC.",
            machine: "raspi3b",
            dtb: Some("linux/broadcom/bcm2837-rpi-3-b.dtb"),
            bootargs: "run=\"cpus --raw; cpu on 1; cpu on 0; mem --raw; poweroff\"",
            expect: &[
                "hotslab 0.1.0 on Raspberry Pi 3 Model B",
                "the device tree describes no GIC; running on cpu0 alone",
                "cpu=0 mpidr=0x0 method=spin-table state=online shell=yes",
                "cpu=1 mpidr=0x1 method=spin-table state=offline shell=no parked=no \
                 absent=no-interrupt-controller",
                "cpu: cpu1 cannot come online: no interrupt controller this kernel drives",
                "cpu: cpu0 is online",
                "hotslab> poweroff",
            ],
            ..base
        },
        Case {
            name: "virt-cpus-without-enable-method",
            about: "QEMU's virt tree with the enable methods taken out: the shell runs on the \
                    boot CPU, and `cpus` says why the others stay off.",
            dtb: Some("qemu-virt-no-enable-method.dtb"),
            bootargs: "run=\"cpus --raw; cpu on 2; ipi 1; poweroff\"",
            expect: &[
                "cpu=0 mpidr=0x0 method=psci state=online shell=yes",
                "cpu=1 mpidr=0x1 method=none state=offline shell=no parked=no \
                 absent=no-enable-method",
                "cpu=3 mpidr=0x3 method=none state=offline shell=no parked=no \
                 absent=no-enable-method",
                "1 of 4 CPUs online: 0",
                "cpu: cpu2 cannot come online: the device tree gives it no enable-method",
                "ipi: cpu 1 offline",
                "hotslab> poweroff",
            ],
            ..base
        },
    ]
}
