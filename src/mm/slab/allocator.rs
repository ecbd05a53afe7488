//! The slab allocator as a whole: its two own caches (cache descriptors, per-CPU arrays),
//! the chain, kmem_cache_create / kmem_cache_destroy on top of the lifecycle protocol, and
//! whether every cache gets red zones and poison (`slab_debug`).
//!
//! How long a cache lives is in the types: [`Slab::create`] gives a [`CacheHandle`], the
//! cache's one owner, and [`Slab::destroy`] takes it. Safe code reaches a cache only
//! through a borrow of its handle, a [`SharedCache`] (counted: destroy refuses while one is
//! held), an object of it ([`super::OwnedObject`]: destroy refuses while one is
//! allocated), the chain under its lock ([`Slab::for_each_cache`]), or a cache made
//! permanent with [`CacheHandle::leak`]. None outlives the cache:
//!
//! ```compile_fail,E0505
//! use hotslab::mm::slab::{Cache, CacheHandle, HotplugEnv, Slab, SlabPlatform};
//!
//! fn use_after_destroy<P: SlabPlatform>(
//!     slab: &'static Slab<P>,
//!     env: &impl HotplugEnv<&'static Cache<P>>,
//!     handle: CacheHandle<P>,
//! ) {
//!     let cache: &Cache<P> = handle.cache();
//!     let _ = slab.destroy(env, handle); // error[E0505]: `handle` is still borrowed
//!     let _ = cache.alloc();
//! }
//! ```
//!
//! while the same calls in order compile (so the example above fails for that reason
//! alone):
//!
//! ```
//! use hotslab::mm::slab::{Cache, CacheHandle, HotplugEnv, Slab, SlabPlatform};
//!
//! fn use_then_destroy<P: SlabPlatform>(
//!     slab: &'static Slab<P>,
//!     env: &impl HotplugEnv<&'static Cache<P>>,
//!     handle: CacheHandle<P>,
//! ) {
//!     let cache: &Cache<P> = handle.cache();
//!     let _ = cache.alloc();
//!     let _ = slab.destroy(env, handle);
//! }
//! ```

use core::ptr::NonNull;
use core::sync::atomic::Ordering;

use arrayvec::ArrayString;

use crate::smp::cpumask::CpuMask;

use super::array_cache::ArrayCache;
use super::cache::{Cache, Ctor, NAME_MAX};
use super::geometry::{Geometry, MAX_OBJECT_SIZE};
use super::lifecycle::{Chain, HotplugEnv, PerCpuArrays, Race, Violation};
use super::percpu::PerCpu;
use super::slabs;
use super::{SlabError, SlabPlatform};

/// The most caches on the chain.
pub const MAX_CACHES: usize = 64;

/// Creation flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SlabFlags(pub u32);

impl SlabFlags {
    pub const NONE: SlabFlags = SlabFlags(0);
    /// Align objects to a cache line (64 bytes), as SLAB_HWCACHE_ALIGN.
    pub const HWCACHE_ALIGN: SlabFlags = SlabFlags(1);
    const KNOWN: u32 = 1;
    const CACHE_LINE: usize = 64;
}

/// A cache made by [`Slab::create`], and its owner. Not `Copy`: [`Slab::destroy`] takes
/// it, so a destroyed cache cannot be used; a refused destroy hands it back.
pub struct CacheHandle<P: SlabPlatform + 'static>(&'static Cache<P>);

impl<P: SlabPlatform + 'static> CacheHandle<P> {
    /// The cache, for as long as this handle is not given to destroy.
    pub fn cache(&self) -> &Cache<P> {
        self.0
    }

    /// A counted reference to share the cache with other CPUs; destroy refuses while any
    /// is held.
    pub fn share(&self) -> SharedCache<P> {
        SharedCache::new(self.0)
    }

    /// Keeps the cache for good: it can never be destroyed, so it lives as long as the
    /// allocator (kmalloc's size classes).
    pub fn leak(self) -> &'static Cache<P> {
        self.0
    }
}

