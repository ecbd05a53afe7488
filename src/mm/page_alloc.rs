//! The page frame allocator: a bitmap per memory range, one bit per 4 KiB page.
//!
//! Every range the device tree gives is added minus what must not be handed out (the kernel
//! image, the device tree blob, reserved ranges); the bitmap lives in the first free pages
//! of the range it describes. Allocation is first-fit from a rotating hint, for runs of
//! contiguous pages (slabs take one or a few). Freeing checks every page of the run: a
//! double free or a foreign address is an error value and changes nothing.
//!
//! The allocator is a plain value; the kernel keeps its one instance behind a lock.

use core::fmt;

use arrayvec::ArrayVec;

use super::region::PhysRegion;

pub const PAGE_SIZE: u64 = 4096;
const MAX_ZONES: usize = 8;
const BITS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageError {
    /// `add_region`: no zone slot left.
    TooManyRegions,
    /// `add_region`: the region is too small to hold its own bitmap and a page.
    RegionTooSmall(PhysRegion),
    /// `free`: the address is not page-aligned.
    Unaligned(u64),
    /// `free`: the run is not inside memory this allocator manages.
    NotManaged(u64),
    /// `free`: a page of the run is already free (double free); nothing was changed.
    AlreadyFree(u64),
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::TooManyRegions => write!(f, "more than {MAX_ZONES} memory ranges"),
            PageError::RegionTooSmall(r) => write!(f, "memory range {r} is too small to manage"),
            PageError::Unaligned(a) => write!(f, "free of {a:#x}: not page-aligned"),
            PageError::NotManaged(a) => write!(f, "free of {a:#x}: not managed memory"),
            PageError::AlreadyFree(a) => {
                write!(f, "free of {a:#x}: page already free (double free)")
            }
        }
    }
}

struct Zone {
    base: u64,
    pages: usize,
    /// Bit set: page in use (or never available).
    bitmap: &'static mut [u64],
    /// Where the next search starts.
    hint: usize,
}

impl Zone {
    fn used(&self, page: usize) -> bool {
        self.bitmap[page / BITS] & (1 << (page % BITS)) != 0
    }

    /// Marks pages `first..first + count` (which may run into the last word's spare bits).
    fn set_range(&mut self, first: usize, count: usize, used: bool) {
        let end = first + count;
        let mut page = first;
        while page < end {
            let bit = page % BITS;
            let run = (BITS - bit).min(end - page);
            let mask = if run == BITS {
                !0
            } else {
                ((1 << run) - 1) << bit
            };
            let word = &mut self.bitmap[page / BITS];
            if used {
                *word |= mask;
            } else {
                *word &= !mask;
            }
            page += run;
        }
    }

    fn region(&self) -> PhysRegion {
        PhysRegion::new(self.base, self.pages as u64 * PAGE_SIZE)
    }
}

/// The physical page allocator.
pub struct PageAllocator {
    zones: ArrayVec<Zone, MAX_ZONES>,
    total_pages: usize,
    free_pages: usize,
    reserved_pages: usize,
}

/// A snapshot of the allocator's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageStats {
    /// Pages in managed ranges, reserved ones included.
    pub total: usize,
    pub free: usize,
    /// Pages never handed out: reservations, the image, the DTB and the bitmaps.
    pub reserved: usize,
}

impl PageStats {
    /// Pages handed out and not yet freed.
    pub fn in_use(&self) -> usize {
        self.total - self.free - self.reserved
    }
}

impl Default for PageAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl PageAllocator {
    pub const fn new() -> Self {
        Self {
            zones: ArrayVec::new_const(),
            total_pages: 0,
            free_pages: 0,
            reserved_pages: 0,
        }
    }

