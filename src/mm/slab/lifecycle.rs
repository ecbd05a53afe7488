//! The cache chain and the slab allocator's side of CPU hotplug: what the 2004 report is
//! about, and its fix.
//!
//! Creating a cache is two steps: (a) give every online CPU an array, (b) link the cache
//! into the chain. Destroying one is two steps: (a) unlink it, (b) drain every online
//! CPU's array by a cross-call that runs on each. The hotplug callbacks walk the chain:
//! UP_PREPARE gives the incoming CPU an array in every cache, DEAD drains and frees the
//! dead CPU's arrays.
//!
//! Invariant: for every cache on the chain and every CPU from its UP_PREPARE until its
//! DEAD callbacks finish, the cache has an array for that CPU ([`Chain::check`]).
//!
//! Without protection the steps interleave with hotplug and break it, the two races of
//! Linux 2.6.5:
//! - race 1, create against CPU_DEAD: a CPU on its way down is not online at (a), so it
//!   gets no array, but its DEAD callback runs after (b) and finds the cache with no array
//!   for it (2004: a NULL dereference in `cpuup_callback`). The same gap lets a CPU come
//!   up between (a) and (b) and then allocate from a cache with no array for it.
//! - race 2, destroy against CPU_UP: a CPU's UP_PREPARE runs after (a), so the cache gets
//!   no array for it, but the CPU is online by (b) and the drain reaches it (2004: a NULL
//!   dereference in `do_drain`).
//!
//! The fix, as in the 2004 patch: create and destroy hold the hotplug lock's read side
//! around both steps, so no CPU comes or goes in between. `HotplugEnv::protected` says
//! whether they do: turning it off removes exactly that and nothing else. The chain mutex
//! guards only the chain itself (the duplicate check and link, the unlink), as in 2.6.5.
//! A race that happens is reported, named, by `HotplugEnv::report`, and survived: the
//! arrays are atomic slots, so a missing one is skipped, never dereferenced.

use core::fmt;

use arrayvec::{ArrayString, ArrayVec};

#[cfg(not(loom))]
use crate::sync::SpinLock as Mutex;
#[cfg(loom)]
use loom::sync::Mutex;

use super::SlabError;
use super::cache::NAME_MAX;
use crate::smp::cpumask::{AtomicCpuMask, CpuMask};

/// What the protocol needs of a cache.
pub trait PerCpuArrays: Clone {
    fn name(&self) -> &str;
    /// Whether two handles name the same cache.
    fn is(&self, other: &Self) -> bool;
    fn make_array(&self, cpu: usize) -> Result<(), SlabError>;
    /// Drains and frees `cpu`'s array; false if it had none.
    fn release_array(&self, cpu: usize) -> bool;
    fn has_array(&self, cpu: usize) -> bool;
    /// How many CPUs it keeps arrays for (0 to this).
    fn cpus(&self) -> usize;
    /// Objects with users.
    fn live_objects(&self) -> usize;
    /// Returns every slab; `InUse` if objects are still out.
    fn release_slabs(&self) -> Result<(), SlabError>;
}

/// The two races of the 2004 report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Race {
    /// Race 1 as 2004 met it: a DEAD callback found a chained cache with no array for the
    /// dead CPU.
    CreateVsDead,
    /// Race 1's other face: a CPU allocated from a cache that has no array for it (it came
    /// up between create's steps).
    CreateVsUp,
    /// Race 2: destroy's drain reached a CPU that has no array.
    DestroyVsUp,
}

impl Race {
    /// The race's number in the 2004 report.
    pub fn number(self) -> u8 {
        match self {
            Race::CreateVsDead | Race::CreateVsUp => 1,
            Race::DestroyVsUp => 2,
        }
    }
}

impl fmt::Display for Race {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Race::CreateVsDead => write!(
                f,
                "race 1 (kmem_cache_create vs CPU_DEAD): the DEAD callback found no array"
            ),
            Race::CreateVsUp => write!(
                f,
                "race 1 (kmem_cache_create vs CPU_UP): no array on an online CPU"
            ),
            Race::DestroyVsUp => write!(
                f,
                "race 2 (kmem_cache_destroy vs CPU_UP): the drain cross-call found no array"
            ),
        }
    }
}

/// What the protocol needs of the kernel (or of a model of it).
pub trait HotplugEnv<C> {
    fn online(&self) -> CpuMask;
    /// Whether create and destroy take the hotplug lock (the 2004 fix).
    fn protected(&self) -> bool;
    /// Whether create takes the chain's lock before the hotplug lock's read side (Linux
    /// 5.12's inversion, on demand); false unless the environment says so.
    fn lock_order_inverted(&self) -> bool {
        false
    }
    fn cpus_read_lock(&self);
    fn cpus_read_unlock(&self);
    /// Fault injection: a pause between the two steps of create and of destroy.
    fn race_window(&self);
    /// Runs [`Chain::drain_cpu`] for `cache` on every online CPU, each on itself, and
    /// waits for all of them (the kernel: a cross-call).
    fn drain_online(&self, cache: &C);
    fn report(&self, race: Race, cpu: usize, cache: &str);
}

