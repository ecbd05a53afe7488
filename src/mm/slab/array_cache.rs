//! A per-CPU array cache: a LIFO of free objects one CPU allocates from and frees to
//! without touching the slab lists, refilled and flushed a batch at a time (SLAB's
//! `struct array_cache`). The most recently freed object, still warm in that CPU's cache,
//! is the next one handed out.

use core::mem::MaybeUninit;
use core::ptr::NonNull;

use super::geometry::ARRAY_CAPACITY;
use super::slabs::Mark;

/// An object in an array, with its mark (found when it came in, so that going out needs
/// no search).
pub type Entry = (NonNull<u8>, Mark);

/// The invariant every method keeps: `avail <= limit <= ARRAY_CAPACITY`, and the first
/// `avail` entries are written. The fast path leans on it to index without bounds checks
/// or an `Option` per slot (each check is a branch, and under TCG a branch ends a
/// translation block).
#[repr(C)]
pub struct ArrayCache {
    avail: usize,
    limit: usize,
    pub batch: usize,
    entries: [MaybeUninit<Entry>; ARRAY_CAPACITY],
}

impl ArrayCache {
    pub const fn new(limit: usize, batch: usize) -> Self {
        Self {
            avail: 0,
            limit: if limit > ARRAY_CAPACITY {
                ARRAY_CAPACITY
            } else {
                limit
            },
            batch,
            entries: [MaybeUninit::uninit(); ARRAY_CAPACITY],
        }
    }

    pub fn avail(&self) -> usize {
        self.avail
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.avail >= self.limit
    }

    /// Takes the newest object out.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<Entry> {
        self.pop_interruptible(|| {})
    }

    /// [`ArrayCache::pop`], running `interrupt_point` between reading the entry and
    /// uncounting it: where an interrupt that used this array too would get the same
    /// object (the fast path's tests interrupt there, `SlabPlatform::may_interrupt`).
    #[inline(always)]
    pub fn pop_interruptible(&mut self, interrupt_point: impl FnOnce()) -> Option<Entry> {
        let at = self.avail.checked_sub(1)?;
        // SAFETY: `at < avail <= ARRAY_CAPACITY`, and entries below `avail` are written
        // (the invariant). Entries at `avail` and above are never read: none is cleared.
        let entry = unsafe { self.entries.get_unchecked(at).assume_init() };
        interrupt_point();
        self.avail = at;
        Some(entry)
    }

    /// Adds an object, unless the array is full: false then.
    #[inline(always)]
    pub fn push(&mut self, entry: Entry) -> bool {
        self.push_interruptible(entry, || {})
    }

    /// [`ArrayCache::push`], running `interrupt_point` between filling the slot and
    /// counting it: where an interrupt that pushed too would overwrite the entry.
    #[inline(always)]
    pub fn push_interruptible(&mut self, entry: Entry, interrupt_point: impl FnOnce()) -> bool {
        if self.is_full() {
            return false;
        }
        // SAFETY: `avail < limit <= ARRAY_CAPACITY` (just checked, and the invariant).
        unsafe { self.entries.get_unchecked_mut(self.avail) }.write(entry);
        interrupt_point();
        self.avail += 1;
        true
    }

    /// Takes the `n` oldest objects out (the coldest), for flushing to the slab lists.
    pub fn take_oldest(&mut self, n: usize, mut each: impl FnMut(NonNull<u8>)) {
        let n = n.min(self.avail);
        for slot in &self.entries[..n] {
            // SAFETY: below `avail`: written (the invariant).
            each(unsafe { slot.assume_init() }.0);
        }
        self.entries.copy_within(n..self.avail, 0);
        self.avail -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: usize) -> NonNull<u8> {
        NonNull::new(n as *mut u8).unwrap()
    }

    #[test]
    fn lifo_and_oldest_first_flush() {
        let marks: Vec<core::sync::atomic::AtomicU16> =
            (0..4).map(|_| Default::default()).collect();
        let mut a = ArrayCache::new(4, 2);
        for i in 1..=4 {
            assert!(a.push((p(i * 8), Mark::of(&marks[i - 1]))));
        }
        assert!(a.is_full());
        assert!(
            !a.push((p(40), Mark::of(&marks[0]))),
            "a full array takes no more"
        );
        let mut flushed = Vec::new();
        a.take_oldest(2, |o| flushed.push(o));
        assert_eq!(flushed, [p(8), p(16)]);
        assert_eq!(a.avail(), 2);
        assert_eq!(a.pop().map(|e| e.0), Some(p(32)));
        assert_eq!(a.pop().map(|e| e.0), Some(p(24)));
        assert!(a.pop().is_none());
    }

    #[test]
    fn the_limit_never_exceeds_the_room() {
        assert_eq!(ArrayCache::new(1000, 500).limit(), ARRAY_CAPACITY);
    }
}
