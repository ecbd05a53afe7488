//! `bench slab`: one 64-byte alloc+free pair, in the steady state of a CPU that holds a
//! working set of objects (allocate one, free the oldest), on the slab's per-CPU fast path
//! (objects held as `OwnedObject`s, as safe kernel code holds them), through kmalloc (a
//! `Box`: the global allocator, whose free checks the pointer it is given), on the two
//! peer heaps (`mm::peer_heaps`), and on the floor (`floor`: a bare per-CPU array, the
//! least the job takes here). Each allocator runs the same loop, compiled for it alone, so no allocator
//! pays for another's dispatch. First one core, in batches, the five taking turns batch by
//! batch so that the host's moods fall on all of them alike; then throughput, each
//! allocator on this core alone and then on every online core at once, a fixed number of
//! pairs per core, several runs each. Medians and minimums. Under the counting plugin each
//! allocator's loop is first counted over 1000 pairs with interrupts masked: instructions,
//! loads and stores per pair.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::counts::{self, PartCounts, Reported};
use super::floor::Floor;
use super::stats::{Hundredths, Samples, Verdict};
use super::timed;
use crate::drivers::timer::{self, Deadline};
use crate::mm::kernel_slab::{self, OwnedObject, SharedCache};
use crate::mm::peer_heaps::{self, PeerHeap, PeerObject};
use crate::mm::slab::SlabFlags;
use crate::println;
use crate::smp::cpumask::CpuMask;
use crate::smp::{state, work};
use crate::sync::SpinLock;

const OBJECT_SIZE: usize = 64;
/// Objects a CPU holds while it allocates and frees.
const WORKING_SET: usize = 32;
const BATCH: u64 = 1000;
const SAMPLES: usize = 41;
/// Pairs in each allocator's counted bracket.
const COUNTED_PAIRS: u64 = 1000;
/// Pairs per core in a throughput run.
const PARALLEL_PAIRS: u64 = 200_000;
/// Throughput runs per allocator, alone and on every core.
const THROUGHPUT_RUNS: usize = 7;
const HEAP_PAGES: usize = 64;
const PARALLEL_TIMEOUT_US: u64 = 120_000_000;

/// What the pair loop needs of an allocator.
trait PairAllocator: Clone {
    type Object;
    fn alloc(&self) -> Option<Self::Object>;
    /// False if the allocator refused the object back.
    fn free(&self, object: Self::Object) -> bool;
}

impl PairAllocator for SharedCache {
    type Object = OwnedObject;
    #[inline(always)]
    fn alloc(&self) -> Option<OwnedObject> {
        OwnedObject::alloc(self).ok()
    }
    #[inline(always)]
    fn free(&self, object: OwnedObject) -> bool {
        object.free().is_ok()
    }
}

fn layout() -> Layout {
    Layout::from_size_align(OBJECT_SIZE, 8).expect("a valid layout")
}

impl PairAllocator for &'static PeerHeap {
    type Object = PeerObject;
    #[inline(always)]
    fn alloc(&self) -> Option<PeerObject> {
        PeerHeap::alloc(self, layout())
    }
    #[inline(always)]
    fn free(&self, object: PeerObject) -> bool {
        object.free();
        true
    }
}

/// The global allocator (kmalloc's size classes), through `Box`.
#[derive(Clone, Copy)]
struct Kmalloc;

impl PairAllocator for Kmalloc {
    type Object = Box<MaybeUninit<[u8; OBJECT_SIZE]>>;
    #[inline(always)]
    fn alloc(&self) -> Option<Self::Object> {
        Some(Box::new_uninit())
    }
    #[inline(always)]
    fn free(&self, object: Self::Object) -> bool {
        drop(object);
        true
    }
}

impl PairAllocator for Arc<Floor> {
    type Object = usize;
    #[inline(always)]
    fn alloc(&self) -> Option<usize> {
        Floor::alloc(self)
    }
    #[inline(always)]
    fn free(&self, object: usize) -> bool {
        Floor::free(self, object)
    }
}

