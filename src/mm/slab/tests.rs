//! The slab core on the host: pages from the host allocator, CPUs simulated by a
//! thread-local id, the lifecycle protocol driven step by step, and each misuse
//! `slab_debug` is about, with it and without.

use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::debug::{Fate, Kind, POISON_FREE, POISON_INUSE, RED_ZONE, Seen};
use super::geometry::PAGE_SIZE;
use super::host_memory::{HostMemory, pages_from_host_memory};
use super::lifecycle::Race;
use super::misuse::{self, STRAY};
use super::*;
use crate::smp::cpumask::CpuMask;

type Slab = super::Slab<HostPages>;
type Cache = super::Cache<HostPages>;
type CacheHandle = super::CacheHandle<HostPages>;

thread_local! {
    static CPU: Cell<usize> = const { Cell::new(0) };
}

fn on_cpu(cpu: usize) {
    CPU.with(|c| c.set(cpu));
}

/// A corruption report: object, what, where seen, what became of it.
type Report = (usize, Kind, Seen, Fate);

/// Pages from the host's allocator, counted; corruption reports kept.
#[derive(Default)]
struct HostPages {
    memory: HostMemory,
    missing: AtomicUsize,
    reports: Mutex<Vec<Report>>,
}

impl HostPages {
    fn pages_out(&self) -> usize {
        self.memory.pages_out()
    }
}

// SAFETY: the tests run as CPUs 0-63 (`on_cpu` is only given those), and `cpus` is 64.
unsafe impl SlabPlatform for HostPages {
    pages_from_host_memory!();

    fn cpu(&self) -> usize {
        CPU.with(|c| c.get())
    }

    fn cpus(&self) -> usize {
        // The tests run as CPUs 0-63.
        64
    }

    /// Host threads take no interrupts: nothing to mask.
    type IrqGuard = ();

    fn mask_irqs(&self) {}

    fn array_missing(&self, _cache: &str, _cpu: usize) {
        self.missing.fetch_add(1, Ordering::Relaxed);
    }

    fn corrupted(&self, r: &Corruption<'_>) {
        // The report names the cache and the object.
        let text = r.to_string();
        assert!(text.contains(&format!("cache '{}'", r.cache)), "{text}");
        assert!(text.contains(&format!("object {:#x}", r.object)), "{text}");
        self.reports
            .lock()
            .unwrap()
            .push((r.object, r.damage.kind, r.seen, r.fate));
    }
}

impl HostPages {
    fn take_reports(&self) -> Vec<Report> {
        std::mem::take(&mut *self.reports.lock().unwrap())
    }
}

/// What runs in a race window: hotplug, at the worst moment.
type WindowHook = Box<dyn Fn(&Env)>;

/// The hotplug side, driven by hand: an online set, the protection switch, a hook run
/// in the race window, and the races reported.
struct Env {
    slab: &'static Slab,
    online: Cell<u64>,
    protected: bool,
    window: Cell<Option<WindowHook>>,
    races: Mutex<Vec<(Race, usize)>>,
}

impl Env {
    fn new(slab: &'static Slab, online: u64, protected: bool) -> Self {
        slab.track(CpuMask::from_low_word(online));
        Env {
            slab,
            online: Cell::new(online),
            protected,
            window: Cell::new(None),
            races: Mutex::new(Vec::new()),
        }
    }

    fn cpu_up(&self, cpu: usize) {
        self.slab.up_prepare(cpu).unwrap();
        self.online.set(self.online.get() | 1 << cpu);
    }

    fn cpu_down(&self, cpu: usize) {
        self.online.set(self.online.get() & !(1 << cpu));
        self.slab.dead(self, cpu);
    }
}

impl HotplugEnv<&'static Cache> for Env {
    fn online(&self) -> CpuMask {
        CpuMask::from_low_word(self.online.get())
    }
    fn protected(&self) -> bool {
        self.protected
    }
    fn cpus_read_lock(&self) {}
    fn cpus_read_unlock(&self) {}
    fn race_window(&self) {
        if let Some(hook) = self.window.take() {
            hook(self);
        }
    }
    fn drain_online(&self, cache: &&'static Cache) {
        let me = CPU.with(|c| c.get());
        for cpu in self.online().iter() {
            on_cpu(cpu);
            self.slab.drain_cpu(self, cache, cpu);
        }
        on_cpu(me);
    }
    fn report(&self, race: Race, cpu: usize, _cache: &str) {
        self.races.lock().unwrap().push((race, cpu));
    }
}