/// A cache on the chain without an array for a CPU that must have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub cache: ArrayString<NAME_MAX>,
    pub cpu: usize,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cache '{}' on the chain has no array for cpu{}",
            self.cache, self.cpu
        )
    }
}

/// The chain of caches (at most `N`) and the CPUs whose arrays it keeps.
pub struct Chain<C, const N: usize> {
    caches: Mutex<ArrayVec<C, N>>,
    /// CPUs from their UP_PREPARE until their DEAD callbacks finish.
    tracked: AtomicCpuMask,
}

#[cfg(not(loom))]
impl<C, const N: usize> Chain<C, N> {
    pub const fn new() -> Self {
        Self {
            caches: Mutex::new(crate::lock_class!("slab_mutex"), ArrayVec::new_const()),
            tracked: AtomicCpuMask::new(),
        }
    }
}

#[cfg(loom)]
impl<C, const N: usize> Chain<C, N> {
    pub fn new() -> Self {
        Self {
            caches: Mutex::new(ArrayVec::new_const()),
            tracked: AtomicCpuMask::new(),
        }
    }
}

impl<C, const N: usize> Default for Chain<C, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Takes the chain mutex.
#[cfg(not(loom))]
fn lock<T>(m: &Mutex<T>) -> crate::sync::SpinLockGuard<'_, T> {
    m.lock()
}

#[cfg(loom)]
fn lock<T>(m: &Mutex<T>) -> loom::sync::MutexGuard<'_, T> {
    m.lock().unwrap()
}

impl<C: PerCpuArrays, const N: usize> Chain<C, N> {
    /// The CPUs already running when the allocator starts (they had no UP_PREPARE).
    pub fn track(&self, cpus: CpuMask) {
        self.tracked.insert_all(cpus);
    }

    pub fn tracked(&self) -> CpuMask {
        self.tracked.get()
    }

    pub fn find(&self, name: &str) -> Option<C> {
        lock(&self.caches)
            .iter()
            .find(|c| c.name() == name)
            .cloned()
    }

    /// Runs `f` on the cache called `name`, holding the chain's lock (so it is not
    /// unlinked meanwhile); `None` if there is none.
    pub fn with<R>(&self, name: &str, f: impl FnOnce(&C) -> R) -> Option<R> {
        lock(&self.caches).iter().find(|c| c.name() == name).map(f)
    }

    /// Runs `f` with the number of caches on the chain and the CPUs it keeps arrays for,
    /// holding the chain's lock: neither changes, and no array is made or freed for a
    /// CPU's coming or going, while `f` runs.
    pub fn with_extent<R>(&self, f: impl FnOnce(usize, CpuMask) -> R) -> R {
        let chain = lock(&self.caches);
        f(chain.len(), self.tracked())
    }

    /// Runs `f` on every cache on the chain, in creation order, holding the chain's lock
    /// (so none is unlinked meanwhile).
    pub fn for_each(&self, mut f: impl FnMut(&C)) {
        for cache in lock(&self.caches).iter() {
            f(cache);
        }
    }

    /// kmem_cache_create's protocol for a cache that is made but not yet reachable.
    /// On error nothing of it is left: no arrays, not on the chain.
    pub fn create(&self, env: &impl HotplugEnv<C>, cache: C) -> Result<(), SlabError> {
        let protect = env.protected();
        if protect && env.lock_order_inverted() {
            return self.create_inverted(env, cache);
        }
        if protect {
            env.cpus_read_lock();
        }
        let result = self.create_steps(env, &cache);
        if protect {
            env.cpus_read_unlock();
        }
        if result.is_err() {
            self.release_all_arrays(&cache);
        }
        result
    }

    /// Create in Linux 5.12's order: the chain's lock (`slab_mutex`), then the hotplug
    /// lock's read side under it (`cpus_read_lock`, through `static_key_enable`). A CPU
    /// going up or down holds the write side and then takes the chain's lock in its
    /// hotplug callback: with a writer between the two, each waits for the other for
    /// good. The race window holds the gap between the two locks open.
    fn create_inverted(&self, env: &impl HotplugEnv<C>, cache: C) -> Result<(), SlabError> {
        let mut chain = lock(&self.caches);
        env.race_window();
        env.cpus_read_lock();
        let result = if chain.iter().any(|c| c.name() == cache.name()) {
            Err(SlabError::Duplicate)
        } else {
            env.online()
                .iter()
                .try_for_each(|cpu| cache.make_array(cpu))
                .and_then(|()| {
                    chain
                        .try_push(cache.clone())
                        .map_err(|_| SlabError::TooManyCaches)
                })
        };
        env.cpus_read_unlock();
        drop(chain);
        if result.is_err() {
            self.release_all_arrays(&cache);
        }
        result
    }

