//! One slab cache: objects of one size from slabs of pages, handed out through per-CPU
//! array caches (SLAB's `kmem_cache_t`).
//!
//! Allocation and free run on the current CPU with interrupts masked: they pop from and
//! push to that CPU's array, and only when it is empty or full take the slab-list lock to
//! move a batch. The per-CPU array slots are atomic pointers with one owner rule: an array
//! is used only by its own CPU with interrupts masked, and is taken out of its slot (an
//! atomic swap) by whoever frees it (its own CPU draining, or a controller once that CPU
//! is dead or the cache is unreachable). So however creation and destruction race with
//! hotplug, the worst is a missing array, never two CPUs in one.
//!
//! The allocator's own caches (for cache descriptors and for the arrays) have no per-CPU
//! arrays: every operation goes to the slab lists.

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicIsize, AtomicPtr, AtomicU64, Ordering};

use arrayvec::ArrayString;

use super::array_cache::ArrayCache;
use super::geometry::Geometry;
use super::slabs::{self, ACTIVE, CACHED, SlabLists};
use super::{SlabError, SlabPlatform};
use crate::MAX_CPUS;

/// The longest cache name.
pub const NAME_MAX: usize = 24;

/// A constructor: sets up a fresh object once, when its slab is made (the memory is
/// zeroed before). Objects keep what it set up across allocations.
pub type Ctor = fn(&mut [u8]);

pub struct Cache {
    name: ArrayString<NAME_MAX>,
    geometry: Geometry,
    ctor: Option<Ctor>,
    platform: &'static dyn SlabPlatform,
    /// Where this cache's per-CPU arrays come from; `None`: it has none.
    arrays_from: Option<&'static Cache>,
    lists: spin::Mutex<SlabLists>,
    arrays: [AtomicPtr<ArrayCache>; MAX_CPUS],
    /// Per CPU: objects allocated there minus objects freed there.
    live: [AtomicIsize; MAX_CPUS],
    /// CPUs whose missing array has been reported (once until they get one).
    missing_reported: AtomicU64,
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
}

/// A valid cache name: 1 to NAME_MAX of letters, digits, `_`, `-`, `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

