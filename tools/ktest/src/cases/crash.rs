//! Crashes reported: an Oops for a data abort, an undefined instruction and an SError, a
//! Rust panic on the boot CPU and on a secondary, each with registers, a call trace and
//! symbols, the other CPUs stopped (and one that cannot be, named), and the machine
//! powered off as `panic=poweroff` says.

use crate::case::Case;

/// Whether some line of the Oops report has `name` as a word with a `0x` value after it,
/// however the report's columns are spaced.
fn shows(output: &str, name: &str) -> bool {
    output.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words
            .windows(2)
            .any(|pair| pair[0] == name && pair[1].starts_with("0x"))
    })
}

/// The call trace has frame #0.
fn frame_0_shown(output: &str) -> Result<(), String> {
    shows(output, "#0")
        .then_some(())
        .ok_or("no frame #0 in the call trace".into())
}

/// The call trace has frame #1: it walked past the frame that panicked.
fn frame_1_shown(output: &str) -> Result<(), String> {
    shows(output, "#1")
        .then_some(())
        .ok_or("no frame #1 in the call trace".into())
}

/// The register dump has the frame and stack pointers.
fn fp_and_sp_shown(output: &str) -> Result<(), String> {
    match ["fp", "sp"].into_iter().find(|r| !shows(output, r)) {
        Some(missing) => Err(format!("no {missing} in the register dump")),
        None => Ok(()),
    }
}

pub fn cases(base: Case) -> Vec<Case> {
    vec![
        Case {
            name: "oops-null-dereference",
            about: "A null dereference: an Oops with the fault decoded, ESR, registers and a \
                    call trace, symbolised to the function and its inlined caller.",
            bootargs: "panic=poweroff run=\"crash null\"",
            expect: &[
                "Oops: cpu0: synchronous exception from EL1: data abort (translation fault, level 3, read) at 0x0",
                "ESR 0x96000007",
                "Call trace:",
                // tools/symbolize names the faulting function and its inlined caller.
                "Symbolised from ",
                "in hotslab::arch::aarch64::exceptions::provoke at src/arch/aarch64/exceptions.rs:",
                "inlined into hotslab::console::shell::commands::machine::crash at src/console/shell/commands/machine.rs:",
                "cpu0: stopped cpu 1-3",
                "powering off (panic=poweroff)",
            ],
            forbid: &[],
            exit_code: 1,
            check: Some(frame_0_shown),
            ..base
        },
        Case {
            name: "oops-undefined-instruction",
            about: "An undefined instruction: an Oops that says so, with the frame and stack \
                    pointers.",
            bootargs: "panic=poweroff run=\"crash undefined\"",
            expect: &[
                "Oops: cpu0: synchronous exception from EL1: unknown reason (undefined instruction)",
            ],
            forbid: &[],
            exit_code: 1,
            check: Some(fp_and_sp_shown),
            ..base
        },
        Case {
            name: "oops-other-cpu-cannot-stop",
            about: "An Oops while holding a spin lock another CPU waits for with interrupts \
                    masked: the others stop, that one cannot take the stop SGI and is named.",
            bootargs: "panic=poweroff run=\"crash locked\"",
            expect: &[
                "crash locked: cpu0 holds a spin lock cpu1 waits for, interrupts masked",
                "Oops: cpu0: synchronous exception from EL1: data abort",
                "cpu0: stopped cpu 2-3; cpu 1 did not stop within 1000 ms (interrupts masked?)",
                "powering off (panic=poweroff)",
            ],
            forbid: &[],
            exit_code: 1,
            ..base
        },
        Case {
            name: "oops-serror",
            about: "An asynchronous abort (a virtual SError the EL2 stub raises): reported as \
                    an Oops with its syndrome decoded, on a secondary CPU too.",
            machine: "virt,gic-version=3,virtualization=on",
            bootargs: "panic=poweroff run=\"cpu off 0; crash serror\"",
            expect: &[
                "Oops: cpu1: SError from EL1: SError (an asynchronous abort, reported after the access that caused it: uncategorized, uncontainable",
                "ESR 0xbe000000",
                "cpu1: stopped cpu 2-3",
            ],
            forbid: &[],
            exit_code: 1,
            ..base
        },
        Case {
            name: "serror-needs-el2",
            about: "Entered at EL1 the kernel has no EL2 of its own to raise an SError from, \
                    and `crash serror` says so.",
            bootargs: "run=\"crash serror; poweroff\"",
            expect: &[
                "crash: the kernel was entered at EL1: there is no EL2 of its own to raise a virtual SError",
            ],
            ..base
        },
        Case {
            name: "rust-panic",
            about: "A Rust panic: the message, the file and line, and a symbolised call trace.",
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
            name: "rust-panic-on-a-secondary-cpu",
            about: "A panic on a secondary CPU: the backtrace walks that CPU's own stack.",
            bootargs: "panic=poweroff run=\"cpu off 0; crash panic\"",
            expect: &[
                "Oops: cpu1: panic at src/console/shell/commands/machine.rs:",
                "Call trace:",
                "in hotslab::console::shell::commands::machine::crash at src/console/shell/commands/machine.rs:",
            ],
            forbid: &[],
            exit_code: 1,
            check: Some(frame_1_shown),
            ..base
        },
    ]
}
