//! Pages for the slab core's host tests: from the host's allocator, aligned to their size
//! as the buddy allocator's are, each block remembered so that `owns` can answer and a
//! test can count what is still out.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ptr::NonNull;
use std::sync::Mutex;

use super::geometry::PAGE_SIZE;

#[derive(Default)]
pub struct HostMemory {
    blocks: Mutex<Vec<(usize, usize)>>,
}

impl HostMemory {
    fn layout(pages: usize) -> Option<Layout> {
        Layout::from_size_align(pages * PAGE_SIZE, pages * PAGE_SIZE).ok()
    }

    /// `SlabPlatform::alloc_pages`.
    pub fn alloc_pages(&self, pages: usize) -> Option<NonNull<u8>> {
        // SAFETY: a non-zero size.
        let p = NonNull::new(unsafe { alloc_zeroed(Self::layout(pages)?) })?;
        self.blocks
            .lock()
            .unwrap()
            .push((p.as_ptr() as usize, pages));
        Some(p)
    }

    /// `SlabPlatform::free_pages`.
    ///
    /// # Safety
    /// `base` came from `alloc_pages(pages)` and nothing uses it any more.
    pub unsafe fn free_pages(&self, base: NonNull<u8>, pages: usize) {
        let mut blocks = self.blocks.lock().unwrap();
        let at = blocks
            .iter()
            .position(|&b| b == (base.as_ptr() as usize, pages))
            .expect("freeing pages that were handed out");
        blocks.swap_remove(at);
        let layout = Self::layout(pages).expect("the layout they were allocated with");
        // SAFETY: allocated by `alloc_pages` with this layout (the caller's contract).
        unsafe { dealloc(base.as_ptr(), layout) }
    }

    /// `SlabPlatform::owns`.
    pub fn owns(&self, addr: usize, len: usize) -> bool {
        self.blocks
            .lock()
            .unwrap()
            .iter()
            .any(|&(b, p)| addr >= b && addr + len <= b + p * PAGE_SIZE)
    }

    /// Pages handed out and not given back.
    pub fn pages_out(&self) -> usize {
        self.blocks.lock().unwrap().iter().map(|b| b.1).sum()
    }
}

/// The page half of a host test platform's `SlabPlatform`: `alloc_pages`, `free_pages` and
/// `owns`, from the platform's `memory` field, a [`HostMemory`].
macro_rules! pages_from_host_memory {
    () => {
        fn alloc_pages(&self, pages: usize) -> Option<core::ptr::NonNull<u8>> {
            self.memory.alloc_pages(pages)
        }

        unsafe fn free_pages(&self, base: core::ptr::NonNull<u8>, pages: usize) {
            // SAFETY: the caller's contract is the memory's.
            unsafe { self.memory.free_pages(base, pages) }
        }

        fn owns(&self, addr: usize, len: usize) -> bool {
            self.memory.owns(addr, len)
        }
    };
}
pub(super) use pages_from_host_memory;
