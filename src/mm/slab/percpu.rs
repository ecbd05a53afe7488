//! A cache's per-CPU part: the CPU's array slot, and the guard that lets its fast path run
//! with interrupts enabled.
//!
//! The guard is Linux's `local_trylock_t` (the per-CPU sheaves of 6.18): the CPU sets it
//! with a plain store before it touches its array and clears it after, and nothing else
//! ever sets it, so no atomic read-modify-write and no interrupt masking is needed. An
//! interrupt handler on the same CPU that finds it set leaves the array alone: an
//! allocation or free goes to the slab lists, and a flush (shrink's, a check's) of that
//! array is skipped (its objects stay cached, counted as such). Other CPUs never touch the
//! array (the owner rule, `cache`), so the guard only has to hold against this CPU's own
//! interrupts, which program order and compiler fences give.
//!
//! Each block sits on a cache line of its own: a CPU's fast path writes only its own.

use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering, compiler_fence};

use super::array_cache::ArrayCache;

#[repr(C, align(64))]
pub struct PerCpu {
    /// This CPU's array, or null.
    pub array: AtomicPtr<ArrayCache>,
    /// The fast path is running on this CPU.
    guard: AtomicBool,
    /// A missing array on this CPU has been reported (once until it gets one).
    missing_reported: AtomicBool,
}

impl PerCpu {
    pub const fn new() -> Self {
        Self {
            array: AtomicPtr::new(core::ptr::null_mut()),
            guard: AtomicBool::new(false),
            missing_reported: AtomicBool::new(false),
        }
    }

    /// A block whose guard is taken for good: every allocation and free takes the slow
    /// path (a cache with red zones, whose checks live there).
    pub const fn closed() -> Self {
        Self {
            array: AtomicPtr::new(core::ptr::null_mut()),
            guard: AtomicBool::new(true),
            missing_reported: AtomicBool::new(false),
        }
    }

    /// On this CPU: takes the guard, unless the code this runs in interrupted its holder.
    /// `interrupt_point` runs between the look and the store (where tests interrupt,
    /// `SlabPlatform::may_interrupt`).
    #[inline(always)]
    pub fn try_enter(&self, interrupt_point: impl FnOnce()) -> bool {
        if self.guard.load(Ordering::Relaxed) {
            return false;
        }
        // An interrupt between the look and the store runs to its end before the store:
        // it sees the guard clear and is done by the time it is set.
        interrupt_point();
        self.guard.store(true, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        true
    }

    /// On this CPU: gives the guard back.
    #[inline(always)]
    pub fn exit(&self) {
        compiler_fence(Ordering::SeqCst);
        self.guard.store(false, Ordering::Relaxed);
    }

    /// Whether a missing array is to be reported now: true the first time since the CPU
    /// last got one.
    pub fn first_missing_report(&self) -> bool {
        !self.missing_reported.swap(true, Ordering::AcqRel)
    }

    /// The CPU has an array again: a later miss is a new episode.
    pub fn clear_missing_report(&self) {
        self.missing_reported.store(false, Ordering::Release);
    }

    /// Whether this CPU's fast path is running (seen from an interrupt handler on it).
    pub fn guarded(&self) -> bool {
        self.guard.load(Ordering::Relaxed)
    }
}

impl Default for PerCpu {
    fn default() -> Self {
        Self::new()
    }
}
