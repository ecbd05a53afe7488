//! The QEMU test suite: boots the kernel image in QEMU's virt and raspi4b boards in several
//! configurations, drives its shell (through the `run=` bootarg, or typed on the serial
//! line), and checks what it prints and how QEMU exits. Every run has a timeout. Oops and
//! panic reports in the output are symbolised from the ELF before the checks, so cases
//! can name functions and a failure's output shows where the kernel was.
//!
//! Usage: ktest --image build/Image [--elf build/kernel.elf] [--only NAME]
//! Ends with `RESULT qemu-suite PASS|FAIL ...` and `N passed, N failed`.

mod bad_dtb;
mod faults;
mod fpsimd;
mod gdb;
mod log_levels;
mod machines;
mod slab_debug;
mod soak;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use symbolize::Symbolizer;

/// A check of a run's whole output: `Err` says what is wrong.
type OutputCheck = fn(&str) -> Result<(), String>;

/// The value of `key=` in a RESULT line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// Every unprotected stress run caught both races, named, and lost nothing doing so.
fn both_races_caught(output: &str) -> Result<(), String> {
    let runs: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("RESULT stress-slab-hotplug") && l.contains("lock=off"))
        .collect();
    if runs.is_empty() {
        return Err("no stress run with lock=off".into());
    }
    for run in runs {
        let count = |key| field(run, key).and_then(|v| v.parse::<i64>().ok());
        let ok = count("race1").is_some_and(|n| n > 0)
            && count("race2").is_some_and(|n| n > 0)
            && count("pages_leaked") == Some(0)
            && count("objects_leaked") == Some(0);
        if !ok {
            return Err(format!("a run without both races or with a leak: {run}"));
        }
    }
    Ok(())
}

