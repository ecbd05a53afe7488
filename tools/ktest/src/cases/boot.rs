//! Booting: virt with each GIC version, entered at EL1 and at EL2, with 1, 4 and 20 CPUs;
//! the shell driven by `run=` and typed on the serial line; a relocated Image; reboot; and
//! the two ways a boot cannot start (a tree without a UART, no tree at all).

use crate::case::{Case, Kernel};
use crate::checks::field;

/// The tables for people say what the raw forms say: each CPU's row the MPIDR, method,
/// topology (socket:cluster:core:thread, `-` for none) and state of its `cpus --raw` line,
/// `mem`'s page counts those of `mem --raw`, and `dt`'s memory lines the ranges of
/// `dt --raw`. Read by words, whatever the columns' widths.
fn tables_agree_with_raw_forms(output: &str) -> Result<(), String> {
    let rows: Vec<Vec<&str>> = output
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let raw = |tag: &'static str| output.lines().filter(move |l| l.starts_with(tag));
    let mut cpus = 0;
    for line in raw("cpu=") {
        let [cpu, mpidr, method, state] =
            ["cpu", "mpidr", "method", "state"].map(|key| field(line, key).unwrap_or("?"));
        let levels = ["socket", "cluster", "core", "thread"].map(|key| field(line, key));
        let topology = match levels {
            [Some("none"), ..] => "-".to_string(),
            [Some(s), Some(c), Some(k), Some(t)] => format!("{s}:{c}:{k}:{t}"),
            _ => return Err(format!("no topology in {line:?}")),
        };
        let agrees = rows.iter().any(|words| {
            words.len() >= 5
                && words[..4] == [cpu, mpidr, method, &topology]
                && words[4].trim_end_matches(',') == state
        });
        if !agrees {
            return Err(format!("no `cpus` row says what {line:?} says"));
        }
        cpus += 1;
    }
    let pages = raw("page_size=").next().ok_or("no `mem --raw`")?;
    for key in ["total", "free", "reserved"] {
        let count = field(pages, key).unwrap_or("?");
        if !rows
            .iter()
            .any(|words| words.len() >= 2 && words[..2] == [key, count])
        {
            return Err(format!("no `mem` row '{key} {count}' as {pages:?} says"));
        }
    }
    let mut ranges = 0;
    for line in raw("memory=") {
        let number = |key| {
            field(line, key)
                .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
                .ok_or(format!("{key} in {line:?}"))
        };
        let (base, size) = (number("memory")?, number("size")?);
        let range = format!("[{base:#012x}-{:#012x}]", base + size - 1);
        if !rows
            .iter()
            .any(|words| words.len() >= 2 && words[..2] == ["memory:", &range])
        {
            return Err(format!("no `dt` line 'memory: {range}' as {line:?} says"));
        }
        ranges += 1;
    }
    if cpus == 0 || ranges == 0 {
        return Err("no `cpus --raw` or `dt --raw` lines to compare".into());
    }
    Ok(())
}

