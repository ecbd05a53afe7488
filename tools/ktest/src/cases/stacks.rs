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
                    high-water mark (`mem --raw`) below its size.",
            bootargs: "quiet run=\"cpu off 0; stress all 10; bench; mem --raw; poweroff\"",
            expect: &[
                "RESULT stress-all PASS",
                "RESULT bench-slab PASS",
                "RESULT bench-hotplug PASS",
                "stack=boot size=",
            ],
            forbid: &["Oops:", " FAIL "],
            timeout: Duration::from_secs(300),
            check: Some(stacks_within_their_sizes),
            ..base
        },
    ]
}

/// Every `stack=` line of `mem --raw` has each `used` below its `size`, and there is one
/// for each of the four CPUs.
fn stacks_within_their_sizes(output: &str) -> Result<(), String> {
    let field =
        |line: &str, key: &str| crate::checks::field(line, key).and_then(|v| v.parse::<u64>().ok());
    let mut cpus = 0;
    for line in output.lines().filter(|l| l.starts_with("stack=")) {
        for (used, size) in [("used", "size"), ("overflow_used", "overflow_size")] {
            match (field(line, used), field(line, size)) {
                (Some(u), Some(s)) if u >= s => return Err(format!("a stack ran full: {line}")),
                (None, Some(_)) | (Some(_), None) => return Err(format!("unreadable: {line}")),
                _ => {}
            }
        }
        if line.starts_with("stack=cpu") {
            cpus += 1;
        }
    }
    if cpus < 4 {
        return Err(format!(
            "expected the stacks of 4 CPUs in `mem --raw`, found {cpus}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::stacks_within_their_sizes;

    #[test]
    fn a_full_stack_fails_the_check() {
        let fine = "stack=boot size=32768 used=9152\n\
                    stack=cpu0 size=32768 used=6224 overflow_size=8192 overflow_used=0\n\
                    stack=cpu1 size=32768 used=7152 overflow_size=8192 overflow_used=0\n\
                    stack=cpu2 size=32768 used=3312 overflow_size=8192 overflow_used=0\n\
                    stack=cpu3 size=32768 used=3296 overflow_size=8192 overflow_used=0\n";
        assert!(stacks_within_their_sizes(fine).is_ok());
        let full = fine.replace("cpu1 size=32768 used=7152", "cpu1 size=32768 used=32768");
        assert!(stacks_within_their_sizes(&full).is_err());
        let overflow = fine.replace(
            "overflow_used=0\nstack=cpu2",
            "overflow_used=8192\nstack=cpu2",
        );
        assert!(stacks_within_their_sizes(&overflow).is_err());
        let missing = fine.replace("stack=cpu3", "stack=none");
        assert!(stacks_within_their_sizes(&missing).is_err());
    }
}
