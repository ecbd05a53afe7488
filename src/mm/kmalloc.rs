//! kmalloc: power-of-two size classes from 32 bytes to 4 KiB on slab caches
//! (`kmalloc-32` ... `kmalloc-4096`, each object aligned to its size), bigger requests
//! straight from the page allocator; and the kernel's `#[global_allocator]` on top, so
//! `alloc::boxed::Box` and `alloc::vec::Vec` work in the kernel.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use super::kernel_slab;
use super::kernel_slab::Cache;
use super::page_alloc::PAGE_SIZE;
use super::slab::SlabFlags;

/// The size classes.
pub const CLASSES: [usize; 8] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

static CACHES: spin::Once<[&'static Cache; CLASSES.len()]> = spin::Once::new();

/// Makes the size-class caches. After `kernel_slab::init`.
pub fn init() {
    CACHES.call_once(|| {
        CLASSES.map(|size| {
            let mut name = arrayvec::ArrayString::<16>::new();
            let _ = core::fmt::write(&mut name, format_args!("kmalloc-{size}"));
            kernel_slab::kmem_cache_create(&name, size, size, SlabFlags::NONE, None)
                .unwrap_or_else(|e| panic!("cannot make {name}: {e}"))
                // kmalloc's classes live as long as the kernel: never destroyed.
                .leak()
        })
    });
}

/// The cache for `layout`, or None if it goes to the page allocator.
#[inline(always)]
fn class(layout: Layout) -> Option<&'static Cache> {
    // The smallest class that holds it: the power of two at or above the size, 32 at least.
    let need = layout.size().max(layout.align()).max(CLASSES[0]);
    let index = (need.next_power_of_two().trailing_zeros() - CLASSES[0].trailing_zeros()) as usize;
    CACHES.get().and_then(|caches| caches.get(index).copied())
}

fn pages_for(layout: Layout) -> (usize, usize) {
    let page = PAGE_SIZE as usize;
    (
        layout.size().div_ceil(page),
        layout.align().div_ceil(page).max(1),
    )
}

#[inline(always)]
pub fn kmalloc(layout: Layout) -> Option<NonNull<u8>> {
    match class(layout) {
        Some(cache) => cache.alloc().ok(),
        None => {
            let (count, align) = pages_for(layout);
            super::alloc_pages(count, align).and_then(|a| NonNull::new(a as *mut u8))
        }
    }
}

/// Gives back what [`kmalloc`] gave for the same `layout`. A pointer that is no such
/// object is a broken promise of `GlobalAlloc`'s caller, so it panics, naming it.
///
/// # Safety
/// `object` came from [`kmalloc`] with this `layout`, and nothing uses or frees it at the
/// same time or after (`GlobalAlloc::dealloc`'s contract).
#[inline(always)]
pub unsafe fn kfree(object: NonNull<u8>, layout: Layout) {
    match class(layout) {
        Some(cache) => {
            // SAFETY: the caller's contract is free's, and `object` is memory the slab
            // allocator handed out (kmalloc gave it).
            if let Err(e) = unsafe { cache.free_handed_out(object) } {
                panic!(
                    "kfree({object:p}, {} bytes) to '{}': {}",
                    layout.size(),
                    cache.name(),
                    kernel_slab::Explained(e)
                );
            }
        }
        None => {
            if let Err(e) = super::free_pages(object.as_ptr() as u64, pages_for(layout).0) {
                panic!("kfree({object:p}, {} bytes): {e:?}", layout.size());
            }
        }
    }
}

struct KernelHeap;

// SAFETY: kmalloc returns memory of at least the layout's size and alignment (size
// classes are aligned to their size; pages to the layout's alignment), owned by the
// caller until kfree; dealloc gets the same layout back, as GlobalAlloc promises.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        kmalloc(layout).map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, object: *mut u8, layout: Layout) {
        if let Some(object) = NonNull::new(object) {
            // SAFETY: GlobalAlloc's contract: the caller got `object` from `alloc` with
            // this layout and gives it up.
            unsafe { kfree(object, layout) };
        }
    }
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap;