/// One CPU's working set: each step allocates an object and frees the oldest.
struct WorkingSet<A: PairAllocator> {
    allocator: A,
    objects: [Option<A::Object>; WORKING_SET],
    oldest: usize,
}

impl<A: PairAllocator> WorkingSet<A> {
    /// A full working set, on the heap: five of them are used at once, too much for a
    /// stack frame.
    fn fill(allocator: A) -> Option<Box<Self>> {
        let mut set = Self {
            allocator,
            objects: [const { None }; WORKING_SET],
            oldest: 0,
        };
        for at in 0..WORKING_SET {
            set.objects[at] = Some(set.allocator.alloc()?);
        }
        Some(Box::new(set))
    }

    /// `n` alloc+free pairs; false if the allocator failed.
    #[inline(never)]
    fn pairs(&mut self, n: u64) -> bool {
        for _ in 0..n {
            let Some(new) = self.allocator.alloc() else {
                return false;
            };
            let old = self.objects[self.oldest].replace(new);
            if !old.is_some_and(|o| self.allocator.free(o)) {
                return false;
            }
            self.oldest = (self.oldest + 1) % WORKING_SET;
        }
        true
    }
}

impl<A: PairAllocator> Drop for WorkingSet<A> {
    fn drop(&mut self) {
        for object in self.objects.iter_mut().filter_map(Option::take) {
            self.allocator.free(object);
        }
    }
}

/// A working set of any allocator, for taking turns.
trait Batch {
    /// Nanoseconds per pair over a batch; `None` if the allocator failed.
    fn batch(&mut self) -> Option<u64>;
    /// `COUNTED_PAIRS` pairs in a count bracket with `tag`, interrupts masked so that only
    /// the pairs are counted; false if the allocator failed.
    fn counted(&mut self, tag: u64) -> bool;
}

impl<A: PairAllocator> Batch for WorkingSet<A> {
    fn batch(&mut self) -> Option<u64> {
        let (ok, ns) = timed(|| self.pairs(BATCH));
        ok.then_some(ns / BATCH)
    }

    fn counted(&mut self, tag: u64) -> bool {
        let _masked = crate::arch::cpu::mask_irqs();
        counts::bracket(tag, || self.pairs(COUNTED_PAIRS))
    }
}

/// The allocators measured, in report order.
#[derive(Clone)]
struct Allocators {
    slab: SharedCache,
    linked_list: &'static PeerHeap,
    buddy: &'static PeerHeap,
    floor: Arc<Floor>,
}

const NAMES: [&str; 5] = ["slab", "linked_list", "buddy", "floor", "kmalloc"];

/// Nanoseconds per pair on this core, per allocator (in [`NAMES`] order): batches taken
/// in turns, one of each allocator a round, after a warm-up round. If `tags` are given,
/// each allocator's pairs are first counted under its tag.
fn one_core(
    a: &Allocators,
    tags: Option<&[u64; NAMES.len()]>,
) -> Option<[Samples<SAMPLES>; NAMES.len()]> {
    let mut slab = WorkingSet::fill(a.slab.clone())?;
    let mut linked_list = WorkingSet::fill(a.linked_list)?;
    let mut buddy = WorkingSet::fill(a.buddy)?;
    let mut floor = WorkingSet::fill(a.floor.clone())?;
    let mut kmalloc = WorkingSet::fill(Kmalloc)?;
    let mut sets: [&mut dyn Batch; NAMES.len()] = [
        &mut *slab,
        &mut *linked_list,
        &mut *buddy,
        &mut *floor,
        &mut *kmalloc,
    ];
    if let Some(tags) = tags {
        for (set, tag) in sets.iter_mut().zip(tags) {
            set.counted(*tag).then_some(())?;
        }
    }
    let mut samples: [Samples<SAMPLES>; NAMES.len()] = core::array::from_fn(|_| Samples::new());
    for round in 0..=SAMPLES {
        for (set, samples) in sets.iter_mut().zip(samples.iter_mut()) {
            let ns = set.batch()?;
            if round > 0 {
                samples.push(ns);
            }
        }
    }
    Some(samples)
}

