//! `stress slab-hotplug`: the 2004 report's scenario. Some CPUs load and unload a pretend
//! module (minix.ko in the report) that creates caches, allocates and frees from them on
//! every online CPU, and destroys them; another CPU takes the remaining CPUs offline and
//! online again, one after another. With the hotplug lock (the default) nothing breaks;
//! with `slab.hotplug_lock=off` and a race window the races of 2004 are met, named, and
//! survived, and the run stops once both have been seen.
//!
//! Roles: the shell's CPU is a loader; with 6 or more online CPUs a second CPU loads too;
//! the next is the hotplug controller; the rest are taken up and down.

use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arrayvec::ArrayString;

use super::{FailureText, Failures};
use crate::arch::cpu;
use crate::drivers::timer::{self, Deadline};
use crate::mm::kernel_slab::{self as slab};
use crate::mm::kernel_slab::{Cache, OwnedObject};
use crate::mm::slab::SlabFlags;
use crate::smp::cpumask::{AtomicCpuMask, CpuMask};
use crate::smp::{hotplug, state, work};

/// The pretend module's caches: (name suffix, object size, constructor).
const MODULE_CACHES: [(&str, usize, bool); 3] = [
    ("inode", 192, true),
    ("dentry", 48, false),
    ("buffer", 1024, false),
];
/// Objects each CPU allocates (and frees) per cache per load.
const BURST: usize = 8;

static STOP: AtomicBool = AtomicBool::new(false);
static CYCLES: AtomicU64 = AtomicU64::new(0);
static HOTPLUG_OPS: AtomicU64 = AtomicU64::new(0);
static OBJECTS: AtomicU64 = AtomicU64::new(0);
static INVARIANT_BREAKS: AtomicU64 = AtomicU64::new(0);
/// CPUs the controller cycles.
static TARGETS: AtomicCpuMask = AtomicCpuMask::new();
static FAILURES: Failures = Failures::new();

/// Records a failure and stops the run.
fn fail(args: core::fmt::Arguments<'_>) {
    FAILURES.record(args);
    STOP.store(true, Ordering::Release);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub passed: bool,
    pub seconds: u64,
    pub lock: bool,
    pub window_us: u64,
    pub cycles: u64,
    pub hotplug_ops: u64,
    pub objects: u64,
    pub race1: u64,
    pub race2: u64,
    pub invariant_breaks: u64,
    pub pages_leaked: i64,
    pub objects_leaked: i64,
}

/// What the allocator holds, to tell a leak from a cache that grew.
struct Holdings {
    free_pages: usize,
    slab_pages: usize,
    live_objects: usize,
}

fn holdings() -> Holdings {
    Holdings {
        free_pages: crate::mm::page_stats().free,
        slab_pages: slab::slab_pages(),
        live_objects: slab::objects_in_use(),
    }
}

/// Runs the scenario for `seconds` on this CPU and others; `Err` if it cannot start.
pub fn run(seconds: u64) -> Result<(Report, Option<FailureText>), &'static str> {
    let me = cpu::id();
    let online = state::online();
    if online.len() < 3 {
        return Err("needs at least 3 online CPUs (a loader, a controller, a target)");
    }
    let mut others = online.without(me).iter();
    let second_loader = if online.len() >= 6 {
        others.next()
    } else {
        None
    };
    let controller = others.next().expect("3 or more online");
    let targets: CpuMask = others.fold(CpuMask::empty(), |mut m, c| {
        m.insert(c);
        m
    });
    STOP.store(false, Ordering::Release);
    for counter in [&CYCLES, &HOTPLUG_OPS, &OBJECTS, &INVARIANT_BREAKS] {
        counter.store(0, Ordering::Relaxed);
    }
    FAILURES.clear();
    TARGETS.set(targets);
    let lock = slab::hotplug_lock();
    let (race1_before, race2_before) = slab::races();
    let before = holdings();

    crate::println!(
        "stress slab-hotplug: {seconds} s; loaders cpu{me}{}, controller cpu{controller}, \
         cycled cpu {targets}; hotplug_lock={}, lock_order={}, race_window_us={}",
        second_loader.map_or(ArrayString::<8>::new(), |c| {
            let mut s = ArrayString::new();
            let _ = write!(s, " cpu{c}");
            s
        }),
        if lock { "on" } else { "off" },
        if slab::lock_order_inverted() {
            "inverted"
        } else {
            "normal"
        },
        slab::race_window_us()
    );
    let started = timer::now_ns();
    let mut workers = CpuMask::single(controller);
    if let Err(e) = work::start_on(controller, controller_job, 0) {
        fail(format_args!("cannot start the controller: {e}"));
    }
    if let Some(l) = second_loader {
        workers.insert(l);
        if let Err(e) = work::start_on(l, loader_job, 1) {
            fail(format_args!("cannot start loader 1: {e}"));
        }
    }
    let deadline = Deadline::after_us(seconds * 1_000_000);
    loader(0, Some(&deadline));
    STOP.store(true, Ordering::Release);
    // Every cycled CPU back online, so the arrays are what they were.
    super::wind_down(workers, targets, fail);
    let after = holdings();
    let (race1_after, race2_after) = slab::races();
    let pages_leaked = (before.free_pages as i64 - after.free_pages as i64)
        - (after.slab_pages as i64 - before.slab_pages as i64);
    let objects_leaked = after.live_objects as i64 - before.live_objects as i64;
    let failure = FAILURES.first();
    let report = Report {
        passed: false,
        seconds: (timer::now_ns() - started) / 1_000_000_000,
        lock,
        window_us: slab::race_window_us(),
        cycles: CYCLES.load(Ordering::Relaxed),
        hotplug_ops: HOTPLUG_OPS.load(Ordering::Relaxed),
        objects: OBJECTS.load(Ordering::Relaxed),
        race1: race1_after - race1_before,
        race2: race2_after - race2_before,
        invariant_breaks: INVARIANT_BREAKS.load(Ordering::Relaxed),
        pages_leaked,
        objects_leaked,
    };
    let passed = failure.is_none()
        && report.race1 == 0
        && report.race2 == 0
        && report.invariant_breaks == 0
        && pages_leaked == 0
        && objects_leaked == 0
        && report.cycles > 0
        && report.hotplug_ops > 0;
    Ok((Report { passed, ..report }, failure))
}