/// Boots on QEMU's raspi4b (four A72, entered at EL2, secondaries on the firmware's spin
/// table): the same Image, with our tree or the upstream one.
fn raspberry_pi_4_cases(base: &Case) -> Vec<Case> {
    let rpi4 = Case {
        machine: "raspi4b",
        dtb: Some("rpi4.dtb"),
        ..*base
    };
    vec![
        Case {
            // Each secondary parks and is released again, the boot CPU included; SGIs reach
            // every core through the GIC-400's CPU-interface masks.
            name: "rpi4-spin-table-park-and-release",
            bootargs: "run=\"dt; cpus; ipi 1; ipi 2; ipi 3; cpu off 1; cpu off 2; cpu off 3; \
                       cpus; cpu on 1; cpu on 2; cpu on 3; cpu off 0; cpu on 0; cpus; ipi 2; \
                       poweroff\"",
            expect: &[
                "hotslab 0.1.0 on Raspberry Pi 4 Model B",
                "entered at EL2, now EL1; image at [0x0000080000-",
                "cpu3: online (spin-table, MPIDR 0x3)",
                "console:     serial@7e201000 (Pl011) at [0x00fe201000-0x00fe2011ff]",
                "clock 48000000 Hz: the kernel sets 115200 baud",
                "other uart:  serial@7e215040 (MiniUart) at [0x00fe215040-0x00fe21507f]",
                "watchdog:    [0x00fe100000-0x00fe100113] (reboot)",
                "gic:         GICv2, distributor [0x00ff841000-0x00ff841fff]",
                "psci:        (none)",
                "  3  0x3          spin-table   online",
                "ipi 1: 100 round trips",
                "ipi 3: 100 round trips",
                "  1  0x1          spin-table   parked (offline)",
                "  3  0x3          spin-table   parked (offline)",
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
            bootargs: "run=\"mem; hotplug 50; mem; stress slab-hotplug 20; poweroff\"",
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
            // Without semihosting nothing can power a Pi off, and it says so; reboot goes
            // through the SoC's watchdog (-no-reboot makes QEMU exit on the reset).
            name: "rpi4-poweroff-refused-reboot-by-watchdog",
            semihosting: false,
            qemu_args: &["-no-reboot"],
            bootargs: "run=\"poweroff; cpus; reboot\"",
            expect: &[
                "poweroff: nothing can power this machine off",
                "CPU  MPIDR",
                "hotslab> reboot",
            ],
            ..rpi4
        },
        Case {
            // The image runs 1 GiB below its link address here: the Oops still symbolises;
            // then panic=reboot resets the SoC through the watchdog.
            name: "rpi4-oops-symbolised-then-reboot",
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
            // The firmware's tree as distributions ship it: its stdout-path is the mini UART,
            // and QEMU's edits leave FDT_NOP tokens in it.
            name: "rpi4-upstream-dtb-mini-uart",
            dtb: Some("upstream/bcm2711-rpi-4-b.dtb"),
            bootargs: "run=\"dt; cpus; cpu off 2; cpu on 2; ipi 3; poweroff\"",
            expect: &[
                "stdout-path: serial1",
                "console:     serial@7e215040 (MiniUart) at [0x00fe215040-0x00fe21507f]",
                "clock unknown: the firmware's baud rate is kept",
                "  2  0x2          spin-table   online",
                "cpu on 2: done in",
                "ipi 3: 100 round trips",
                "hotslab> poweroff",
            ],
            forbid: &["Oops:", "device tree: "],
            ..rpi4
        },
        Case {
            name: "rpi4-upstream-dtb-console-bootarg",
            dtb: Some("upstream/bcm2711-rpi-4-b.dtb"),
            bootargs: "console=serial0,115200 run=\"dt; poweroff\"",
            expect: &[
                "console:     serial@7e201000 (Pl011)",
                "other uart:  serial@7e215040 (MiniUart)",
                "hotslab> poweroff",
            ],
            ..rpi4
        },
    ]
}

/// One boot of the kernel and what it must show.
struct Case {
    name: &'static str,
    machine: &'static str,
    cpu: &'static str,
    smp: u32,
    /// Which file to boot: the Image, a relocated copy of it, or the ELF.
    kernel: Kernel,
    /// A device tree (build/dts/NAME) instead of QEMU's own. One under `upstream/` or
    /// `linux/` is fetched from Debian; where that failed, the case is skipped, loudly.
    dtb: Option<&'static str>,
    /// Whether QEMU services semihosting calls (exit status, poweroff).
    semihosting: bool,
    /// More QEMU options.
    qemu_args: &'static [&'static str],
    bootargs: &'static str,
    /// Bytes typed on the serial line after the first prompt.
    typed: &'static [u8],
    expect: &'static [&'static str],
    forbid: &'static [&'static str],
    exit_code: i32,
    /// Stop QEMU once this text has appeared this many times (exit status not checked).
    until: Option<(&'static str, usize)>,
    /// How long the run may take before QEMU is killed and the case fails.
    timeout: Duration,
    /// A further check on the whole output, beyond `expect` and `forbid`.
    check: Option<OutputCheck>,
}

#[derive(Clone, Copy)]
enum Kernel {
    Image,
    /// The Image with its header's text_offset changed, so QEMU loads it 4 MiB higher
    /// than its link address (as U-Boot's booti moves it).
    Relocated,
    Elf,
}

const TIMEOUT: Duration = Duration::from_secs(60);