/// The throughput run: what each core runs, and how it went.
static TARGET: SpinLock<Option<(Allocators, usize)>> =
    SpinLock::new(crate::lock_class!("bench target"), None);
static READY: AtomicUsize = AtomicUsize::new(0);
static GO: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicBool = AtomicBool::new(false);
static LAST_DONE_TICKS: AtomicU64 = AtomicU64::new(0);

/// Runs `PARALLEL_PAIRS` pairs of allocator `which` (a [`NAMES`] index) once every core is
/// ready; false if it could not.
fn run_share(allocators: &Allocators, which: usize, go: impl FnOnce()) -> bool {
    fn with<A: PairAllocator>(allocator: A, go: impl FnOnce()) -> bool {
        let set = WorkingSet::fill(allocator);
        go();
        let ok = set.is_some_and(|mut set| set.pairs(PARALLEL_PAIRS));
        LAST_DONE_TICKS.fetch_max(timer::ticks(), Ordering::AcqRel);
        ok
    }
    match which {
        0 => with(allocators.slab.clone(), go),
        1 => with(allocators.linked_list, go),
        2 => with(allocators.buddy, go),
        3 => with(allocators.floor.clone(), go),
        _ => with(Kmalloc, go),
    }
}

/// Another core's share: say it is ready, wait for the start, run its pairs.
fn share(_: u64) {
    let Some((allocators, which)) = TARGET.lock().clone() else {
        FAILED.store(true, Ordering::Relaxed);
        READY.fetch_add(1, Ordering::AcqRel);
        return;
    };
    let ok = run_share(&allocators, which, || {
        READY.fetch_add(1, Ordering::AcqRel);
        while !GO.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
    });
    if !ok {
        FAILED.store(true, Ordering::Relaxed);
    }
}

/// Million pairs a second, as hundredths, of allocator `which` over `THROUGHPUT_RUNS`
/// runs on every online core at once (`all`) or on this core alone: median and best.
fn throughput(a: &Allocators, which: usize, all: bool) -> Result<(u64, u64), &'static str> {
    let mut runs = Samples::<THROUGHPUT_RUNS>::new();
    for _ in 0..THROUGHPUT_RUNS {
        *TARGET.lock() = Some((a.clone(), which));
        let result = run_at_once(a, which, all);
        *TARGET.lock() = None;
        runs.push(result?);
    }
    Ok((runs.median(), runs.percentile(100)))
}

fn run_at_once(a: &Allocators, which: usize, all: bool) -> Result<u64, &'static str> {
    let me = crate::arch::cpu::id();
    let others = if all {
        state::online().without(me)
    } else {
        CpuMask::empty()
    };
    READY.store(0, Ordering::Release);
    GO.store(false, Ordering::Release);
    FAILED.store(false, Ordering::Release);
    LAST_DONE_TICKS.store(0, Ordering::Release);
    let mut started = 0;
    for cpu in others.iter() {
        if work::start_on(cpu, share, 0).is_ok() {
            started += 1;
        }
    }
    let deadline = Deadline::after_us(PARALLEL_TIMEOUT_US);
    // This core takes part too; the clock starts as everyone is let go.
    let mut start = 0;
    let mine_ok = run_share(a, which, || {
        while READY.load(Ordering::Acquire) < started && !deadline.passed() {
            core::hint::spin_loop();
        }
        start = timer::ticks();
        GO.store(true, Ordering::Release);
    });
    let left_us = timer::ticks_to_ns(deadline.ticks().saturating_sub(timer::ticks())) / 1000;
    if work::wait_for_jobs(others, left_us).is_err() {
        return Err("a core did not finish in time");
    }
    if !mine_ok || FAILED.load(Ordering::Relaxed) || started != others.len() {
        return Err("a core could not run its share");
    }
    let ns = timer::ticks_to_ns(LAST_DONE_TICKS.load(Ordering::Acquire) - start).max(1);
    let pairs = PARALLEL_PAIRS * (started as u64 + 1);
    Ok(pairs * 100_000 / ns)
}