pub fn cases(base: Case) -> Vec<Case> {
    vec![
        Case {
            name: "virt-gicv2-el1-4cpus-shell",
            about: "Boots virt with a GICv2 at EL1 on four CPUs; help, dt, cpus, mem and dmesg \
                    say what the device tree gave, and a bad command or argument is refused by \
                    name.",
            bootargs: "run=\"help; dt; dt --raw; cpus; cpus --raw; mem; mem --raw; dmesg; bogus; \
                       cpus extra; crash sideways; poweroff\"",
            expect: &[
                "entered at EL1, now EL1",
                "psci: Hvc conduit, version",
                "hotslab> help",
                "crash null|undefined|stack|serror|locked|fpsimd|panic",
                "gic=v2 distributor=0x8000000 distributor_size=0x10000",
                "GICv2, no security extensions; CPUs possible 0-3, present 0-3",
                "gic_security=single",
                "security: no security extensions: every register ours",
                "uart=pl011@9000000 kind=pl011 base=0x9000000 size=0x1000 console=yes",
                "memory=0x40000000 size=0x20000000",
                "cpu=3 mpidr=0x3 method=psci state=online",
                "cpu=0 mpidr=0x0 method=psci state=online",
                "page_size=4096 total=131072 ",
                "cpu0: 4 CPU(s) in the device tree",
                "bogus: unknown command",
                "cpus: argument 1 'extra': expected --raw",
                "crash: argument 1 'sideways': expected null, undefined, stack, serror, locked, fpsimd, panic or masked-spin",
                "usage: crash null|undefined|stack|serror|locked|fpsimd|panic",
                "hotslab> poweroff",
            ],
            check: Some(tables_agree_with_raw_forms),
            ..base
        },
        Case {
            name: "virt-gicv3-el2-4cpus",
            about: "Entered at EL2, the kernel drops to EL1 and finds a GICv3 and PSCI over \
                    SMC.",
            machine: "virt,gic-version=3,virtualization=on",
            bootargs: "run=\"dt --raw; cpus --raw; poweroff\"",
            expect: &[
                "entered at EL2, now EL1",
                "gic=v3 ",
                "GICv3, one security state; CPUs possible 0-3",
                "gic_security=single",
                "psci: Smc conduit",
                "psci=smc ",
            ],
            ..base
        },
        Case {
            name: "virt-gicv3-el2-20cpus",
            about: "Twenty CPUs across two clusters (MPIDR 0x100 onward) all come online.",
            machine: "virt,gic-version=3,virtualization=on",
            smp: 20,
            bootargs: "run=\"cpus --raw; poweroff\"",
            expect: &[
                "20 CPU(s) in the device tree",
                "cpu=16 mpidr=0x100 method=psci state=online",
                "cpu=19 mpidr=0x103 method=psci state=online",
            ],
            ..base
        },
        Case {
            name: "virt-1cpu-cortex-a53",
            about: "One Cortex-A53 and no enable method: the shell runs, and `cpu on 0` says \
                    the CPU is online.",
            cpu: "cortex-a53",
            smp: 1,
            bootargs: "run=\"cpus --raw; mem --raw; cpu on 0; poweroff\"",
            expect: &[
                "1 CPU(s) in the device tree",
                "cpu=0 mpidr=0x0 method=none state=online",
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
            bootargs: "panic=poweroff run=\"mem --raw; crash null\"",
            expect: &[
                "relocated by 0x400000",
                "kept=0x40480000 size=0x",
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
            typed: b"cpz\x7fus --raw\rmem\x03dmesg\r\x1b[Apoweroff\r",
            expect: &[
                "bootargs: 'bogus-option': unknown option, ignored",
                "cpu=0 mpidr=0x0 method=psci state=online shell=yes",
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

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "cpu=0 mpidr=0x0 method=psci state=online shell=yes parked=no absent=no \
                       unconfirmed=no socket=0 cluster=1 core=2 thread=0\n\
                       page_size=4096 total=131072 free=130526 in_use=44 reserved=502\n\
                       memory=0x40000000 size=0x20000000 numa_node=none\n";

    #[test]
    fn a_table_that_says_otherwise_than_the_raw_form_is_caught() {
        let tables = "  0  0x0          psci         0:1:2:0    online, shell\n\
                      \x20 total       131072  (512 MiB)\n  free        130526  (509 MiB)\n\
                      \x20 reserved       502  (1 MiB)\n\
                      memory:      [0x0040000000-0x005fffffff] (512 MiB)\n";
        assert_eq!(
            tables_agree_with_raw_forms(&format!("{tables}{RAW}")),
            Ok(())
        );
        // Wider columns change nothing.
        let wide = tables.replace("  ", "    ");
        assert_eq!(tables_agree_with_raw_forms(&format!("{wide}{RAW}")), Ok(()));
        let offline = tables.replace("online, shell", "offline");
        assert!(tables_agree_with_raw_forms(&format!("{offline}{RAW}")).is_err());
        let elsewhere = tables.replace("0:1:2:0", "0:1:3:0");
        assert!(tables_agree_with_raw_forms(&format!("{elsewhere}{RAW}")).is_err());
        let unplaced = RAW.replace(
            "socket=0 cluster=1 core=2 thread=0",
            "socket=none cluster=none core=none thread=none",
        );
        let dashed = tables.replace("0:1:2:0", "-");
        assert_eq!(
            tables_agree_with_raw_forms(&format!("{dashed}{unplaced}")),
            Ok(())
        );
        assert!(tables_agree_with_raw_forms(&format!("{tables}{unplaced}")).is_err());
        let other_free = tables.replace("130526", "130525");
        assert!(tables_agree_with_raw_forms(&format!("{other_free}{RAW}")).is_err());
        let other_memory = tables.replace("5fffffff", "4fffffff");
        assert!(tables_agree_with_raw_forms(&format!("{other_memory}{RAW}")).is_err());
    }
}
