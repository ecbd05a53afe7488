//! The allocators a Rust kernel would otherwise pick, for `bench` to measure the slab
//! against: `linked_list_allocator` (first fit over a sorted free list) and
//! `buddy_system_allocator` (power-of-two buddies). Each is one heap behind one
//! `spin::Mutex`, as a kernel shares such a heap between its CPUs; it is opened on pages
//! from the page allocator for a run and closed again, which gives them back.

use core::alloc::Layout;
use core::fmt;
use core::ptr::NonNull;

use super::page_alloc::PAGE_SIZE;

/// The linked-list heap.
pub static LINKED_LIST: PeerHeap =
    PeerHeap::new(Kind::LinkedList(linked_list_allocator::Heap::empty()));
/// The buddy heap.
pub static BUDDY: PeerHeap = PeerHeap::new(Kind::Buddy(buddy_system_allocator::Heap::empty()));

// Each lives in its own static and is never moved: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Kind {
    LinkedList(linked_list_allocator::Heap),
    Buddy(buddy_system_allocator::Heap<32>),
}

struct Inner {
    heap: Kind,
    /// The pages under the heap while it is open: (base, count).
    pages: Option<(u64, usize)>,
}

pub struct PeerHeap(spin::Mutex<Inner>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerHeapError {
    AlreadyOpen,
    NotOpen,
    NoMemory(usize),
    /// Closing with objects still allocated: the heap stays open.
    InUse(usize),
}

impl fmt::Display for PeerHeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyOpen => write!(f, "the heap is open already"),
            Self::NotOpen => write!(f, "the heap is not open"),
            Self::NoMemory(pages) => write!(f, "no {pages} free pages for the heap"),
            Self::InUse(bytes) => write!(f, "{bytes} bytes still allocated"),
        }
    }
}

impl PeerHeap {
    const fn new(heap: Kind) -> Self {
        Self(spin::Mutex::new(Inner { heap, pages: None }))
    }

    pub fn name(&self) -> &'static str {
        match self.0.lock().heap {
            Kind::LinkedList(_) => "linked_list_allocator",
            Kind::Buddy(_) => "buddy_system_allocator",
        }
    }

    /// Puts the heap on `pages` fresh pages.
    pub fn open(&self, pages: usize) -> Result<(), PeerHeapError> {
        let mut inner = self.0.lock();
        if inner.pages.is_some() {
            return Err(PeerHeapError::AlreadyOpen);
        }
        let base = super::alloc_pages(pages, 1).ok_or(PeerHeapError::NoMemory(pages))?;
        let bytes = pages * PAGE_SIZE as usize;
        match &mut inner.heap {
            Kind::LinkedList(heap) => {
                *heap = linked_list_allocator::Heap::empty();
                // SAFETY: the pages are this heap's alone, mapped RAM (identity-mapped),
                // until `close` gives them back with the heap emptied first.
                unsafe { heap.init(base as *mut u8, bytes) };
            }
            Kind::Buddy(heap) => {
                *heap = buddy_system_allocator::Heap::empty();
                // SAFETY: as above.
                unsafe { heap.init(base as usize, bytes) };
            }
        }
        inner.pages = Some((base, pages));
        Ok(())
    }

    /// Gives the pages back; refused while anything is allocated.
    pub fn close(&self) -> Result<(), PeerHeapError> {
        let mut inner = self.0.lock();
        let (base, pages) = inner.pages.ok_or(PeerHeapError::NotOpen)?;
        let used = match &inner.heap {
            Kind::LinkedList(heap) => heap.used(),
            Kind::Buddy(heap) => heap.stats_alloc_actual(),
        };
        if used != 0 {
            return Err(PeerHeapError::InUse(used));
        }
        let emptied = match &inner.heap {
            Kind::LinkedList(_) => Kind::LinkedList(linked_list_allocator::Heap::empty()),
            Kind::Buddy(_) => Kind::Buddy(buddy_system_allocator::Heap::empty()),
        };
        inner.heap = emptied;
        inner.pages = None;
        if let Err(e) = super::free_pages(base, pages) {
            panic!("peer heap: returning {pages} page(s) at {base:#x}: {e:?}");
        }
        Ok(())
    }

    /// An object, or `None` when the heap is full or not open.
    pub fn alloc(&'static self, layout: Layout) -> Option<PeerObject> {
        let object = match &mut self.0.lock().heap {
            Kind::LinkedList(heap) => heap.allocate_first_fit(layout).ok(),
            Kind::Buddy(heap) => heap.alloc(layout).ok(),
        }?;
        Some(PeerObject {
            heap: self,
            object,
            layout,
        })
    }
}

/// An object of a peer heap: freeing it is the only thing to do with it, and it goes back
/// to the heap it came from. While one exists its heap cannot close.
pub struct PeerObject {
    heap: &'static PeerHeap,
    object: NonNull<u8>,
    layout: Layout,
}

impl PeerObject {
    pub fn free(self) {
        match &mut self.heap.0.lock().heap {
            // SAFETY: the object came from this heap's alloc with this layout (only alloc
            // makes a PeerObject), the heap has not closed since (close refuses while any
            // object is allocated), and `self` is consumed: it is freed once.
            Kind::LinkedList(heap) => unsafe { heap.deallocate(self.object, self.layout) },
            // SAFETY: as above.
            Kind::Buddy(heap) => unsafe { heap.dealloc(self.object, self.layout) },
        }
    }
}
