//! The benchmarks as a test: each part of `bench` runs and its numbers are sane, and says
//! its counts are unavailable without the counting plugin; under it, the counts are there
//! and the same in every run. Benchmarks are not timed tests; `make bench` reports the
//! numbers.

use std::time::Duration;

use crate::case::Case;
use crate::checks::{bench_counts_without_waits, bench_numbers_sane, counts_repeat_in_a_boot};

pub fn cases(base: Case) -> Vec<Case> {
    vec![
        Case {
            name: "bench-runs-sane",
            about: "Benchmarks are not timed tests: only that each part runs and its numbers \
                    are sane. `make bench` reports them. Without the counting plugin each \
                    part says its counts are unavailable.",
            // The first whole run may grow the caches its samples come from; the second
            // must give back everything it takes.
            bootargs: "run=\"bench; mem --raw; bench; mem --raw; poweroff\"",
            expect: &[
                "RESULT bench-slab PASS cpus=4",
                "counts unavailable: no bench.counts=FILE bootarg",
                "counts=unavailable",
            ],
            check: Some(bench_numbers_sane),
            timeout: Duration::from_secs(120),
            ..base
        },
        Case {
            name: "bench-counts-repeat",
            about: "Under the counting plugin (tools/counts) a bracket of known code counts \
                    exactly what it holds (each part checks, before it counts); the hotplug \
                    lock's read side counts the same twice in a boot and in two boots, and so \
                    do the boot CPU's boot phases up to the boot log. (What waits for the \
                    host, the console or another CPU, can move by a round of the wait on a \
                    loaded host: `make bench` compares those.)",
            qemu_args: &[
                "-plugin",
                "file=target/release/libcounts.so,out=build/counts-ktest.txt",
            ],
            // Quiet: a boot log printed may wait for the UART.
            bootargs: "quiet bench.counts=build/counts-ktest.txt \
                       run=\"bench boot; bench lock; bench lock; poweroff\"",
            expect: &["RESULT bench-boot PASS", "RESULT bench-lock PASS"],
            forbid: &["Oops:", "counts unavailable", "counts=unavailable"],
            check: Some(counts_repeat_in_a_boot),
            same_twice: Some(bench_counts_without_waits),
            ..base
        },
    ]
}