/// Every part of `bench` passed with sane numbers: each value positive (the timer moved),
/// minimums no bigger than their medians and medians no bigger than their p99, and nothing left allocated: free pages the same after
/// a second run as after the first (which may grow the slab's own descriptor caches).
fn bench_numbers_sane(output: &str) -> Result<(), String> {
    const PARTS: [&str; 6] = ["boot", "hotplug", "slab", "lock", "ipi", "cache"];
    for part in PARTS {
        let tag = format!("RESULT bench-{part} PASS ");
        let Some(line) = output.lines().find(|l| l.starts_with(&tag)) else {
            return Err(format!("no {tag:?} line"));
        };
        let mut keys = 0;
        for (key, value) in line[tag.len()..]
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
        {
            let number: f64 = value
                .parse()
                .map_err(|_| format!("{part}: {key}={value} is not a number"))?;
            if number <= 0.0 {
                return Err(format!("{part}: {key}={value} is not positive"));
            }
            // `x_p99_us` and `x_min_us` go with the median `x_us` (and `_ns` alike): the
            // minimum no bigger than the median, the median no bigger than the p99.
            let paired = ["_us", "_ns"].iter().find_map(|unit| {
                ["_p99", "_min"].iter().find_map(|which| {
                    let stem = key.strip_suffix(&format!("{which}{unit}"))?;
                    Some((format!("{stem}{unit}"), *which == "_p99"))
                })
            });
            if let Some((median_key, above)) = paired {
                let median = field(line, &median_key)
                    .and_then(|m| m.parse::<f64>().ok())
                    .ok_or(format!("{part}: {key} without {median_key}"))?;
                if above && median > number {
                    return Err(format!("{part}: median {median} above p99 {number}"));
                }
                if !above && number > median {
                    return Err(format!("{part}: minimum {number} above median {median}"));
                }
            }
            keys += 1;
        }
        if keys < 1 {
            return Err(format!("{part}: no numbers in {line:?}"));
        }
    }
    boot_phases_present(output)?;
    free_pages_unchanged(output)
}

/// `bench boot` names each of its phases. (They are consecutive stretches between stamps,
/// so they add up to the boot by construction; whether the stamps are in order, which is
/// what could be wrong, the kernel checks itself and says FAIL.)
fn boot_phases_present(output: &str) -> Result<(), String> {
    const PHASES: [&str; 7] = [
        "loader",
        "device_tree",
        "mmu",
        "memory",
        "log",
        "cpus",
        "shell",
    ];
    let line = output
        .lines()
        .find(|l| l.starts_with("RESULT bench-boot PASS "))
        .ok_or("no bench-boot line")?;
    match PHASES
        .iter()
        .find(|phase| field(line, &format!("{phase}_ms")).is_none())
    {
        Some(missing) => Err(format!("boot: no {missing}_ms in {line:?}")),
        None => Ok(()),
    }
}

/// The `free` counts of every `mem` in the output must be equal: what a run of hotplug
/// cycles allocated (stacks, tables) it must have given back.
fn free_pages_unchanged(output: &str) -> Result<(), String> {
    let free: Vec<&str> = output
        .lines()
        .filter_map(|l| l.trim().strip_prefix("free "))
        .map(|rest| rest.split_whitespace().next().unwrap_or(""))
        .collect();
    match free.as_slice() {
        [first, rest @ ..] if !rest.is_empty() && rest.iter().all(|f| f == first) => Ok(()),
        [_, _, ..] => Err(format!("free pages changed: {}", free.join(" -> "))),
        _ => Err("expected at least two `mem` reports".into()),
    }
}