fn setup(online: u64, protected: bool) -> (&'static HostPages, &'static Slab, Env) {
    setup_with(online, protected, false)
}

fn setup_with(
    online: u64,
    protected: bool,
    debug: bool,
) -> (&'static HostPages, &'static Slab, Env) {
    on_cpu(0);
    let pages: &'static HostPages = Box::leak(Box::default());
    let slab: &'static Slab = Slab::new_in_pages(pages, debug).expect("pages for the allocator");
    let env = Env::new(slab, online, protected);
    (pages, slab, env)
}

/// `Cache::free` as the tests call it: each object freed is the test's own, used by
/// nothing else, freed once (a test of a double free frees again only after the first
/// returned, which the contract allows).
fn give_back(cache: &Cache, object: NonNull<u8>) -> Result<(), SlabError> {
    // SAFETY: as above.
    unsafe { cache.free(object) }
}

fn counter_ctor(object: &mut [u8]) {
    object[0] = 0xc7;
}

#[test]
fn objects_are_distinct_aligned_and_constructed() {
    let (_, slab, env) = setup(0b1, true);
    let c = slab
        .create(&env, "things", 100, 32, SlabFlags::NONE, Some(counter_ctor))
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    let objects: Vec<_> = (0..500).map(|_| c.alloc().unwrap()).collect();
    for o in &objects {
        assert_eq!(o.as_ptr() as usize % 32, 0);
        assert!(seen.insert(o.as_ptr() as usize), "handed out twice");
        // SAFETY: a live object of 100 bytes.
        assert_eq!(unsafe { *o.as_ptr() }, 0xc7);
    }
    let stats = c.stats();
    assert_eq!(stats.live, 500);
    assert!(stats.active_objs >= 500 && stats.num_objs >= stats.active_objs);
    for o in objects {
        give_back(&c, o).unwrap();
    }
    assert_eq!(c.live_objects(), 0);
    slab.destroy(&env, c).map_err(|(_, e)| e).unwrap();
}

