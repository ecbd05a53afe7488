//! One slab and a cache's lists of them.
//!
//! A slab is `pages` contiguous pages aligned to their size: a header, then a table with
//! one 16-bit entry per object (SLAB's `bufctl`), then the objects. A free object's entry
//! links to the next free object of its slab; an object out of the slab is marked ACTIVE
//! (with a user) or CACHED (in a per-CPU array). The marks are atomics changed by
//! compare-and-swap, so freeing an object twice, even from two CPUs at once, is caught.
//! Objects are never written by the allocator, so what a constructor set up survives
//! between uses. Each cache keeps its slabs on three lists, full, partial and free, under
//! its slab-list lock (the caller holds it: `SlabLists` is the data under that lock).

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU16, Ordering};

use super::SlabError;
use super::SlabPlatform;
use super::geometry::{Geometry, SLAB_HEADER_SIZE};

const MAGIC: u64 = 0x534c_4142_5f4f_4b21;
/// The end of a slab's free chain.
const END: u16 = 0xffff;
/// Out of the slab, with a user.
pub const ACTIVE: u16 = 0xfffe;
/// Out of the slab, in a per-CPU array.
pub const CACHED: u16 = 0xfffd;

const FULL: usize = 0;
const PARTIAL: usize = 1;
const FREE: usize = 2;

#[repr(C)]
struct SlabHeader {
    magic: u64,
    /// The owning cache's address: a pointer from another cache is refused.
    owner: usize,
    next: *mut SlabHeader,
    prev: *mut SlabHeader,
    /// Objects out of this slab.
    inuse: u32,
    /// The first free object, or END.
    free: u16,
    /// Which list the slab is on.
    list: u8,
}

const _: () = assert!(core::mem::size_of::<SlabHeader>() <= SLAB_HEADER_SIZE);

/// Where an object lives: its slab and its index there.
#[derive(Clone, Copy)]
pub struct Place {
    slab: NonNull<SlabHeader>,
    index: u16,
}

impl Place {
    fn bufctl(&self) -> &AtomicU16 {
        // SAFETY: a Place is only made (by `locate` or `take`) for a live slab and an
        // index below its object count; the table lies inside the slab's pages.
        unsafe { bufctl(self.slab.as_ptr(), self.index) }
    }

