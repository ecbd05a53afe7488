//! Short runs of the soak (`stress all`): traffic on every CPU, cache churn and random
//! hotplug, every check on. The 10-minute runs docs/reliability.md reports use the same
//! command.

use std::time::Duration;

use crate::case::{Board, Case};
use crate::checks::passed_with_counts;

/// The soak passed and its counts say it did something and lost nothing.
fn soak_passed(output: &str) -> Result<(), String> {
    passed_with_counts(
        output,
        "stress-all",
        &["hotplug_ops", "caches", "objects"],
        &["failures", "pages_leaked", "objects_leaked"],
    )
}

/// Each board the soak runs on, the case's name there, and how many seconds it runs.
const RUNS: [(Board, &str, u32); 2] = [
    (Board::VIRT_GICV3_8CPUS, "soak-gicv3-8cpus-slab-debug", 20),
    (Board::RPI4, "rpi4-soak", 15),
];

pub fn cases(base: Case) -> Vec<Case> {
    RUNS.iter()
        .map(|(board, name, seconds)| {
            let soak = Case {
                about: "The soak under slab_debug and lockdep: traffic on every CPU, cache \
                        churn and random hotplug with every check on; nothing fails, nothing \
                        is lost, no lock order or context is wrong.",
                bootargs: format!(
                    "lockdep slab_debug run=\"stress all {seconds}; slab check; poweroff\""
                )
                .leak(),
                expect: &[
                    "lockdep: validating every lock's order and context",
                    "RESULT stress-all PASS",
                    "slab check: every cache has an array",
                ],
                forbid: &["Oops:", "WARNING:", "BUG:"],
                check: Some(soak_passed),
                timeout: Duration::from_secs(120),
                ..base
            };
            soak.on(board, name)
        })
        .collect()
}
