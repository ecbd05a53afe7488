//! One slab cache: objects of one size from slabs of pages, handed out through per-CPU
//! array caches (SLAB's `kmem_cache_t`).
//!
//! Allocation and free run on the current CPU and pop from and push to that CPU's array,
//! with interrupts enabled: the fast path only takes the CPU's guard (a `percpu::FastPath`,
//! plain stores, given back when it drops) and, on free, looks at the object's mark and
//! sets it with plain accesses, so a second free of an object is an error; two CPUs
//! freeing one object at the same instant is excluded by `free`'s contract (and caught,
//! with red zones, by a compare-and-swap). Only when the array is empty or full, or an
//! interrupt handler finds the guard taken, does a slow path mask interrupts (an
//! `irqs::IrqsMasked`) and take the slab-list lock, which, as everything that must run
//! masked, takes the guard's token (`irqs::IrqContext`). The per-CPU array slots are
//! atomic pointers with one owner rule: an array is used only by its own CPU (under its
//! guard, or with interrupts masked when the guard is clear), and is taken out of its slot
//! (an atomic swap) by whoever frees it (its own CPU draining, or a controller once that
//! CPU is dead or the cache is unreachable).
//! So however creation and destruction race with hotplug, the worst is a missing array,
//! never two CPUs in one. The platform comes in as a type, so the fast path makes no
//! indirect call.
//!
//! The allocator's own caches (for cache descriptors and for the arrays) have no per-CPU
//! arrays: every operation goes to the slab lists.
//!
//! With red zones (`slab_debug`: the geometry has them) free checks the object's red zone
//! and poisons it, alloc checks the poison and red zone before handing the object out,
//! and [`Cache::check`] looks at every object. A corrupted object is reported (through
//! `SlabPlatform::corrupted`) and quarantined: marked QUARANTINED and left out of its slab
//! for good, never handed out again. Not put back, because whoever wrote to it may still
//! hold the pointer and write again, and the next owner would be the victim; not handed
//! out, for the same reason and because its bytes are the evidence. Its slab stays
//! allocated (the object counts as out), so the cost is bounded by the corruptions found;
//! only destroy gives it back, once its owner has declared that nothing uses the cache.

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering};

use arrayvec::{ArrayString, ArrayVec};

use super::array_cache::{ArrayCache, Entry};
use super::debug::{self, Corruption, Damage, Fate, Seen};
use super::geometry::Geometry;
use super::irqs::{IrqContext, IrqsMasked};
use super::percpu::{FastPath, PerCpu};
use super::slabs::{self, ACTIVE, CACHED, Census, Inconsistency, Mark, Place, SlabLists, State};
use super::{SlabError, SlabPlatform};
use crate::sync::SpinLock;

/// The longest cache name.
pub const NAME_MAX: usize = 24;

/// A constructor: sets up a fresh object once, when its slab is made (the memory is
/// zeroed before). Objects keep what it set up across allocations. With red zones the
/// poison undoes it, so it runs on zeroed memory each time the object is handed out.
pub type Ctor = fn(&mut [u8]);

/// Corrupted objects [`Cache::check`] holds on to (to quarantine and report) per call;
/// any beyond are counted, and caught when next handed out or by the next check.
const CHECK_HELD: usize = 16;

pub struct Cache<P: SlabPlatform + 'static> {
    name: ArrayString<NAME_MAX>,
    geometry: Geometry,
    ctor: Option<Ctor>,
    platform: &'static P,
    /// Where this cache's per-CPU arrays come from; `None`: it has none.
    arrays_from: Option<&'static Cache<P>>,
    lists: SpinLock<SlabLists>,
    /// Each CPU's array, live count and fast-path guard: one slot per CPU the platform
    /// has (`SlabPlatform::cpus`, Linux's `alloc_percpu`), in memory the allocator gave it.
    percpu: &'static [PerCpu],
    /// Corrupted objects reported (`slab_debug`).
    corruptions: AtomicUsize,
    /// `SharedCache`s alive: destroy refuses while there are any.
    pub(super) shares: AtomicUsize,
}