impl<P: SlabPlatform + 'static> core::ops::Deref for CacheHandle<P> {
    type Target = Cache<P>;
    fn deref(&self) -> &Cache<P> {
        self.0
    }
}

/// A cache shared beyond its handle's scope (with jobs on other CPUs): while one exists,
/// [`Slab::destroy`] refuses with [`SlabError::Shared`], so the cache outlives it.
pub struct SharedCache<P: SlabPlatform + 'static>(&'static Cache<P>);

impl<P: SlabPlatform + 'static> SharedCache<P> {
    fn new(cache: &'static Cache<P>) -> Self {
        cache.shares.fetch_add(1, Ordering::AcqRel);
        SharedCache(cache)
    }
}

impl<P: SlabPlatform + 'static> Clone for SharedCache<P> {
    fn clone(&self) -> Self {
        SharedCache::new(self.0)
    }
}

impl<P: SlabPlatform + 'static> Drop for SharedCache<P> {
    fn drop(&mut self) {
        self.0.shares.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<P: SlabPlatform + 'static> core::ops::Deref for SharedCache<P> {
    type Target = Cache<P>;
    fn deref(&self) -> &Cache<P> {
        self.0
    }
}

impl<P: SlabPlatform + 'static> PerCpuArrays for &'static Cache<P> {
    fn name(&self) -> &str {
        Cache::name(self)
    }
    fn cpus(&self) -> usize {
        Cache::cpus(self)
    }
    fn is(&self, other: &Self) -> bool {
        core::ptr::eq(*self, *other)
    }
    fn make_array(&self, cpu: usize) -> Result<(), SlabError> {
        Cache::make_array(self, cpu)
    }
    fn release_array(&self, cpu: usize) -> bool {
        Cache::release_array(self, cpu)
    }
    fn has_array(&self, cpu: usize) -> bool {
        Cache::has_array(self, cpu)
    }
    fn live_objects(&self) -> usize {
        Cache::live_objects(self)
    }
    fn release_slabs(&self) -> Result<(), SlabError> {
        Cache::release_slabs(self).map(|_| ())
    }
}

/// The per-CPU arrays out of their cache, against the chain's need (`Slab::arrays`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayCount {
    pub out: usize,
    /// Caches on the chain.
    pub caches: usize,
    /// CPUs the chain keeps arrays for.
    pub cpus: usize,
}

impl ArrayCount {
    /// One array for each cache on the chain and each CPU it keeps arrays for.
    pub fn needed(&self) -> usize {
        self.caches * self.cpus
    }
}

pub struct Slab<P: SlabPlatform + 'static> {
    platform: &'static P,
    /// Every cache, the allocator's own included, has red zones and poison.
    debug: bool,
    /// Cache descriptors (Linux: `cache_cache`).
    descriptors: Cache<P>,
    /// Per-CPU arrays.
    arrays: Cache<P>,
    /// Each created cache's per-CPU slots, one per CPU the platform has (Linux:
    /// `alloc_percpu`'s `kmem_cache_cpu`s), while they fit an object.
    slots: Cache<P>,
    /// Pages for one cache's slots where they do not fit an object (over
    /// `MAX_OBJECT_SIZE`: more than 256 CPUs), taken from the platform; else 0.
    slot_pages: usize,
    /// Every cache made by `create` and not destroyed; reached only under its lock.
    chain: Chain<&'static Cache<P>, MAX_CACHES>,
}

