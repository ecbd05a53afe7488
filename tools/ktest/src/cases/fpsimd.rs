//! The vector registers across exceptions: `stress fpsimd` holds patterns in all of them
//! on every CPU while the others flood it with cross-calls, on virt and on raspi4b; and
//! an FP instruction outside the one routine allowed one is trapped and reported.

use std::time::Duration;

use crate::case::{Board, Case};
use crate::checks::passed_with_counts;

/// The torture passed, was interrupted (else it proved nothing) and saw no change.
fn torture_passed(output: &str) -> Result<(), String> {
    passed_with_counts(
        output,
        "stress-fpsimd",
        &["holds", "interrupted_holds", "calls"],
        &["corrupted"],
    )
}

pub fn cases(base: Case) -> Vec<Case> {
    let torture = Case {
        about: "Every CPU holds patterns in all 32 vector registers for 10 s while the others \
                flood it with cross-calls that format text and copy memory: no register \
                changes.",
        bootargs: "run=\"stress fpsimd 10; poweroff\"",
        expect: &["RESULT stress-fpsimd PASS seconds=10 cpus=4"],
        check: Some(torture_passed),
        timeout: Duration::from_secs(90),
        ..base
    };
    vec![
        torture.on(&Board::VIRT_GICV2_4CPUS, "fpsimd-torture-gicv2-4cpus"),
        torture.on(&Board::RPI4, "rpi4-fpsimd-torture"),
        Case {
            name: "oops-fpsimd-trapped",
            about: "An FP/SIMD instruction outside the one routine allowed it is trapped: an \
                    Oops that says so and names the function.",
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
            ..base
        },
    ]
}
