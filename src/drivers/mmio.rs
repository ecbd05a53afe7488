//! A device's register block at a fixed physical address (identity-mapped, Device memory):
//! the one place a driver's address becomes a reference to its tock-registers block (the
//! Raspberry Pi OS tutorials' `MMIODerefWrapper`).

use core::marker::PhantomData;
use core::ops::Deref;

/// The register block `R` at a fixed address; dereferences to `&R`.
pub struct Mmio<R> {
    base: usize,
    registers: PhantomData<*const R>,
}

// SAFETY: a register block is device memory, not Rust data: every access through it is a
// single volatile load or store, which another core's access cannot tear. Which accesses
// two cores may make at once is the device's protocol, kept by each driver's callers (the
// console lock, the GIC's lock and its per-core banked registers).
unsafe impl<R> Send for Mmio<R> {}
// SAFETY: as above.
unsafe impl<R> Sync for Mmio<R> {}

impl<R> Mmio<R> {
    /// # Safety
    /// `base` is the address of a register block laid out as `R`, mapped as Device memory
    /// for as long as this value lives, and no other code touches the registers this value
    /// is used for in a way that conflicts with it (where another driver shares the block,
    /// as arm-gic shares the GICv2's, the caller says why their accesses do not collide).
    pub const unsafe fn new(base: u64) -> Self {
        Self {
            base: base as usize,
            registers: PhantomData,
        }
    }
}

impl<R> Deref for Mmio<R> {
    type Target = R;

    fn deref(&self) -> &R {
        // SAFETY: `new`'s contract: a mapped block laid out as `R`.
        unsafe { &*(self.base as *const R) }
    }
}

impl<R> core::fmt::Debug for Mmio<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Mmio({:#x})", self.base)
    }
}
