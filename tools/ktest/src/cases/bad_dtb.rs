//! The QEMU cases of device trees with one semantic mistake each: QEMU's own virt tree
//! (dumped and edited by the Makefile into build/dts/qemu-virt-*.dtb) without /psci,
//! /memory, /cpus or its UART, with an interrupt controller nobody knows, with a
//! stdout-path to nowhere, and a machine with more CPUs than the kernel's limit. Each must
//! end with a message that says what is wrong (over semihosting when there is no UART),
//! then either a working shell on what could be found, or a stop within seconds: never a
//! hang, never a panic. (A CPU with a wrong MPIDR is `wrong-mpidr-rolls-back`.)
//!
//! QEMU's boot code adds /memory and /psci to a tree given with `-dtb`, so the trees
//! without them are loaded unedited with QEMU's generic loader instead, and CPU 0 enters
//! the kernel through a six-instruction stub, as QEMU's own boot code would do.

use std::time::Duration;

use crate::case::Case;

/// Where an unedited tree is loaded, the stub that enters the kernel with x0 pointing at
/// it, and where QEMU loads the Image (RAM base plus the header's text_offset). All clear
/// of where QEMU itself puts its own tree (128 MiB into RAM).
const UNEDITED_DTB_AT: u64 = 0x5000_0000;
const STUB_AT: u64 = 0x4fff_f000;
const IMAGE_AT: u64 = 0x4008_0000;

/// `movz xN, #(value >> 16), lsl #16`, for a value with its low 16 bits clear.
const fn movz_hi(register: u32, value: u64) -> u32 {
    assert!(value & 0xffff == 0 && value >> 32 == 0);
    0xd2a0_0000 | (((value >> 16) as u32) << 5) | register
}

/// x0 = the tree, x1-x3 = 0 (the arm64 boot protocol), then a branch to the Image.
const STUB: [u32; 6] = [
    movz_hi(0, UNEDITED_DTB_AT),
    0xaa1f_03e1, // mov x1, xzr
    0xaa1f_03e2, // mov x2, xzr
    0xaa1f_03e3, // mov x3, xzr
    movz_hi(4, IMAGE_AT),
    0xd61f_0080, // br x4
];

/// QEMU options that load build/dts/`name` unedited and start CPU 0 in the stub.
pub(super) fn unedited_dtb(name: &str) -> &'static [&'static str] {
    let dtb = format!(
        "{}/../../build/dts/{name}",
        env!("CARGO_MANIFEST_DIR").trim_end_matches('/')
    );
    let mut args = vec![
        "-device".to_string(),
        format!("loader,file={dtb},addr={UNEDITED_DTB_AT:#x},force-raw=on"),
    ];
    for (i, pair) in STUB.chunks(2).enumerate() {
        let word = u64::from(pair[0]) | u64::from(pair[1]) << 32;
        args.push("-device".to_string());
        args.push(format!(
            "loader,addr={:#x},data={word:#x},data-len=8",
            STUB_AT + 8 * i as u64
        ));
    }
    args.push("-device".to_string());
    args.push(format!("loader,addr={STUB_AT:#x},cpu-num=0"));
    args.into_iter()
        .map(|a| &*a.leak())
        .collect::<Vec<&'static str>>()
        .leak()
}

/// How long a case may take: a stop must come within seconds, and so must a short script.
const QUICK: Duration = Duration::from_secs(20);