pub fn run() {
    let mut verdict = Verdict::new();
    let counting = PartCounts::open("slab", &mut verdict);
    match measure(&mut verdict, &counting) {
        Ok(line) => println!("RESULT bench-slab {} {line}{verdict}", verdict.word()),
        Err(why) => {
            println!("bench slab: {why}");
            println!("RESULT bench-slab FAIL reason=see-above");
        }
    }
}

fn measure(verdict: &mut Verdict, counting: &PartCounts) -> Result<String, &'static str> {
    let cache = kernel_slab::kmem_cache_create("bench-64", OBJECT_SIZE, 8, SlabFlags::NONE, None)
        .map_err(|_| "cannot create the bench-64 cache")?;
    let heaps = [&peer_heaps::LINKED_LIST, &peer_heaps::BUDDY];
    for heap in heaps {
        if heap.open(HEAP_PAGES).is_err() {
            heaps.iter().for_each(|h| {
                let _ = h.close();
            });
            let _ = kernel_slab::kmem_cache_destroy(cache);
            return Err("cannot open the peer heaps");
        }
    }
    let result = (|| {
        let allocators = Allocators {
            slab: cache.share(),
            linked_list: heaps[0],
            buddy: heaps[1],
            floor: Arc::new(Floor::new(OBJECT_SIZE)),
        };
        let tags: [u64; NAMES.len()] = core::array::from_fn(|_| counts::new_tag());
        let mut one = one_core(&allocators, counting.on().then_some(&tags))
            .ok_or("an allocator failed on one core")?;
        // On the heap: the report line is over a kilobyte, too much for a stack frame.
        let mut line = String::new();
        let _ = core::fmt::write(
            &mut line,
            format_args!("cpus={} size={OBJECT_SIZE}", state::online().len()),
        );
        for (name, samples) in NAMES.iter().zip(one.iter_mut()) {
            verdict.samples(samples, "one-core-samples");
            let _ = core::fmt::write(
                &mut line,
                format_args!(
                    " {name}_ns={} {name}_min_ns={} {name}_p99_ns={}",
                    samples.median(),
                    samples.percentile(1),
                    samples.p99()
                ),
            );
        }
        let reported: [Reported; NAMES.len()] = core::array::from_fn(|i| Reported {
            name: NAMES[i],
            tag: tags[i],
            brackets: 1,
            ops: COUNTED_PAIRS,
        });
        counting.write_tags(&mut line, verdict, &reported);
        for (which, name) in NAMES.iter().enumerate() {
            let (alone, alone_best) = throughput(&allocators, which, false)?;
            let (all, all_best) = throughput(&allocators, which, true)?;
            verdict.check(alone > 0 && all > 0, "throughput");
            let _ = core::fmt::write(
                &mut line,
                format_args!(
                    " {name}_1cpu_mops={} {name}_1cpu_best_mops={} {name}_all_mops={} \
                     {name}_all_best_mops={}",
                    Hundredths(alone),
                    Hundredths(alone_best),
                    Hundredths(all),
                    Hundredths(all_best),
                ),
            );
        }
        Ok(line)
    })();
    for heap in heaps {
        if let Err(e) = heap.close() {
            println!("bench slab: {}: {e}", heap.name());
        }
    }
    // Every object the run took went back: else destroy refuses.
    if let Err((_, e)) = kernel_slab::kmem_cache_destroy(cache) {
        println!("bench slab: bench-64: {e}");
        verdict.check(false, "objects-left-behind");
    }
    result
}
