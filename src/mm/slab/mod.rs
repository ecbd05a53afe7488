//! The slab allocator: caches of same-sized objects carved from slabs of pages, with a
//! per-CPU array cache in front of each (the design of Linux 2.6's SLAB), whose creation
//! and destruction are safe against CPU hotplug.
//!
//! - `geometry`: how a cache lays out its slabs.
//! - `slabs`: one slab and a cache's full/partial/free lists.
//! - `array_cache`: the per-CPU LIFO of free objects.
//! - `cache`: one cache: alloc, free, shrink, per-CPU arrays, check.
//! - `irqs`: interrupts masked, as a guard and the token borrowed from it that whatever
//!   must run masked takes.
//! - `percpu`: a CPU's slot in a cache, and the guard of its fast path.
//! - `debug`: `slab_debug`'s red zones and poison, and the report of a corrupted object.
//! - `misuse`: the misuses `slab_debug` is about, done on purpose (shell and tests).
//! - `owned`: an object whose bytes its owner may use through safe slices.
//! - `lifecycle`: the chain of caches and the create/destroy/hotplug protocol (the 2004
//!   races and their fix).
//! - `allocator`: the allocator as a whole: its own caches for descriptors and arrays,
//!   the chain, create and destroy.
//!
//! All of it is portable and runs on the host (unit tests over a page source in host
//! memory, and a loom model of the protocol); the kernel's instance and its hotplug
//! callbacks are in `mm::kernel_slab`.

mod allocator;
mod array_cache;
pub mod cache;
pub mod debug;
mod error;
pub mod geometry;
pub mod irqs;
pub mod lifecycle;
pub mod misuse;
mod owned;
mod percpu;
mod slabs;

#[cfg(test)]
mod host_memory;
#[cfg(all(test, loom))]
mod loom_interrupts;
#[cfg(all(test, loom))]
mod loom_model;
#[cfg(all(test, not(loom)))]
mod tests;

use core::ptr::NonNull;

pub use allocator::{ArrayCount, CacheHandle, SharedCache, Slab, SlabFlags};
pub use cache::{Cache, CacheStats, Checked, Ctor};
pub use debug::Corruption;
pub use error::SlabError;
pub use lifecycle::{HotplugEnv, Race, Violation};
pub use owned::OwnedObject;
pub use slabs::{Census, Inconsistency};

/// What the slab allocator needs of the machine under it.
///
/// # Safety
/// [`SlabPlatform::cpu`] is always below [`SlabPlatform::cpus`]: each cache's per-CPU
/// slots are that many, and the fast path finds the running CPU's without a bounds check.
pub unsafe trait SlabPlatform: Sync {
    /// `pages` contiguous pages aligned to `pages` pages (a power of two), or `None`.
    fn alloc_pages(&self, pages: usize) -> Option<NonNull<u8>>;
    /// # Safety
    /// `base` came from `alloc_pages(pages)` and nothing uses it any more.
    unsafe fn free_pages(&self, base: NonNull<u8>, pages: usize);
    /// Whether `[addr, addr + len)` is memory this allocator may read: a pointer handed to
    /// `free` is checked against it before its slab header is looked at.
    fn owns(&self, addr: usize, len: usize) -> bool;
    /// The CPU running this (stable: nothing moves a running context to another CPU).
    fn cpu(&self) -> usize;
    /// How many CPUs there can be (each cache has a per-CPU slot for each): every
    /// [`SlabPlatform::cpu`] is below it. Fixed for the platform's lifetime.
    fn cpus(&self) -> usize;
    /// What [`SlabPlatform::mask_irqs`] gives: its drop puts back the interrupt mask it
    /// found on this CPU. The allocator holds it only inside its own [`irqs::IrqsMasked`].
    /// (Not part of `dyn SlabPlatform`, which the slab lists take for pages alone.)
    type IrqGuard
    where
        Self: Sized;
    /// Masks interrupts on this CPU until the guard returned is dropped.
    fn mask_irqs(&self) -> Self::IrqGuard
    where
        Self: Sized;
    /// The per-CPU path of `cache` found no array for `cpu` (see `lifecycle::Race`).
    fn array_missing(&self, cache: &str, cpu: usize);
    /// `slab_debug` found a corrupted object (called with no slab lock held).
    fn corrupted(&self, report: &Corruption<'_>);
    /// Marks each point of the fast paths where an interrupt may come: nothing, but for
    /// tests that run an interrupt handler at each one in turn.
    #[inline(always)]
    fn may_interrupt(&self) {}
}
