//! Every QEMU case, by area: each area's file holds its cases as a table, and the cases
//! that differ only by board are generated from one description over `Board`s. The order
//! here is the order the suite runs in and docs/tests.md lists.

mod backtrace;
mod bad_dtb;
mod bench;
mod boot;
mod crash;
mod every_cpu;
mod faults;
mod fpsimd;
pub mod gdb;
mod gic_scale;
mod gic_security;
mod lockdep;
mod log_levels;
mod machines;
mod matrix;
mod memset;
mod psci_0_1;
mod rpi4;
mod rpi4_chains;
mod slab;
mod slab_debug;
mod smp;
mod soak;
mod stacks;

use crate::case::Case;

/// What each case file gives: its cases, made from the defaults.
type CaseFile = fn(Case) -> Vec<Case>;

/// Each area of the suite and the files that make its cases.
pub const AREAS: [(&str, &[CaseFile]); 10] = [
    ("boot", &[boot::cases, log_levels::cases, memset::cases]),
    ("crash", &[crash::cases, stacks::cases, backtrace::cases]),
    (
        "device-tree",
        &[machines::cases, bad_dtb::cases, psci_0_1::cases],
    ),
    (
        "smp",
        &[
            smp::cases,
            gic_security::cases,
            gic_scale::cases,
            every_cpu::cases,
            fpsimd::cases,
        ],
    ),
    ("faults", &[faults::cases]),
    ("slab", &[slab::cases, slab_debug::cases, soak::cases]),
    ("locks", &[lockdep::cases]),
    ("rpi4", &[rpi4::cases, rpi4_chains::cases]),
    ("bench", &[bench::cases]),
    ("matrix", &[matrix::cases]),
];

/// Every case with its area, in order.
pub fn all() -> Vec<(&'static str, Case)> {
    AREAS
        .iter()
        .flat_map(|(area, files)| {
            files
                .iter()
                .flat_map(|cases| cases(Case::base()))
                .map(move |case| (*area, case))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain through U-Boot boots with the card's bootargs: a case's own would be
    /// silently ignored.
    #[test]
    fn cases_through_u_boot_have_no_bootargs_of_their_own() {
        use crate::case::{Chain, Kernel};
        for (_, case) in all() {
            if let Kernel::Through(Chain::UBoot | Chain::TfAUBoot) = case.kernel {
                assert!(case.bootargs.is_empty(), "{}: bootargs", case.name);
                assert!(!case.typed.is_empty(), "{}: nothing typed", case.name);
            }
        }
    }

    /// Two spaces in a row: how a table pads its columns, never how a sentence or a
    /// `key=value` line separates its words.
    fn padded(text: &str) -> bool {
        text.contains("  ")
    }

    /// The rule of docs/tests.md: a case matches facts (a raw form's `key=value` words, a
    /// `RESULT` line, a sentence), never a table's columns, whose widths may change. Seen
    /// failing on the cases as they were, which named 68 texts such as
    /// `"  0  0x0          psci         offline"`.
    #[test]
    fn no_case_matches_column_padding() {
        let mut padded_texts = Vec::new();
        for (_, case) in all() {
            let until = case.until.map(|(text, _)| text);
            for text in case.expect.iter().chain(case.forbid).chain(until.iter()) {
                if padded(text) {
                    padded_texts.push(format!("{}: {text:?}", case.name));
                }
            }
        }
        for case in gdb::cases() {
            for text in case.expect.iter().filter(|text| padded(text)) {
                padded_texts.push(format!("{}: {text:?}", case.name));
            }
        }
        assert!(
            padded_texts.is_empty(),
            "{} texts match a table's column padding; match a raw form instead \
             (docs/tests.md, What a case may match):\n{}",
            padded_texts.len(),
            padded_texts.join("\n")
        );
    }
}