pub fn cases(base: Case) -> Vec<Case> {
    let shell = "run=\"dt --raw; cpus --raw; cpu on 1; ipi 1; hotplug 1; mem --raw; poweroff\"";
    vec![
        Case {
            name: "bad-dtb-no-psci",
            about: "The CPUs say psci, but nothing says how to call it: they cannot be started, \
                    and the kernel says so; it runs on the boot CPU and powers off by \
                    semihosting.",
            qemu_args: unedited_dtb("qemu-virt-no-psci.dtb"),
            expect: &[
                "device tree: /psci: 4 CPU(s) say enable-method psci, but there is no usable \
                 /psci node: they cannot be started",
                "1 of 4 CPUs online: 0",
                "psci=none",
                "cpu=1 mpidr=0x1 method=psci state=offline shell=no parked=no \
                 absent=psci-without-node",
                "hotslab> cpu on 1",
                "cpu: cpu1 cannot come online: enable-method psci, but no /psci node the kernel \
                 can call",
                "hotslab> poweroff",
            ],
            timeout: QUICK,
            ..base
        },
        Case {
            name: "bad-dtb-no-memory",
            about: "Nothing to run in: said on the UART the tree names, then a stop.",
            qemu_args: unedited_dtb("qemu-virt-no-memory.dtb"),
            expect: &[
                "hotslab: cannot boot: device tree at 0x50000000: device tree has no usable \
                 /memory node",
            ],
            forbid: &["Oops:", "hotslab>"],
            exit_code: 1,
            timeout: QUICK,
            ..base
        },
        Case {
            name: "bad-dtb-no-memory-said-on-the-uart",
            about: "No memory, without semihosting, as on a board: the message must come from the \
                    UART (the stop is then a halt, so the run ends once it is seen).",
            qemu_args: unedited_dtb("qemu-virt-no-memory.dtb"),
            semihosting: false,
            until: Some(("device tree has no usable /memory node", 1)),
            forbid: &["Oops:", "hotslab>"],
            timeout: QUICK,
            ..base
        },
        Case {
            name: "bad-dtb-no-cpus",
            about: "A tree without /cpus: said, and the kernel runs on the boot CPU alone.",
            dtb: Some("qemu-virt-no-cpus.dtb"),
            bootargs: shell,
            expect: &[
                "device tree: /cpus: no CPU nodes: the boot CPU runs alone",
                "1 of 1 CPUs online: 0",
                "hotslab> cpu on 1",
                "hotslab> hotplug 1",
                "hotslab> poweroff",
            ],
            timeout: QUICK,
            ..base
        },
        Case {
            name: "bad-dtb-no-uart",
            about: "stdout-path and the serial0 alias name a UART that is not there, and no \
                    other is: said over semihosting, then a stop.",
            dtb: Some("qemu-virt-no-uart.dtb"),
            bootargs: shell,
            expect: &[
                "hotslab: cannot boot: the device tree at 0x",
                "names no UART this kernel drives",
            ],
            forbid: &["Oops:", "hotslab>"],
            exit_code: 1,
            timeout: QUICK,
            ..base
        },
        Case {
            name: "bad-dtb-unknown-gic",
            about: "A GIC the kernel has no driver for: no interrupts, so no other CPU, no \
                    cross-calls; the shell still runs on the boot CPU and says why not.",
            dtb: Some("qemu-virt-unknown-gic.dtb"),
            bootargs: shell,
            expect: &[
                "interrupt controller: the device tree describes no GIC; running on cpu0 alone",
                "gic=none",
                "hotslab> cpu on 1",
                "hotslab> ipi 1",
                "hotslab> hotplug 1",
                "hotslab> poweroff",
            ],
            timeout: QUICK,
            ..base
        },
        Case {
            name: "bad-dtb-dangling-stdout-path",
            about: "stdout-path leads nowhere: reported, and the first UART is the console.",
            dtb: Some("qemu-virt-dangling-stdout-path.dtb"),
            bootargs: "run=\"dt --raw; cpus --raw; poweroff\"",
            expect: &[
                "device tree: /chosen: stdout-path '/uart@7770000' names no UART this kernel \
                 drives",
                "stdout_path=/uart@7770000",
                "uart=pl011@9000000 kind=pl011 base=0x9000000 size=0x1000 console=yes",
                "4 of 4 CPUs online: 0-3",
                "hotslab> poweroff",
            ],
            timeout: QUICK,
            ..base
        },
        Case {
            name: "bad-dtb-520-cpus-beyond-the-limit",
            about: "QEMU's tree for 512 CPUs with eight more CPU nodes after its last (at \
                    MPIDRs 0x2000-0x2007): the kernel takes the first 512, its ceiling, says \
                    it left 8 out, and runs them; the last of them goes off and on again.",
            machine: "virt,gic-version=3",
            smp: 512,
            memory: "2G",
            dtb: Some("qemu-virt-520cpus.dtb"),
            bootargs: "run=\"cpu off 511; cpu on 511; poweroff\"",
            expect: &[
                "device tree: 8 CPUs beyond the limit of 512 left out",
                "512 CPU(s) in the device tree",
                "cpu511: online (psci, MPIDR 0x1f0f)",
                "512 of 512 CPUs online: 0-511",
                "cpu off 511: done in",
                "cpu on 511: done in",
                "hotslab> poweroff",
            ],
            forbid: &["Oops:", "0x2000"],
            timeout: Duration::from_secs(120),
            ..base
        },
    ]
}
