//! `stress all`: the soak. Every online CPU at once runs allocation and free traffic
//! through kmalloc and a few shared caches (objects filled with a pattern that is checked
//! at free, and handed between CPUs so that many are freed where they were not
//! allocated); the shell's CPU also makes and destroys caches and checks the slab
//! invariant as it goes, while another CPU (the controller) takes random other CPUs
//! offline and online again (with only two CPUs, the shell's CPU does both). At the end
//! everything is given back and the page count must be what it was. A race between cache
//! create/destroy and hotplug (possible only with `slab.hotplug_lock=off`) is a failure,
//! and so is a cross-call an online CPU did not answer in time.
//!
//! Traffic is paced so that about [`BUSY_AT_ONCE`] CPUs' worth of it runs at any moment:
//! beyond that many CPUs each one rests (in WFI) between bursts in proportion. Every CPU
//! still sends, receives and answers; what stays bounded is the load on the machine, which
//! under emulation is the host's few cores: 512 vCPUs all busy on two of them answer a
//! cross-call in seconds, not microseconds, and the run stops measuring the kernel.
//!
//! A CPU that may be taken down only allocates and frees (which never waits for the
//! hotplug lock) and returns from its job as soon as it is asked to die: a job that waited
//! for the hotplug lock while its CPU was being taken down would never let it die.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arrayvec::{ArrayString, ArrayVec};

use super::{FailureText, Failures};
use crate::arch::cpu;
use crate::drivers::timer::{self, Deadline};
use crate::mm::kernel_slab::{self as slab};
use crate::mm::kernel_slab::{CacheHandle, OwnedObject, SharedCache};
use crate::mm::slab::SlabFlags;
use crate::rng::Rng;
use crate::smp::cpumask::{AtomicCpuMask, CpuMask};
use crate::smp::{hotplug, state, work};
use crate::sync::IrqSpinLock;

/// The shared caches every CPU uses: (name, object size).
const SHARED: [(&str, usize); 3] = [
    ("stress_small", 40),
    ("stress_mid", 200),
    ("stress_big", 900),
];
/// kmalloc sizes the traffic picks from.
const KMALLOC_SIZES: [usize; 8] = [8, 24, 64, 100, 256, 512, 1500, 4096];
/// Objects a CPU holds at once.
const HELD: usize = 48;
/// Objects waiting to be freed by another CPU.
const EXCHANGE: usize = 256;
/// How many hotplug operations the shell's CPU starts per second, at most.
const HOTPLUG_PER_SECOND: u64 = 50;
/// About how many CPUs' worth of traffic runs at once: with more online, each rests
/// between bursts so that the sum stays near this.
const BUSY_AT_ONCE: u64 = 16;
/// Traffic steps in a burst between rests.
const BURST: usize = 32;
/// The longest rest, so that a resting CPU sees the end of the run soon.
const MAX_REST_US: u64 = 20_000;

static STOP: AtomicBool = AtomicBool::new(false);
static HOTPLUG_OPS: AtomicU64 = AtomicU64::new(0);
/// The CPUs the controller takes down and up.
static TARGETS: AtomicCpuMask = AtomicCpuMask::new();
static OBJECTS: AtomicU64 = AtomicU64::new(0);
static FAILURES: Failures = Failures::new();
/// The shared caches, while the run lasts.
static SHARED_CACHES: IrqSpinLock<ArrayVec<SharedCache, 3>> = IrqSpinLock::new(
    crate::lock_class!("soak shared caches"),
    ArrayVec::new_const(),
);
/// Objects one CPU allocated and left for another to free.
static EXCHANGE_QUEUE: IrqSpinLock<ArrayVec<Held, EXCHANGE>> = IrqSpinLock::new(
    crate::lock_class!("soak exchange queue"),
    ArrayVec::new_const(),
);
fn fail(args: core::fmt::Arguments<'_>) {
    FAILURES.record(args);
}

/// An object held by the traffic: a kmalloc allocation (through the global allocator,
/// which is kmalloc) or an object of a cache.
enum Held {
    Kmalloc(Box<[u8]>),
    Cache(OwnedObject),
}

impl Held {
    fn bytes(&self) -> &[u8] {
        match self {
            Held::Kmalloc(b) => b,
            Held::Cache(o) => o.bytes(),
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Held::Kmalloc(b) => b,
            Held::Cache(o) => o.bytes_mut(),
        }
    }

