//! A per-CPU array cache: a LIFO of free objects one CPU allocates from and frees to
//! without touching the slab lists, refilled and flushed a batch at a time (SLAB's
//! `struct array_cache`). The most recently freed object, still warm in that CPU's cache,
//! is the next one handed out.

use core::ptr::NonNull;

use super::geometry::ARRAY_CAPACITY;
use super::slabs::Mark;

/// An object in an array, with its mark (found when it came in, so that going out needs
/// no search).
pub type Entry = (NonNull<u8>, Mark);

#[repr(C)]
pub struct ArrayCache {
    avail: usize,
    pub limit: usize,
    pub batch: usize,
    entries: [Option<Entry>; ARRAY_CAPACITY],
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
            entries: [None; ARRAY_CAPACITY],
        }
    }

    pub fn avail(&self) -> usize {
        self.avail
    }

    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.avail >= self.limit
    }

    #[inline(always)]
    pub fn pop(&mut self) -> Option<Entry> {
        let at = self.avail.checked_sub(1)?;
        self.avail = at;
        // Entries at `avail` and above are stale, never read: no need to clear this one.
        self.entries.get(at).copied().flatten()
    }

    /// Adds an object; the caller makes room first (`is_full`).
    #[inline(always)]
    pub fn push(&mut self, entry: Entry) {
        debug_assert!(self.avail < self.limit, "push onto a full array cache");
        if let Some(slot) = self.entries.get_mut(self.avail) {
            *slot = Some(entry);
            self.avail += 1;
        }
    }

    /// Takes the `n` oldest objects out (the coldest), for flushing to the slab lists.
    pub fn take_oldest(&mut self, n: usize, mut each: impl FnMut(NonNull<u8>)) {
        let n = n.min(self.avail);
        for slot in &mut self.entries[..n] {
            if let Some((object, _)) = slot.take() {
                each(object);
            }
        }
        self.entries.copy_within(n..self.avail, 0);
        for slot in &mut self.entries[self.avail - n..self.avail] {
            *slot = None;
        }
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
            a.push((p(i * 8), Mark::of(&marks[i - 1])));
        }
        assert!(a.is_full());
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
        assert_eq!(ArrayCache::new(1000, 500).limit, ARRAY_CAPACITY);
    }
}
