//! Interrupts masked on this CPU, as the allocator has its platform mask them: a guard
//! whose drop puts the mask back, and a token borrowed from it that every function which
//! must run masked takes (the slab-list lock, a CPU's array outside its fast path). So the
//! compiler checks that no such function runs without a guard alive, and no exit path
//! can leave interrupts masked. Both are as large as the platform's own guard, and the
//! token has no bytes: nothing costs more than the mask itself.
//!
//! The token cannot outlive its guard:
//!
//! ```compile_fail,E0505
//! use hotslab::mm::slab::SlabPlatform;
//! use hotslab::mm::slab::irqs::{IrqContext, IrqsMasked};
//!
//! fn token_after_unmask<P: SlabPlatform>(platform: &P) {
//!     let masked = IrqsMasked::new(platform);
//!     let irqs: IrqContext<'_> = masked.context();
//!     drop(masked); // error[E0505]: `masked` is still borrowed
//!     let _still_masked = irqs;
//! }
//! ```
//!
//! while the same lines with the guard dropped last compile (so the example above fails
//! for that reason alone):
//!
//! ```
//! use hotslab::mm::slab::SlabPlatform;
//! use hotslab::mm::slab::irqs::{IrqContext, IrqsMasked};
//!
//! fn token_then_unmask<P: SlabPlatform>(platform: &P) {
//!     let masked = IrqsMasked::new(platform);
//!     let irqs: IrqContext<'_> = masked.context();
//!     let _still_masked = irqs;
//!     drop(masked);
//! }
//! ```

use core::marker::PhantomData;

use super::SlabPlatform;

/// Interrupts masked on this CPU until it is dropped, which puts back the mask it found.
#[must_use = "dropping the guard puts the interrupt mask back at once"]
pub struct IrqsMasked<P: SlabPlatform> {
    /// The platform's guard: its drop is the restore.
    _platform: P::IrqGuard,
    /// A mask is this CPU's: the guard stays on the CPU that made it.
    _this_cpu: PhantomData<*const ()>,
}

/// Proof, for as long as it lives, that interrupts are masked on this CPU: borrowed from an
/// [`IrqsMasked`], and taken by whatever must not be interrupted on its own CPU.
#[derive(Clone, Copy)]
pub struct IrqContext<'a> {
    /// Borrowed from a guard.
    _masked: PhantomData<&'a ()>,
    /// As the guard, it stays on its CPU.
    _this_cpu: PhantomData<*const ()>,
}

impl<P: SlabPlatform> IrqsMasked<P> {
    /// Masks interrupts on this CPU (`platform`'s).
    #[inline(always)]
    pub fn new(platform: &P) -> Self {
        Self {
            _platform: platform.mask_irqs(),
            _this_cpu: PhantomData,
        }
    }

    /// The token that interrupts are masked, valid while this guard is.
    #[inline(always)]
    pub fn context(&self) -> IrqContext<'_> {
        IrqContext {
            _masked: PhantomData,
            _this_cpu: PhantomData,
        }
    }
}
