//! Every QEMU case, by area: each area's file holds its cases as a table, and the cases
//! that differ only by board are generated from one description over `Board`s. The order
//! here is the order the suite runs in and docs/tests.md lists.

mod bad_dtb;
mod bench;
mod boot;
mod crash;
mod faults;
mod fpsimd;
pub mod gdb;
mod gic_security;
mod log_levels;
mod machines;
mod psci_0_1;
mod rpi4;
mod slab;
mod slab_debug;
mod smp;
mod soak;
mod stacks;

use crate::case::Case;

/// What each case file gives: its cases, made from the defaults.
type CaseFile = fn(Case) -> Vec<Case>;

/// Each area of the suite and the files that make its cases.
pub const AREAS: [(&str, &[CaseFile]); 8] = [
    ("boot", &[boot::cases, log_levels::cases]),
    ("crash", &[crash::cases, stacks::cases]),
    (
        "device-tree",
        &[machines::cases, bad_dtb::cases, psci_0_1::cases],
    ),
    ("smp", &[smp::cases, gic_security::cases, fpsimd::cases]),
    ("faults", &[faults::cases]),
    ("slab", &[slab::cases, slab_debug::cases, soak::cases]),
    ("rpi4", &[rpi4::cases]),
    ("bench", &[bench::cases]),
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