fn cases() -> Vec<Case> {
    let base = Case {
        name: "",
        machine: "virt,gic-version=2",
        cpu: "cortex-a72",
        smp: 4,
        kernel: Kernel::Image,
        dtb: None,
        semihosting: true,
        qemu_args: &[],
        bootargs: "",
        typed: b"",
        expect: &[],
        forbid: &["Oops:"],
        exit_code: 0,
        until: None,
        timeout: TIMEOUT,
        check: None,
    };
    let mut cases = vec![
        Case {
            name: "virt-gicv2-el1-4cpus-shell",
            bootargs: "run=\"help; dt; cpus; mem; dmesg; bogus; cpus extra; crash sideways; poweroff\"",
            expect: &[
                "entered at EL1, now EL1",
                "psci: Hvc conduit, version",
                "hotslab> help",
                "crash null|undefined|fpsimd|panic",
                "gic:         GICv2, distributor [0x0008000000-0x000800ffff]",
                "console:     pl011@9000000",
                "memory:      [0x0040000000-0x005fffffff] (512 MiB)",
                "  3  0x3          psci         online",
                "  0  0x0          psci         online",
                "  total       131072  (512 MiB)",
                "cpu0: 4 CPU(s) in the device tree",
                "bogus: unknown command",
                "cpus: too many arguments (at most 0)",
                "crash: argument 1 'sideways': expected null, undefined, fpsimd or panic",
                "usage: crash null|undefined|fpsimd|panic",
                "hotslab> poweroff",
            ],
            ..base
        },
        Case {
            name: "virt-gicv3-el2-4cpus",
            machine: "virt,gic-version=3,virtualization=on",
            bootargs: "run=\"dt; cpus; poweroff\"",
            expect: &[
                "entered at EL2, now EL1",
                "gic:         GICv3",
                "psci: Smc conduit",
                "psci:        Smc",
            ],
            ..base
        },
        Case {
            name: "virt-gicv3-el2-20cpus",
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
            // Every CPU off and on, the boot CPU included (the shell moves off it first),
            // then 500 cycles of the other three; each half cycle checks that cross-calls
            // reach exactly the online CPUs. The page counts before and after must match.
            name: "hotplug-gicv2-el1-500-cycles",
            bootargs: "run=\"mem; cpu off 0; cpus; cpu on 0; cpu off 2; cpu on 2; cpu off 3; \
                       cpu on 3; cpu off 1; cpu on 1; ipi 1; ipi 3; hotplug 500; cpus; mem; \
                       poweroff\"",
            expect: &[
                "cpu off 0: the shell moves to cpu1, which takes cpu0 down",
                "(shell now on cpu1)",
                "  0  0x0          psci         offline",
                "  1  0x1          psci         online, shell",
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
            machine: "virt,gic-version=3,virtualization=on",
            smp: 20,
            bootargs: "run=\"cpu off 16; cpu off 19; cpus; ipi 18; cpu on 16; cpu on 19; \
                       ipi 19; cpu off 0; cpu on 0; hotplug 5; poweroff\"",
            expect: &[
                "20 of 20 CPUs online: 0-19",
                " 16  0x100        psci         offline",
                " 19  0x103        psci         offline",
                " 17  0x101        psci         online",
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
            // A CPU whose device-tree MPIDR names no core: CPU_ON fails, the CPU rolls back
            // to offline, the rest boots, and `cpu on` can try again (and fail the same way).
            name: "wrong-mpidr-rolls-back",
            smp: 3,
            dtb: Some("virt-bad-mpidr.dtb"),
            bootargs: "run=\"cpus; cpu on 2; cpu on 2; cpu off 1; cpu on 1; hotplug 3; poweroff\"",
            expect: &[
                "cpu2: PSCI CPU_ON for MPIDR 0x7 failed: Invalid parameters to PSCI call",
                "cpu2 stays offline",
                "2 of 3 CPUs online: 0-1",
                "  2  0x7          psci         offline",
                "cpu: cpu2: PSCI CPU_ON for MPIDR 0x7 failed",
                "; cpu2 is offline now",
                "RESULT hotplug PASS cycles=3 ops=6 cpus=1",
            ],
            ..base
        },
        Case {
            name: "maxcpus-2",
            bootargs: "maxcpus=2 run=\"cpus; cpu on 3; cpus; poweroff\"",
            expect: &[
                "cpu2: left offline (maxcpus); `cpu on 2` brings it up",
                "2 of 4 CPUs online: 0-1",
                "  2  0x2          psci         offline",
                "cpu on 3: done in",
                "  3  0x3          psci         online",
            ],
            ..base
        },
        Case {
            name: "nosmp",
            bootargs: "nosmp run=\"cpus; poweroff\"",
            expect: &[
                "cpu1: left offline (nosmp)",
                "1 of 4 CPUs online: 0",
                "  1  0x1          psci         offline",
            ],
            ..base
        },
        Case {
            // The README's walk-through, and every way to get it wrong.
            name: "slab-by-hand",
            bootargs: "run=\"slab create inode_cache 192; slab alloc inode_cache 1000; slabinfo; \
                       cpu off 3; slabinfo; cpu on 3; slab destroy inode_cache; \
                       slab free inode_cache 1000; slab destroy inode_cache; slab check; \
                       slab create inode_cache 192; slab create inode_cache 64; \
                       slab create bad/name 64; slab create big 999999; slab create odd 64 3; \
                       slab alloc nosuch 1; slab alloc kmalloc-64 1; slab alloc inode_cache 0; \
                       slab free inode_cache 5; slab set hotplug_lock maybe; \
                       slab set race_window_us 999999; slab frob; stress slab-hotplug 0; \
                       slab shrink kmalloc-32; slab destroy inode_cache; poweroff\"",
            expect: &[
                "slab create inode_cache: 192-byte objects",
                "slab alloc inode_cache: 1000 objects, 1000 held",
                "slabinfo - version: 2.1",
                "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>",
                "inode_cache         1020   1020    192   20    1 : tunables  120   60    0 : slabdata     51     51      0",
                "kmalloc-4096",
                "cpu off 3: done in",
                "slab: 'inode_cache': refused: 1000 object(s) still allocated; the cache is unchanged",
                "slab free inode_cache: 1000 objects, 0 held",
                "slab destroy inode_cache: done",
                "slab check: every cache has an array for every CPU from UP_PREPARE to DEAD",
                "slab: 'inode_cache': a cache of that name exists",
                "slab: 'bad/name': a cache name is 1 to 24 letters, digits",
                "slab: 'big': object size 999999 is not in 1..=16384",
                "slab: 'odd': alignment 3 is not a power of two up to 4096",
                "slab: no cache 'nosuch' (make one with `slab create nosuch SIZE`)",
                "slab: 'kmalloc-64' is the kernel's",
                "slab: count 0: give 1 to 100000",
                "slab: 'inode_cache': the shell holds 0 object(s), not 5",
                "slab: argument 3 'maybe': expected on or off",
                "slab: race_window_us 999999: give 0 to 100000",
                "slab: argument 1 'frob': expected create, alloc, free, destroy, shrink, check, set or misuse",
                "stress: 0 s: give 1 to 3600",
                "slab shrink kmalloc-32:",
            ],
            forbid: &["Oops:", "race 1", "race 2"],
            ..base
        },
        Case {
            name: "slab-by-hand-gicv3-8cpus",
            machine: "virt,gic-version=3,virtualization=on",
            smp: 8,
            bootargs: "run=\"slab create inode_cache 192; slab alloc inode_cache 1000; \
                       cpu off 7; slabinfo; cpu on 7; slab destroy inode_cache; \
                       slab free inode_cache 1000; slab destroy inode_cache; slab check; poweroff\"",
            expect: &[
                "inode_cache         1020   1020    192   20    1",
                "cpu off 7: done in",
                "refused: 1000 object(s) still allocated",
                "slab destroy inode_cache: done",
                "slab check: every cache has an array for every CPU",
            ],
            forbid: &["Oops:", "race 1", "race 2"],
            ..base
        },
        Case {
            name: "stress-locked-gicv2-4cpus",
            bootargs: "slab.race_window_us=200 run=\"stress slab-hotplug 10; slab check; poweroff\"",
            expect: &[
                "hotplug_lock=on, race_window_us=200",
                "RESULT stress-slab-hotplug PASS",
                "race1=0 race2=0 invariant_breaks=0 pages_leaked=0 objects_leaked=0",
            ],
            forbid: &["Oops:", "race 1", "race 2", "BROKEN"],
            timeout: Duration::from_secs(120),
            ..base
        },
        Case {
            name: "stress-locked-gicv3-8cpus",
            machine: "virt,gic-version=3,virtualization=on",
            smp: 8,
            bootargs: "slab.race_window_us=200 run=\"stress slab-hotplug 10; slab check; poweroff\"",
            expect: &[
                "loaders cpu0 cpu1, controller cpu2, cycled cpu 3-7",
                "RESULT stress-slab-hotplug PASS",
                "race1=0 race2=0 invariant_breaks=0 pages_leaked=0 objects_leaked=0",
            ],
            forbid: &["Oops:", "race 1", "race 2", "BROKEN"],
            timeout: Duration::from_secs(120),
            ..base
        },
        Case {
            // The same switches from the shell: open the races, see them, close them again.
            name: "stress-shell-switches",
            bootargs: "run=\"slab set hotplug_lock off; slab set race_window_us 200; \
                       stress slab-hotplug 60; slab set hotplug_lock on; stress slab-hotplug 5; \
                       poweroff\"",
            expect: &[
                "slab.hotplug_lock=off",
                "slab.race_window_us=200",
                "RESULT stress-slab-hotplug FAIL seconds=",
                "slab.hotplug_lock=on",
                "RESULT stress-slab-hotplug PASS seconds=",
            ],
            check: Some(both_races_caught),
            timeout: Duration::from_secs(150),
            ..base
        },
        Case {
            name: "virt-1cpu-cortex-a53",
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
            // Running 4 MiB above its link address, the Oops still symbolises: the report
            // says where the image is, and the addresses are moved back before lookup.
            name: "relocated-image",
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
            // The machine resets and boots the kernel again, which reboots again: seeing
            // the second boot is the proof.
            name: "reboot",
            bootargs: "run=\"reboot\"",
            expect: &["hotslab> reboot"],
            until: Some(("cpu0: hotslab 0.", 2)),
            ..base
        },
        Case {
            name: "typed-line-editing",
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
            // Benchmarks are not timed tests: only that each part runs and its numbers
            // are sane. `make bench` reports them.
            name: "bench-runs-sane",
            bootargs: "run=\"bench slab; mem; bench; mem; poweroff\"",
            expect: &["RESULT bench-slab PASS cpus=4"],
            check: Some(bench_numbers_sane),
            timeout: Duration::from_secs(120),
            ..base
        },
        Case {
            name: "oops-null-dereference",
            bootargs: "panic=poweroff run=\"crash null\"",
            expect: &[
                "Oops: cpu0: synchronous exception from EL1: data abort (translation fault, level 3, read) at 0x0",
                "ESR 0x96000007",
                "Call trace:",
                "  #0  0x",
                // tools/symbolize names the faulting function and its inlined caller.
                "Symbolised from ",
                "in hotslab::arch::aarch64::exceptions::provoke at src/arch/aarch64/exceptions.rs:",
                "inlined into hotslab::console::shell::commands::machine::crash at src/console/shell/commands/machine.rs:",
                "powering off (panic=poweroff)",
            ],
            forbid: &[],
            exit_code: 1,
            ..base
        },
        Case {
            name: "oops-undefined-instruction",
            bootargs: "panic=poweroff run=\"crash undefined\"",
            expect: &[
                "Oops: cpu0: synchronous exception from EL1: unknown reason (undefined instruction)",
                " fp  0x",
                "  sp  0x",
            ],
            forbid: &[],
            exit_code: 1,
            ..base
        },
        Case {
            name: "rust-panic",
            bootargs: "panic=poweroff run=\"crash panic\"",
            expect: &[
                "Oops: cpu0: panic at src/console/shell/commands/machine.rs:",
                "the crash command asked for a panic",
                "Call trace:",
                "in core::panicking::panic_fmt at library/core/src/panicking.rs:",
                "in hotslab::console::shell::commands::machine::crash at src/console/shell/commands/machine.rs:",
            ],
            forbid: &[],
            exit_code: 1,
            ..base
        },
        Case {
            // A panic on a secondary CPU: the backtrace walks that CPU's own stack.
            name: "rust-panic-on-a-secondary-cpu",
            bootargs: "panic=poweroff run=\"cpu off 0; crash panic\"",
            expect: &[
                "Oops: cpu1: panic at src/console/shell/commands/machine.rs:",
                "Call trace:",
                "  #1  0x",
                "in hotslab::console::shell::commands::machine::crash at src/console/shell/commands/machine.rs:",
            ],
            forbid: &[],
            exit_code: 1,
            ..base
        },
        Case {
            name: "device-tree-without-uart",
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
            kernel: Kernel::Elf,
            expect: &["hotslab: cannot boot: no device tree: x0 was 0 at entry"],
            forbid: &["hotslab>"],
            exit_code: 1,
            ..base
        },
    ];
    cases.extend(raspberry_pi_4_cases(&base));
    cases.extend(faults::cases(&base));
    cases.extend(fpsimd::cases(&base));
    cases.extend(machines::cases(&base));
    cases.extend(log_levels::cases(&base));
    cases.extend(bad_dtb::cases(&base));
    cases.extend(soak::cases(&base));
    cases.extend(slab_debug::cases(&base));
    // The reproducer keeps its teeth: with the lock off, each run must catch both races.
    for (machine, smp, board) in [
        ("virt,gic-version=2", 4, "gicv2-4cpus"),
        ("virt,gic-version=3,virtualization=on", 8, "gicv3-8cpus"),
    ] {
        for run in 1..=3 {
            // A name per run, for the report; the suite runs once per process.
            let name = format!("stress-unlocked-{board}-{run}").leak();
            cases.push(Case {
                name,
                machine,
                smp,
                bootargs: "slab.hotplug_lock=off slab.race_window_us=200 \
                           run=\"stress slab-hotplug 60; poweroff\"",
                expect: &[
                    "race 1 (kmem_cache_create vs ",
                    "race 2 (kmem_cache_destroy vs CPU_UP): the drain cross-call found no array",
                    "RESULT stress-slab-hotplug FAIL",
                ],
                check: Some(both_races_caught),
                timeout: Duration::from_secs(150),
                ..base
            });
        }
    }
    cases
}
fn main() -> ExitCode {
    let mut image = PathBuf::from("build/Image");
    let mut elf = PathBuf::from("build/kernel.elf");
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--image" => image = args.next().map(PathBuf::from).unwrap_or(image),
            "--elf" => elf = args.next().map(PathBuf::from).unwrap_or(elf),
            "--only" => only = args.next(),
            other => {
                eprintln!("ktest: unknown argument '{other}'");
                return ExitCode::from(2);
            }
        }
    }
    let relocated = match relocated_copy(&image) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ktest: cannot read {}: {e}", image.display());
            return ExitCode::from(2);
        }
    };
    let symbolizer = match Symbolizer::open(&elf) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ktest: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut passed, mut failed, mut skipped) = (0u32, 0u32, 0u32);
    for case in cases() {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        let kernel = match case.kernel {
            Kernel::Image => &image,
            Kernel::Relocated => &relocated,
            Kernel::Elf => &elf,
        };
        if let Some(dtb) = case
            .dtb
            .filter(|d| d.starts_with("upstream/") || d.starts_with("linux/"))
            && !image.with_file_name("dts").join(dtb).exists()
        {
            skipped += 1;
            println!(
                "SKIP {}: build/dts/{dtb} could not be fetched from Debian (see above); \
                 this case did NOT run",
                case.name
            );
            continue;
        }
        let started = Instant::now();
        let result = run(&case, kernel, &symbolizer);
        report(case.name, started, result, &mut passed, &mut failed);
    }
    for case in gdb::cases() {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        let started = Instant::now();
        let result = gdb::run(&case, &image, &elf, &symbolizer);
        report(case.name, started, result, &mut passed, &mut failed);
    }
    let verdict = if failed == 0 { "PASS" } else { "FAIL" };
    println!("RESULT qemu-suite {verdict} passed={passed} failed={failed} skipped={skipped}");
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints one case's verdict with its duration, and counts it.
fn report(
    name: &str,
    started: Instant,
    result: Result<(), String>,
    passed: &mut u32,
    failed: &mut u32,
) {
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
            *passed += 1;
            println!("ok   {name} ({seconds:.1} s)");
        }
        Err(why) => {
            *failed += 1;
            println!("FAIL {name} ({seconds:.1} s): {why}");
        }
    }
}