    /// The byte at `i` of an object at `addr`: a different pattern per object, so an
    /// object handed out twice, or written by a stranger, shows.
    fn pattern(addr: usize, i: usize) -> u8 {
        ((addr >> 3) as u8).wrapping_add(i as u8) ^ 0xa5
    }

    /// The first and last 16 bytes (all of a small object).
    fn checked_bytes(size: usize) -> impl Iterator<Item = usize> {
        (0..size.min(16)).chain(size.saturating_sub(16).max(16)..size)
    }

    fn fill(&mut self) {
        let bytes = self.bytes_mut();
        let addr = bytes.as_ptr() as usize;
        for i in Self::checked_bytes(bytes.len()) {
            bytes[i] = Self::pattern(addr, i);
        }
    }

    fn intact(&self) -> bool {
        let bytes = self.bytes();
        let addr = bytes.as_ptr() as usize;
        Self::checked_bytes(bytes.len()).all(|i| bytes[i] == Self::pattern(addr, i))
    }

    fn release(self) {
        if !self.intact() {
            let bytes = self.bytes();
            fail(format_args!(
                "cpu{}: object {:p} ({} bytes) changed while held",
                cpu::id(),
                bytes.as_ptr(),
                bytes.len()
            ));
        }
        match self {
            Held::Kmalloc(b) => drop(b),
            Held::Cache(o) => {
                let cache: ArrayString<24> =
                    ArrayString::from(o.cache().name()).unwrap_or_default();
                if let Err(e) = o.free() {
                    fail(format_args!("cpu{}: free to {cache}: {e}", cpu::id()));
                }
            }
        }
        OBJECTS.fetch_add(1, Ordering::Relaxed);
    }
}

/// One step of traffic: allocate something, and free the oldest held object, sometimes
/// through another CPU.
fn traffic_step(rng: &mut Rng, held: &mut ArrayVec<Held, HELD>) {
    // A shared cache is picked under the lock that keeps the shares, and its object taken
    // after it, with interrupts enabled, through the fast path that cross-calls interrupt;
    // the share taken here keeps the cache until the object is out. A kmalloc size is only
    // picked there.
    let picked = {
        let shared = SHARED_CACHES.lock();
        let choice = rng.below(KMALLOC_SIZES.len() + shared.len());
        match shared.get(choice) {
            Some(cache) => Ok(cache.clone()),
            None => Err(KMALLOC_SIZES[choice - shared.len()]),
        }
    };
    let from_cache = picked.map(|cache| OwnedObject::alloc(&cache).ok().map(Held::Cache));
    // A failed kmalloc here would be the global allocator's panic, not an error: the
    // soak holds little enough that it cannot run out.
    let new =
        from_cache.unwrap_or_else(|size| Some(Held::Kmalloc(vec![0u8; size].into_boxed_slice())));
    match new {
        Some(mut h) => {
            h.fill();
            if held.is_full() {
                held.remove(0).release();
            }
            held.push(h);
        }
        None => fail(format_args!("cpu{}: allocation failed", cpu::id())),
    }
    // Now and then, hand an object over and free one another CPU left.
    if rng.below(4) == 0 && !held.is_empty() {
        let mine = held.remove(rng.below(held.len()));
        let theirs = {
            let mut queue = EXCHANGE_QUEUE.lock();
            let theirs = if queue.is_empty() {
                None
            } else {
                Some(queue.swap_remove(0))
            };
            match queue.try_push(mine) {
                Ok(()) => None,
                Err(e) => Some(e.element()),
            }
            .into_iter()
            .chain(theirs)
            .collect::<ArrayVec<Held, 2>>()
        };
        for h in theirs {
            h.release();
        }
    }
}

fn release_all(held: &mut ArrayVec<Held, HELD>) {
    for h in held.drain(..) {
        h.release();
    }
}

/// A traffic CPU's job: runs until the soak stops or this CPU is asked to die.
fn traffic_job(seed: u64) {
    let me = cpu::id();
    let mut rng = Rng::new(seed);
    let mut held = ArrayVec::new();
    let done = || STOP.load(Ordering::Acquire) || work::should_stop(me);
    while !done() {
        let began = timer::ticks();
        for _ in 0..BURST {
            traffic_step(&mut rng, &mut held);
        }
        let rest = rest_after_us(timer::ticks_to_ns(timer::ticks() - began) / 1_000);
        if rest > 0 {
            crate::smp::doze_unless(done, rest);
        }
    }
    release_all(&mut held);
}