    /// Takes over the pages of `region` that `reserved` does not touch. The bitmap is put
    /// in the first free pages of the region.
    ///
    /// # Safety
    /// Every page of `region` outside `reserved` must be unused RAM, readable and writable
    /// at its physical address, and given to no other owner for as long as this allocator
    /// lives.
    pub unsafe fn add_region(
        &mut self,
        region: PhysRegion,
        reserved: &[PhysRegion],
    ) -> Result<(), PageError> {
        if self.zones.is_full() {
            return Err(PageError::TooManyRegions);
        }
        let base = region.base.next_multiple_of(PAGE_SIZE);
        let end = region.end() & !(PAGE_SIZE - 1);
        if end <= base {
            return Err(PageError::RegionTooSmall(region));
        }
        let pages = ((end - base) / PAGE_SIZE) as usize;
        // Each reservation as the run of this region's pages it touches, if any.
        let reserved_runs = reserved.iter().filter_map(|r| {
            let (from, to) = (r.base.max(base), r.end().min(end));
            (r.size > 0 && from < to).then(|| {
                let first = ((from - base) / PAGE_SIZE) as usize;
                (first, (to - base).div_ceil(PAGE_SIZE) as usize - first)
            })
        });
        let words = pages.div_ceil(BITS);
        let bitmap_pages = (words * 8).div_ceil(PAGE_SIZE as usize);
        // The first run of free pages large enough for the bitmap: move past every
        // reservation in the way until none is.
        let mut bitmap_at = 0;
        while let Some((first, count)) = reserved_runs
            .clone()
            .find(|&(first, count)| first < bitmap_at + bitmap_pages && bitmap_at < first + count)
        {
            bitmap_at = first + count;
        }
        if bitmap_at + bitmap_pages > pages {
            return Err(PageError::RegionTooSmall(region));
        }
        let bitmap_addr = base + bitmap_at as u64 * PAGE_SIZE;
        // SAFETY: the caller hands us every unreserved page of the region; these pages are
        // unreserved (checked above), aligned, and used for nothing else from now on.
        let bitmap = unsafe { core::slice::from_raw_parts_mut(bitmap_addr as *mut u64, words) };
        bitmap.fill(0);
        let mut zone = Zone {
            base,
            pages,
            bitmap,
            hint: 0,
        };
        // Whole words at a time: a page at a time took milliseconds of boot under emulation.
        zone.set_range(pages, words * BITS - pages, true);
        zone.set_range(bitmap_at, bitmap_pages, true);
        for (first, count) in reserved_runs {
            zone.set_range(first, count, true);
        }
        let used: usize = zone.bitmap.iter().map(|w| w.count_ones() as usize).sum();
        let free = pages - (used - (words * BITS - pages));
        self.total_pages += pages;
        self.free_pages += free;
        self.reserved_pages += pages - free;
        self.zones.push(zone);
        Ok(())
    }

    /// `count` contiguous pages whose address is a multiple of `align_pages` pages, or
    /// `None` when no such run is free.
    pub fn alloc(&mut self, count: usize, align_pages: usize) -> Option<u64> {
        if count == 0 || count > self.free_pages {
            return None;
        }
        let align = align_pages.max(1);
        for zone in &mut self.zones {
            // Alignment is of the physical address, so align within the zone's base.
            let offset = ((zone.base / PAGE_SIZE) as usize) % align;
            let shift = (align - offset) % align;
            let Some(found) = find_aligned(zone, count, align, shift) else {
                continue;
            };
            zone.set_range(found, count, true);
            zone.hint = found + count;
            self.free_pages -= count;
            return Some(zone.base + found as u64 * PAGE_SIZE);
        }
        None
    }

    /// Gives back `count` pages at `addr`. Checks the whole run before changing anything.
    pub fn free(&mut self, addr: u64, count: usize) -> Result<(), PageError> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(PageError::Unaligned(addr));
        }
        let run = PhysRegion::new(addr, count as u64 * PAGE_SIZE);
        let zone = self
            .zones
            .iter_mut()
            .find(|z| z.region().contains(addr) && run.end() <= z.region().end())
            .ok_or(PageError::NotManaged(addr))?;
        let first = ((addr - zone.base) / PAGE_SIZE) as usize;
        if let Some(p) = (first..first + count).find(|&p| !zone.used(p)) {
            return Err(PageError::AlreadyFree(zone.base + p as u64 * PAGE_SIZE));
        }
        zone.set_range(first, count, false);
        self.free_pages += count;
        Ok(())
    }

    pub fn stats(&self) -> PageStats {
        PageStats {
            total: self.total_pages,
            free: self.free_pages,
            reserved: self.reserved_pages,
        }
    }

    /// The managed ranges.
    pub fn regions(&self) -> impl Iterator<Item = PhysRegion> + '_ {
        self.zones.iter().map(Zone::region)
    }
}