/// Writes the Image with text_offset 0x480000 next to it.
fn relocated_copy(image: &Path) -> std::io::Result<PathBuf> {
    let mut bytes = std::fs::read(image)?;
    if bytes.len() < 64 || &bytes[56..60] != b"ARM\x64" {
        return Err(std::io::Error::other("not an arm64 Image"));
    }
    bytes[8..16].copy_from_slice(&0x48_0000u64.to_le_bytes());
    let path = image.with_file_name("Image.relocated");
    std::fs::write(&path, bytes)?;
    Ok(path)
}

fn run(case: &Case, kernel: &Path, symbolizer: &Symbolizer) -> Result<(), String> {
    let mut qemu = Command::new("qemu-system-aarch64");
    qemu.args(["-M", case.machine, "-nic", "none"]);
    if case.machine.starts_with("raspi") {
        // A fixed board. Its two UARTs (PL011, mini UART) both print here, through one mux:
        // the test reads whichever the device tree makes the console.
        qemu.args(["-display", "none", "-monitor", "none"])
            .args(["-chardev", "stdio,id=con,mux=on,signal=off"])
            .args(["-serial", "chardev:con", "-serial", "chardev:con"]);
    } else {
        qemu.args(["-cpu", case.cpu, "-m", "512M", "-nographic"])
            .args(["-smp", &case.smp.to_string()]);
    }
    if case.semihosting {
        qemu.args(["-semihosting-config", "enable=on,target=native"]);
    }
    qemu.arg("-kernel")
        .arg(kernel)
        .args(["-append", case.bootargs])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    qemu.args(case.qemu_args);
    if let Some(dtb) = case.dtb {
        qemu.arg("-dtb").arg(kernel.with_file_name("dts").join(dtb));
    }
    let mut child = qemu
        .spawn()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let mut stdin = child.stdin.take().expect("piped");

    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let out_tx = tx.clone();
    thread::spawn(move || pump(&mut stdout, out_tx));
    thread::spawn(move || pump(&mut stderr, tx));

    let deadline = Instant::now() + case.timeout;
    let mut output = Vec::new();
    let mut typed = false;
    let status = loop {
        while let Ok(chunk) = rx.try_recv() {
            output.extend_from_slice(&chunk);
        }
        if !typed && !case.typed.is_empty() && contains(&output, "hotslab> ") {
            // Type slowly enough for the UART's receive FIFO.
            for chunk in case.typed.chunks(8) {
                let _ = stdin.write_all(chunk);
                let _ = stdin.flush();
                thread::sleep(Duration::from_millis(50));
            }
            typed = true;
        }
        if let Some((text, times)) = case.until
            && count(&output, text) >= times
        {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    thread::sleep(Duration::from_millis(50));
    while let Ok(chunk) = rx.try_recv() {
        output.extend_from_slice(&chunk);
    }
    let text = symbolizer.annotate(&String::from_utf8_lossy(&output));
    let mut problems = Vec::new();
    match (status, case.until) {
        (_, Some((text, times))) => {
            if count(&output, text) < times {
                problems.push(format!(
                    "{text:?} seen fewer than {times} times within {} s",
                    case.timeout.as_secs()
                ));
            }
        }
        (None, None) => problems.push(format!("no exit within {} s", case.timeout.as_secs())),
        (Some(s), None) if s.code() != Some(case.exit_code) => problems.push(format!(
            "QEMU exited with {:?}, expected {}",
            s.code(),
            case.exit_code
        )),
        (Some(_), None) => {}
    }
    for e in case.expect {
        if !text.contains(e) {
            problems.push(format!("missing {e:?}"));
        }
    }
    for f in case.forbid {
        if text.contains(f) {
            problems.push(format!("unexpected {f:?}"));
        }
    }
    if let Some(check) = case.check
        && let Err(why) = check(&text)
    {
        problems.push(why);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n----- output -----\n{text}\n------------------",
            problems.join("; ")
        ))
    }
}

fn pump(from: &mut impl Read, to: mpsc::Sender<Vec<u8>>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.send(buf[..n].to_vec()).is_err() {
            break;
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    count(haystack, needle) > 0
}

fn count(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}
