//! The kernel's own memset (arch/aarch64/memset.s): every alignment and length its paths
//! and tails take, checked byte by byte from the shell.

use std::time::Duration;

use crate::case::Case;

pub fn cases(base: Case) -> Vec<Case> {
    vec![Case {
        name: "memset-every-alignment-and-length",
        about: "`mem --check-memset`: memset (paired stores, aligned only) at every start \
                within 32 bytes and every length to 320, with two bytes: the return value, \
                each byte filled and none around them touched.",
        bootargs: "quiet run=\"mem --check-memset; poweroff\"",
        expect: &["RESULT mem-check-memset PASS fills=20544"],
        forbid: &["Oops:", " FAIL "],
        timeout: Duration::from_secs(120),
        ..base
    }]
}
