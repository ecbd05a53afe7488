//! The create/destroy protocol against CPU up/down under loom: every interleaving (within
//! a preemption bound) of the real `Chain` code and the real hotplug lock, with caches
//! whose per-CPU arrays are just flags. With the lock off loom finds both races of 2004;
//! with it on, none, and the invariant holds at the end.

use std::sync::atomic::{AtomicBool as StdFlag, Ordering as StdOrdering};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::SlabError;
use super::lifecycle::{Chain, HotplugEnv, PerCpuArrays, Race};
use crate::smp::cpumask::CpuMask;
use crate::smp::hotplug_lock::HotplugLock;

/// CPU 0 creates or destroys, CPU 1 comes or goes, CPU 2 is the hotplug controller.
const CPUS: usize = 3;
const CREATOR: usize = 0;
const VICTIM: usize = 1;
const CONTROLLER: usize = 2;

struct MockCache {
    name: &'static str,
    arrays: [AtomicBool; CPUS],
}

impl MockCache {
    fn new(name: &'static str) -> Arc<Self> {
        Arc::new(MockCache {
            name,
            arrays: std::array::from_fn(|_| AtomicBool::new(false)),
        })
    }
}

impl PerCpuArrays for Arc<MockCache> {
    fn name(&self) -> &str {
        self.name
    }
    fn is(&self, other: &Self) -> bool {
        Arc::ptr_eq(self, other)
    }
    fn make_array(&self, cpu: usize) -> Result<(), SlabError> {
        self.arrays[cpu].store(true, Ordering::Release);
        Ok(())
    }
    fn release_array(&self, cpu: usize) -> bool {
        cpu < CPUS && self.arrays[cpu].swap(false, Ordering::AcqRel)
    }
    fn has_array(&self, cpu: usize) -> bool {
        self.arrays[cpu].load(Ordering::Acquire)
    }
    fn cpus(&self) -> usize {
        CPUS
    }
    fn live_objects(&self) -> usize {
        0
    }
    fn release_slabs(&self) -> Result<(), SlabError> {
        Ok(())
    }
}

struct World {
    chain: Chain<Arc<MockCache>, 4>,
    lock: HotplugLock<CPUS>,
    online: AtomicU64,
    protected: bool,
}

impl HotplugEnv<Arc<MockCache>> for World {
    fn online(&self) -> CpuMask {
        CpuMask::from_low_word(self.online.load(Ordering::Acquire))
    }
    fn protected(&self) -> bool {
        self.protected
    }
    fn cpus_read_lock(&self) {
        self.lock.read_lock(CREATOR, loom::thread::yield_now);
    }
    fn cpus_read_unlock(&self) {
        self.lock.read_unlock(CREATOR);
    }
    fn race_window(&self) {}
    fn drain_online(&self, cache: &Arc<MockCache>) {
        for cpu in self.online().iter() {
            self.chain.drain_cpu(self, cache, cpu);
        }
    }
    fn report(&self, race: Race, _cpu: usize, _cache: &str) {
        match race {
            Race::CreateVsDead | Race::CreateVsUp => RACE_1_SEEN.store(true, StdOrdering::SeqCst),
            Race::DestroyVsUp => RACE_2_SEEN.store(true, StdOrdering::SeqCst),
        }
        assert!(!self.protected, "{race} with the hotplug lock taken");
    }
}

/// Set by any explored execution (loom reruns the closure for each).
static RACE_1_SEEN: StdFlag = StdFlag::new(false);
static RACE_2_SEEN: StdFlag = StdFlag::new(false);

fn world(protected: bool, online: u64) -> Arc<World> {
    let w = World {
        chain: Chain::new(),
        lock: HotplugLock::new(),
        online: AtomicU64::new(online),
        protected,
    };
    w.chain.track(CpuMask::from_low_word(online));
    Arc::new(w)
}

fn cpu_down(w: &World, cpu: usize) {
    w.lock.write_lock(CONTROLLER, loom::thread::yield_now);
    w.online.fetch_and(!(1 << cpu), Ordering::AcqRel);
    w.chain.dead(w, cpu);
    w.lock.write_unlock(CONTROLLER);
}

fn cpu_up(w: &World, cpu: usize) {
    w.lock.write_lock(CONTROLLER, loom::thread::yield_now);
    w.chain.up_prepare(cpu).unwrap();
    w.online.fetch_or(1 << cpu, Ordering::AcqRel);
    w.lock.write_unlock(CONTROLLER);
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(f);
}

/// kmem_cache_create on CPU 0 while CPU 1 goes down.
fn create_against_down(protected: bool) {
    model(move || {
        let w = world(protected, 0b111);
        let controller = {
            let w = w.clone();
            loom::thread::spawn(move || cpu_down(&w, VICTIM))
        };
        w.chain.create(&*w, MockCache::new("minix")).unwrap();
        controller.join().unwrap();
        if protected {
            w.chain.check().unwrap();
        }
    });
}

/// kmem_cache_destroy on CPU 0 while CPU 1 comes up.
fn destroy_against_up(protected: bool) {
    model(move || {
        let w = world(protected, 0b101);
        let cache = MockCache::new("minix");
        w.chain.create(&*w, cache.clone()).unwrap();
        let controller = {
            let w = w.clone();
            loom::thread::spawn(move || cpu_up(&w, VICTIM))
        };
        w.chain.destroy(&*w, &cache).unwrap();
        controller.join().unwrap();
        if protected {
            assert!(cache.arrays.iter().all(|a| !a.load(Ordering::Acquire)));
        }
    });
}

#[test]
fn without_the_lock_create_meets_race_1() {
    RACE_1_SEEN.store(false, StdOrdering::SeqCst);
    create_against_down(false);
    assert!(
        RACE_1_SEEN.load(StdOrdering::SeqCst),
        "loom found no race 1"
    );
}

#[test]
fn without_the_lock_destroy_meets_race_2() {
    RACE_2_SEEN.store(false, StdOrdering::SeqCst);
    destroy_against_up(false);
    assert!(
        RACE_2_SEEN.load(StdOrdering::SeqCst),
        "loom found no race 2"
    );
}

#[test]
fn with_the_lock_create_is_safe_against_down() {
    create_against_down(true);
}

#[test]
fn with_the_lock_destroy_is_safe_against_up() {
    destroy_against_up(true);
}
