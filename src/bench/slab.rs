//! `bench slab`: one 64-byte alloc+free pair, in the steady state of a CPU that holds a
//! working set of objects (allocate one, free the oldest), on the slab's per-CPU fast path
//! and on the two peer heaps (`mm::peer_heaps`). First one core, in batches; then every
//! online core at once for a fixed number of pairs each, as throughput.

use core::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::stats::{Hundredths, Samples, Verdict};
use super::timed;
use crate::drivers::timer::{self, Deadline};
use crate::mm::kernel_slab;
use crate::mm::peer_heaps::{self, PeerHeap, PeerObject};
use crate::mm::slab::{SharedCache, SlabFlags};
use crate::println;
use crate::smp::{state, work};

const OBJECT_SIZE: usize = 64;
/// Objects a CPU holds while it allocates and frees.
const WORKING_SET: usize = 32;
const BATCH: u64 = 1000;
const SAMPLES: usize = 31;
/// Pairs per core in the all-cores run.
const PARALLEL_PAIRS: u64 = 20_000;
const HEAP_PAGES: usize = 64;
const PARALLEL_TIMEOUT_US: u64 = 120_000_000;

#[derive(Clone)]
enum Allocator {
    /// Shared with the other cores' jobs for the run (the cache outlives it).
    Slab(SharedCache),
    Peer(&'static PeerHeap),
}

enum Object {
    Slab(NonNull<u8>),
    Peer(PeerObject),
}

fn layout() -> Layout {
    Layout::from_size_align(OBJECT_SIZE, 8).expect("a valid layout")
}

impl Allocator {
    fn alloc(&self) -> Option<Object> {
        match self {
            Allocator::Slab(cache) => cache.alloc().ok().map(Object::Slab),
            Allocator::Peer(heap) => heap.alloc(layout()).map(Object::Peer),
        }
    }

    fn free(&self, object: Object) -> bool {
        match (self, object) {
            (Allocator::Slab(cache), Object::Slab(o)) => cache.free(o).is_ok(),
            (Allocator::Peer(_), Object::Peer(o)) => {
                o.free();
                true
            }
            _ => false,
        }
    }
}

/// One CPU's working set: each step allocates an object and frees the oldest.
struct WorkingSet {
    allocator: Allocator,
    objects: [Option<Object>; WORKING_SET],
    oldest: usize,
}

impl WorkingSet {
    fn fill(allocator: Allocator) -> Option<Self> {
        let mut set = Self {
            allocator,
            objects: [const { None }; WORKING_SET],
            oldest: 0,
        };
        for slot in &mut set.objects {
            *slot = Some(set.allocator.alloc()?);
        }
        Some(set)
    }

    /// `n` alloc+free pairs; false if the allocator failed.
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

impl Drop for WorkingSet {
    fn drop(&mut self) {
        for object in self.objects.iter_mut().filter_map(Option::take) {
            self.allocator.free(object);
        }
    }
}

/// Nanoseconds per pair on this core: the median and p99 of batches.
fn one_core(allocator: Allocator) -> Option<(u64, u64)> {
    let mut set = WorkingSet::fill(allocator)?;
    let mut samples = Samples::<SAMPLES>::new();
    for sample in 0..=SAMPLES {
        let (ok, ns) = timed(|| set.pairs(BATCH));
        if !ok {
            return None;
        }
        if sample > 0 {
            samples.push(ns / BATCH);
        }
    }
    Some((samples.median(), samples.p99()))
}

/// The all-cores run: what each core runs, and how it went.
static TARGET: spin::Mutex<Option<Allocator>> = spin::Mutex::new(None);
static READY: AtomicUsize = AtomicUsize::new(0);
static GO: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicBool = AtomicBool::new(false);
static LAST_DONE_TICKS: AtomicU64 = AtomicU64::new(0);

/// One core's share: fill its working set, wait for the start, run its pairs.
fn share(_: u64) {
    let Some(allocator) = TARGET.lock().clone() else {
        FAILED.store(true, Ordering::Relaxed);
        READY.fetch_add(1, Ordering::AcqRel);
        return;
    };
    let set = WorkingSet::fill(allocator);
    READY.fetch_add(1, Ordering::AcqRel);
    while !GO.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let ok = set.is_some_and(|mut set| set.pairs(PARALLEL_PAIRS));
    LAST_DONE_TICKS.fetch_max(timer::ticks(), Ordering::AcqRel);
    if !ok {
        FAILED.store(true, Ordering::Relaxed);
    }
}

/// Million pairs per second with every online core at once, as hundredths.
fn all_cores(allocator: Allocator) -> Result<u64, &'static str> {
    *TARGET.lock() = Some(allocator.clone());
    let result = all_cores_on(allocator);
    *TARGET.lock() = None;
    result
}

fn all_cores_on(allocator: Allocator) -> Result<u64, &'static str> {
    let me = crate::arch::cpu::id();
    let others = state::online().without(me);
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
    while READY.load(Ordering::Acquire) < started && !deadline.passed() {
        core::hint::spin_loop();
    }
    // This core takes part too; the clock starts as everyone is let go.
    let mine = WorkingSet::fill(allocator);
    let start = timer::ticks();
    GO.store(true, Ordering::Release);
    let mine_ok = mine.is_some_and(|mut set| {
        let ok = set.pairs(PARALLEL_PAIRS);
        LAST_DONE_TICKS.fetch_max(timer::ticks(), Ordering::AcqRel);
        ok
    });
    while others.iter().any(work::busy) {
        if deadline.passed() {
            return Err("a core did not finish in time");
        }
        core::hint::spin_loop();
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
    match measure(&mut verdict) {
        Ok(line) => println!("RESULT bench-slab {} {line}{verdict}", verdict.word()),
        Err(why) => {
            println!("bench slab: {why}");
            println!("RESULT bench-slab FAIL reason=see-above");
        }
    }
}

fn measure(verdict: &mut Verdict) -> Result<arrayvec::ArrayString<400>, &'static str> {
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
        let allocators = [
            Allocator::Slab(cache.share()),
            Allocator::Peer(heaps[0]),
            Allocator::Peer(heaps[1]),
        ];
        let one = allocators
            .clone()
            .map(|a| one_core(a).ok_or("an allocator failed on one core"));
        let all = allocators.map(all_cores);
        let [(slab_ns, slab_p99), (ll_ns, ll_p99), (buddy_ns, buddy_p99)] =
            [one[0]?, one[1]?, one[2]?];
        let [slab_all, ll_all, buddy_all] = [all[0]?, all[1]?, all[2]?];
        for (median, p99) in [(slab_ns, slab_p99), (ll_ns, ll_p99), (buddy_ns, buddy_p99)] {
            verdict.check(median > 0 && median <= p99, "one-core-samples");
        }
        verdict.check(
            [slab_all, ll_all, buddy_all].iter().all(|&t| t > 0),
            "all-cores-throughput",
        );
        let mut line = arrayvec::ArrayString::new();
        let _ = core::fmt::write(
            &mut line,
            format_args!(
                "cpus={} size={OBJECT_SIZE} slab_ns={slab_ns} linked_list_ns={ll_ns} buddy_ns={buddy_ns} \
                 slab_p99_ns={slab_p99} linked_list_p99_ns={ll_p99} buddy_p99_ns={buddy_p99} \
                 slab_1cpu_mops={} slab_all_mops={} linked_list_all_mops={} buddy_all_mops={}",
                state::online().len(),
                Hundredths(100_000 / slab_ns.max(1)),
                Hundredths(slab_all),
                Hundredths(ll_all),
                Hundredths(buddy_all),
            ),
        );
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
