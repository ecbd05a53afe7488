//! The report's section on lock validation: what `lockdep` costs, from the same `bench
//! lock slab` on virt with 4 CPUs booted without and with it. The slab's alloc + free
//! pair takes no lock and must cost the same either way; the lock pairs show the
//! validator's price against `spin::Mutex`, the floor.

use std::fmt::Write as _;

use crate::report::{cost, cost_text, find, num};
use crate::results::{Run, System};

/// The machine name of the validated run in the results.
pub const MACHINE: &str = "virt-lockdep";
/// Its CPU count, and that of the unvalidated run it is set against.
pub const CPUS: u32 = 4;

/// The section, or nothing when either run is missing.
pub fn markdown(runs: &[Run]) -> String {
    let mut out = String::new();
    let (Some(off), Some(on)) = (
        find(runs, System::Hotslab, "virt", CPUS),
        find(runs, System::Hotslab, MACHINE, CPUS),
    ) else {
        return out;
    };
    let _ = writeln!(
        out,
        "\n### What lock validation costs (`lockdep`, virt with {CPUS} CPUs)\n\n\
         Guest instructions / memory accesses per pair (time in ns, median), uncontended.\n\n\
         | pair | lockdep off | lockdep on |\n|---|---|---|"
    );
    for (label, part, name, time) in [
        ("slab alloc + free", "slab", "slab", "slab.slab_ns"),
        (
            "kernel SpinLock lock + unlock",
            "lock",
            "kernel_lock",
            "lock.kernel_lock_ns",
        ),
        (
            "cpus_read_lock + unlock",
            "lock",
            "read_lock",
            "lock.read_lock_ns",
        ),
        (
            "spin::Mutex lock + unlock (the floor)",
            "lock",
            "spin",
            "lock.spin_ns",
        ),
    ] {
        let cell = |r: &Run| format!("{} ({})", cost_text(cost(r, part, name)), num(r.get(time)));
        let _ = writeln!(out, "| {label} | {} | {} |", cell(off), cell(on));
    }
    out
}
