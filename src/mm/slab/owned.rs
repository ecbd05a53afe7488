//! An object taken from a cache and owned by its taker: its bytes can be read and written
//! through safe slices until it goes back with [`OwnedObject::free`]. For code outside the
//! allocator core that needs an object's memory and not only its address (the soak).

use core::ptr::NonNull;

use super::slabs::Mark;
use super::{Cache, SlabError, SlabPlatform};

/// One object of `cache`, owned. Dropped without [`OwnedObject::free`], it stays allocated.
#[must_use = "an object stays allocated until it is freed"]
pub struct OwnedObject<P: SlabPlatform + 'static> {
    /// The object's cache, which lives at least as long as the object: every cache code
    /// outside the allocator can reach was made by `Slab::create` in a descriptor of its
    /// own, which only destroy frees, and destroy refuses while any object is allocated.
    cache: NonNull<Cache<P>>,
    object: NonNull<u8>,
    /// Its mark in its slab, found when it was allocated, so that freeing needs no search.
    mark: Mark,
}

// SAFETY: the object's memory belongs to this value alone (the cache handed it out once
// and has not had it back); moving the value to another CPU moves that ownership, and the
// cache is `Sync`.
unsafe impl<P: SlabPlatform + 'static> Send for OwnedObject<P> {}

impl<P: SlabPlatform + 'static> OwnedObject<P> {
    #[inline(always)]
    pub fn alloc(cache: &Cache<P>) -> Result<Self, SlabError> {
        cache.alloc_marked().map(|(object, mark)| Self {
            cache: NonNull::from(cache),
            object,
            mark,
        })
    }

    pub fn cache(&self) -> &Cache<P> {
        // SAFETY: a cache with an object allocated is never destroyed (destroy refuses with
        // `InUse`), and this object stays allocated until `free` consumes the value.
        unsafe { self.cache.as_ref() }
    }

    pub fn address(&self) -> usize {
        self.object.as_ptr() as usize
    }

    /// The object's bytes (its size as the cache was asked for).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the object is `object_size` bytes the cache gave this value alone, and
        // stays so until `free` consumes the value.
        unsafe {
            core::slice::from_raw_parts(self.object.as_ptr(), self.cache().geometry().object_size)
        }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let size = self.cache().geometry().object_size;
        // SAFETY: as in `bytes`; `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.object.as_ptr(), size) }
    }

    /// Gives the object back. On an error (which the cache reports) it is not freed.
    #[inline(always)]
    pub fn free(self) -> Result<(), SlabError> {
        // SAFETY: the object and its mark came from this cache's alloc_marked, and this
        // value, consumed here, was its only owner: nothing uses or frees it at the same
        // time or after.
        unsafe { self.cache().free_own(self.object, self.mark) }
    }
}