    /// Changes the object's mark from `from` to `to`; false if it was not `from`.
    pub fn mark(&self, from: u16, to: u16) -> bool {
        self.bufctl()
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// # Safety
/// `slab` is a live slab with more than `index` objects.
unsafe fn bufctl<'a>(slab: *mut SlabHeader, index: u16) -> &'a AtomicU16 {
    // SAFETY: the table starts SLAB_HEADER_SIZE into the slab, one entry per object, all
    // inside the slab's pages (Geometry guarantees it); AtomicU16 has u16's layout.
    unsafe {
        &*slab
            .cast::<u8>()
            .add(SLAB_HEADER_SIZE)
            .cast::<AtomicU16>()
            .add(index as usize)
    }
}

/// A cache's slabs; the data under its slab-list lock.
pub struct SlabLists {
    heads: [*mut SlabHeader; 3],
    /// Slabs on all three lists.
    pub slabs: usize,
    /// Objects out of slabs (with users or in per-CPU arrays).
    pub inuse: usize,
}

// SAFETY: the raw pointers are slabs owned by this list; it is only reached under the
// cache's lock, so moving it between CPUs moves ownership.
unsafe impl Send for SlabLists {}

impl SlabLists {
    pub const fn new() -> Self {
        Self {
            heads: [ptr::null_mut(); 3],
            slabs: 0,
            inuse: 0,
        }
    }

    /// Slabs that are completely free.
    pub fn free_slabs(&self) -> usize {
        let mut n = 0;
        let mut s = self.heads[FREE];
        while !s.is_null() {
            n += 1;
            // SAFETY: slabs on our lists are live.
            s = unsafe { (*s).next };
        }
        n
    }

    fn unlink(&mut self, slab: *mut SlabHeader) {
        // SAFETY: `slab` is on list `(*slab).list` of this SlabLists, so it and its
        // neighbours are live slab headers.
        unsafe {
            let s = &mut *slab;
            if s.prev.is_null() {
                self.heads[s.list as usize] = s.next;
            } else {
                (*s.prev).next = s.next;
            }
            if !s.next.is_null() {
                (*s.next).prev = s.prev;
            }
            s.next = ptr::null_mut();
            s.prev = ptr::null_mut();
        }
    }

    fn push(&mut self, slab: *mut SlabHeader, list: usize) {
        // SAFETY: `slab` is a live slab header on no list; the head, if any, is live.
        unsafe {
            let s = &mut *slab;
            s.list = list as u8;
            s.prev = ptr::null_mut();
            s.next = self.heads[list];
            if !s.next.is_null() {
                (*s.next).prev = slab;
            }
        }
        self.heads[list] = slab;
    }

    /// Moves `slab` to the list its use count calls for.
    fn refile(&mut self, slab: *mut SlabHeader, geometry: &Geometry) {
        // SAFETY: `slab` is one of ours.
        let (inuse, list) = unsafe { ((*slab).inuse as usize, (*slab).list as usize) };
        let want = if inuse == 0 {
            FREE
        } else if inuse == geometry.objects {
            FULL
        } else {
            PARTIAL
        };
        if want != list {
            self.unlink(slab);
            self.push(slab, want);
        }
    }

    /// Adds a slab of fresh pages: zeroed, every object run through `ctor`.
    fn grow(
        &mut self,
        geometry: &Geometry,
        owner: usize,
        ctor: Option<fn(&mut [u8])>,
        platform: &dyn SlabPlatform,
    ) -> Result<(), SlabError> {
        let base = platform
            .alloc_pages(geometry.pages)
            .ok_or(SlabError::OutOfMemory)?;
        let slab = base.as_ptr().cast::<SlabHeader>();
        // SAFETY: the pages are ours, mapped and unused: zero them all, write the header
        // and the free chain, and hand each object (inside the pages) to the constructor.
        unsafe {
            ptr::write_bytes(base.as_ptr(), 0, geometry.slab_bytes());
            slab.write(SlabHeader {
                magic: MAGIC,
                owner,
                next: ptr::null_mut(),
                prev: ptr::null_mut(),
                inuse: 0,
                free: 0,
                list: FREE as u8,
            });
            for i in 0..geometry.objects {
                let next = if i + 1 == geometry.objects {
                    END
                } else {
                    (i + 1) as u16
                };
                bufctl(slab, i as u16).store(next, Ordering::Relaxed);
                if let Some(ctor) = ctor {
                    let object = base.as_ptr().add(geometry.first + i * geometry.stride);
                    ctor(core::slice::from_raw_parts_mut(
                        object,
                        geometry.object_size,
                    ));
                }
            }
        }
        self.push(slab, FREE);
        self.slabs += 1;
        Ok(())
    }

    /// Takes a free object out of a slab (growing the cache if none has one) and marks
    /// it `mark` (ACTIVE or CACHED).
    pub fn take(
        &mut self,
        geometry: &Geometry,
        owner: usize,
        ctor: Option<fn(&mut [u8])>,
        platform: &dyn SlabPlatform,
        mark: u16,
    ) -> Result<NonNull<u8>, SlabError> {
        if self.heads[PARTIAL].is_null() && self.heads[FREE].is_null() {
            self.grow(geometry, owner, ctor, platform)?;
        }
        let slab = if self.heads[PARTIAL].is_null() {
            self.heads[FREE]
        } else {
            self.heads[PARTIAL]
        };
        // SAFETY: a slab on the partial or free list has a free object; its index and
        // the object's address lie inside the slab.
        let object = unsafe {
            let s = &mut *slab;
            let index = s.free;
            let entry = bufctl(slab, index);
            s.free = entry.load(Ordering::Relaxed);
            entry.store(mark, Ordering::Release);
            s.inuse += 1;
            slab.cast::<u8>()
                .add(geometry.first + index as usize * geometry.stride)
        };
        self.inuse += 1;
        self.refile(slab, geometry);
        // SAFETY: inside a slab, so not null.
        Ok(unsafe { NonNull::new_unchecked(object) })
    }

    /// Puts an object back on its slab's free chain if it is marked `expected`.
    pub fn put(
        &mut self,
        geometry: &Geometry,
        place: Place,
        expected: u16,
    ) -> Result<(), SlabError> {
        let slab = place.slab.as_ptr();
        // SAFETY: `place` names a live slab of this cache and an index within it.
        let link = unsafe { (*slab).free };
        if !place.mark(expected, link) {
            return Err(SlabError::DoubleFree(self.address(geometry, place)));
        }
        // SAFETY: as above; the object is ours again.
        unsafe {
            (*slab).free = place.index;
            (*slab).inuse -= 1;
        }
        self.inuse -= 1;
        self.refile(slab, geometry);
        Ok(())
    }

    fn address(&self, geometry: &Geometry, place: Place) -> usize {
        place.slab.as_ptr() as usize + geometry.first + place.index as usize * geometry.stride
    }

    /// Returns every completely free slab's pages; the number of pages returned.
    pub fn release_free(&mut self, geometry: &Geometry, platform: &dyn SlabPlatform) -> usize {
        let mut pages = 0;
        while let Some(slab) = NonNull::new(self.heads[FREE]) {
            self.unlink(slab.as_ptr());
            // SAFETY: a free slab has no object out; no pointer into it survives.
            unsafe {
                (*slab.as_ptr()).magic = 0;
                platform.free_pages(slab.cast(), geometry.pages);
            }
            self.slabs -= 1;
            pages += geometry.pages;
        }
        pages
    }
}

impl Default for SlabLists {
    fn default() -> Self {
        Self::new()
    }
}

/// Finds the slab and index of `object`, if it is an object of the cache at `owner`.
/// The caller has checked that the slab-sized block around `object` is allocator memory.
pub fn locate(geometry: &Geometry, owner: usize, object: usize) -> Result<Place, SlabError> {
    let base = object & !(geometry.slab_bytes() - 1);
    let slab = base as *mut SlabHeader;
    // SAFETY: the caller checked that [base, base + slab_bytes) is memory the allocator
    // handed out, so the header's place is readable; it is only trusted if it carries
    // our magic and owner.
    let (magic, slab_owner) = unsafe { ((*slab).magic, (*slab).owner) };
    let offset = object.wrapping_sub(base + geometry.first);
    if magic != MAGIC
        || slab_owner != owner
        || object < base + geometry.first
        || !offset.is_multiple_of(geometry.stride)
        || offset / geometry.stride >= geometry.objects
    {
        return Err(SlabError::NotAnObject(object));
    }
    Ok(Place {
        // SAFETY: base is the start of a live slab, not null.
        slab: unsafe { NonNull::new_unchecked(slab) },
        index: (offset / geometry.stride) as u16,
    })
}
