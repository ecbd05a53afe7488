//! Tables whose length is known only at boot (one entry per possible CPU, or per pair of
//! them), in pages taken from the page allocator for good: Linux's `alloc_percpu` at boot,
//! for structures the kernel keeps for its lifetime. A machine with 4 CPUs pays for 4
//! entries, one with 512 for 512; the ceiling ([`crate::MAX_CPUS`]) costs nothing.

use core::mem::{align_of, size_of};

use super::page_alloc::PAGE_SIZE;

/// A table of `len` entries, `make(i)` each, kept for good; `None` if the page allocator
/// cannot give it.
pub fn leak<T>(len: usize, mut make: impl FnMut(usize) -> T) -> Option<&'static [T]> {
    const { assert!(align_of::<T>() <= PAGE_SIZE as usize) };
    let bytes = size_of::<T>().checked_mul(len)?;
    let pages = bytes.div_ceil(PAGE_SIZE as usize).max(1);
    let base = super::alloc_pages(pages, 1)? as *mut T;
    for i in 0..len {
        // SAFETY: the pages are fresh, never freed, page-aligned (so aligned for T) and
        // hold `len` entries; each is written once, before the slice is made.
        unsafe { base.add(i).write(make(i)) };
    }
    // SAFETY: `len` initialized entries at `base`, which nothing else owns, for good.
    Some(unsafe { core::slice::from_raw_parts(base, len) })
}