/// The first run of `count` free pages at an index `i` with `(i - shift) % align == 0`.
fn find_aligned(zone: &Zone, count: usize, align: usize, shift: usize) -> Option<usize> {
    let mut start = shift;
    let mut passes = 0;
    // Start at the hint, rounded to the alignment, then wrap around once.
    if zone.hint > shift {
        start = shift + (zone.hint - shift).div_ceil(align) * align;
    }
    while passes < 2 {
        while start + count <= zone.pages {
            match (start..start + count).rev().find(|&p| zone.used(p)) {
                None => return Some(start),
                Some(used) => start = shift + (used + 1 - shift).div_ceil(align) * align,
            }
        }
        start = shift;
        passes += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page-aligned arena leaked for the test's lifetime, standing in for RAM.
    fn arena(pages: usize) -> PhysRegion {
        let layout = std::alloc::Layout::from_size_align(pages * 4096, 4096).unwrap();
        // SAFETY: a non-zero size layout.
        let ptr = unsafe { std::alloc::alloc(layout) };
        assert!(!ptr.is_null());
        PhysRegion::new(ptr as u64, (pages * 4096) as u64)
    }

    fn allocator(pages: usize, reserved: &[PhysRegion]) -> (PageAllocator, PhysRegion) {
        let ram = arena(pages);
        let mut a = PageAllocator::new();
        // SAFETY: the arena is ours alone and leaked.
        unsafe { a.add_region(ram, reserved).unwrap() };
        (a, ram)
    }

    #[test]
    fn counts_exclude_bitmap_and_reservations() {
        let ram = arena(1024);
        let reserved = [PhysRegion::new(ram.base + 10 * 4096, 3 * 4096 + 1)];
        let mut a = PageAllocator::new();
        // SAFETY: the arena is unused host memory this test owns.
        unsafe { a.add_region(ram, &reserved).unwrap() };
        let s = a.stats();
        assert_eq!(s.total, 1024);
        // One bitmap page, four reserved pages (the +1 byte spills into a fourth).
        assert_eq!(s.free, 1024 - 1 - 4);
        assert_eq!(s.reserved, 5);
        // Nothing handed out lies in the reservation.
        let mut got = Vec::new();
        while let Some(p) = a.alloc(1, 1) {
            assert!(
                !reserved[0].page_aligned_outward(4096).contains(p),
                "{p:#x}"
            );
            got.push(p);
        }
        assert_eq!(got.len(), 1019);
        for p in got {
            a.free(p, 1).unwrap();
        }
        assert_eq!(a.stats().free, 1019);
    }

    #[test]
    fn contiguous_and_aligned_runs() {
        let (mut a, ram) = allocator(256, &[]);
        let one = a.alloc(1, 1).unwrap();
        let run = a.alloc(8, 8).unwrap();
        assert_eq!(run % (8 * 4096), 0);
        assert!(run >= ram.base && run + 8 * 4096 <= ram.end());
        assert!(!PhysRegion::new(run, 8 * 4096).contains(one));
        a.free(run, 8).unwrap();
        a.free(one, 1).unwrap();
    }

    #[test]
    fn double_free_and_foreign_addresses_change_nothing() {
        let (mut a, ram) = allocator(64, &[]);
        let p = a.alloc(2, 1).unwrap();
        let before = a.stats();
        assert_eq!(a.free(p + 1, 1), Err(PageError::Unaligned(p + 1)));
        assert_eq!(
            a.free(ram.end() + 4096, 1),
            Err(PageError::NotManaged(ram.end() + 4096))
        );
        a.free(p, 1).unwrap();
        // The run [p, p+2) now has a free first page: the whole free is refused.
        assert_eq!(a.free(p, 2), Err(PageError::AlreadyFree(p)));
        assert_eq!(a.stats().free, before.free + 1);
        a.free(p + 4096, 1).unwrap();
        assert_eq!(a.free(p + 4096, 1), Err(PageError::AlreadyFree(p + 4096)));
    }

    #[test]
    fn exhaustion_and_wraparound() {
        let (mut a, _) = allocator(32, &[]);
        let free = a.stats().free;
        let pages: Vec<_> = (0..free).map(|_| a.alloc(1, 1).unwrap()).collect();
        assert_eq!(a.alloc(1, 1), None);
        a.free(pages[3], 1).unwrap();
        // The hint is past the end: the search wraps to find the freed page.
        assert_eq!(a.alloc(1, 1), Some(pages[3]));
        assert_eq!(a.alloc(0, 1), None);
    }

    #[test]
    fn region_too_small_or_fully_reserved() {
        let ram = arena(4);
        let mut a = PageAllocator::new();
        let tiny = PhysRegion::new(ram.base + 1, 4096);
        assert_eq!(
            // SAFETY: the arena is unused host memory this test owns.
            unsafe { a.add_region(tiny, &[]) },
            Err(PageError::RegionTooSmall(tiny))
        );
        assert_eq!(
            // SAFETY: the arena is unused host memory this test owns.
            unsafe { a.add_region(ram, &[ram]) },
            Err(PageError::RegionTooSmall(ram))
        );
    }

    #[test]
    fn bitmap_goes_past_reservations_and_runs_cross_words() {
        // 40000 pages need a 2-page bitmap (the last word half spare). Pages 0-1 and 3 are
        // reserved, so the first free two-page run is 4-5; 60-139 crosses two words.
        let ram = arena(40000);
        let page = |n: u64| ram.base + n * 4096;
        let reserved = [
            PhysRegion::new(page(0), 2 * 4096),
            PhysRegion::new(page(3), 4096),
            PhysRegion::new(page(60), 80 * 4096),
        ];
        let mut a = PageAllocator::new();
        // SAFETY: the arena is unused host memory this test owns.
        unsafe { a.add_region(ram, &reserved).unwrap() };
        let bitmap_pages = (40000usize.div_ceil(64) * 8).div_ceil(4096) as u64;
        assert_eq!(bitmap_pages, 2);
        let s = a.stats();
        assert_eq!(s.reserved as u64, 2 + 1 + 80 + bitmap_pages);
        assert_eq!(s.free + s.reserved, 40000);
        let mut got = std::collections::BTreeSet::new();
        while let Some(p) = a.alloc(1, 1) {
            got.insert((p - ram.base) / 4096);
        }
        assert_eq!(got.len(), s.free);
        for taken in [0, 1, 3, 4, 5].into_iter().chain(60..140) {
            assert!(!got.contains(&taken), "page {taken} handed out");
        }
        assert!(got.contains(&2) && got.contains(&6) && got.contains(&140));
        assert!(got.contains(&39999) && !got.contains(&40000));
    }
}