#[test]
fn the_last_freed_is_the_next_handed_out() {
    let (_, slab, env) = setup(0b1, true);
    let c = slab
        .create(&env, "lifo", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let a = c.alloc().unwrap();
    let b = c.alloc().unwrap();
    give_back(&c, a).unwrap();
    give_back(&c, b).unwrap();
    assert_eq!(c.alloc().unwrap(), b);
    assert_eq!(c.alloc().unwrap(), a);
}

#[test]
fn double_frees_and_foreign_pointers_are_errors() {
    let (_, slab, env) = setup(0b1, true);
    let c = slab
        .create(&env, "a", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let d = slab
        .create(&env, "b", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let o = c.alloc().unwrap();
    let addr = o.as_ptr() as usize;
    assert_eq!(give_back(&d, o), Err(SlabError::WrongCache(addr)));
    assert_eq!(slab.owner_name(addr).unwrap().as_str(), "a");
    // SAFETY: one byte into a live object: still inside the slab.
    let inside = unsafe { NonNull::new_unchecked(o.as_ptr().add(1)) };
    assert_eq!(give_back(&c, inside), Err(SlabError::NotAnObject(addr + 1)));
    let mut on_stack = 0u64;
    let stack = NonNull::from(&mut on_stack).cast::<u8>();
    assert_eq!(
        give_back(&c, stack),
        Err(SlabError::NotAnObject(stack.as_ptr() as usize))
    );
    give_back(&c, o).unwrap();
    assert_eq!(give_back(&c, o), Err(SlabError::DoubleFree(addr)));
    // Also when the first free went straight to the slab lists (the array flushed).
    let many: Vec<_> = (0..400).map(|_| c.alloc().unwrap()).collect();
    for &m in &many {
        give_back(&c, m).unwrap();
    }
    assert_eq!(
        give_back(&c, many[0]),
        Err(SlabError::DoubleFree(many[0].as_ptr() as usize))
    );
    assert_eq!(c.live_objects(), 0);
}

/// Each way out of the fast path gives the CPU's guard back (its `FastPath` drops), the
/// refused free's early return included: a guard kept would make this CPU's drain skip its
/// array, as over an interrupted fast path, and send every later call to the slow path.
#[test]
fn every_way_out_of_the_fast_path_gives_its_guard_back() {
    let (_, slab, env) = setup(0b1, true);
    let c = slab
        .create(&env, "ways-out", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let held: Vec<_> = (0..3).map(|_| c.alloc().unwrap()).collect();
    // Out after a push, after a refused free, after a pop, after a pop from an empty
    // array (to the slow path), and after a push into a full one (likewise).
    give_back(&c, held[0]).unwrap();
    assert_eq!(
        give_back(&c, held[0]),
        Err(SlabError::DoubleFree(held[0].as_ptr() as usize))
    );
    c.drain_local();
    assert_eq!(c.stats().cached, 0, "a guard kept: the first drain skipped");
    let again = c.alloc().unwrap();
    give_back(&c, again).unwrap();
    c.drain_local();
    assert_eq!(
        c.stats().cached,
        0,
        "a guard kept: the second drain skipped"
    );
    let many: Vec<_> = (0..400).map(|_| c.alloc().unwrap()).collect();
    for &m in many.iter().chain(&held[1..]) {
        give_back(&c, m).unwrap();
    }
    c.drain_local();
    assert_eq!(c.stats().cached, 0, "a guard kept: the third drain skipped");
    assert_eq!(c.live_objects(), 0);
}

#[test]
fn names_sizes_and_flags_are_checked() {
    let (_, slab, env) = setup(0b1, true);
    let _c = slab
        .create(&env, "dup", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let err = |r: Result<CacheHandle, SlabError>| r.err().unwrap();
    assert_eq!(
        err(slab.create(&env, "dup", 64, 0, SlabFlags::NONE, None)),
        SlabError::Duplicate
    );
    assert_eq!(
        err(slab.create(&env, "", 64, 0, SlabFlags::NONE, None)),
        SlabError::BadName
    );
    assert_eq!(
        err(slab.create(&env, "has space", 64, 0, SlabFlags::NONE, None)),
        SlabError::BadName
    );
    assert_eq!(
        err(slab.create(&env, "x", 0, 0, SlabFlags::NONE, None)),
        SlabError::BadSize(0)
    );
    assert_eq!(
        err(slab.create(&env, "x", 64, 0, SlabFlags(8), None)),
        SlabError::BadFlags(8)
    );
    let c = slab
        .create(&env, "lined", 40, 0, SlabFlags::HWCACHE_ALIGN, None)
        .unwrap();
    assert_eq!(c.geometry().stride, 64);
    // A failed create leaves nothing behind: one cache descriptor per live cache.
    assert_eq!(slab.own_caches()[0].live_objects(), 2);
}

#[test]
fn destroy_refuses_while_objects_are_out_and_returns_every_page_after() {
    let (pages, slab, env) = setup(0b11, true);
    let before = pages.pages_out();
    let c = slab
        .create(&env, "busy", 200, 0, SlabFlags::NONE, None)
        .unwrap();
    let objects: Vec<_> = (0..300).map(|_| c.alloc().unwrap()).collect();
    let (c, e) = slab.destroy(&env, c).unwrap_err();
    assert_eq!(e, SlabError::InUse(300));
    // Intact: still on the chain, still allocating.
    assert!(slab.contains("busy"));
    let more = c.alloc().unwrap();
    give_back(&c, more).unwrap();
    for o in objects {
        give_back(&c, o).unwrap();
    }
    slab.destroy(&env, c).map_err(|(_, e)| e).unwrap();
    assert!(!slab.contains("busy"));
    for own in slab.own_caches() {
        assert_eq!(own.live_objects(), 0);
        own.shrink();
    }
    assert_eq!(pages.pages_out(), before);
}

#[test]
fn destroy_refuses_while_the_cache_is_shared() {
    let (_, slab, env) = setup(0b1, true);
    let c = slab
        .create(&env, "shared", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let shared = c.share();
    let again = shared.clone();
    let (c, e) = slab.destroy(&env, c).unwrap_err();
    assert_eq!(e, SlabError::Shared(2));
    drop(again);
    let o = shared.alloc().unwrap();
    give_back(&shared, o).unwrap();
    let (c, e) = slab.destroy(&env, c).unwrap_err();
    assert_eq!(e, SlabError::Shared(1));
    drop(shared);
    slab.destroy(&env, c).map_err(|(_, e)| e).unwrap();
    assert!(!slab.contains("shared"));
}

#[test]
fn arrays_flush_and_refill_in_batches_across_cpus() {
    let (_, slab, env) = setup(0b11, true);
    let c = slab
        .create(&env, "x", 32, 0, SlabFlags::NONE, None)
        .unwrap();
    let limit = c.geometry().limit;
    on_cpu(0);
    let objects: Vec<_> = (0..3 * limit).map(|_| c.alloc().unwrap()).collect();
    on_cpu(1);
    for o in objects {
        give_back(&c, o).unwrap();
    }
    let s = c.stats();
    assert_eq!(s.live, 0);
    assert!(
        s.cached <= limit,
        "cpu1's array holds at most its limit: {s:?}"
    );
    on_cpu(0);
    slab.destroy(&env, c).map_err(|(_, e)| e).unwrap();
}

#[test]
fn hotplug_callbacks_keep_the_invariant() {
    let (_, slab, env) = setup(0b1, true);
    let c = slab
        .create(&env, "x", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    assert!(c.has_array(0) && !c.has_array(1));
    env.cpu_up(1);
    assert!(c.has_array(1));
    slab.check_chain().unwrap();
    on_cpu(1);
    let o = c.alloc().unwrap();
    give_back(&c, o).unwrap();
    on_cpu(0);
    env.cpu_down(1);
    assert!(!c.has_array(1));
    slab.check_chain().unwrap();
    slab.up_prepare(2).unwrap();
    slab.up_canceled(2);
    assert!(!c.has_array(2));
    assert_eq!(slab.tracked(), CpuMask::single(0));
    assert!(env.races.lock().unwrap().is_empty());
    slab.destroy(&env, c).map_err(|(_, e)| e).unwrap();
}

#[test]
fn arrays_are_counted_against_the_cpus_up_and_leave_objects_in_use_alone() {
    let (_, slab, env) = setup(0b11, true);
    let c = slab
        .create(&env, "x", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let d = slab
        .create(&env, "y", 32, 0, SlabFlags::NONE, None)
        .unwrap();
    let o = c.alloc().unwrap();
    let in_use = slab.objects_in_use();
    let arrays = slab.arrays();
    assert_eq!((arrays.caches, arrays.cpus), (2, 2));
    assert_eq!(arrays.out, arrays.needed());
    // A CPU that comes and one that never does: the arrays follow, the objects in use
    // do not move.
    env.cpu_up(2);
    assert_eq!(slab.arrays().out, 6);
    assert_eq!(slab.objects_in_use(), in_use);
    slab.up_prepare(3).unwrap();
    slab.up_canceled(3);
    env.cpu_down(1);
    assert_eq!(slab.arrays().out, slab.arrays().needed());
    assert_eq!(slab.objects_in_use(), in_use);
    give_back(&c, o).unwrap();
    assert_eq!(slab.objects_in_use(), in_use - 1);
    slab.destroy(&env, d).map_err(|(_, e)| e).unwrap();
    slab.destroy(&env, c).map_err(|(_, e)| e).unwrap();
    assert_eq!(slab.arrays().out, 0);
}

#[test]
fn unprotected_create_meets_race_1() {
    // cpu1 comes up between create's steps: no array for it, yet the cache is chained.
    let (pages, slab, env) = setup(0b1, false);
    env.window.set(Some(Box::new(|env: &Env| env.cpu_up(1))));
    let c = slab
        .create(&env, "minix_inode", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    assert_eq!(
        slab.check_chain().unwrap_err(),
        Violation {
            cache: "minix_inode".try_into().unwrap(),
            cpu: 1
        }
    );
    on_cpu(1);
    let o = c.alloc().unwrap(); // survives: straight from the slab lists
    give_back(&c, o).unwrap();
    // Reported once for the episode, not once per operation.
    assert_eq!(pages.missing.load(Ordering::Relaxed), 1);
    on_cpu(0);
    env.cpu_down(1);
    assert_eq!(*env.races.lock().unwrap(), [(Race::CreateVsDead, 1)]);
    slab.destroy(&env, c).map_err(|(_, e)| e).unwrap();
}

#[test]
fn unprotected_destroy_meets_race_2() {
    // cpu1 comes up between destroy's steps: UP_PREPARE no longer saw the cache, the drain
    // reaches cpu1 anyway.
    let (pages, slab, env) = setup(0b1, false);
    let before = pages.pages_out();
    let c = slab
        .create(&env, "minix_inode", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    env.window.set(Some(Box::new(|env: &Env| env.cpu_up(1))));
    slab.destroy(&env, c).map_err(|(_, e)| e).unwrap();
    assert_eq!(*env.races.lock().unwrap(), [(Race::DestroyVsUp, 1)]);
    for own in slab.own_caches() {
        own.shrink();
    }
    assert_eq!(pages.pages_out(), before, "survived without losing a page");
}

/// The bytes `[object + from, object + from + len)` of a slab object.
fn bytes_at(object: usize, from: usize, len: usize) -> Vec<u8> {
    // SAFETY: the tests only ask for bytes of an object or its red zone, inside a slab the
    // host platform keeps allocated; nothing writes them meanwhile (one thread).
    unsafe { std::slice::from_raw_parts((object + from) as *const u8, len).to_vec() }
}

/// Allocates `n` objects and frees them again; the addresses handed out.
fn churn(c: &Cache, n: usize) -> Vec<usize> {
    let objects: Vec<_> = (0..n).map(|_| c.alloc().unwrap()).collect();
    for &o in &objects {
        give_back(c, o).unwrap();
    }
    objects.iter().map(|o| o.as_ptr() as usize).collect()
}

/// Drains every online CPU's array (as `kernel_slab::check_cache` does by cross-call),
/// then checks the cache.
fn drained_check(env: &Env, c: &Cache) -> Checked {
    for cpu in env.online().iter() {
        on_cpu(cpu);
        c.drain_local();
    }
    on_cpu(0);
    c.check().unwrap()
}

#[test]
fn debug_paints_objects_poison_and_red_zones() {
    let (_, slab, env) = setup_with(0b1, true, true);
    let c = slab
        .create(&env, "painted", 60, 0, SlabFlags::NONE, None)
        .unwrap();
    let g = *c.geometry();
    assert_eq!((g.stride, g.red_zone), (72, 12));
    let o = c.alloc().unwrap().as_ptr() as usize;
    assert_eq!(bytes_at(o, 0, 60), [POISON_INUSE; 60]);
    assert_eq!(bytes_at(o, 60, 12), [RED_ZONE; 12]);
    give_back(&c, NonNull::new(o as *mut u8).unwrap()).unwrap();
    assert_eq!(bytes_at(o, 0, 60), [POISON_FREE; 60]);
    assert_eq!(bytes_at(o, 60, 12), [RED_ZONE; 12]);
    // A constructor runs on zeroed memory at every hand-out, as the poison undoes it.
    let k = slab
        .create(&env, "made", 32, 0, SlabFlags::NONE, Some(counter_ctor))
        .unwrap();
    for _ in 0..3 {
        let o = k.alloc().unwrap();
        let mut want = [0u8; 32];
        want[0] = 0xc7;
        assert_eq!(bytes_at(o.as_ptr() as usize, 0, 32), want);
        // SAFETY: a live 32-byte object.
        unsafe { o.as_ptr().add(5).write(1) };
        give_back(&k, o).unwrap();
    }
    let checked = c.check().unwrap();
    assert_eq!(
        (checked.corrupted, checked.painted),
        (0, checked.census.objects)
    );
    slab.destroy(&env, c).map_err(|(_, e)| e).unwrap();
}

#[test]
fn debug_refuses_bad_frees_and_names_the_other_cache() {
    let (pages, slab, env) = setup_with(0b1, true, true);
    let a = slab
        .create(&env, "a", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let b = slab
        .create(&env, "b", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let r = misuse::double_free(&a).unwrap();
    assert_eq!(r.result, Err(SlabError::DoubleFree(r.object)));
    let [inside, stack] = misuse::foreign(&a).unwrap();
    assert_eq!(inside.pointer, inside.object + 1);
    assert_eq!(inside.result, Err(SlabError::NotAnObject(inside.pointer)));
    assert_eq!(stack.result, Err(SlabError::NotAnObject(stack.pointer)));
    let r = misuse::wrong_cache(&a, &b).unwrap();
    assert_eq!(r.result, Err(SlabError::WrongCache(r.object)));
    assert_eq!(slab.owner_name(r.object).unwrap().as_str(), "a");
    // From a cache with bigger slabs: found by the slab size that fits.
    let big = slab
        .create(&env, "big", 1500, 0, SlabFlags::NONE, None)
        .unwrap();
    assert!(big.geometry().pages > 1);
    let held: Vec<_> = (0..big.geometry().objects)
        .map(|_| big.alloc().unwrap())
        .collect();
    let slab_bytes = big.geometry().slab_bytes();
    let last = *held
        .iter()
        .find(|o| o.as_ptr() as usize % slab_bytes >= PAGE_SIZE)
        .expect("an object past the slab's first page");
    let last = last.as_ptr() as usize;
    assert_eq!(
        give_back(&a, NonNull::new(last as *mut u8).unwrap()),
        Err(SlabError::WrongCache(last))
    );
    assert_eq!(slab.owner_name(last).unwrap().as_str(), "big");
    for o in held {
        give_back(&big, o).unwrap();
    }
    // Nothing was lost, nothing handed out twice, nothing reported as corrupted.
    for c in [&a, &b, &big] {
        assert_eq!(c.live_objects(), 0);
        let census = drained_check(&env, c).census;
        assert_eq!(
            (census.active, census.cached, census.quarantined),
            (0, 0, 0)
        );
        assert_eq!(census.free, census.objects);
    }
    let seen = churn(&a, 200);
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 200, "an object handed out twice");
    assert!(pages.take_reports().is_empty());
}

#[test]
fn debug_catches_an_overrun_by_check_and_at_free_and_quarantines_it() {
    let (pages, slab, env) = setup_with(0b1, true, true);
    let before = pages.pages_out();
    let c = slab
        .create(&env, "over", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let mut checked = None;
    let stray = misuse::overrun(&c, |_| checked = Some(c.check().unwrap())).unwrap();
    assert_eq!((stray.offset, stray.bytes), (64, 8));
    assert_eq!(checked.unwrap().corrupted, 1);
    assert_eq!(
        pages.take_reports(),
        [
            (stray.object, Kind::RedZone, Seen::Check, Fate::InUse),
            (stray.object, Kind::RedZone, Seen::Free, Fate::Quarantined),
        ]
    );
    assert_eq!(c.corruptions(), 2);
    let stats = c.stats();
    assert_eq!((stats.live, stats.quarantined), (0, 1));
    // Never handed out again; the cache adds up, and a check does not report it again.
    assert!(!churn(&c, 500).contains(&stray.object));
    let checked = drained_check(&env, &c);
    assert_eq!((checked.census.quarantined, checked.corrupted), (1, 0));
    assert_eq!(checked.census.free + 1, checked.census.objects);
    assert_eq!(
        give_back(&c, NonNull::new(stray.object as *mut u8).unwrap()),
        Err(SlabError::DoubleFree(stray.object))
    );
    // A quarantined object does not keep its cache from being destroyed: it goes back.
    slab.destroy(&env, c).map_err(|(_, e)| e).unwrap();
    for own in slab.own_caches() {
        own.shrink();
    }
    assert_eq!(pages.pages_out(), before);
}

#[test]
fn debug_catches_an_overrun_freed_where_there_is_no_array() {
    // cpu1 is not tracked, so the cache has no array there: the free takes the lists path.
    let (pages, slab, env) = setup_with(0b1, true, true);
    let c = slab
        .create(&env, "noarray", 100, 0, SlabFlags::NONE, None)
        .unwrap();
    on_cpu(1);
    let stray = misuse::overrun(&c, |_| {}).unwrap();
    assert_eq!(
        pages.take_reports(),
        [(stray.object, Kind::RedZone, Seen::Free, Fate::Quarantined)]
    );
    on_cpu(0);
    assert_eq!(c.check().unwrap().census.quarantined, 1);
}

#[test]
fn debug_catches_a_use_after_free_at_the_next_allocation() {
    let (pages, slab, env) = setup_with(0b1, true, true);
    let c = slab
        .create(&env, "uaf", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let stray = misuse::use_after_free(&c).unwrap().unwrap();
    let next = c.alloc().unwrap();
    assert_ne!(next.as_ptr() as usize, stray.object);
    assert_eq!(
        pages.take_reports(),
        [(stray.object, Kind::Poison, Seen::Alloc, Fate::Quarantined)]
    );
    // The evidence stays: the stray bytes, then the poison.
    assert_eq!(bytes_at(stray.object, 0, 8), STRAY);
    assert_eq!(bytes_at(stray.object, 8, 56), [POISON_FREE; 56]);
    give_back(&c, next).unwrap();
    assert!(!churn(&c, 500).contains(&stray.object));
    assert_eq!(c.stats().quarantined, 1);
    assert_eq!(drained_check(&env, &c).corrupted, 0);
}

#[test]
fn debug_catches_a_use_after_free_by_check() {
    let (pages, slab, env) = setup_with(0b11, true, true);
    let c = slab
        .create(&env, "uafc", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let stray = misuse::use_after_free(&c).unwrap().unwrap();
    // In cpu0's array, the object's poison is not looked at (cpu0 may hand it out)...
    assert_eq!(c.check().unwrap().corrupted, 0);
    // ...drained to its slab, it is, and it is quarantined there.
    let checked = drained_check(&env, &c);
    assert_eq!((checked.corrupted, checked.census.quarantined), (1, 1));
    assert_eq!(
        pages.take_reports(),
        [(stray.object, Kind::Poison, Seen::Check, Fate::Quarantined)]
    );
    assert!(!churn(&c, 500).contains(&stray.object));
    assert!(pages.take_reports().is_empty());
}

#[test]
fn without_debug_overruns_and_uses_after_free_go_unnoticed() {
    let (pages, slab, env) = setup_with(0b1, true, false);
    let c = slab
        .create(&env, "plain", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    assert_eq!(c.geometry().red_zone, 0);
    let mut checked = None;
    let stray = misuse::overrun(&c, |_| checked = Some(c.check().unwrap())).unwrap();
    // The write went into the next object (no red zone), and nobody noticed.
    assert_eq!(bytes_at(stray.object, 64, 8), STRAY);
    assert_eq!(checked.unwrap().painted, 0);
    let stray = misuse::use_after_free(&c).unwrap().unwrap();
    let next = c.alloc().unwrap();
    assert_eq!(next.as_ptr() as usize, stray.object, "handed out again");
    assert_eq!(
        bytes_at(stray.object, 0, 8),
        STRAY,
        "with the stray write in it"
    );
    give_back(&c, next).unwrap();
    assert_eq!(drained_check(&env, &c).corrupted, 0);
    assert!(pages.take_reports().is_empty());
    assert_eq!((c.corruptions(), c.stats().quarantined), (0, 0));
}

#[test]
fn check_finds_broken_lists() {
    let (_, slab, env) = setup_with(0b1, true, false);
    let c = slab
        .create(&env, "broken", 64, 0, SlabFlags::NONE, None)
        .unwrap();
    let o = c.alloc().unwrap();
    c.check().unwrap();
    let g = *c.geometry();
    let base = o.as_ptr() as usize & !(g.slab_bytes() - 1);
    let index = (o.as_ptr() as usize - base - g.first) / g.stride;
    // SAFETY: the object's free-list entry, in the table after the slab header of a slab
    // the host platform keeps allocated; a 16-bit atomic as the allocator uses it.
    let entry = unsafe {
        &*((base + geometry::SLAB_HEADER_SIZE + index * geometry::BUFCTL_SIZE)
            as *const std::sync::atomic::AtomicU16)
    };
    let mark = entry.swap(0x1234, Ordering::SeqCst);
    assert_eq!(
        c.check(),
        Err(Inconsistency::BadMark {
            object: o.as_ptr() as usize,
            mark: 0x1234
        })
    );
    entry.store(slabs::QUARANTINED, Ordering::SeqCst);
    assert_eq!(
        c.check(),
        Err(Inconsistency::Totals {
            what: "quarantined objects",
            counted: 1,
            recorded: 0
        })
    );
    entry.store(mark, Ordering::SeqCst);
    c.check().unwrap();
    give_back(&c, o).unwrap();
}

#[test]
fn owned_objects_give_their_bytes_and_go_back() {
    let (_, slab, env) = setup(0b1, true);
    let c = slab
        .create(&env, "owned", 40, 0, SlabFlags::NONE, None)
        .unwrap();
    let mut a = OwnedObject::alloc(c.cache()).unwrap();
    let mut b = OwnedObject::alloc(c.cache()).unwrap();
    assert_eq!(a.bytes().len(), 40);
    assert_ne!(a.address(), b.address());
    a.bytes_mut().fill(0x11);
    b.bytes_mut().fill(0x22);
    assert!(a.bytes().iter().all(|&x| x == 0x11));
    assert!(b.bytes().iter().all(|&x| x == 0x22));
    let live = c.live_objects();
    a.free().unwrap();
    b.free().unwrap();
    assert_eq!(c.live_objects(), live - 2);
}
