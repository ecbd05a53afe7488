//! An object taken from a cache and owned by its taker: its bytes can be read and written
//! through safe slices until it goes back with [`OwnedObject::free`]. For code outside the
//! allocator core that needs an object's memory and not only its address (the soak).

use core::ptr::NonNull;

use super::{Cache, SlabError};

/// One object of `cache`, owned. Dropped without [`OwnedObject::free`], it stays allocated.
#[must_use = "an object stays allocated until it is freed"]
pub struct OwnedObject {
    /// The object's cache, which lives at least as long as the object: destroy refuses
    /// while any object of a cache is allocated.
    cache: NonNull<Cache>,
    object: NonNull<u8>,
}

// SAFETY: the object's memory belongs to this value alone (the cache handed it out once
// and has not had it back); moving the value to another CPU moves that ownership, and the
// cache is `Sync`.
unsafe impl Send for OwnedObject {}

impl OwnedObject {
    pub fn alloc(cache: &Cache) -> Result<Self, SlabError> {
        cache.alloc().map(|object| Self {
            cache: NonNull::from(cache),
            object,
        })
    }

    pub fn cache(&self) -> &Cache {
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
    pub fn free(self) -> Result<(), SlabError> {
        self.cache().free(self.object)
    }
}
