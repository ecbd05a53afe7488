//! Stacks: an overflow on the boot CPU, on a secondary and on a Raspberry Pi 4 core that
//! came back from its spin-table park is caught at the guard page and reported on the
//! overflow stack; the deepest paths the shell offers stay well inside every stack.

use std::time::Duration;

use crate::case::{Board, Case};

pub fn cases(base: Case) -> Vec<Case> {
    let overflow = Case {
        about: "`crash stack` recurses until the stack's guard page: the vector sees SP below \
                the stack, moves to the overflow stack and reports it with the stack's range, \
                SP and a call trace; every other CPU is stopped.",
        bootargs: "panic=poweroff run=\"crash stack\"",
        expect: &[
            "Oops: cpu0: stack overflow on cpu0: its stack is 0x",
            " (32 KiB), SP 0x",
            " bytes below it",
            "data abort (translation fault, level 3, write)",
            "Call trace:",
            "in hotslab::arch::aarch64::exceptions::exhaust_stack at src/arch/aarch64/exceptions.rs:",
            "cpu0: stopped cpu 1-3",
            "powering off (panic=poweroff)",
        ],
        forbid: &["fault while reporting"],
        exit_code: 1,
        ..base
    };
    vec![
        Case {
            name: "stack-overflow-boot-cpu",
            ..overflow
        },
        Case {
            name: "stack-overflow-secondary-cpu",
            about: "`crash stack` on cpu1, where the shell moved when cpu0 went off.",
            bootargs: "panic=poweroff run=\"cpu off 0; crash stack\"",
            expect: &[
                "Oops: cpu1: stack overflow on cpu1: its stack is 0x",
                " bytes below it",
                "Call trace:",
                "cpu1: stopped cpu 2-3",
            ],
            ..overflow
        },
        Case {
            about: "`crash stack` on a Raspberry Pi 4 core that was parked (spin-table) and \
                    released: it restarts on the same stack, guard and overflow stack.",
            bootargs: "panic=poweroff run=\"cpu off 1; cpu on 1; cpu off 0; crash stack\"",
            expect: &[
                "Oops: cpu1: stack overflow on cpu1: its stack is 0x",
                " bytes below it",
                "cpu1: stopped cpu 2-3",
            ],
            ..overflow.on(&Board::RPI4, "rpi4-stack-overflow-released-cpu")
        },
        Case {
            name: "stacks-deepest-paths",
            about: "The deepest paths the shell has, on the CPU the shell moves to: the soak \
                    and every benchmark after `cpu off 0`; no Oops, and every stack's \
                    high-water mark (`mem`) below its size.",
            bootargs: "quiet run=\"cpu off 0; stress all 10; bench; mem; poweroff\"",
            expect: &[
                "RESULT stress-all PASS",
                "RESULT bench-slab PASS",
                "RESULT bench-hotplug PASS",
                "Stacks (the most each ever used):",
            ],
            forbid: &["Oops:", " FAIL "],
            timeout: Duration::from_secs(300),
            check: Some(stacks_within_their_sizes),
            ..base
        },
    ]
}

/// Every `cpuN: USED of SIZE bytes used` line of `mem` (and the boot stack's) has USED
/// below SIZE, and there is one for each of the four CPUs.
fn stacks_within_their_sizes(output: &str) -> Result<(), String> {
    let mut cpus = 0;
    for line in output.lines().map(str::trim) {
        let Some((who, rest)) = line.split_once(": ") else {
            continue;
        };
        let Some((used, rest)) = rest.split_once(" of ") else {
            continue;
        };
        let Some((size, _)) = rest.split_once(" bytes used") else {
            continue;
        };
        let (Ok(used), Ok(size)) = (used.parse::<u64>(), size.parse::<u64>()) else {
            continue;
        };
        if used >= size {
            return Err(format!("{who}: {used} of {size} bytes used: {line}"));
        }
        if who.starts_with("cpu") {
            cpus += 1;
        }
    }
    if cpus < 4 {
        return Err(format!(
            "expected the stacks of 4 CPUs in `mem`, found {cpus}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::stacks_within_their_sizes;

    #[test]
    fn a_full_stack_fails_the_check() {
        let fine = "  boot stack: 9152 of 32768 bytes used (the boot CPU's first stack)\n\
                    cpu0: 6224 of 32768 bytes used (18%); overflow stack 0 of 8192\n\
                    cpu1: 7152 of 32768 bytes used (21%); overflow stack 0 of 8192\n\
                    cpu2: 3312 of 32768 bytes used (10%); overflow stack 0 of 8192\n\
                    cpu3: 3296 of 32768 bytes used (10%); overflow stack 0 of 8192\n";
        assert!(stacks_within_their_sizes(fine).is_ok());
        let full = fine.replace("cpu1: 7152 of", "cpu1: 32768 of");
        assert!(stacks_within_their_sizes(&full).is_err());
        let missing = fine.replace("cpu3: 3296 of 32768 bytes used", "");
        assert!(stacks_within_their_sizes(&missing).is_err());
    }
}
