//! The GDB cases: attached to a running kernel (every vCPU a thread; kcpus, kslabinfo
//! finding a cache the boot script made, kdmesg, khotplug), from a halted start to a
//! breakpoint in the secondary entry, which must be hit on the thread of the CPU brought
//! up, and stepping from the first instruction through the EL2 to EL1 drop to Rust with
//! the MMU on.

use crate::gdb::GdbCase;

pub fn cases() -> Vec<GdbCase> {
    vec![
        GdbCase {
            name: "gdb-attach-running-kernel",
            about: "gdb attached to a running kernel: every vCPU a thread, and kcpus, \
                    kslabinfo, kdmesg and khotplug read the kernel's state.",
            machine: "virt,gic-version=2",
            halted: false,
            bootargs: "run=\"slab create gdbprobe 200; slab alloc gdbprobe 3; cpu off 2\"",
            ready: Some("cpu off 2: done in"),
            commands: &[
                "info threads",
                "kcpus --raw",
                "kslabinfo --raw",
                "kdmesg",
                "khotplug --raw",
            ],
            expect: &[
                "hotslab: 4 vCPU(s) as GDB threads 1-4; symbols at offset 0x0",
                "Thread 1.4 (CPU#3",
                "cpu=0 mpidr=0x0 method=psci state=online parked=no online=yes thread=1",
                "cpu=2 mpidr=0x2 method=psci state=offline parked=no online=no thread=3",
                "cpu=3 mpidr=0x3 method=psci state=online parked=no online=yes thread=4",
                "cache=gdbprobe objsize=200 ",
                "cache=kmalloc-64 ",
                "cpu0: hotslab 0.1.0 on linux,dummy-virt",
                "slab create gdbprobe",
                "lock=hotplug readers=0 writer=none ",
            ],
        },
        GdbCase {
            name: "gdb-halted-start-secondary-entry",
            about: "gdb from a halted start: the kernel commands say it is too early, and a \
                    breakpoint in the secondary entry is hit on the thread of the CPU brought \
                    up.",
            machine: "virt,gic-version=2",
            halted: true,
            // One secondary at boot: the others, started at once with it, could reach the
            // breakpoint first.
            bootargs: "maxcpus=2",
            ready: None,
            commands: &[
                "kcpus --raw",
                "kdmesg",
                "hbreak secondary_entry",
                "continue",
                "kcpus --raw",
            ],
            expect: &[
                "kcpus: the kernel is too early in boot",
                "kdmesg: the kernel is too early in boot",
                // (Where the linker puts it among the entry code varies from build to build.)
                "Thread 2 hit Breakpoint 1, 0x00000000400",
                " in secondary_entry ()",
                "cpu=1 mpidr=0x1 method=psci state=booting",
            ],
        },
        GdbCase {
            name: "gdb-step-from-entry-into-rust-then-interrupt",
            about: "The walk-through of docs/debugging.md: from the first instruction at \
                    EL2, a step into the entry code, through the drop to EL1, to Rust with the \
                    MMU on, then running, stopped with Ctrl-C (SIGINT to gdb), and the kernel \
                    commands.",
            machine: "virt,gic-version=2,virtualization=on",
            halted: true,
            bootargs: "run=\"slab create stepprobe 100\"",
            ready: None,
            commands: &[
                "hbreak *0x40080000",
                "continue",
                "stepi",
                "print/x $cpsr & 0xc",
                "print/x $SCTLR & 1",
                "hbreak cpu_early_setup",
                "continue",
                "print/x $cpsr & 0xc",
                "hbreak hotslab::boot::kernel_main",
                "continue",
                "print/x $SCTLR & 1",
                "backtrace",
                "delete",
                "python import os, signal, threading; \
                 threading.Timer(3, os.kill, (os.getpid(), signal.SIGINT)).start()",
                "continue",
                "kcpus --raw",
                "kslabinfo --raw",
                "kdmesg",
                "khotplug --raw",
            ],
            expect: &[
                "Thread 1 hit Breakpoint 1, 0x0000000040080000 in _start ()",
                "in primary_entry ()",
                // CurrentEL 2 at entry, with the MMU off.
                "$1 = 0x8",
                "$2 = 0x0",
                "Thread 1 hit Breakpoint 2, 0x",
                "in cpu_early_setup ()",
                // After the eret: EL1.
                "$3 = 0x4",
                "Thread 1 hit Breakpoint 3, hotslab::boot::kernel_main (",
                // In Rust, with the MMU on, on the boot CPU's own stack; the backtrace
                // ends cleanly where boot moved onto it.
                "$4 = 0x1",
                "in hotslab::arch::aarch64::boot::boot_on_own_stack (",
                "in run_on_stack ()\n",
                "received signal SIGINT, Interrupt.",
                "cpu=1 mpidr=0x1 method=psci state=online parked=no online=yes thread=2",
                "cache=stepprobe objsize=100 ",
                "cpu0: entered at EL2, now EL1",
                " writer=none waiting=",
            ],
        },
    ]
}
