//! The slab allocator as a whole: its two own caches (cache descriptors, per-CPU arrays),
//! the chain, and kmem_cache_create / kmem_cache_destroy on top of the lifecycle protocol.

use core::ptr::NonNull;

use super::array_cache::ArrayCache;
use super::cache::{Cache, Ctor};
use super::geometry::Geometry;
use super::lifecycle::{Chain, HotplugEnv, PerCpuArrays};
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
    /// Cache descriptors (Linux: `cache_cache`).
    descriptors: Cache,
    /// Per-CPU arrays.
    arrays: Cache,
    pub chain: Chain<&'static Cache, MAX_CACHES>,
}

impl Slab {
    pub fn new(platform: &'static dyn SlabPlatform) -> Self {
        let own = |name, size, align| {
            let geometry = Geometry::new(size, align).expect("the allocator's own geometry");
            Cache::new(name, geometry, None, platform, None).expect("the allocator's own cache")
        };
        Self {
            platform,
            descriptors: own("kmem_cache", size_of::<Cache>(), align_of::<Cache>()),
            arrays: own("array_cache", size_of::<ArrayCache>(), 64),
            chain: Chain::new(),
        }
    }

    pub fn platform(&self) -> &'static dyn SlabPlatform {
        self.platform
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
        let geometry = Geometry::new(size, align)?;
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