/// What `slabinfo` shows of a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Objects out of slabs: with users or in per-CPU arrays.
    pub active_objs: usize,
    pub num_objs: usize,
    /// Slabs with at least one object out.
    pub active_slabs: usize,
    pub num_slabs: usize,
    /// Objects with users.
    pub live: usize,
    /// Objects waiting in per-CPU arrays.
    pub cached: usize,
    /// Objects found corrupted and set aside for good (`slab_debug`).
    pub quarantined: usize,
}

/// What [`Cache::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub census: Census,
    /// Objects whose painting was looked at (0 without red zones).
    pub painted: usize,
    /// Of those, found corrupted (reported, unless more than the check holds).
    pub corrupted: usize,
}

/// A valid cache name: 1 to NAME_MAX of letters, digits, `_`, `-`, `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

impl<P: SlabPlatform + 'static> Cache<P> {
    /// Makes a cache in `place`, where it will live, with its per-CPU slots in `slots`
    /// (room for `platform.cpus()` of them): only the allocator makes caches (its own
    /// three, and those of [`super::Slab::create`]), so every cache outside it lives in a
    /// descriptor no one frees while it has objects. Built in place, field by field.
    ///
    /// # Safety
    /// `place` is valid for writes of a `Cache<P>`, aligned, and holds nothing in use;
    /// `slots` likewise for `platform.cpus()` `PerCpu`s, and stays the cache's until the
    /// allocator takes it back with the descriptor. On `Ok` they hold the cache, on `Err`
    /// they are left as they were.
    pub(super) unsafe fn init_at(
        place: NonNull<Self>,
        slots: NonNull<PerCpu>,
        name: &str,
        geometry: Geometry,
        ctor: Option<Ctor>,
        platform: &'static P,
        arrays_from: Option<&'static Cache<P>>,
    ) -> Result<(), SlabError> {
        if !valid_name(name) {
            return Err(SlabError::BadName);
        }
        let name = ArrayString::from(name).map_err(|_| SlabError::BadName)?;
        let percpu = if geometry.red_zone > 0 {
            PerCpu::closed
        } else {
            PerCpu::new
        };
        let cache = place.as_ptr();
        // SAFETY: the caller gives `place` valid and aligned for a Cache; each field is
        // written once through a raw pointer to it, none read before all are written.
        unsafe {
            (&raw mut (*cache).name).write(name);
            (&raw mut (*cache).geometry).write(geometry);
            (&raw mut (*cache).ctor).write(ctor);
            (&raw mut (*cache).platform).write(platform);
            (&raw mut (*cache).arrays_from).write(arrays_from);
            (&raw mut (*cache).lists).write(SpinLock::new(
                crate::lock_class!("&cache->lists"),
                SlabLists::new(),
            ));
            let cpus = platform.cpus();
            for cpu in 0..cpus {
                slots.as_ptr().add(cpu).write(percpu());
            }
            (&raw mut (*cache).percpu).write(core::slice::from_raw_parts(slots.as_ptr(), cpus));
            (&raw mut (*cache).corruptions).write(AtomicUsize::new(0));
            (&raw mut (*cache).shares).write(AtomicUsize::new(0));
        }
        Ok(())
    }

    /// How many CPUs it has per-CPU slots for (its platform's).
    pub fn cpus(&self) -> usize {
        self.percpu.len()
    }

    /// Where its per-CPU slots are: the allocator gives them back with the descriptor.
    pub(super) fn slots(&self) -> NonNull<PerCpu> {
        NonNull::from(self.percpu).cast()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    fn owner(&self) -> usize {
        self as *const Self as usize
    }

    /// The descriptor's address: what a slab header names its cache by.
    pub(super) fn id(&self) -> usize {
        self.owner()
    }

    /// Whether objects have red zones and poison (`slab_debug`).
    pub fn debug(&self) -> bool {
        self.geometry.red_zone > 0
    }

    /// Corrupted objects reported since the cache was made.
    pub fn corruptions(&self) -> usize {
        self.corruptions.load(Ordering::Relaxed)
    }

    pub(super) fn platform(&self) -> &'static P {
        self.platform
    }

    /// Whether this cache hands objects out through per-CPU arrays.
    pub fn per_cpu(&self) -> bool {
        self.arrays_from.is_some()
    }

    pub fn has_array(&self, cpu: usize) -> bool {
        !self.percpu[cpu].array.load(Ordering::Acquire).is_null()
    }

    /// Runs `f` on `cpu`'s array, if it has one, with interrupts masked (`irqs`): the
    /// caller runs on `cpu` and found its guard clear (not [`Cache::nested`]).
    #[inline(always)]
    fn with_array<R>(
        &self,
        cpu: usize,
        irqs: IrqContext<'_>,
        f: impl FnOnce(&mut ArrayCache) -> R,
    ) -> Option<R> {
        self.percpu[cpu].with_array_masked(irqs, f)
    }

    /// The slab lists, locked. Only with interrupts masked (`irqs`): an interrupt handler
    /// on this CPU that took the lock would spin on it for good.
    #[inline(always)]
    fn lists(&self, _irqs: IrqContext<'_>) -> crate::sync::SpinLockGuard<'_, SlabLists> {
        self.lists.lock()
    }

    /// One object. On this CPU's array, refilled by a batch from the slab lists when
    /// empty; from the slab lists directly when the cache has no array here.
    /// With red zones, an object found corrupted is quarantined and another taken.
    #[inline(always)]
    pub fn alloc(&self) -> Result<NonNull<u8>, SlabError> {
        self.alloc_marked().map(|(object, _)| object)
    }

    /// [`Cache::alloc`], with the object's mark for its owner to free it by.
    #[inline(always)]
    pub(super) fn alloc_marked(&self) -> Result<(NonNull<u8>, Mark), SlabError> {
        let interrupt_point = || self.platform.may_interrupt();
        if let Some(fast) = self.enter_fast_path() {
            let popped = fast.with_array(|array| {
                interrupt_point();
                array.pop_interruptible(interrupt_point)
            });
            if let Some(Some((object, mark))) = popped {
                interrupt_point();
                // A plain store: the array's owner is the only one that moves an object
                // from CACHED (a free expects ACTIVE).
                mark.set(ACTIVE);
                return Ok((object, mark));
            }
        }
        self.alloc_slow()
            // SAFETY: the slow path hands out objects of this cache's slabs.
            .map(|object| (object, unsafe { self.place_of(object) }.mark_of()))
    }

    /// The place of an object of this cache's.
    ///
    /// # Safety
    /// `object` is an object of one of this cache's slabs (the allocator's own, or one
    /// whose owner's contract says so).
    #[inline(always)]
    unsafe fn place_of(&self, object: NonNull<u8>) -> Place {
        // SAFETY: the caller's contract; this cache's slabs are laid out by its geometry.
        unsafe { slabs::locate_own(&self.geometry, object.as_ptr() as usize) }
    }

    /// This CPU's fast path (its slot found once, for the whole operation; its drop gives
    /// the guard back), or `None` where the slow path must serve (an interrupt handler
    /// over the CPU's own fast path; a cache with red zones keeps its guards taken for
    /// good).
    #[inline(always)]
    fn enter_fast_path(&self) -> Option<FastPath<'_, P>> {
        let cpu = self.platform.cpu();
        debug_assert!(
            cpu < self.percpu.len(),
            "cpu{cpu} has no slot in '{}'",
            self.name()
        );
        // SAFETY: `SlabPlatform`'s contract: the running CPU is below `cpus()`, and the
        // cache has a slot for each of `cpus()` (`percpu` is made that long with it).
        let slot = unsafe { self.percpu.get_unchecked(cpu) };
        slot.enter(self.platform)
    }

    /// The slow path of [`Cache::alloc`], interrupts masked: the array refilled, or, where
    /// it cannot be used (none, or this is an interrupt handler that found the guard
    /// taken), the slab lists; with red zones, the object checked.
    #[inline(never)]
    fn alloc_slow(&self) -> Result<NonNull<u8>, SlabError> {
        let masked = IrqsMasked::new(self.platform);
        let irqs = masked.context();
        let cpu = self.platform.cpu();
        let nested = self.nested(cpu);
        let mut result = self.take_object(cpu, nested, irqs);
        if self.debug() {
            result = self.alloc_checked(cpu, nested, result, irqs);
        }
        result
    }

    /// With red zones: hands out `taken` if it passes `hand_out`, else takes another.
    /// Out of line, so the plain path stays as short as it was.
    #[inline(never)]
    fn alloc_checked(
        &self,
        cpu: usize,
        nested: bool,
        mut taken: Result<NonNull<u8>, SlabError>,
        irqs: IrqContext<'_>,
    ) -> Result<NonNull<u8>, SlabError> {
        // Each turn quarantines a free object, so the loop ends (at worst with a fresh
        // slab, or out of memory).
        while let Ok(object) = taken {
            if self.hand_out(object, irqs) {
                break;
            }
            taken = self.take_object(cpu, nested, irqs);
        }
        taken
    }

    /// Interrupts masked: an object from this CPU's array (refilled when empty), or from
    /// the slab lists when the array may not be used (`nested`: the guard is taken) or is
    /// missing.
    fn take_object(
        &self,
        cpu: usize,
        nested: bool,
        irqs: IrqContext<'_>,
    ) -> Result<NonNull<u8>, SlabError> {
        let from_array = if nested {
            None
        } else {
            self.with_array(cpu, irqs, |array| self.alloc_cached(array, irqs))
        };
        match from_array {
            Some(result) => result,
            None => {
                if !nested {
                    self.missing_array(cpu);
                }
                let mut lists = self.lists(irqs);
                lists.take(
                    &self.geometry,
                    self.owner(),
                    self.ctor,
                    self.platform,
                    ACTIVE,
                )
            }
        }
    }

    /// With red zones: checks an object about to be handed out (marked ACTIVE, not yet
    /// returned) and paints it for its user. A corrupted one is reported and quarantined
    /// instead: false.
    fn hand_out(&self, object: NonNull<u8>, irqs: IrqContext<'_>) -> bool {
        let g = &self.geometry;
        // SAFETY: an object of this cache, taken out of its slab or array and not yet
        // returned to anyone: ours alone.
        let damage =
            unsafe { debug::check_poison(object, g).or_else(|| debug::check_red_zone(object, g)) };
        if let Some(damage) = damage {
            let place = slabs::locate(g, self.owner(), object.as_ptr() as usize)
                .expect("an object handed out belongs to its cache");
            self.quarantine(place, ACTIVE, irqs);
            self.report(object, damage, Seen::Alloc, Fate::Quarantined);
            return false;
        }
        // SAFETY: as above; `object_size` bytes inside the slab.
        unsafe {
            match self.ctor {
                Some(ctor) => {
                    debug::paint(object, g, 0);
                    ctor(core::slice::from_raw_parts_mut(
                        object.as_ptr(),
                        g.object_size,
                    ));
                }
                None => debug::paint(object, g, debug::POISON_INUSE),
            }
        }
        true
    }

    /// Quarantines an object marked `from`, which the caller holds (see the module doc).
    fn quarantine(&self, place: Place, from: u16, irqs: IrqContext<'_>) {
        let done = self.lists(irqs).quarantine(place, from);
        assert!(
            done,
            "slab {}: an object to quarantine was not marked {from:#x}",
            self.name
        );
    }

    fn report(&self, object: NonNull<u8>, damage: Damage, seen: Seen, fate: Fate) {
        self.corruptions.fetch_add(1, Ordering::Relaxed);
        self.platform.corrupted(&Corruption {
            cache: self.name(),
            object: object.as_ptr() as usize,
            damage,
            seen,
            fate,
        });
    }

    fn alloc_cached(
        &self,
        array: &mut ArrayCache,
        irqs: IrqContext<'_>,
    ) -> Result<NonNull<u8>, SlabError> {
        if array.avail() == 0 {
            let mut lists = self.lists(irqs);
            for _ in 0..array.batch.min(array.limit()) {
                match lists.take(
                    &self.geometry,
                    self.owner(),
                    self.ctor,
                    self.platform,
                    CACHED,
                ) {
                    Ok(object) => {
                        // Room: the array was empty, and this takes at most its limit.
                        // SAFETY: just taken from one of this cache's slabs.
                        let mark = unsafe { self.place_of(object) }.mark_of();
                        let pushed = array.push((object, mark));
                        debug_assert!(pushed, "an empty array has room for a batch");
                    }
                    Err(e) if array.avail() == 0 => return Err(e),
                    Err(_) => break,
                }
            }
        }
        let (object, mark) = array.pop().expect("a refilled array has an object");
        assert!(
            mark.claim(CACHED, ACTIVE),
            "slab {}: object {:p} from a per-CPU array was not marked cached",
            self.name,
            object
        );
        Ok(object)
    }

    /// Gives `object` back. Errors, which change nothing: not an object at all, an object
    /// of another cache, or already free. With red zones, an object whose red zone was
    /// overwritten is reported and quarantined (the free itself succeeds: its user is done
    /// with it).
    ///
    /// A double free is caught by the object's mark: a plain look at it on the fast path
    /// (a second free of an object finds it marked free), and, with red zones, a
    /// compare-and-swap, which also catches two CPUs freeing one object at the same
    /// instant. Safe code frees through [`super::OwnedObject`], which cannot free twice.
    ///
    /// # Safety
    /// If `object` is an object of this cache, nothing may use it or free it while this
    /// runs, nor use it after: this call takes it back. (Anything else, a pointer that is
    /// no object, an object of another cache or one freed already, is an error, not
    /// undefined behaviour.)
    #[inline(always)]
    pub unsafe fn free(&self, object: NonNull<u8>) -> Result<(), SlabError> {
        let place = self.locate(object.as_ptr() as usize)?;
        // SAFETY: `place` is this cache's object; the caller's contract is ours.
        unsafe { self.free_at(object, place.mark_of()) }
    }

    /// [`Cache::free`] of a pointer the slab allocator handed out (kmalloc's, under
    /// `GlobalAlloc`'s contract): its slab header is read without asking the platform
    /// whether the memory is there, and must still name this cache.
    ///
    /// # Safety
    /// `object` came from some cache's `alloc` (any cache: a wrong one is an error), and
    /// the contract of [`Cache::free`] holds.
    #[inline(always)]
    pub unsafe fn free_handed_out(&self, object: NonNull<u8>) -> Result<(), SlabError> {
        let address = object.as_ptr() as usize;
        let place = match slabs::locate(&self.geometry, self.owner(), address) {
            Ok(place) => place,
            // Whose it is, if it is anyone's, is worth the slow look.
            Err(_) => {
                return Err(self
                    .locate(address)
                    .err()
                    .unwrap_or(SlabError::NotAnObject(address)));
            }
        };
        // SAFETY: `place` is this cache's object; the caller's contract is ours.
        unsafe { self.free_at(object, place.mark_of()) }
    }

    /// [`Cache::free`] of an object known to be this cache's, with its mark (an
    /// `OwnedObject`'s): nothing needs checking or finding.
    ///
    /// # Safety
    /// `object` came from this cache's `alloc_marked` with `mark`, and, as for `free`,
    /// nothing uses or frees it at the same time or after.
    #[inline(always)]
    pub(super) unsafe fn free_own(&self, object: NonNull<u8>, mark: Mark) -> Result<(), SlabError> {
        // SAFETY: the caller's contract.
        unsafe { self.free_at(object, mark) }
    }

    /// [`Cache::free`] of an object known to be this cache's (the allocator's own, a cache
    /// descriptor or an array): its mark is found, not checked for.
    ///
    /// # Safety
    /// `object` came from this cache's `alloc`, and, as for `free`, nothing uses or frees
    /// it at the same time or after.
    pub(super) unsafe fn free_known(&self, object: NonNull<u8>) -> Result<(), SlabError> {
        // SAFETY: the caller's contract: an object of this cache's.
        let mark = unsafe { self.place_of(object) }.mark_of();
        // SAFETY: the caller's contract.
        unsafe { self.free_at(object, mark) }
    }

    /// # Safety
    /// `mark` is `object`'s, and the contract of [`Cache::free`] holds.
    #[inline(always)]
    unsafe fn free_at(&self, object: NonNull<u8>, mark: Mark) -> Result<(), SlabError> {
        let interrupt_point = || self.platform.may_interrupt();
        if let Some(fast) = self.enter_fast_path() {
            // The mark first: a double free changes nothing.
            if !mark.claim_owned(ACTIVE, CACHED) {
                return Err(SlabError::DoubleFree(object.as_ptr() as usize));
            }
            interrupt_point();
            let pushed = fast.with_array(|array| {
                interrupt_point();
                array.push_interruptible((object, mark), interrupt_point)
            });
            // Out of the fast path before the slow one looks at the guard.
            drop(fast);
            if pushed == Some(true) {
                return Ok(());
            }
            // SAFETY: `free_at`'s contract.
            unsafe { self.free_slow(object, mark, true) };
            return Ok(());
        }
        // The slow path's own look at the mark: with red zones a compare-and-swap, which
        // also catches two CPUs freeing one object at once.
        let marked = if self.debug() {
            mark.claim(ACTIVE, CACHED)
        } else {
            mark.claim_owned(ACTIVE, CACHED)
        };
        if !marked {
            return Err(SlabError::DoubleFree(object.as_ptr() as usize));
        }
        // SAFETY: `free_at`'s contract.
        unsafe { self.free_slow(object, mark, false) };
        Ok(())
    }

    /// The slow path of [`Cache::free`], for an object already marked CACHED, interrupts
    /// masked: with red zones the object checked; onto the array, flushed first when
    /// full (`array_full`: the fast path found it so), or back to its slab where the array
    /// cannot be used.
    ///
    /// # Safety
    /// `object` is an object of this cache's, `mark` its mark, and the contract of
    /// [`Cache::free`] holds.
    #[inline(never)]
    unsafe fn free_slow(&self, object: NonNull<u8>, mark: Mark, array_full: bool) {
        let masked = IrqsMasked::new(self.platform);
        let irqs = masked.context();
        let cpu = self.platform.cpu();
        let nested = !array_full && self.nested(cpu);
        // SAFETY: the caller's contract: an object of this cache's.
        let place = unsafe { self.place_of(object) };
        if !self.debug() || self.check_freed(object, place, irqs) {
            self.stash(cpu, nested, (object, mark), place, irqs);
        }
    }

    /// Whether this runs in an interrupt handler over `cpu`'s own fast path (its guard
    /// taken; a cache with red zones keeps its guards taken for good, which is not that).
    fn nested(&self, cpu: usize) -> bool {
        !self.debug() && self.percpu[cpu].guarded()
    }

    /// The slab and index of `address` if it is an object of this cache; else whether it
    /// lies in another cache's slab.
    fn locate(&self, address: usize) -> Result<Place, SlabError> {
        let base = address & !(self.geometry.slab_bytes() - 1);
        if self.platform.owns(base, self.geometry.slab_bytes())
            && let Ok(place) = slabs::locate(&self.geometry, self.owner(), address)
        {
            return Ok(place);
        }
        match slabs::owner_of(address, self.platform) {
            Some(owner) if owner != self.owner() => Err(SlabError::WrongCache(address)),
            _ => Err(SlabError::NotAnObject(address)),
        }
    }

    /// An object just marked CACHED by its free, interrupts masked: onto this CPU's array
    /// (flushing the oldest batch to the slab lists when it is full), or back to its slab
    /// without one or when the array may not be used (`nested`).
    fn stash(&self, cpu: usize, nested: bool, entry: Entry, place: Place, irqs: IrqContext<'_>) {
        let pushed = if nested {
            None
        } else {
            self.with_array(cpu, irqs, |array| {
                if array.is_full() {
                    let mut lists = self.lists(irqs);
                    array.take_oldest(array.batch, |o| self.put_cached(&mut lists, o));
                }
                let pushed = array.push(entry);
                debug_assert!(pushed, "an array flushed has room");
            })
        };
        if pushed.is_none() {
            if !nested {
                self.missing_array(cpu);
            }
            self.lists(irqs)
                .put(&self.geometry, place, CACHED)
                .expect("an object marked cached by its free goes back to its slab");
        }
    }

    /// With red zones, on a free (the object marked): checks the red zone and poisons the
    /// object; false if the zone was overwritten and the object is quarantined instead.
    /// Out of line, so the plain path stays as short as it was.
    #[inline(never)]
    fn check_freed(&self, object: NonNull<u8>, place: Place, irqs: IrqContext<'_>) -> bool {
        // SAFETY: an object of this cache whose user just gave it up; marked, so no other
        // free or allocation can take it: ours alone.
        if let Some(damage) = unsafe { debug::check_red_zone(object, &self.geometry) } {
            self.quarantine(place, CACHED, irqs);
            self.report(object, damage, Seen::Free, Fate::Quarantined);
            return false;
        }
        // SAFETY: as above.
        unsafe { debug::paint(object, &self.geometry, debug::POISON_FREE) };
        true
    }

    /// The per-CPU path found no array for `cpu`: tell the platform, once per episode.
    fn missing_array(&self, cpu: usize) {
        if self.per_cpu() && self.percpu[cpu].first_missing_report() {
            self.platform.array_missing(self.name(), cpu);
        }
    }

    fn put_cached(&self, lists: &mut SlabLists, object: NonNull<u8>) {
        let place = slabs::locate(&self.geometry, self.owner(), object.as_ptr() as usize)
            .expect("objects in an array belong to its cache");
        lists
            .put(&self.geometry, place, CACHED)
            .expect("an object in an array is marked cached");
    }

    /// Gives `cpu` an array, unless it has one.
    pub(super) fn make_array(&self, cpu: usize) -> Result<(), SlabError> {
        let Some(from) = self.arrays_from else {
            return Ok(());
        };
        if self.has_array(cpu) {
            return Ok(());
        }
        let array = from.alloc()?.cast::<ArrayCache>();
        // SAFETY: a fresh object of the array cache, sized and aligned for an ArrayCache.
        unsafe {
            array.write(ArrayCache::new(self.geometry.limit, self.geometry.batch));
        }
        self.percpu[cpu].clear_missing_report();
        if self.percpu[cpu]
            .array
            .compare_exchange(
                ptr::null_mut(),
                array.as_ptr(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // SAFETY: the array was allocated just above from `from` and lost the race
            // for the slot: nobody else ever saw it.
            unsafe { from.free_known(array.cast()) }.expect("an array just allocated goes back");
        }
        Ok(())
    }

    /// Takes `cpu`'s array out of its slot, flushes its objects to the slab lists and
    /// frees it. False if there was none. Called on `cpu` itself, or for a CPU that is not
    /// running (dead, or never started), or once nobody can reach the cache.
    pub(super) fn release_array(&self, cpu: usize) -> bool {
        let here = &self.percpu[cpu];
        // The guard is only ever taken by the fast path, which calls nothing that gets
        // here: taken on this very CPU means an interrupt handler runs over an allocation
        // or free of this cache, and the cache is being released all the same, which its
        // lifetime in the types (`allocator`) rules out.
        assert!(
            !(self.platform.cpu() == cpu && self.nested(cpu)),
            "slab {}: cpu{cpu}'s array released over its own fast path: a cache in use is \
             being destroyed",
            self.name
        );
        let array = here.array.swap(ptr::null_mut(), Ordering::AcqRel);
        let Some(array) = NonNull::new(array) else {
            return false;
        };
        {
            let masked = IrqsMasked::new(self.platform);
            // SAFETY: swapped out of its slot, the array is ours alone (module doc).
            let a = unsafe { &mut *array.as_ptr() };
            let mut lists = self.lists(masked.context());
            a.take_oldest(a.avail(), |o| self.put_cached(&mut lists, o));
        }
        let from = self
            .arrays_from
            .expect("a cache with arrays knows where they came from");
        // SAFETY: the array came from `from` (make_array), and swapped out of its slot it
        // is ours alone and used no more.
        unsafe { from.free_known(array.cast()) }.expect("an array goes back to the array cache");
        true
    }

    /// Flushes this CPU's array to the slab lists, keeping the array (for shrinking). In
    /// an interrupt handler that found this CPU's fast path running, the flush is skipped:
    /// the objects stay in the array, counted as cached.
    pub fn drain_local(&self) {
        let masked = IrqsMasked::new(self.platform);
        let irqs = masked.context();
        let cpu = self.platform.cpu();
        if !self.nested(cpu) {
            self.with_array(cpu, irqs, |a| {
                let mut lists = self.lists(irqs);
                a.take_oldest(a.avail(), |o| self.put_cached(&mut lists, o));
            });
        }
    }

    /// Returns the pages of completely free slabs; how many pages.
    pub fn shrink(&self) -> usize {
        let masked = IrqsMasked::new(self.platform);
        self.lists(masked.context())
            .release_free(&self.geometry, self.platform)
    }

    /// Objects with users (allocated and not freed), over all CPUs: those marked ACTIVE.
    /// Counted from the marks (which the fast path keeps anyway for double frees) rather
    /// than by every allocation and free: a walk of the cache's slabs, for destroy's
    /// refusal, `slabinfo` and leak counts. Exact while nothing allocates or frees.
    pub fn live_objects(&self) -> usize {
        let masked = IrqsMasked::new(self.platform);
        self.lists(masked.context())
            .count_marked(&self.geometry, ACTIVE)
    }

    /// Destroy's last step, once every array is gone: returns every slab, or refuses with
    /// the count of objects still out of them.
    /// Quarantined objects do not count: they go back with their slabs.
    pub(super) fn release_slabs(&self) -> Result<usize, SlabError> {
        let masked = IrqsMasked::new(self.platform);
        let mut lists = self.lists(masked.context());
        if lists.inuse > lists.quarantined {
            Err(SlabError::InUse(lists.inuse - lists.quarantined))
        } else {
            Ok(lists.release_all(&self.geometry, self.platform))
        }
    }

    pub fn stats(&self) -> CacheStats {
        let (inuse, slabs, free_slabs, quarantined) = {
            let masked = IrqsMasked::new(self.platform);
            let lists = self.lists(masked.context());
            (
                lists.inuse,
                lists.slabs,
                lists.free_slabs(),
                lists.quarantined,
            )
        };
        let live = self.live_objects();
        CacheStats {
            active_objs: inuse,
            num_objs: slabs * self.geometry.objects,
            active_slabs: slabs - free_slabs,
            num_slabs: slabs,
            live,
            cached: inuse.saturating_sub(live + quarantined),
            quarantined,
        }
    }

    /// Checks the cache: its lists and counts against themselves (see
    /// `SlabLists::audit`), and with red zones every object's red zone and every free
    /// object's poison. Free objects found corrupted are quarantined; objects with users
    /// are reported, and quarantined when freed. Objects in per-CPU arrays get only their
    /// red zone looked at (their CPU may hand them out meanwhile): drain the arrays first
    /// (`drain_local` on each CPU) to have their poison checked too.
    pub fn check(&self) -> Result<Checked, Inconsistency> {
        let g = &self.geometry;
        let debug = self.debug();
        let mut found = ArrayVec::<(Place, Damage, State), CHECK_HELD>::new();
        let (mut painted, mut corrupted) = (0, 0);
        let masked = IrqsMasked::new(self.platform);
        let mut lists = self.lists(masked.context());
        let mut audit = lists.audit(g, self.owner(), |place, state| {
            if !debug || state == State::Quarantined {
                return;
            }
            let object = place.object(g);
            // SAFETY: under the list lock an object on a free chain is nobody's; of any
            // other object only the red zone is read, which the allocator alone owns.
            let damage = unsafe {
                match state {
                    State::Free => {
                        debug::check_poison(object, g).or_else(|| debug::check_red_zone(object, g))
                    }
                    _ => debug::check_red_zone(object, g),
                }
            };
            painted += 1;
            if let Some(damage) = damage {
                corrupted += 1;
                let _ = found.try_push((place, damage, state));
            }
        });
        if let Ok(census) = &mut audit {
            for (place, _, state) in &found {
                if *state == State::Free {
                    assert!(
                        lists.quarantine_free(g, *place),
                        "slab {}: a free object to quarantine is not on its free chain",
                        self.name
                    );
                    census.free -= 1;
                    census.quarantined += 1;
                }
            }
        }
        // The lock first, then the mask: reports go out with neither held.
        drop(lists);
        drop(masked);
        let census = audit?;
        for (place, damage, state) in found {
            let fate = match state {
                State::Free => Fate::Quarantined,
                State::Cached => Fate::InArray,
                _ => Fate::InUse,
            };
            self.report(place.object(g), damage, Seen::Check, fate);
        }
        Ok(Checked {
            census,
            painted,
            corrupted,
        })
    }
}
