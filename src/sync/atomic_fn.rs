//! A function pointer that one CPU stores and another loads and calls: what a cross-call
//! hands its target, without a lock around a single word.

use core::sync::atomic::{AtomicUsize, Ordering};

/// An `Option<fn(u64)>` in one atomic word.
pub struct AtomicFn(AtomicUsize);

impl AtomicFn {
    pub const fn none() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// Stores `f`; a [`AtomicFn::take`] that sees a later Acquire of the same location
    /// sees it.
    pub fn store(&self, f: fn(u64), order: Ordering) {
        self.0.store(f as usize, order);
    }

    /// Takes the function out, leaving none.
    pub fn take(&self, order: Ordering) -> Option<fn(u64)> {
        match self.0.swap(0, order) {
            0 => None,
            // SAFETY: the only non-zero values ever stored here are `fn(u64)` pointers
            // (`store`), and a function pointer is never 0; converting the same bits back
            // gives the same function.
            raw => Some(unsafe { core::mem::transmute::<usize, fn(u64)>(raw) }),
        }
    }
}
