//! `bench`: the kernel's speed, measured inside it with the generic timer. Each part
//! discards a warm-up round, repeats, and reports the median and 99th percentile on one
//! `RESULT bench-<part> PASS|FAIL key=value ...` line, which `make bench` collects. Under
//! QEMU's counting plugin each part also reports what its operations cost in guest
//! instructions, loads and stores (`counts`), which, unlike times, do not change with the
//! host; elsewhere it says `counts=unavailable`.
//!
//! - `boot`: machine start to the first prompt, and the phases that took it: the loader
//!   (to the first instruction), device tree, page tables and MMU, page allocator, boot
//!   log, secondary CPUs, and slab, kmalloc and shell;
//! - `hotplug`: CPU offline and online, per operation, over every other online CPU, and
//!   the floor of each under this emulator (`hotplug_floor`);
//! - `bringup`: every other CPU brought up at once by the kernel, next to the floor of
//!   that (CPU_ON to a stub that only signals back, on every CPU at once);
//! - `slab`: one alloc+free pair on the per-CPU fast path against `linked_list_allocator`,
//!   `buddy_system_allocator`, kmalloc and the floor (a bare per-CPU array) on one core,
//!   then every online core at once;
//! - `lock`: `cpus_read_lock` + unlock against a `spin::Mutex` lock + unlock, uncontended;
//! - `ipi`: an SGI round trip (a cross-call that waits) and a cross-call to all CPUs;
//! - `cache`: `kmem_cache_create` and `kmem_cache_destroy`;
//! - `scale`: what could grow with the CPU count, on one CPU or cache: its offline and
//!   online, the hotplug lock's write side, a cross-call to all, a cache's drain.

pub mod counts;
pub mod stats;

#[cfg(target_os = "none")]
mod bringup;
#[cfg(target_os = "none")]
mod cache;
#[cfg(target_os = "none")]
mod floor;
#[cfg(target_os = "none")]
mod hotplug;
#[cfg(target_os = "none")]
mod hotplug_floor;
#[cfg(target_os = "none")]
mod ipi;
#[cfg(target_os = "none")]
mod lock;
#[cfg(target_os = "none")]
mod scale;
#[cfg(target_os = "none")]
mod slab;

/// The parts, in the order `bench` runs them.
pub const PARTS: [&str; 8] = [
    "boot", "hotplug", "bringup", "slab", "lock", "ipi", "cache", "scale",
];

/// Runs one part by name (one of [`PARTS`]).
#[cfg(target_os = "none")]
pub fn run(part: &str) {
    match part {
        "boot" => boot(),
        "hotplug" => hotplug::run(),
        "bringup" => bringup::run(),
        "slab" => slab::run(),
        "lock" => lock::run(),
        "ipi" => ipi::run(),
        "cache" => cache::run(),
        "scale" => scale::run(),
        _ => crate::println!("RESULT bench-{part} FAIL reason=unknown-part"),
    }
}

#[cfg(target_os = "none")]
fn boot() {
    use crate::drivers::timer::ticks_to_ns;
    let (Some(ready), Some(t)) = (crate::boot::ready_ticks(), crate::boot::timeline()) else {
        crate::println!("RESULT bench-boot FAIL reason=no-prompt-yet");
        return;
    };
    let phases = [
        ("loader", 0, t.early.entry),
        ("device_tree", t.early.entry, t.early.device_tree),
        ("mmu", t.early.device_tree, t.early.mmu),
        ("memory", t.early.mmu, t.early.memory),
        ("log", t.early.memory, t.reported),
        ("cpus", t.reported, t.cpus),
        ("shell", t.cpus, ready),
    ];
    // Each phase's end is stamped where it happens; stamps out of order mean a phase
    // was stamped in the wrong place (a negative phase would print as 0 otherwise).
    let mut verdict = stats::Verdict::new();
    verdict.check(
        phases.iter().all(|&(_, from, to)| from < to),
        "phases-out-of-order",
    );
    let counted = boot_counts(&phases, &mut verdict);
    crate::print!(
        "RESULT bench-boot {} boot_ms={}",
        verdict.word(),
        stats::Millis(ticks_to_ns(ready))
    );
    for (name, from, to) in phases {
        crate::print!(
            " {name}_ms={}",
            stats::Millis(ticks_to_ns(to.saturating_sub(from)))
        );
    }
    crate::println!("{counted}{verdict}");
}

/// The boot CPU's instructions, loads and stores in each boot phase (the count from its
/// first instruction to each phase's checkpoint, less the phase before's), and in all;
/// ` counts=unavailable` without them.
#[cfg(target_os = "none")]
fn boot_counts(phases: &[(&str, u64, u64)], verdict: &mut stats::Verdict) -> alloc::string::String {
    use crate::arch::count_marker::phase;
    let mut line = alloc::string::String::new();
    let counting = counts::PartCounts::open("boot", verdict);
    let Some(records) = counting.records(verdict) else {
        line.push_str(" counts=unavailable");
        return line;
    };
    // Each phase's end, in the order of `phases`.
    let ends = [
        phase::ENTRY,
        phase::DEVICE_TREE,
        phase::MMU,
        phase::MEMORY,
        phase::LOG,
        phase::CPUS,
        phase::READY,
    ];
    let mut before = counts::Counts::default();
    for ((name, _, _), id) in phases.iter().zip(ends) {
        let Some(at) = records.checkpoint(id) else {
            verdict.check(false, "boot-checkpoint-missing");
            return line;
        };
        counts::write_per_op(&mut line, name, at.since(before), 1);
        before = at;
    }
    counts::write_per_op(&mut line, "boot", before, 1);
    line
}

/// What `f` returned, and the nanoseconds it took.
#[cfg(target_os = "none")]
fn timed<T>(f: impl FnOnce() -> T) -> (T, u64) {
    use crate::drivers::timer;
    let start = timer::ticks();
    let value = f();
    (value, timer::ticks_to_ns(timer::ticks() - start))
}
