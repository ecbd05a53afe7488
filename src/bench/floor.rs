//! The floor of `bench slab`: the least an allocator with per-CPU caching can do for one
//! alloc+free pair on this machine. Each CPU has a bare LIFO array of object addresses,
//! found through the CPU's id as the slab finds its own; allocating pops one, freeing
//! pushes one: no interrupt masking, no checks, no marks, no calls through a pointer. The
//! slots are atomics used only with relaxed loads and stores, which compile to the plain
//! loads and stores such an array would use (only its own CPU touches an array).
//!
//! The objects are carved from one block of the global allocator, `FLOOR_OBJECTS` per
//! CPU, enough for the bench's working set.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::MAX_CPUS;

/// Objects each CPU's array starts with.
pub const FLOOR_OBJECTS: usize = 64;

struct BareArray {
    avail: AtomicUsize,
    entries: [AtomicUsize; FLOOR_OBJECTS],
}

/// Per-CPU bare arrays over a block of memory.
pub struct Floor {
    arrays: Vec<BareArray>,
    /// Where the objects are: kept so that the memory lives as long as the floor.
    _memory: Vec<u8>,
}

impl Floor {
    /// Arrays for every possible CPU, each full of `object_size`-byte objects.
    pub fn new(object_size: usize) -> Self {
        let memory = alloc::vec![0u8; object_size * FLOOR_OBJECTS * MAX_CPUS];
        let base = memory.as_ptr() as usize;
        let arrays = (0..MAX_CPUS)
            .map(|cpu| BareArray {
                avail: AtomicUsize::new(FLOOR_OBJECTS),
                entries: core::array::from_fn(|i| {
                    AtomicUsize::new(base + (cpu * FLOOR_OBJECTS + i) * object_size)
                }),
            })
            .collect();
        Self {
            arrays,
            _memory: memory,
        }
    }

    /// Pops an object from this CPU's array.
    #[inline(always)]
    pub fn alloc(&self) -> Option<usize> {
        let array = &self.arrays[crate::arch::cpu::id()];
        let avail = array.avail.load(Ordering::Relaxed);
        let at = avail.checked_sub(1)?;
        array.avail.store(at, Ordering::Relaxed);
        Some(array.entries[at].load(Ordering::Relaxed))
    }

    /// Pushes an object onto this CPU's array; false if it is full.
    #[inline(always)]
    pub fn free(&self, object: usize) -> bool {
        let array = &self.arrays[crate::arch::cpu::id()];
        let avail = array.avail.load(Ordering::Relaxed);
        let Some(slot) = array.entries.get(avail) else {
            return false;
        };
        slot.store(object, Ordering::Relaxed);
        array.avail.store(avail + 1, Ordering::Relaxed);
        true
    }
}
