//! A cache's per-CPU part: the CPU's array slot, and the guard that lets its fast path run
//! with interrupts enabled.
//!
//! The guard is taken only as a [`FastPath`], whose drop gives it back: no return of the
//! fast path can keep it (which would send every later call on that CPU to the slow path),
//! and the array is reached only through a `FastPath` or with interrupts masked (an
//! [`IrqContext`]).
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

use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering, compiler_fence};

use super::SlabPlatform;
use super::array_cache::ArrayCache;
use super::irqs::IrqContext;

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

    /// On this CPU: its fast path, unless the code this runs in interrupted the fast path
    /// (its guard is taken), or the block is closed. Each step of it is one of `platform`'s
    /// interrupt points (`SlabPlatform::may_interrupt`).
    #[inline(always)]
    pub fn enter<'s, P: SlabPlatform>(&'s self, platform: &'s P) -> Option<FastPath<'s, P>> {
        let interrupt_point = || platform.may_interrupt();
        interrupt_point();
        if !self.try_enter(interrupt_point) {
            // Not `then_some`: a `FastPath` made and dropped would give back a guard it
            // never took.
            return None;
        }
        interrupt_point();
        Some(FastPath {
            slot: self,
            platform,
            _this_cpu: PhantomData,
        })
    }

    /// On this CPU: takes the guard, unless the code this runs in interrupted its holder.
    /// `interrupt_point` runs between the look and the store (where tests interrupt,
    /// `SlabPlatform::may_interrupt`).
    #[inline(always)]
    fn try_enter(&self, interrupt_point: impl FnOnce()) -> bool {
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
    fn exit(&self) {
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

    /// Runs `f` on this slot's array, if it has one, with interrupts masked (`irqs`): the
    /// caller runs on the slot's CPU and has found its guard clear (not an interrupt over
    /// its fast path, `Cache::nested`).
    #[inline(always)]
    pub fn with_array_masked<R>(
        &self,
        _irqs: IrqContext<'_>,
        f: impl FnOnce(&mut ArrayCache) -> R,
    ) -> Option<R> {
        self.with_array(f)
    }

    /// `f` on the array, if any, for a caller the owner rule lets use it (the cache's
    /// module doc): its CPU, under the guard or with interrupts masked and the guard clear.
    #[inline(always)]
    fn with_array<R>(&self, f: impl FnOnce(&mut ArrayCache) -> R) -> Option<R> {
        let array = self.array.load(Ordering::Acquire);
        if array.is_null() {
            return None;
        }
        // SAFETY: the owner rule (the cache's module doc): a CPU's array is used only by
        // that CPU, under its guard or with interrupts masked while the guard is clear
        // (the callers': a `FastPath`, or `with_array_masked`'s), so nothing else touches
        // it now; it stays in its slot, hence alive, until it is taken out, which only its
        // own CPU does while that CPU is alive.
        Some(f(unsafe { &mut *array }))
    }
}

/// This CPU's fast path in one cache: its slot's guard taken, given back on drop.
#[must_use = "dropping the fast path gives the guard back at once"]
pub struct FastPath<'s, P: SlabPlatform> {
    slot: &'s PerCpu,
    platform: &'s P,
    /// The guard is this CPU's: the fast path stays on it.
    _this_cpu: PhantomData<*const ()>,
}

impl<P: SlabPlatform> FastPath<'_, P> {
    /// Runs `f` on this CPU's array, if it has one.
    #[inline(always)]
    pub fn with_array<R>(&self, f: impl FnOnce(&mut ArrayCache) -> R) -> Option<R> {
        self.slot.with_array(f)
    }
}

impl<P: SlabPlatform> Drop for FastPath<'_, P> {
    #[inline(always)]
    fn drop(&mut self) {
        self.slot.exit();
        self.platform.may_interrupt();
    }
}

impl Default for PerCpu {
    fn default() -> Self {
        Self::new()
    }
}