/// How long a traffic CPU rests after a burst of `burst_us`: nothing with up to
/// [`BUSY_AT_ONCE`] CPUs online, else long enough that each is busy only that share of
/// the time.
fn rest_after_us(burst_us: u64) -> u64 {
    let online = state::online().len() as u64;
    if online <= BUSY_AT_ONCE {
        return 0;
    }
    (burst_us * (online - BUSY_AT_ONCE) / BUSY_AT_ONCE).clamp(1, MAX_REST_US)
}

/// One random hotplug operation on one of the targets: down if online, else up.
fn hotplug_one(rng: &mut Rng) {
    let targets = TARGETS.get();
    let target = pick(targets, rng);
    let result = if state::online().contains(target) {
        hotplug::cpu_down(target)
    } else {
        hotplug::cpu_up(target)
    };
    match result {
        Ok(()) => {
            HOTPLUG_OPS.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => fail(format_args!("hotplug: {e}")),
    }
}

/// The controller's job: hotplug at a steady pace, traffic in between.
fn controller_job(seed: u64) {
    let mut rng = Rng::new(seed);
    let mut held = ArrayVec::new();
    let mut next = Deadline::after_us(0);
    while !STOP.load(Ordering::Acquire) {
        if next.passed() {
            hotplug_one(&mut rng);
            next = Deadline::after_us(1_000_000 / HOTPLUG_PER_SECOND);
        }
        traffic_step(&mut rng, &mut held);
    }
    release_all(&mut held);
}

/// What the run did, for the RESULT line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub passed: bool,
    pub seconds: u64,
    pub hotplug_ops: u64,
    pub caches: u64,
    pub objects: u64,
    pub failures: u64,
    pub pages_leaked: i64,
    /// Objects allocated and not freed, over every cache (kmalloc's included).
    pub objects_leaked: i64,
}

/// Free pages, plus what the slab caches hold in their slabs (kept for reuse).
fn free_pages_plus_slab() -> i64 {
    crate::mm::page_stats().free as i64 + slab::slab_pages() as i64
}

/// Objects allocated and not yet freed, less the per-CPU arrays of the CPUs up.
fn live_objects() -> i64 {
    slab::objects_in_use() as i64
}

