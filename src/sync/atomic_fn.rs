//! A function pointer that one CPU stores and another loads and calls: what a cross-call
//! hands its target, without a lock around a single word.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::arch::cpu::IrqContext;

/// What it holds: a function of a word, run with interrupts masked (a cross-call's).
pub type IrqFn = for<'a> fn(u64, IrqContext<'a>);

/// An `Option<IrqFn>` in one atomic word.
pub struct AtomicFn(AtomicUsize);

impl AtomicFn {
    pub const fn none() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// Stores `f`; a [`AtomicFn::take`] that sees a later Acquire of the same location
    /// sees it.
    pub fn store(&self, f: IrqFn, order: Ordering) {
        self.0.store(f as usize, order);
    }

    /// Takes the function out, leaving none.
    pub fn take(&self, order: Ordering) -> Option<IrqFn> {
        match self.0.swap(0, order) {
            0 => None,
            // SAFETY: the only non-zero values ever stored here are `IrqFn` pointers
            // (`store`), and a function pointer is never 0; converting the same bits back
            // gives the same function, of the same type.
            raw => Some(unsafe { core::mem::transmute::<usize, IrqFn>(raw) }),
        }
    }
}
