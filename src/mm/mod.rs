//! Memory management: physical regions, the page frame allocator, the slab allocator, and
//! kmalloc with the kernel's global allocator on top.

pub mod page_alloc;
pub mod region;
pub mod slab;

#[cfg(target_os = "none")]
pub mod kernel_slab;
#[cfg(target_os = "none")]
pub mod kmalloc;
#[cfg(target_os = "none")]
pub mod peer_heaps;
#[cfg(target_os = "none")]
pub mod table;

#[cfg(target_os = "none")]
pub use kernel::*;

#[cfg(target_os = "none")]
mod kernel {
    use super::page_alloc::{PageAllocator, PageError, PageStats};
    use super::region::PhysRegion;
    use crate::sync::IrqSpinLock;

    /// The kernel's one page allocator.
    static PAGES: IrqSpinLock<PageAllocator> =
        IrqSpinLock::new(crate::lock_class!("zone->lock"), PageAllocator::new());

    /// Gives the allocator the pages of `region` outside `reserved`.
    ///
    /// # Safety
    /// As [`PageAllocator::add_region`]: those pages are unused, mapped RAM.
    pub unsafe fn add_memory(region: PhysRegion, reserved: &[PhysRegion]) -> Result<(), PageError> {
        // SAFETY: forwarded from the caller.
        unsafe { PAGES.lock().add_region(region, reserved) }
    }

    /// `count` contiguous pages aligned to `align_pages` pages. Never inlined: the lock
    /// and the bitmap search are no part of the callers' fast paths (kmalloc's small
    /// sizes), whose registers they would take.
    #[inline(never)]
    pub fn alloc_pages(count: usize, align_pages: usize) -> Option<u64> {
        PAGES.lock().alloc(count, align_pages)
    }

    #[inline(never)]
    pub fn free_pages(addr: u64, count: usize) -> Result<(), PageError> {
        PAGES.lock().free(addr, count)
    }

    pub fn page_stats() -> PageStats {
        PAGES.lock().stats()
    }
}