impl Cache {
    pub fn new(
        name: &str,
        geometry: Geometry,
        ctor: Option<Ctor>,
        platform: &'static dyn SlabPlatform,
        arrays_from: Option<&'static Cache>,
    ) -> Result<Self, SlabError> {
        if !valid_name(name) {
            return Err(SlabError::BadName);
        }
        Ok(Self {
            name: ArrayString::from(name).map_err(|_| SlabError::BadName)?,
            geometry,
            ctor,
            platform,
            arrays_from,
            lists: spin::Mutex::new(SlabLists::new()),
            arrays: [const { AtomicPtr::new(ptr::null_mut()) }; MAX_CPUS],
            live: [const { AtomicIsize::new(0) }; MAX_CPUS],
            missing_reported: AtomicU64::new(0),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    fn owner(&self) -> usize {
        self as *const Cache as usize
    }

    /// Whether this cache hands objects out through per-CPU arrays.
    pub fn per_cpu(&self) -> bool {
        self.arrays_from.is_some()
    }

    pub fn has_array(&self, cpu: usize) -> bool {
        !self.arrays[cpu].load(Ordering::Acquire).is_null()
    }

    /// Runs `f` on this CPU's array, if it has one. Interrupts are masked by the caller.
    fn with_array<R>(&self, cpu: usize, f: impl FnOnce(&mut ArrayCache) -> R) -> Option<R> {
        let array = self.arrays[cpu].load(Ordering::Acquire);
        if array.is_null() {
            return None;
        }
        // SAFETY: the owner rule (module doc): a CPU's array is used only by that CPU,
        // interrupts masked (the caller's), so nothing else touches it now; it stays in
        // its slot, hence alive, until it is taken out, which only its own CPU does while
        // that CPU is alive.
        Some(f(unsafe { &mut *array }))
    }

    /// One object. On this CPU's array, refilled by a batch from the slab lists when
    /// empty; from the slab lists directly when the cache has no array here.
    pub fn alloc(&self) -> Result<NonNull<u8>, SlabError> {
        let irq = self.platform.irq_save();
        let cpu = self.platform.cpu();
        let result = match self.with_array(cpu, |array| self.alloc_cached(array)) {
            Some(result) => result,
            None => {
                self.missing_array(cpu);
                let mut lists = self.lists.lock();
                lists.take(
                    &self.geometry,
                    self.owner(),
                    self.ctor,
                    self.platform,
                    ACTIVE,
                )
            }
        };
        if result.is_ok() {
            self.count_live(cpu, 1);
        }
        self.platform.irq_restore(irq);
        result
    }

    fn alloc_cached(&self, array: &mut ArrayCache) -> Result<NonNull<u8>, SlabError> {
        if array.avail() == 0 {
            let mut lists = self.lists.lock();
            for _ in 0..array.batch {
                match lists.take(
                    &self.geometry,
                    self.owner(),
                    self.ctor,
                    self.platform,
                    CACHED,
                ) {
                    Ok(object) => array.push(object),
                    Err(e) if array.avail() == 0 => return Err(e),
                    Err(_) => break,
                }
            }
        }
        let object = array.pop().expect("a refilled array has an object");
        let place = slabs::locate(&self.geometry, self.owner(), object.as_ptr() as usize)
            .expect("objects in an array belong to its cache");
        assert!(
            place.mark(CACHED, ACTIVE),
            "slab {}: object {:p} from a per-CPU array was not marked cached",
            self.name,
            object
        );
        Ok(object)
    }

    /// Gives `object` back. Errors: not an object of this cache, or already free.
    pub fn free(&self, object: NonNull<u8>) -> Result<(), SlabError> {
        let address = object.as_ptr() as usize;
        let base = address & !(self.geometry.slab_bytes() - 1);
        if !self.platform.owns(base, self.geometry.slab_bytes()) {
            return Err(SlabError::NotAnObject(address));
        }
        let place = slabs::locate(&self.geometry, self.owner(), address)?;
        let irq = self.platform.irq_save();
        let cpu = self.platform.cpu();
        let cached = self.with_array(cpu, |array| {
            if !place.mark(ACTIVE, CACHED) {
                return Err(SlabError::DoubleFree(address));
            }
            if array.is_full() {
                let mut lists = self.lists.lock();
                array.take_oldest(array.batch, |o| self.put_cached(&mut lists, o));
            }
            array.push(object);
            Ok(())
        });
        let result = cached.unwrap_or_else(|| {
            self.missing_array(cpu);
            self.lists.lock().put(&self.geometry, place, ACTIVE)
        });
        if result.is_ok() {
            self.count_live(cpu, -1);
        }
        self.platform.irq_restore(irq);
        result
    }

    /// Adds `delta` to `cpu`'s live count. Only `cpu` itself writes its count, with
    /// interrupts masked, so a load and a store do (no atomic read-modify-write, which
    /// costs more than the rest of the fast path); readers only sum the counts.
    fn count_live(&self, cpu: usize, delta: isize) {
        let live = &self.live[cpu];
        live.store(live.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
    }

    /// The per-CPU path found no array for `cpu`: tell the platform, once per episode.
    fn missing_array(&self, cpu: usize) {
        if self.per_cpu()
            && self.missing_reported.fetch_or(1 << cpu, Ordering::AcqRel) & (1 << cpu) == 0
        {
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
    pub fn make_array(&self, cpu: usize) -> Result<(), SlabError> {
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
        self.missing_reported
            .fetch_and(!(1 << cpu), Ordering::AcqRel);
        if self.arrays[cpu]
            .compare_exchange(
                ptr::null_mut(),
                array.as_ptr(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            from.free(array.cast())
                .expect("an array just allocated goes back");
        }
        Ok(())
    }

    /// Takes `cpu`'s array out of its slot, flushes its objects to the slab lists and
    /// frees it. False if there was none. Called on `cpu` itself, or for a CPU that is not
    /// running (dead, or never started), or once nobody can reach the cache.
    pub fn release_array(&self, cpu: usize) -> bool {
        let array = self.arrays[cpu].swap(ptr::null_mut(), Ordering::AcqRel);
        let Some(array) = NonNull::new(array) else {
            return false;
        };
        let irq = self.platform.irq_save();
        {
            // SAFETY: swapped out of its slot, the array is ours alone (module doc).
            let a = unsafe { &mut *array.as_ptr() };
            let mut lists = self.lists.lock();
            a.take_oldest(a.avail(), |o| self.put_cached(&mut lists, o));
        }
        self.platform.irq_restore(irq);
        self.arrays_from
            .expect("a cache with arrays knows where they came from")
            .free(array.cast())
            .expect("an array goes back to the array cache");
        true
    }

    /// Flushes this CPU's array to the slab lists, keeping the array (for shrinking).
    pub fn drain_local(&self) {
        let irq = self.platform.irq_save();
        let cpu = self.platform.cpu();
        self.with_array(cpu, |a| {
            let mut lists = self.lists.lock();
            a.take_oldest(a.avail(), |o| self.put_cached(&mut lists, o));
        });
        self.platform.irq_restore(irq);
    }

    /// Returns the pages of completely free slabs; how many pages.
    pub fn shrink(&self) -> usize {
        let irq = self.platform.irq_save();
        let pages = self
            .lists
            .lock()
            .release_free(&self.geometry, self.platform);
        self.platform.irq_restore(irq);
        pages
    }

    /// Objects with users (allocated and not freed), over all CPUs.
    pub fn live_objects(&self) -> usize {
        let sum: isize = self.live.iter().map(|l| l.load(Ordering::Relaxed)).sum();
        sum.max(0) as usize
    }

    /// Destroy's last step, once every array is gone: returns every slab, or refuses with
    /// the count of objects still out of them.
    pub fn release_slabs(&self) -> Result<usize, SlabError> {
        let irq = self.platform.irq_save();
        let mut lists = self.lists.lock();
        let result = if lists.inuse > 0 {
            Err(SlabError::InUse(lists.inuse))
        } else {
            Ok(lists.release_free(&self.geometry, self.platform))
        };
        drop(lists);
        self.platform.irq_restore(irq);
        result
    }

    pub fn stats(&self) -> CacheStats {
        let irq = self.platform.irq_save();
        let lists = self.lists.lock();
        let (inuse, slabs, free_slabs) = (lists.inuse, lists.slabs, lists.free_slabs());
        drop(lists);
        self.platform.irq_restore(irq);
        let live = self.live_objects();
        CacheStats {
            active_objs: inuse,
            num_objs: slabs * self.geometry.objects,
            active_slabs: slabs - free_slabs,
            num_slabs: slabs,
            live,
            cached: inuse.saturating_sub(live),
        }
    }
}
