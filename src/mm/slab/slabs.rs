//! One slab and a cache's lists of them.
//!
//! A slab is `pages` contiguous pages aligned to their size: a header, then a table with
//! one 16-bit entry per object (SLAB's `bufctl`), then the objects. A free object's entry
//! links to the next free object of its slab; an object out of the slab is marked ACTIVE
//! (with a user), CACHED (in a per-CPU array) or QUARANTINED (found corrupted with
//! `slab_debug`, set aside for good). The marks are atomics changed by compare-and-swap,
//! so freeing an object twice, even from two CPUs at once, is caught. Without
//! `slab_debug` objects are never written by the allocator, so what a constructor set up
//! survives between uses; with it they are painted (see `debug`). Each cache keeps its
//! slabs on three lists, full, partial and free, under its slab-list lock (the caller
//! holds it: `SlabLists` is the data under that lock), and [`SlabLists::audit`] checks
//! all of it against itself.

use core::fmt;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU16, Ordering};

use super::SlabError;
use super::SlabPlatform;
use super::debug;
use super::geometry::{
    BUFCTL_SIZE, Geometry, MAX_SLAB_PAGES, MIN_ALIGN, PAGE_SIZE, SLAB_HEADER_SIZE,
};

const MAGIC: u64 = 0x534c_4142_5f4f_4b21;
/// The end of a slab's free chain.
const END: u16 = 0xffff;
/// Out of the slab, with a user.
pub const ACTIVE: u16 = 0xfffe;
/// Out of the slab, in a per-CPU array.
pub const CACHED: u16 = 0xfffd;
/// Out of the slab for good: found corrupted, never handed out again.
pub const QUARANTINED: u16 = 0xfffc;
/// The most objects one slab can hold (the smallest stride in the biggest slab).
const MAX_OBJECTS: usize = MAX_SLAB_PAGES * PAGE_SIZE / (MIN_ALIGN + BUFCTL_SIZE);
const _: () = assert!(MAX_OBJECTS < QUARANTINED as usize);

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
    /// The slab's size in pages (to tell a header from the data of a bigger slab).
    pages: u8,
}

const _: () = assert!(core::mem::size_of::<SlabHeader>() <= SLAB_HEADER_SIZE);

/// Where an object lives: its slab and its index there.
#[derive(Clone, Copy)]
pub struct Place {
    slab: NonNull<SlabHeader>,
    index: u16,
}

/// An object's mark (its entry in its slab's table), found once and carried with the
/// object while it is out of its slab: in a per-CPU array or with its user. Its slab
/// cannot go away meanwhile (a slab with objects out is kept), so the mark stays valid, and
/// the fast paths move it without finding it again.
#[derive(Clone, Copy, Debug)]
pub struct Mark(NonNull<AtomicU16>);

impl Mark {
    /// A mark that is not in a slab, for tests of what carries marks.
    #[cfg(test)]
    pub fn of(mark: &AtomicU16) -> Mark {
        Mark(NonNull::from(mark))
    }

    fn get(&self) -> &AtomicU16 {
        // SAFETY: made from a Place (a live slab, an index below its object count), and
        // used only while the object is out of its slab, which keeps the slab alive.
        unsafe { self.0.as_ref() }
    }

    /// Sets the mark, where no one else can be changing it (see the callers).
    #[inline(always)]
    pub fn set(&self, to: u16) {
        self.get().store(to, Ordering::Relaxed);
    }

    /// Changes the mark from `from` to `to` with a plain look and store; false if it was
    /// not `from`. For a caller that owns the object, so no one else moves the mark at the
    /// same time (a second free of it after this one sees `to`).
    #[inline(always)]
    pub fn claim_owned(&self, from: u16, to: u16) -> bool {
        if self.get().load(Ordering::Relaxed) != from {
            return false;
        }
        self.get().store(to, Ordering::Relaxed);
        true
    }