fn controller_job(_: u64) {
    let targets = TARGETS.get();
    while !STOP.load(Ordering::Acquire) {
        for cpu in targets.iter() {
            for up in [false, true] {
                let result = if up {
                    hotplug::cpu_up(cpu)
                } else {
                    hotplug::cpu_down(cpu)
                };
                match result {
                    Ok(()) => {
                        HOTPLUG_OPS.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        fail(format_args!("controller: {e}"));
                        return;
                    }
                }
            }
        }
    }
}

fn loader_job(id: u64) {
    loader(id, None);
}

/// Loads and unloads the module until told to stop, or `deadline` passes, or (with the
/// races open) both have been seen.
fn loader(id: u64, deadline: Option<&Deadline>) {
    let (race1_start, race2_start) = slab::races();
    let mut load = 0u64;
    while !STOP.load(Ordering::Acquire) && !deadline.is_some_and(Deadline::passed) {
        if let Err(e) = load_and_unload(id, load) {
            fail(format_args!("loader {id}, load {load}: {e}"));
            return;
        }
        load += 1;
        CYCLES.fetch_add(1, Ordering::Relaxed);
        let (r1, r2) = slab::races();
        if !slab::hotplug_lock() && r1 > race1_start && r2 > race2_start {
            STOP.store(true, Ordering::Release);
        }
    }
}

fn inode_ctor(object: &mut [u8]) {
    object[..4].copy_from_slice(b"INOD");
}

/// One module init and exit: create the caches, use them on every CPU, destroy them.
fn load_and_unload(id: u64, load: u64) -> Result<(), ArrayString<120>> {
    let mut err = ArrayString::<120>::new();
    let mut caches = Vec::with_capacity(MODULE_CACHES.len());
    for (suffix, size, ctor) in MODULE_CACHES {
        let mut name = ArrayString::<24>::new();
        let _ = write!(name, "mod{id}_{suffix}");
        let ctor = if ctor {
            Some(inode_ctor as fn(&mut [u8]))
        } else {
            None
        };
        match slab::kmem_cache_create(&name, size, 0, SlabFlags::HWCACHE_ALIGN, ctor) {
            Ok(c) => caches.push(c),
            Err(e) => {
                let _ = write!(err, "create {name}: {e}");
                break;
            }
        }
    }
    if err.is_empty() {
        if slab::check_invariant().is_err() {
            INVARIANT_BREAKS.fetch_add(1, Ordering::Relaxed);
        }
        for cache in &caches {
            use_everywhere(cache.cache(), &mut err);
        }
    }
    for cache in caches {
        let name: ArrayString<24> = ArrayString::from(cache.name()).unwrap_or_default();
        if let Err((_, e)) = slab::kmem_cache_destroy(cache)
            && err.is_empty()
        {
            let _ = write!(err, "destroy {name} (load {load}): {e}");
        }
    }
    if err.is_empty() { Ok(()) } else { Err(err) }
}

/// Allocates and frees on every online CPU (the module's users), and a few here that
/// stay allocated across the calls.
fn use_everywhere(cache: &Cache, err: &mut ArrayString<120>) {
    let mut mine: Vec<OwnedObject> = Vec::new();
    for _ in 0..BURST {
        match OwnedObject::alloc(cache) {
            Ok(o) => mine.push(o),
            Err(e) => {
                let _ = write!(err, "alloc from {}: {e}", cache.name());
                break;
            }
        }
    }
    hotplug::cpus_read_lock();
    let called = slab::on_each_online_cpu(cache, burst);
    hotplug::cpus_read_unlock();
    if let Err(e) = called
        && err.is_empty()
    {
        let _ = write!(err, "cross-call: {e}");
    }
    OBJECTS.fetch_add(mine.len() as u64, Ordering::Relaxed);
    for o in mine {
        if let Err(e) = o.free()
            && err.is_empty()
        {
            let _ = write!(err, "free to {}: {e}", cache.name());
        }
    }
}

/// On each CPU, interrupts masked: allocate a burst, touch it, free it.
fn burst(cache: &Cache) {
    let mut objects = [const { None }; BURST];
    for slot in &mut objects {
        match OwnedObject::alloc(cache) {
            Ok(o) => *slot = Some(o),
            Err(e) => fail(format_args!("cpu{}: alloc: {e}", cpu::id())),
        }
    }
    for o in objects.into_iter().flatten() {
        if let Err(e) = o.free() {
            fail(format_args!("cpu{}: free: {e}", cpu::id()));
        }
        OBJECTS.fetch_add(1, Ordering::Relaxed);
    }
}
