//! What can go wrong with a cache, as values with a message a user can act on.

use core::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlabError {
    /// Object size 0 or beyond `MAX_OBJECT_SIZE`.
    BadSize(usize),
    /// Alignment not a power of two, or beyond a page.
    BadAlign(usize),
    /// Flags this allocator does not know.
    BadFlags(u32),
    /// A cache name must be 1 to `NAME_MAX` characters of letters, digits, `_`, `-`, `.`.
    BadName,
    /// A cache of that name exists already.
    Duplicate,
    /// No cache of that name.
    NoSuchCache,
    /// The chain holds as many caches as it can.
    TooManyCaches,
    /// The page allocator has nothing left.
    OutOfMemory,
    /// Destroy refused: this many objects are still allocated.
    InUse(usize),
    /// Destroy refused: this many `SharedCache`s of it are still held.
    Shared(usize),
    /// A pointer that is not an object of this cache.
    NotAnObject(usize),
    /// An object freed that is already free.
    DoubleFree(usize),
    /// A pointer into a slab of another cache (`Slab::owner_name` names that cache). Kept
    /// to one address so the error stays two words: every alloc and free returns it.
    WrongCache(usize),
}

// Two words: alloc and free return it in registers. A bigger error put a copy through
// memory on both fast paths (a quarter of an alloc+free pair's time under QEMU).
const _: () = assert!(size_of::<Result<core::ptr::NonNull<u8>, SlabError>>() <= 16);

impl fmt::Display for SlabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlabError::BadSize(s) => write!(
                f,
                "object size {s} is not in 1..={}",
                super::geometry::MAX_OBJECT_SIZE
            ),
            SlabError::BadAlign(a) => {
                write!(f, "alignment {a} is not a power of two up to 4096")
            }
            SlabError::BadFlags(b) => write!(f, "unknown flags {b:#x}"),
            SlabError::BadName => write!(
                f,
                "a cache name is 1 to {} letters, digits, '_', '-' or '.'",
                super::cache::NAME_MAX
            ),
            SlabError::Duplicate => write!(f, "a cache of that name exists"),
            SlabError::NoSuchCache => write!(f, "no cache of that name"),
            SlabError::TooManyCaches => write!(f, "the cache chain is full"),
            SlabError::OutOfMemory => write!(f, "out of memory"),
            SlabError::InUse(n) => write!(f, "{n} object(s) still allocated"),
            SlabError::Shared(n) => write!(f, "{n} shared reference(s) to it still held"),
            SlabError::NotAnObject(a) => write!(f, "{a:#x} is not an object of this cache"),
            SlabError::DoubleFree(a) => write!(f, "{a:#x} is already free (double free)"),
            SlabError::WrongCache(a) => {
                write!(f, "{a:#x} is in a slab of another cache (wrong cache)")
            }
        }
    }
}
