//! An object taken from a cache and owned by its taker: its bytes can be read and written
//! through safe slices until it goes back with [`OwnedObject::free`]. For code outside the
//! allocator core that needs an object's memory and not only its address (the soak).

use core::ptr::NonNull;

use super::{Cache, SlabError};

/// One object of `cache`, owned. Dropped without [`OwnedObject::free`], it stays allocated.
#[must_use = "an object stays allocated until it is freed"]
pub struct OwnedObject {
    cache: &'static Cache,
    object: NonNull<u8>,
}

// SAFETY: the object's memory belongs to this value alone (the cache handed it out once
// and has not had it back); moving the value to another CPU moves that ownership.
unsafe impl Send for OwnedObject {}

impl OwnedObject {
    pub fn alloc(cache: &'static Cache) -> Result<Self, SlabError> {
        cache.alloc().map(|object| Self { cache, object })
    }

    pub fn cache(&self) -> &'static Cache {
        self.cache
    }

    pub fn address(&self) -> usize {
        self.object.as_ptr() as usize
    }

    /// The object's bytes (its size as the cache was asked for).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the object is `object_size` bytes the cache gave this value alone, and
        // stays so until `free` consumes the value.
        unsafe {
            core::slice::from_raw_parts(self.object.as_ptr(), self.cache.geometry().object_size)
        }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only reference.
        unsafe {
            core::slice::from_raw_parts_mut(self.object.as_ptr(), self.cache.geometry().object_size)
        }
    }

    /// Gives the object back. On an error (which the cache reports) it is not freed.
    pub fn free(self) -> Result<(), SlabError> {
        self.cache.free(self.object)
    }
}