impl<P: SlabPlatform + 'static> Slab<P> {
    /// The allocator, made in pages of `platform` and kept for good, with its own three
    /// caches' per-CPU slots after it; with `debug` (`slab_debug`) every cache it makes
    /// has red zones and poison. Built in place. `None`: `platform` had no pages for it.
    pub fn new_in_pages(platform: &'static P, debug: bool) -> Option<&'static Self> {
        let slots = Self::slots_size(platform);
        let own = size_of::<Self>().next_multiple_of(align_of::<PerCpu>());
        let pages = (own + 3 * slots)
            .div_ceil(crate::mm::page_alloc::PAGE_SIZE as usize)
            .next_power_of_two();
        let base = platform.alloc_pages(pages)?;
        let slab = base.cast::<Self>().as_ptr();
        let geometry =
            |size, align| Self::geometry(debug, size, align).expect("the allocator's own geometry");
        // SAFETY: fresh pages, page-aligned and large enough for a Slab and three caches'
        // slots (each aligned, as `own` and `slots` are multiples of PerCpu's alignment),
        // never freed: each field is written once through a raw pointer to it before the
        // reference is made.
        unsafe {
            (&raw mut (*slab).platform).write(platform);
            (&raw mut (*slab).debug).write(debug);
            for (i, (cache, name, geometry)) in [
                (
                    &raw mut (*slab).descriptors,
                    "kmem_cache",
                    geometry(size_of::<Cache<P>>(), align_of::<Cache<P>>()),
                ),
                (
                    &raw mut (*slab).arrays,
                    "array_cache",
                    geometry(size_of::<ArrayCache>(), 64),
                ),
                (
                    &raw mut (*slab).slots,
                    "kmem_cache_cpu",
                    // Where the slots do not fit an object, this cache is not used.
                    geometry(slots.min(MAX_OBJECT_SIZE), align_of::<PerCpu>()),
                ),
            ]
            .into_iter()
            .enumerate()
            {
                let slots = base.as_ptr().add(own + i * slots).cast::<PerCpu>();
                Cache::init_at(
                    NonNull::new_unchecked(cache),
                    NonNull::new_unchecked(slots),
                    name,
                    geometry,
                    None,
                    platform,
                    None,
                )
                .expect("the allocator's own cache");
            }
            (&raw mut (*slab).chain).write(Chain::new());
            let slot_pages = if slots > MAX_OBJECT_SIZE {
                slots.div_ceil(crate::mm::page_alloc::PAGE_SIZE as usize)
            } else {
                0
            };
            (&raw mut (*slab).slot_pages).write(slot_pages);
            Some(&*slab)
        }
    }

    /// The bytes of one cache's per-CPU slots on `platform`.
    fn slots_size(platform: &P) -> usize {
        platform.cpus().max(1) * size_of::<PerCpu>()
    }

    /// What a cache made by `create` takes besides its slabs: its descriptor and its
    /// per-CPU slots, as the allocator hands them out.
    pub fn bytes_per_cache(&self) -> usize {
        let slots = match self.slot_pages {
            0 => self.slots.geometry().stride,
            pages => pages * crate::mm::page_alloc::PAGE_SIZE as usize,
        };
        self.descriptors.geometry().stride + slots
    }

    /// A fresh cache's per-CPU slots: an object of `slots`, or pages where they do not
    /// fit one.
    fn alloc_slots(&self) -> Result<NonNull<PerCpu>, SlabError> {
        match self.slot_pages {
            0 => self.slots.alloc().map(NonNull::cast),
            pages => self
                .platform
                .alloc_pages(pages.next_power_of_two())
                .map(NonNull::cast)
                .ok_or(SlabError::OutOfMemory),
        }
    }

    /// Gives back slots [`Slab::alloc_slots`] gave.
    ///
    /// # Safety
    /// `slots` came from `alloc_slots` and nothing uses them any more.
    unsafe fn free_slots(&self, slots: NonNull<PerCpu>) {
        match self.slot_pages {
            // SAFETY: an object of `slots` (the caller's contract).
            0 => unsafe { self.slots.free_known(slots.cast()) }
                .expect("a cache's slots go back to kmem_cache_cpu"),
            // SAFETY: the pages `alloc_slots` took (the caller's contract).
            pages => unsafe {
                self.platform
                    .free_pages(slots.cast(), pages.next_power_of_two())
            },
        }
    }

    pub fn platform(&self) -> &'static P {
        self.platform
    }

    /// Whether caches have red zones and poison (`slab_debug`).
    pub fn debug(&self) -> bool {
        self.debug
    }

    fn geometry(debug: bool, size: usize, align: usize) -> Result<Geometry, SlabError> {
        if debug {
            Geometry::with_red_zone(size, align)
        } else {
            Geometry::new(size, align)
        }
    }

    /// The name of the cache whose slab `object` lies in (for `SlabError::WrongCache`), if
    /// it is one of the allocator's.
    pub fn owner_name(&self, object: usize) -> Option<ArrayString<NAME_MAX>> {
        slabs::owner_of(object, self.platform).and_then(|id| self.cache_name(id))
    }

    fn cache_name(&self, id: usize) -> Option<ArrayString<NAME_MAX>> {
        let name = |c: &Cache<P>| ArrayString::from(c.name()).ok();
        if let Some(own) = self.own_caches().into_iter().find(|c| c.id() == id) {
            return name(own);
        }
        let mut found = None;
        self.chain.for_each(|c| {
            if c.id() == id {
                found = name(c);
            }
        });
        found
    }

    /// Runs `f` on every cache, the allocator's own first, then the chain in creation
    /// order, holding the chain's lock: none can be destroyed while `f` looks at it.
    pub fn for_each_cache(&self, mut f: impl FnMut(&Cache<P>)) {
        for own in self.own_caches() {
            f(own);
        }
        self.chain.for_each(|c| f(c));
    }

    /// Whether a cache of that name is on the chain.
    pub fn contains(&self, name: &str) -> bool {
        self.chain.find(name).is_some()
    }

    /// Runs `f` on the chained cache called `name`, holding the chain's lock: it cannot
    /// be destroyed while `f` runs. `None` if there is none.
    pub fn with_cache<R>(&self, name: &str, f: impl FnOnce(&Cache<P>) -> R) -> Option<R> {
        self.chain.with(name, |c| f(c))
    }

    /// The CPUs already running when the allocator starts (they had no UP_PREPARE).
    pub fn track(&self, cpus: CpuMask) {
        self.chain.track(cpus);
    }

    pub fn tracked(&self) -> CpuMask {
        self.chain.tracked()
    }

    /// The UP_PREPARE callback: an array for `cpu` in every cache.
    pub fn up_prepare(&self, cpu: usize) -> Result<(), SlabError> {
        self.chain.up_prepare(cpu)
    }

    /// The UP_CANCELED callback.
    pub fn up_canceled(&self, cpu: usize) {
        self.chain.up_canceled(cpu);
    }

    /// The DEAD callback: the dead CPU's arrays drained and freed.
    pub fn dead(&self, env: &impl HotplugEnv<&'static Cache<P>>, cpu: usize) {
        self.chain.dead(env, cpu);
    }

    /// Destroy's drain of `cache` on `cpu`, run on `cpu` itself.
    pub fn drain_cpu(
        &self,
        env: &impl HotplugEnv<&'static Cache<P>>,
        cache: &Cache<P>,
        cpu: usize,
    ) {
        if !cache.release_array(cpu) {
            env.report(Race::DestroyVsUp, cpu, cache.name());
        }
    }

    /// The protocol's invariant (see `lifecycle`), now.
    pub fn check_chain(&self) -> Result<(), Violation> {
        self.chain.check()
    }

    /// The per-CPU arrays out of their cache, and how many the chain needs: one for each
    /// of its caches and each CPU it keeps arrays for. Equal while no cache is being
    /// created or destroyed (a create makes its arrays before it links the cache, a
    /// destroy frees them after it unlinks it); more out is a leak.
    pub fn arrays(&self) -> ArrayCount {
        self.chain.with_extent(|caches, cpus| ArrayCount {
            out: self.arrays.live_objects(),
            caches,
            cpus: cpus.len(),
        })
    }

    /// Objects with users over every cache, less the per-CPU arrays the chain needs,
    /// which follow which CPUs are up rather than anyone's use: a count to compare
    /// before and after work that may leave a CPU offline. Arrays beyond the need (a
    /// leak) still count.
    pub fn objects_in_use(&self) -> usize {
        let mut live = 0;
        self.for_each_cache(|c| live += c.live_objects());
        live.saturating_sub(self.arrays().needed())
    }

    /// The allocator's own caches. Inside the allocator only: they live in the `Slab`
    /// value itself, so an object taken from one must not outlive it.
    pub(super) fn own_caches(&self) -> [&Cache<P>; 3] {
        [&self.descriptors, &self.arrays, &self.slots]
    }

    /// kmem_cache_create: a cache of `size`-byte objects aligned to `align` (0: 8 bytes).
    pub fn create(
        &'static self,
        env: &impl HotplugEnv<&'static Cache<P>>,
        name: &str,
        size: usize,
        align: usize,
        flags: SlabFlags,
        ctor: Option<Ctor>,
    ) -> Result<CacheHandle<P>, SlabError> {
        if flags.0 & !SlabFlags::KNOWN != 0 {
            return Err(SlabError::BadFlags(flags.0));
        }
        let align = if flags.0 & SlabFlags::HWCACHE_ALIGN.0 != 0 {
            align.max(SlabFlags::CACHE_LINE)
        } else {
            align
        };
        let geometry = Self::geometry(self.debug, size, align)?;
        let place = self.descriptors.alloc()?.cast::<Cache<P>>();
        let slots = match self.alloc_slots() {
            Ok(slots) => slots,
            Err(e) => {
                // SAFETY: the descriptor object allocated just now, holding nothing.
                unsafe { self.descriptors.free_known(place.cast()) }
                    .expect("a fresh descriptor goes back to kmem_cache");
                return Err(e);
            }
        };
        // SAFETY: a fresh descriptor object, sized and aligned for a Cache, and a fresh
        // slots object, sized for the platform's CPUs and aligned for PerCpu.
        let made = unsafe {
            Cache::init_at(
                place,
                slots,
                name,
                geometry,
                ctor,
                self.platform,
                Some(&self.arrays),
            )
        };
        if let Err(e) = made {
            // SAFETY: the two objects allocated just now, holding nothing.
            unsafe {
                self.free_slots(slots);
                self.descriptors
                    .free_known(place.cast())
                    .expect("a fresh descriptor goes back to kmem_cache");
            }
            return Err(e);
        }
        // SAFETY: made just now; it lives until destroy gives it back, so the reference is
        // 'static for its users.
        let cache: &'static Cache<P> = unsafe { place.as_ref() };
        match self.chain.create(env, cache) {
            Ok(()) => Ok(CacheHandle(cache)),
            Err(e) => {
                self.free_descriptor(cache);
                Err(e)
            }
        }
    }

    /// kmem_cache_destroy. A refusal (objects still allocated, or the cache still shared)
    /// hands the cache back intact.
    pub fn destroy(
        &'static self,
        env: &impl HotplugEnv<&'static Cache<P>>,
        handle: CacheHandle<P>,
    ) -> Result<(), (CacheHandle<P>, SlabError)> {
        // Only clones of a share made from this handle could add one, so none appears
        // once this reads zero.
        let shares = handle.0.shares.load(Ordering::Acquire);
        if shares > 0 {
            return Err((handle, SlabError::Shared(shares)));
        }
        match self.chain.destroy(env, &handle.0) {
            Ok(()) => {
                self.free_descriptor(handle.0);
                Ok(())
            }
            Err(e) => Err((handle, e)),
        }
    }

    fn free_descriptor(&self, cache: &'static Cache<P>) {
        // Off the chain, with no arrays and no slabs, nothing refers to it any more; the
        // descriptor goes back where it came from (Cache has nothing to drop).
        let place = NonNull::from(cache);
        let slots = cache.slots();
        // SAFETY: the descriptor came from `descriptors` and its slots from `slots`
        // (create), and nothing refers to either any more (above).
        unsafe {
            self.free_slots(slots);
            self.descriptors
                .free_known(place.cast())
                .expect("a cache descriptor goes back to kmem_cache");
        }
    }
}
