//! Misuse on purpose: the five bugs `slab_debug` is about, done to a cache the way a
//! careless caller would, for the shell's `slab misuse` and the tests.
//!
//! The three bad frees (twice, not an object, the wrong cache) are plain calls: the cache
//! refuses them and changes nothing, and the object is then freed properly. They keep to
//! `Cache::free`'s contract, which makes them errors rather than undefined behaviour:
//! every object is this module's alone, and a second free comes after the first returned. The two stray
//! writes (past an object, into a freed one) are the only writes here a caller must not
//! make, and each is confined to bytes nobody else may be using at that moment: a red
//! zone, padding, an object this code holds, or an object just freed on this CPU with
//! interrupts masked. So provoking them breaks the rule being shown and nothing else.

use core::ptr::{self, NonNull};

use arrayvec::ArrayVec;

use super::irqs::IrqsMasked;
use super::{Cache, SlabError, SlabPlatform};

/// What the stray writes write.
pub const STRAY: [u8; 8] = *b"stray!!!";
/// Objects `overrun` may take while looking for one it can safely write past.
const TRIES: usize = 64;

/// A free that should have been refused, and what the cache said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The object the misuse started from.
    pub object: usize,
    /// What was handed to `free`.
    pub pointer: usize,
    pub result: Result<(), SlabError>,
}

/// Where a stray write went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stray {
    pub object: usize,
    /// From the object's start.
    pub offset: usize,
    pub bytes: usize,
}

/// Frees `pointer` to `cache`: an object this module allocated and alone uses, or a
/// pointer that is not one of `cache`'s objects (which free refuses).
fn give_back<P: SlabPlatform>(cache: &Cache<P>, pointer: NonNull<u8>) -> Result<(), SlabError> {
    // SAFETY: nothing else uses or frees this module's objects, and no use follows a
    // successful free; anything else handed in is no object of `cache`'s.
    unsafe { cache.free(pointer) }
}

/// Allocates an object, frees it, and frees it again.
pub fn double_free<P: SlabPlatform>(cache: &Cache<P>) -> Result<Refusal, SlabError> {
    let object = cache.alloc()?;
    give_back(cache, object)?;
    Ok(Refusal {
        object: object.as_ptr() as usize,
        pointer: object.as_ptr() as usize,
        result: give_back(cache, object),
    })
}

/// Frees two pointers that are not objects: one byte into an object, and a local
/// variable on the stack. Then frees the object.
pub fn foreign<P: SlabPlatform>(cache: &Cache<P>) -> Result<[Refusal; 2], SlabError> {
    let object = cache.alloc()?;
    let local = 0u64;
    let pointers = [
        object.as_ptr().wrapping_add(1) as usize,
        ptr::from_ref(&local) as usize,
    ];
    let refusals = pointers.map(|pointer| Refusal {
        object: object.as_ptr() as usize,
        pointer,
        result: give_back(cache, NonNull::new(pointer as *mut u8).expect("not null")),
    });
    give_back(cache, object)?;
    Ok(refusals)
}

/// Frees an object of `from` to `to`, then to `from`.
pub fn wrong_cache<P: SlabPlatform>(from: &Cache<P>, to: &Cache<P>) -> Result<Refusal, SlabError> {
    let object = from.alloc()?;
    let result = give_back(to, object);
    give_back(from, object)?;
    Ok(Refusal {
        object: object.as_ptr() as usize,
        pointer: object.as_ptr() as usize,
        result,
    })
}

/// Writes 8 bytes just past an object, calls `while_allocated` with the object's address,
/// then frees it (where red zones catch the write). The bytes past the object are its red
/// zone or padding, or else the start of the next object, which this function then holds
/// (it allocates until it has such a pair), so the write lands on nobody else's data.
pub fn overrun<P: SlabPlatform>(
    cache: &Cache<P>,
    while_allocated: impl FnOnce(usize),
) -> Result<Stray, SlabError> {
    let g = *cache.geometry();
    let bytes = STRAY.len();
    let mut held = ArrayVec::<NonNull<u8>, TRIES>::new();
    let found = loop {
        if held.is_full() {
            break None;
        }
        match cache.alloc() {
            Ok(object) => held.push(object),
            Err(e) => {
                free_all(cache, &held);
                return Err(e);
            }
        }
        let safe = |o: &NonNull<u8>| {
            let next = o.as_ptr() as usize + g.stride;
            g.stride - g.object_size >= bytes || held.iter().any(|h| h.as_ptr() as usize == next)
        };
        if let Some(at) = held.iter().position(safe) {
            break Some(at);
        }
    };
    let Some(at) = found else {
        free_all(cache, &held);
        return Err(SlabError::OutOfMemory);
    };
    let object = held.remove(at);
    // SAFETY: the `bytes` bytes after the object are its red zone or padding (allocator
    // memory no user has), or run into the next slot, an object held here; either way
    // inside the slab and used by no one else.
    unsafe {
        ptr::copy_nonoverlapping(STRAY.as_ptr(), object.as_ptr().add(g.object_size), bytes);
    }
    while_allocated(object.as_ptr() as usize);
    let freed = give_back(cache, object);
    free_all(cache, &held);
    freed?;
    Ok(Stray {
        object: object.as_ptr() as usize,
        offset: g.object_size,
        bytes,
    })
}

/// Allocates an object, frees it, and writes 8 bytes (or the whole object, if smaller)
/// at its start. The free and the write happen with interrupts masked, and the object
/// goes to this CPU's per-CPU array, so nobody can have taken it in between; without
/// such an array here nothing is written (`None`).
pub fn use_after_free<P: SlabPlatform>(cache: &Cache<P>) -> Result<Option<Stray>, SlabError> {
    let object = cache.alloc()?;
    let platform = cache.platform();
    let bytes = STRAY.len().min(cache.geometry().object_size);
    let (here, freed) = {
        let _masked = IrqsMasked::new(platform);
        let here = cache.has_array(platform.cpu());
        let freed = give_back(cache, object);
        if here && freed.is_ok() {
            // SAFETY: the object was just freed onto this CPU's array, which only this
            // CPU uses, with interrupts masked: nobody can have allocated it since. Its
            // bytes are inside the slab; a free object's bytes hold nothing the allocator
            // needs.
            unsafe { ptr::copy_nonoverlapping(STRAY.as_ptr(), object.as_ptr(), bytes) };
        }
        (here, freed)
    };
    freed?;
    Ok(here.then_some(Stray {
        object: object.as_ptr() as usize,
        offset: 0,
        bytes,
    }))
}

fn free_all<P: SlabPlatform>(cache: &Cache<P>, objects: &[NonNull<u8>]) {
    for &o in objects {
        give_back(cache, o).expect("an object this module allocated goes back");
    }
}
