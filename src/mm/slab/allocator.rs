//! The slab allocator as a whole: its two own caches (cache descriptors, per-CPU arrays),
//! the chain, kmem_cache_create / kmem_cache_destroy on top of the lifecycle protocol, and
//! whether every cache gets red zones and poison (`slab_debug`).

use core::ptr::NonNull;

use arrayvec::ArrayString;

use super::array_cache::ArrayCache;
use super::cache::{Cache, Ctor, NAME_MAX};
use super::geometry::Geometry;
use super::lifecycle::{Chain, HotplugEnv, PerCpuArrays};
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

/// A cache made by [`Slab::create`]. Not `Copy`: [`Slab::destroy`] takes it, so a
/// destroyed cache cannot be used; a refused destroy hands it back.
pub struct CacheHandle(&'static Cache);

impl CacheHandle {
    pub fn cache(&self) -> &'static Cache {
        self.0
    }
}

impl core::ops::Deref for CacheHandle {
    type Target = Cache;
    fn deref(&self) -> &Cache {
        self.0
    }
}

impl PerCpuArrays for &'static Cache {
    fn name(&self) -> &str {
        Cache::name(self)
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

pub struct Slab {
    platform: &'static dyn SlabPlatform,
    /// Every cache, the allocator's own included, has red zones and poison.
    debug: bool,
    /// Cache descriptors (Linux: `cache_cache`).
    descriptors: Cache,
    /// Per-CPU arrays.
    arrays: Cache,
    pub chain: Chain<&'static Cache, MAX_CACHES>,
}

impl Slab {
    /// The allocator; with `debug` (`slab_debug`) every cache it makes has red zones and
    /// poison.
    pub fn new(platform: &'static dyn SlabPlatform, debug: bool) -> Self {
        let own = |name, size, align| {
            let geometry =
                Self::geometry(debug, size, align).expect("the allocator's own geometry");
            Cache::new(name, geometry, None, platform, None).expect("the allocator's own cache")
        };
        Self {
            platform,
            debug,
            descriptors: own("kmem_cache", size_of::<Cache>(), align_of::<Cache>()),
            arrays: own("array_cache", size_of::<ArrayCache>(), 64),
            chain: Chain::new(),
        }
    }

    pub fn platform(&self) -> &'static dyn SlabPlatform {
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
        let name = |c: &Cache| ArrayString::from(c.name()).ok();
        if let Some(own) = self.own_caches().into_iter().find(|c| c.id() == id) {
            return name(own);
        }
        let chained = self.chain.snapshot().into_iter().find(|c| c.id() == id);
        chained.and_then(name)
    }

    /// The allocator's own caches, for `slabinfo`.
    pub fn own_caches(&self) -> [&Cache; 2] {
        [&self.descriptors, &self.arrays]
    }

    /// kmem_cache_create: a cache of `size`-byte objects aligned to `align` (0: 8 bytes).
    pub fn create(
        &'static self,
        env: &impl HotplugEnv<&'static Cache>,
        name: &str,
        size: usize,
        align: usize,
        flags: SlabFlags,
        ctor: Option<Ctor>,
    ) -> Result<CacheHandle, SlabError> {
        if flags.0 & !SlabFlags::KNOWN != 0 {
            return Err(SlabError::BadFlags(flags.0));
        }
        let align = if flags.0 & SlabFlags::HWCACHE_ALIGN.0 != 0 {
            align.max(SlabFlags::CACHE_LINE)
        } else {
            align
        };
        let geometry = Self::geometry(self.debug, size, align)?;
        let cache = Cache::new(name, geometry, ctor, self.platform, Some(&self.arrays))?;
        let place = self.descriptors.alloc()?.cast::<Cache>();
        // SAFETY: a fresh descriptor object, sized and aligned for a Cache; it lives
        // until destroy gives it back, so the reference is 'static for its users.
        let cache: &'static Cache = unsafe {
            place.write(cache);
            &*place.as_ptr()
        };
        match self.chain.create(env, cache) {
            Ok(()) => Ok(CacheHandle(cache)),
            Err(e) => {
                self.free_descriptor(cache);
                Err(e)
            }
        }
    }

    /// kmem_cache_destroy. A refusal (objects still allocated) hands the cache back intact.
    pub fn destroy(
        &'static self,
        env: &impl HotplugEnv<&'static Cache>,
        handle: CacheHandle,
    ) -> Result<(), (CacheHandle, SlabError)> {
        match self.chain.destroy(env, &handle.0) {
            Ok(()) => {
                self.free_descriptor(handle.0);
                Ok(())
            }
            Err(e) => Err((handle, e)),
        }
    }

    fn free_descriptor(&self, cache: &'static Cache) {
        // Off the chain, with no arrays and no slabs, nothing refers to it any more; the
        // descriptor goes back where it came from (Cache has nothing to drop).
        let place = NonNull::from(cache);
        self.descriptors
            .free(place.cast())
            .expect("a cache descriptor goes back to kmem_cache");
    }
}