    /// Changes the mark from `from` to `to` atomically; false if it was not `from`.
    #[inline(always)]
    pub fn claim(&self, from: u16, to: u16) -> bool {
        self.get()
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

impl Place {
    fn bufctl(&self) -> &AtomicU16 {
        // SAFETY: a Place is only made (by `locate`, `take`, or `locate_own` under its
        // contract) for a live slab and an index below its object count; the table lies
        // inside the slab's pages.
        unsafe { bufctl(self.slab.as_ptr(), self.index) }
    }

    /// The object's mark, to carry along while it is out of its slab.
    #[inline(always)]
    pub fn mark_of(&self) -> Mark {
        Mark(NonNull::from(self.bufctl()))
    }

    /// Changes the object's mark from `from` to `to`; false if it was not `from`.
    #[inline(always)]
    pub fn mark(&self, from: u16, to: u16) -> bool {
        self.bufctl()
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The object's address.
    pub fn object(&self, geometry: &Geometry) -> NonNull<u8> {
        // SAFETY: the object lies inside its slab (Geometry guarantees it), so the address
        // is in bounds and not null.
        unsafe {
            NonNull::new_unchecked(
                self.slab
                    .as_ptr()
                    .cast::<u8>()
                    .add(geometry.first + self.index as usize * geometry.stride),
            )
        }
    }
}

/// What an object is, by its mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// On its slab's free chain.
    Free,
    Active,
    Cached,
    Quarantined,
}

/// A cache's objects counted over its slabs by [`SlabLists::audit`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    pub slabs: usize,
    pub objects: usize,
    pub free: usize,
    pub active: usize,
    pub cached: usize,
    pub quarantined: usize,
}

/// A way a cache's lists disagree with themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inconsistency {
    /// A slab on the lists without this cache's magic and owner.
    ForeignSlab { slab: usize },
    /// A slab whose list links or list number are wrong.
    BrokenLinks { slab: usize },
    /// A slab on a list its use count does not call for.
    WrongList { slab: usize, list: u8, inuse: usize },
    /// A slab's free chain loops or leaves the slab at this entry.
    BrokenChain { slab: usize, index: usize },
    /// A slab's free chain is not as long as its use count says.
    ChainLength {
        slab: usize,
        chained: usize,
        inuse: usize,
        objects: usize,
    },
    /// An object neither on its slab's free chain nor marked as out of it.
    BadMark { object: usize, mark: u16 },
    /// A total the lists keep disagrees with their slabs.
    Totals {
        what: &'static str,
        counted: usize,
        recorded: usize,
    },
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Inconsistency::ForeignSlab { slab } => {
                write!(f, "slab {slab:#x} on the lists is not this cache's")
            }
            Inconsistency::BrokenLinks { slab } => write!(f, "slab {slab:#x}: broken list links"),
            Inconsistency::WrongList { slab, list, inuse } => write!(
                f,
                "slab {slab:#x} on the {} list with {inuse} object(s) out",
                ["full", "partial", "free"]
                    .get(list as usize)
                    .unwrap_or(&"unknown")
            ),
            Inconsistency::BrokenChain { slab, index } => write!(
                f,
                "slab {slab:#x}: the free chain loops or leaves the slab at entry {index}"
            ),
            Inconsistency::ChainLength {
                slab,
                chained,
                inuse,
                objects,
            } => write!(
                f,
                "slab {slab:#x}: {chained} object(s) on the free chain, but {inuse} of \
                 {objects} out"
            ),
            Inconsistency::BadMark { object, mark } => write!(
                f,
                "object {object:#x} is neither free nor marked out of its slab (mark {mark:#x})"
            ),
            Inconsistency::Totals {
                what,
                counted,
                recorded,
            } => write!(f, "{counted} {what} counted, {recorded} recorded"),
        }
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
    /// Objects out of slabs (with users, in per-CPU arrays, or quarantined).
    pub inuse: usize,
    /// Objects quarantined (counted in `inuse` too).
    pub quarantined: usize,
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
            quarantined: 0,
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

    /// Adds a slab of fresh pages: zeroed, every object run through `ctor`; with red zones,
    /// every object poisoned and its red zone painted instead (the constructor then runs
    /// each time the object is handed out, as the poison undoes it).
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
                pages: geometry.pages as u8,
            });
            for i in 0..geometry.objects {
                let next = if i + 1 == geometry.objects {
                    END
                } else {
                    (i + 1) as u16
                };
                bufctl(slab, i as u16).store(next, Ordering::Relaxed);
                let object = base.add(geometry.first + i * geometry.stride);
                if geometry.red_zone > 0 {
                    debug::paint(object, geometry, debug::POISON_FREE);
                    debug::paint_red_zone(object, geometry);
                } else if let Some(ctor) = ctor {
                    ctor(core::slice::from_raw_parts_mut(
                        object.as_ptr(),
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
        place.object(geometry).as_ptr() as usize
    }

    /// Sets aside an object out of its slab and marked `from` for good: it stays counted
    /// as out, so neither it nor its slab is handed out or given back (until the cache is
    /// destroyed). False if it was not marked `from`.
    pub fn quarantine(&mut self, place: Place, from: u16) -> bool {
        if !place.mark(from, QUARANTINED) {
            return false;
        }
        self.quarantined += 1;
        true
    }

    /// Takes a free object off its slab's free chain and quarantines it. False if it is
    /// not on the chain.
    pub fn quarantine_free(&mut self, geometry: &Geometry, place: Place) -> bool {
        let slab = place.slab.as_ptr();
        // SAFETY: `place` names a live slab of this cache and an index within it; the
        // chain's entries are indices within it too (or END).
        unsafe {
            let mut previous: Option<u16> = None;
            let mut at = (*slab).free;
            while at != END && at != place.index {
                previous = Some(at);
                at = bufctl(slab, at).load(Ordering::Relaxed);
            }
            if at == END {
                return false;
            }
            let next = bufctl(slab, at).load(Ordering::Relaxed);
            match previous {
                None => (*slab).free = next,
                Some(p) => bufctl(slab, p).store(next, Ordering::Relaxed),
            }
            bufctl(slab, at).store(QUARANTINED, Ordering::Release);
            (*slab).inuse += 1;
        }
        self.inuse += 1;
        self.quarantined += 1;
        self.refile(slab, geometry);
        true
    }

    /// Returns every slab's pages, those holding quarantined objects included: destroy's
    /// end, when nothing but quarantined objects is out (the caller checked). The number of
    /// pages returned.
    pub fn release_all(&mut self, geometry: &Geometry, platform: &dyn SlabPlatform) -> usize {
        debug_assert_eq!(self.inuse, self.quarantined);
        for list in [FULL, PARTIAL] {
            while let Some(slab) = NonNull::new(self.heads[list]) {
                self.unlink(slab.as_ptr());
                self.push(slab.as_ptr(), FREE);
            }
        }
        self.inuse = 0;
        self.quarantined = 0;
        self.release_free(geometry, platform)
    }

    /// Checks the lists against themselves: every slab is this cache's, on the list its use
    /// count calls for, with a free chain as long as its free objects and every other object
    /// marked out; the totals agree. Calls `each` for every object with its state.
    pub fn audit(
        &self,
        geometry: &Geometry,
        owner: usize,
        mut each: impl FnMut(Place, State),
    ) -> Result<Census, Inconsistency> {
        let mut census = Census::default();
        let mut inuse = 0;
        for list in [FULL, PARTIAL, FREE] {
            let mut previous: *mut SlabHeader = ptr::null_mut();
            let mut s = self.heads[list];
            while !s.is_null() {
                let slab = s as usize;
                // SAFETY: slabs on our lists are live.
                let header = unsafe { &*s };
                if header.magic != MAGIC || header.owner != owner {
                    return Err(Inconsistency::ForeignSlab { slab });
                }
                if header.prev != previous || header.list as usize != list {
                    return Err(Inconsistency::BrokenLinks { slab });
                }
                let out = header.inuse as usize;
                let fits = match list {
                    FREE => out == 0,
                    FULL => out == geometry.objects,
                    _ => out > 0 && out < geometry.objects,
                };
                if !fits {
                    return Err(Inconsistency::WrongList {
                        slab,
                        list: list as u8,
                        inuse: out,
                    });
                }
                census.slabs += 1;
                census.objects += geometry.objects;
                inuse += out;
                self.audit_slab(geometry, s, &mut census, &mut each)?;
                previous = s;
                s = header.next;
            }
        }
        let totals = [
            ("slabs", census.slabs, self.slabs),
            ("objects out", inuse, self.inuse),
            (
                "objects marked out",
                census.active + census.cached + census.quarantined,
                self.inuse,
            ),
            ("quarantined objects", census.quarantined, self.quarantined),
        ];
        for (what, counted, recorded) in totals {
            if counted != recorded {
                return Err(Inconsistency::Totals {
                    what,
                    counted,
                    recorded,
                });
            }
        }
        Ok(census)
    }

    /// Objects whose mark is `mark` (ACTIVE: with users), over the slabs that have any
    /// out. The marks are read as they are: exact while nothing allocates or frees.
    pub fn count_marked(&self, geometry: &Geometry, mark: u16) -> usize {
        let mut count = 0;
        for list in [FULL, PARTIAL] {
            let mut s = self.heads[list];
            while !s.is_null() {
                count += (0..geometry.objects)
                    // SAFETY: a live slab of ours, and an index below its object count.
                    .filter(|&i| unsafe { bufctl(s, i as u16) }.load(Ordering::Relaxed) == mark)
                    .count();
                // SAFETY: slabs on our lists are live.
                s = unsafe { (*s).next };
            }
        }
        count
    }

    fn audit_slab(
        &self,
        geometry: &Geometry,
        slab: *mut SlabHeader,
        census: &mut Census,
        each: &mut impl FnMut(Place, State),
    ) -> Result<(), Inconsistency> {
        let mut chained = [0u64; MAX_OBJECTS.div_ceil(64)];
        let mut count = 0;
        // SAFETY: a live slab of ours; its chain's entries are read only while they name
        // objects within it.
        let (mut at, out) = unsafe { ((*slab).free, (*slab).inuse as usize) };
        while at != END {
            let i = at as usize;
            if i >= geometry.objects || chained[i / 64] & 1 << (i % 64) != 0 {
                return Err(Inconsistency::BrokenChain {
                    slab: slab as usize,
                    index: i,
                });
            }
            chained[i / 64] |= 1 << (i % 64);
            count += 1;
            // SAFETY: `i` is below the slab's object count.
            at = unsafe { bufctl(slab, at) }.load(Ordering::Relaxed);
        }
        if count + out != geometry.objects {
            return Err(Inconsistency::ChainLength {
                slab: slab as usize,
                chained: count,
                inuse: out,
                objects: geometry.objects,
            });
        }
        for i in 0..geometry.objects {
            let place = Place {
                // SAFETY: a live slab, not null.
                slab: unsafe { NonNull::new_unchecked(slab) },
                index: i as u16,
            };
            let state = if chained[i / 64] & 1 << (i % 64) != 0 {
                census.free += 1;
                State::Free
            } else {
                match place.bufctl().load(Ordering::Acquire) {
                    ACTIVE => {
                        census.active += 1;
                        State::Active
                    }
                    CACHED => {
                        census.cached += 1;
                        State::Cached
                    }
                    QUARANTINED => {
                        census.quarantined += 1;
                        State::Quarantined
                    }
                    mark => {
                        return Err(Inconsistency::BadMark {
                            object: place.object(geometry).as_ptr() as usize,
                            mark,
                        });
                    }
                }
            };
            each(place, state);
        }
        Ok(())
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
    let index = match object.checked_sub(base + geometry.first) {
        Some(offset) if magic == MAGIC && slab_owner == owner => geometry.index_at(offset),
        _ => None,
    };
    let Some(index) = index else {
        return Err(SlabError::NotAnObject(object));
    };
    Ok(Place {
        // SAFETY: base is the start of a live slab, not null.
        slab: unsafe { NonNull::new_unchecked(slab) },
        index: index as u16,
    })
}

/// The place of `object`, an object of this cache the allocator itself holds (popped from
/// a per-CPU array, just taken from a slab, or handed back by its owner): nothing checked.
///
/// # Safety
/// `object` is the address of an object of a live slab laid out by `geometry`.
#[inline(always)]
pub unsafe fn locate_own(geometry: &Geometry, object: usize) -> Place {
    let base = object & !(geometry.slab_bytes() - 1);
    Place {
        // SAFETY: the caller's contract: the object lies in a live slab, which starts at
        // `base` (slabs are aligned to their size), so `base` is not null.
        slab: unsafe { NonNull::new_unchecked(base as *mut SlabHeader) },
        index: geometry.index_of_object(object - base - geometry.first) as u16,
    }
}

/// The cache (its descriptor's address) whose slab `address` lies in, if any: a slab
/// header is looked for at each slab size, smallest first, and trusted only if it carries
/// the magic and its own size matches. Tells a pointer of another cache from one that is
/// nobody's object.
pub fn owner_of(address: usize, platform: &dyn SlabPlatform) -> Option<usize> {
    let mut pages = 1;
    while pages <= MAX_SLAB_PAGES {
        let bytes = pages * PAGE_SIZE;
        let base = address & !(bytes - 1);
        if platform.owns(base, bytes) {
            let slab = base as *const SlabHeader;
            // SAFETY: [base, base + bytes) is memory the platform says we may read.
            let (magic, owner, size) = unsafe { ((*slab).magic, (*slab).owner, (*slab).pages) };
            if magic == MAGIC && size as usize == pages {
                return Some(owner);
            }
        }
        pages *= 2;
    }
    None
}
