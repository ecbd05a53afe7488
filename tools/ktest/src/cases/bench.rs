//! The benchmarks as a test: each part of `bench` runs and its numbers are sane. Benchmarks
//! are not timed tests; `make bench` reports the numbers.

use std::time::Duration;

use crate::case::Case;
use crate::checks::bench_numbers_sane;

pub fn cases(base: Case) -> Vec<Case> {
    vec![Case {
        name: "bench-runs-sane",
        about: "Benchmarks are not timed tests: only that each part runs and its numbers \
                    are sane. `make bench` reports them.",
        // The first whole run may grow the caches its samples come from; the second
        // must give back everything it takes.
        bootargs: "run=\"bench; mem --raw; bench; mem --raw; poweroff\"",
        expect: &["RESULT bench-slab PASS cpus=4"],
        check: Some(bench_numbers_sane),
        timeout: Duration::from_secs(120),
        ..base
    }]
}