/// Runs the soak for `seconds`; `Err` if it cannot start.
pub fn run(seconds: u64) -> Result<(Report, Option<FailureText>), &'static str> {
    let me = cpu::id();
    let others = state::online().without(me);
    if others.is_empty() {
        return Err("needs at least 2 online CPUs");
    }
    // With three CPUs or more, a controller that is never taken down does the hotplug,
    // so that it runs at the same time as cache create and destroy here.
    let controller = (others.len() >= 2).then(|| others.iter().next()).flatten();
    let targets = controller.map_or(others, |c| others.without(c));
    STOP.store(false, Ordering::Release);
    HOTPLUG_OPS.store(0, Ordering::Relaxed);
    TARGETS.set(targets);
    OBJECTS.store(0, Ordering::Relaxed);
    FAILURES.clear();
    let before = free_pages_plus_slab();
    let live_before = live_objects();
    let races_before = slab::races();
    let call_timeouts_before = crate::smp::call::timeouts();
    let mut shared_handles: Vec<CacheHandle> = Vec::new();
    for (name, size) in SHARED {
        match slab::kmem_cache_create(name, size, 0, SlabFlags::HWCACHE_ALIGN, None) {
            Ok(c) => {
                SHARED_CACHES.lock().push(c.share());
                shared_handles.push(c);
            }
            Err(e) => fail(format_args!("create {name}: {e}")),
        }
    }
    crate::println!(
        "stress all: {seconds} s; traffic on cpu {}, cache churn on cpu{me}, hotplug of cpu \
         {targets} from cpu{}",
        state::online(),
        controller.unwrap_or(me)
    );
    let started = timer::now_ns();
    let deadline = Deadline::after_us(seconds * 1_000_000);
    let mut rng = Rng::new(timer::ticks());
    let mut held = ArrayVec::new();
    let mut caches = 0u64;
    let mut next_hotplug = Deadline::after_us(0);
    if let Some(c) = controller
        && let Err(e) = work::start_on(c, controller_job, timer::ticks())
    {
        fail(format_args!("cannot start the controller on cpu{c}: {e}"));
    }
    let mut next_churn = Deadline::after_us(0);
    let mut seed = 1;
    while !deadline.passed() {
        // Keep a traffic job on every online target.
        for c in state::online().and(targets).iter() {
            if !work::busy(c) {
                seed += 1;
                // Busy or just gone offline: tried again next round.
                let _ = work::start_on(c, traffic_job, seed);
            }
        }
        for _ in 0..64 {
            traffic_step(&mut rng, &mut held);
        }
        if next_churn.passed() {
            churn_a_cache(caches, &mut rng);
            caches += 1;
            if let Err(e) = slab::check_invariant() {
                fail(format_args!("slab invariant: {e}"));
            }
            next_churn = Deadline::after_us(5_000);
        }
        if controller.is_none() && next_hotplug.passed() {
            hotplug_one(&mut rng);
            next_hotplug = Deadline::after_us(1_000_000 / HOTPLUG_PER_SECOND);
        }
    }
    STOP.store(true, Ordering::Release);
    release_all(&mut held);
    super::wind_down(others, targets, fail);
    // One at a time: the lock is not held while an object is checked and freed.
    while let Some(h) = EXCHANGE_QUEUE.lock().pop() {
        h.release();
    }
    SHARED_CACHES.lock().clear();
    for handle in shared_handles {
        let name: ArrayString<24> = ArrayString::from(handle.name()).unwrap_or_default();
        if let Err((_, e)) = slab::kmem_cache_destroy(handle) {
            fail(format_args!("destroy {name}: {e}"));
        }
    }
    if let Err(e) = slab::check_invariant() {
        fail(format_args!("slab invariant at the end: {e}"));
    }
    let pages_leaked = before - free_pages_plus_slab();
    let objects_leaked = live_objects() - live_before;
    let races = slab::races();
    let call_timeouts = crate::smp::call::timeouts() - call_timeouts_before;
    for _ in 0..call_timeouts {
        fail(format_args!(
            "{call_timeouts} cross-call(s) not answered in time by an online CPU"
        ));
    }
    let (race1, race2) = (races.0 - races_before.0, races.1 - races_before.1);
    // Each was reported where it happened; here each counts as a failure.
    for _ in 0..race1 + race2 {
        fail(format_args!(
            "races between cache create/destroy and CPU hotplug: {race1} of race 1, \
             {race2} of race 2"
        ));
    }
    let failures = FAILURES.count();
    let hotplug_ops = HOTPLUG_OPS.load(Ordering::Relaxed);
    let report = Report {
        passed: failures == 0 && pages_leaked == 0 && objects_leaked == 0 && hotplug_ops > 0,
        seconds: (timer::now_ns() - started) / 1_000_000_000,
        hotplug_ops,
        caches,
        objects: OBJECTS.load(Ordering::Relaxed),
        failures,
        pages_leaked,
        objects_leaked,
    };
    Ok((report, FAILURES.first()))
}

/// A random CPU of `cpus` (not empty).
fn pick(cpus: CpuMask, rng: &mut Rng) -> usize {
    let n = rng.below(cpus.len());
    cpus.iter().nth(n).expect("n is below the count")
}

/// Makes a cache, uses it, checks it, destroys it.
fn churn_a_cache(number: u64, rng: &mut Rng) {
    let mut name = ArrayString::<24>::new();
    let _ = write!(name, "churn{}", number % 1000);
    let size = 16 + rng.below(2000);
    let handle = match slab::kmem_cache_create(&name, size, 0, SlabFlags::NONE, None) {
        Ok(h) => h,
        Err(e) => {
            fail(format_args!("create {name}: {e}"));
            return;
        }
    };
    let cache = handle.cache();
    let mut held: ArrayVec<Held, 16> = ArrayVec::new();
    for _ in 0..16 {
        match OwnedObject::alloc(cache) {
            Ok(object) => {
                let mut h = Held::Cache(object);
                h.fill();
                held.push(h);
            }
            Err(e) => fail(format_args!("alloc from {name}: {e}")),
        }
    }
    for h in held {
        h.release();
    }
    if let Err((_, e)) = slab::kmem_cache_destroy(handle) {
        fail(format_args!("destroy {name}: {e}"));
    }
}