    fn create_steps(&self, env: &impl HotplugEnv<C>, cache: &C) -> Result<(), SlabError> {
        if self.find(cache.name()).is_some() {
            return Err(SlabError::Duplicate);
        }
        // (a) an array for every online CPU
        for cpu in env.online().iter() {
            cache.make_array(cpu)?;
        }
        env.race_window();
        // (b) link into the chain
        let mut chain = lock(&self.caches);
        if chain.iter().any(|c| c.name() == cache.name()) {
            return Err(SlabError::Duplicate);
        }
        chain
            .try_push(cache.clone())
            .map_err(|_| SlabError::TooManyCaches)
    }

    /// kmem_cache_destroy's protocol. Refuses, leaving the cache as it was, while objects
    /// are allocated. On success the cache has no arrays and no slabs and is off the chain.
    pub fn destroy(&self, env: &impl HotplugEnv<C>, cache: &C) -> Result<(), SlabError> {
        let protect = env.protected();
        if protect {
            env.cpus_read_lock();
        }
        let result = self.destroy_steps(env, cache);
        if protect {
            env.cpus_read_unlock();
        }
        result
    }

    fn destroy_steps(&self, env: &impl HotplugEnv<C>, cache: &C) -> Result<(), SlabError> {
        // (a) unlink, unless objects are still allocated
        {
            let mut chain = lock(&self.caches);
            let Some(at) = chain.iter().position(|c| c.is(cache)) else {
                return Err(SlabError::NoSuchCache);
            };
            let live = cache.live_objects();
            if live > 0 {
                return Err(SlabError::InUse(live));
            }
            chain.remove(at);
        }
        env.race_window();
        // (b) drain every online CPU's array, on that CPU
        env.drain_online(cache);
        // Arrays of CPUs the drain did not reach: nobody can reach the cache any more.
        self.release_all_arrays(cache);
        if let Err(e) = cache.release_slabs() {
            // Objects were allocated while it was being destroyed: put it back as it was.
            for cpu in env.online().iter() {
                let _ = cache.make_array(cpu);
            }
            let _ = lock(&self.caches).try_push(cache.clone());
            return Err(e);
        }
        Ok(())
    }

    fn release_all_arrays(&self, cache: &C) {
        for cpu in 0..cache.cpus() {
            cache.release_array(cpu);
        }
    }

    /// Destroy's drain, on `cpu` itself.
    pub fn drain_cpu(&self, env: &impl HotplugEnv<C>, cache: &C, cpu: usize) {
        if !cache.release_array(cpu) {
            env.report(Race::DestroyVsUp, cpu, cache.name());
        }
    }

    /// UP_PREPARE: an array for `cpu` in every cache on the chain. On failure the arrays
    /// made here are freed again.
    pub fn up_prepare(&self, cpu: usize) -> Result<(), SlabError> {
        let chain = lock(&self.caches);
        for (i, cache) in chain.iter().enumerate() {
            if let Err(e) = cache.make_array(cpu) {
                for made in &chain[..i] {
                    made.release_array(cpu);
                }
                return Err(e);
            }
        }
        self.tracked.insert(cpu);
        Ok(())
    }

    /// UP_CANCELED: the CPU never came up; free what UP_PREPARE made.
    pub fn up_canceled(&self, cpu: usize) {
        let chain = lock(&self.caches);
        self.tracked.remove(cpu);
        for cache in chain.iter() {
            cache.release_array(cpu);
        }
    }

    /// DEAD: drain and free the dead CPU's array in every cache on the chain.
    pub fn dead(&self, env: &impl HotplugEnv<C>, cpu: usize) {
        let chain = lock(&self.caches);
        for cache in chain.iter() {
            if !cache.release_array(cpu) {
                env.report(Race::CreateVsDead, cpu, cache.name());
            }
        }
        self.tracked.remove(cpu);
    }

    /// Checks the invariant (module doc) now. Meaningful while CPUs cannot come or go
    /// (under the hotplug lock), else a CPU's transition may be seen half-way.
    pub fn check(&self) -> Result<(), Violation> {
        let chain = lock(&self.caches);
        let tracked = self.tracked();
        for cache in chain.iter() {
            if let Some(cpu) = tracked.iter().find(|&cpu| !cache.has_array(cpu)) {
                let mut name = ArrayString::new();
                let _ = name.try_push_str(cache.name());
                return Err(Violation { cache: name, cpu });
            }
        }
        Ok(())
    }
}
