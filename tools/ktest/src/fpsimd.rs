//! The vector registers across exceptions: `stress fpsimd` holds patterns in all of them
//! on every CPU while the others flood it with cross-calls, on virt and on raspi4b; and
//! an FP instruction outside the one routine allowed one is trapped and reported.

use std::time::Duration;

use super::{Case, field};

/// The torture passed, was interrupted (else it proved nothing) and saw no change.
fn torture_passed(output: &str) -> Result<(), String> {
    let line = output
        .lines()
        .find(|l| l.starts_with("RESULT stress-fpsimd "))
        .ok_or("no RESULT stress-fpsimd line")?;
    let count = |key| field(line, key).and_then(|v| v.parse::<u64>().ok());
    let ok = line.starts_with("RESULT stress-fpsimd PASS")
        && count("holds").is_some_and(|n| n > 0)
        && count("interrupted_holds").is_some_and(|n| n > 0)
        && count("calls").is_some_and(|n| n > 0)
        && count("corrupted") == Some(0);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "vector registers changed, or nothing was tested: {line}"
        ))
    }
}

pub fn cases(base: &Case) -> Vec<Case> {
    vec![
        Case {
            name: "fpsimd-torture-gicv2-4cpus",
            bootargs: "run=\"stress fpsimd 10; poweroff\"",
            expect: &["RESULT stress-fpsimd PASS seconds=10 cpus=4"],
            check: Some(torture_passed),
            ..*base
        },
        Case {
            name: "rpi4-fpsimd-torture",
            machine: "raspi4b",
            dtb: Some("rpi4.dtb"),
            bootargs: "run=\"stress fpsimd 10; poweroff\"",
            expect: &["RESULT stress-fpsimd PASS seconds=10 cpus=4"],
            check: Some(torture_passed),
            timeout: Duration::from_secs(90),
            ..*base
        },
        Case {
            name: "oops-fpsimd-trapped",
            bootargs: "panic=poweroff run=\"crash fpsimd\"",
            expect: &[
                "Oops: cpu0: synchronous exception from EL1: FP/SIMD instruction at EL1, where it \
                 is trapped",
                "ESR 0x1fe00000",
                "in use_fpsimd_asm",
                "powering off (panic=poweroff)",
            ],
            forbid: &[],
            exit_code: 1,
            ..*base
        },
    ]
}
