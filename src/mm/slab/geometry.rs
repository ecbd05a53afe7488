//! How a cache lays out its slabs: object stride, pages per slab, objects per slab, where
//! the first object starts, the red zone after each object (`slab_debug`), and the per-CPU
//! array's limit and batch (SLAB's `enable_cpucache` figures).

use super::SlabError;

pub const PAGE_SIZE: usize = 4096;
/// The largest object a cache takes; kmalloc sends bigger requests to the page allocator.
pub const MAX_OBJECT_SIZE: usize = 16 * 1024;
/// The most pages in one slab (a power of two: slabs are aligned to their size).
pub const MAX_SLAB_PAGES: usize = 8;
/// Room in every per-CPU array; a cache's limit is at most this.
pub const ARRAY_CAPACITY: usize = 120;
/// Bytes at the start of a slab before its free-list table (see `slabs.rs`).
pub const SLAB_HEADER_SIZE: usize = 48;
/// Bytes of free-list table per object.
pub const BUFCTL_SIZE: usize = 2;
/// The alignment every object gets at least (a pointer's).
pub const MIN_ALIGN: usize = 8;
/// The fewest guard bytes after an object when a cache has red zones.
pub const RED_ZONE_MIN: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// The size asked for.
    pub object_size: usize,
    /// Distance between objects: the size (plus the red zone) rounded up to the alignment.
    pub stride: usize,
    /// Guard bytes after each object: `stride - object_size` (at least `RED_ZONE_MIN`)
    /// with red zones, else 0. The red zone takes all the padding up to the next object,
    /// so a write just before an object lands in its neighbour's red zone too.
    pub red_zone: usize,
    pub align: usize,
    /// Pages per slab (a power of two).
    pub pages: usize,
    /// Objects per slab.
    pub objects: usize,
    /// Offset of object 0 from the slab's start.
    pub first: usize,
    /// Most free objects a per-CPU array holds before it flushes a batch.
    pub limit: usize,
    /// Objects moved between a per-CPU array and the slab lists at once.
    pub batch: usize,
    /// 2^32 / `stride`, rounded up: an object's index is its offset times this, over 2^32
    /// (exact for every offset in a slab), a multiply where a division costs a call into
    /// the emulator's helpers.
    stride_reciprocal: u64,
}

const fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

impl Geometry {
    /// The layout for objects of `size` bytes aligned to `align` (0: the default).
    pub fn new(size: usize, align: usize) -> Result<Self, SlabError> {
        Self::layout(size, align, false)
    }

    /// The same with a red zone after every object (`slab_debug`).
    pub fn with_red_zone(size: usize, align: usize) -> Result<Self, SlabError> {
        Self::layout(size, align, true)
    }

    fn layout(size: usize, align: usize, red_zone: bool) -> Result<Self, SlabError> {
        if size == 0 || size > MAX_OBJECT_SIZE {
            return Err(SlabError::BadSize(size));
        }
        if align != 0 && (!align.is_power_of_two() || align > PAGE_SIZE) {
            return Err(SlabError::BadAlign(align));
        }
        let align = align.max(MIN_ALIGN);
        let guard = if red_zone { RED_ZONE_MIN } else { 0 };
        let stride = round_up(size + guard, align);
        let mut best = None;
        let mut pages = 1;
        while pages <= MAX_SLAB_PAGES {
            let bytes = pages * PAGE_SIZE;
            let mut objects = (bytes - SLAB_HEADER_SIZE) / (stride + BUFCTL_SIZE);
            while objects > 0
                && round_up(SLAB_HEADER_SIZE + BUFCTL_SIZE * objects, align) + objects * stride
                    > bytes
            {
                objects -= 1;
            }
            if objects > 0 {
                let first = round_up(SLAB_HEADER_SIZE + BUFCTL_SIZE * objects, align);
                // Everything that is not an object: header, table, padding, the tail.
                let waste = bytes - objects * stride;
                best = Some((pages, objects, first));
                // SLAB's rule of thumb: stop growing once at most an eighth is wasted.
                if waste * 8 <= bytes {
                    break;
                }
            }
            pages *= 2;
        }
        let (pages, objects, first) = best.ok_or(SlabError::BadSize(size))?;
        let limit = if stride > PAGE_SIZE {
            8
        } else if stride > 1024 {
            24
        } else if stride > 256 {
            54
        } else {
            ARRAY_CAPACITY
        };
        Ok(Geometry {
            object_size: size,
            stride,
            red_zone: if red_zone { stride - size } else { 0 },
            align,
            pages,
            objects,
            first,
            limit,
            batch: limit.div_ceil(2),
            stride_reciprocal: (1u64 << 32) / stride as u64 + 1,
        })
    }

    pub fn slab_bytes(&self) -> usize {
        self.pages * PAGE_SIZE
    }

    /// The index of the object `offset` bytes after object 0's start, if one starts there.
    /// For `offset = k * stride` the product is `k * 2^32` plus less than `k * stride`,
    /// below 2^32 for any offset within a slab, so the index is exact; any other offset
    /// fails the check by multiplication.
    #[inline(always)]
    pub fn index_at(&self, offset: usize) -> Option<usize> {
        let index = ((offset as u64).wrapping_mul(self.stride_reciprocal) >> 32) as usize;
        (index < self.objects && index * self.stride == offset).then_some(index)
    }

    /// The index of an object known to start `offset` bytes after object 0's.
    #[inline(always)]
    pub fn index_of_object(&self, offset: usize) -> usize {
        ((offset as u64 * self.stride_reciprocal) >> 32) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_objects_fill_one_page() {
        let g = Geometry::new(32, 0).unwrap();
        assert_eq!((g.pages, g.stride, g.align), (1, 32, 8));
        assert!(g.objects >= 110, "{g:?}");
        assert!(g.first + g.objects * g.stride <= PAGE_SIZE);
        assert_eq!((g.limit, g.batch), (120, 60));
    }

    #[test]
    fn object_indices_by_multiplication_are_exact() {
        for (size, align) in [
            (8, 0),
            (24, 0),
            (40, 0),
            (100, 64),
            (192, 0),
            (200, 0),
            (900, 0),
        ]
        .into_iter()
        .chain([(1500, 0), (3000, 0), (4096, 0), (16384, 0)])
        {
            for g in [
                Geometry::new(size, align),
                Geometry::with_red_zone(size, align),
            ] {
                let g = g.unwrap();
                for k in 0..g.objects {
                    assert_eq!(g.index_at(k * g.stride), Some(k), "{g:?}");
                    assert_eq!(g.index_of_object(k * g.stride), k);
                    for off in [1, g.stride / 2, g.stride - 1] {
                        assert_eq!(g.index_at(k * g.stride + off), None, "{g:?} {k} {off}");
                    }
                }
                assert_eq!(g.index_at(g.objects * g.stride), None);
                assert_eq!(g.index_at(usize::MAX - 7), None);
            }
        }
    }

    #[test]
    fn alignment_places_every_object_on_it() {
        let g = Geometry::new(100, 64).unwrap();
        assert_eq!(g.stride, 128);
        assert_eq!(g.first % 64, 0);
    }

    #[test]
    fn big_objects_get_bigger_slabs_and_small_arrays() {
        let g = Geometry::new(4096, 4096).unwrap();
        assert!(g.pages > 1 && g.objects >= 1, "{g:?}");
        assert_eq!(g.first % 4096, 0);
        assert!(g.first + g.objects * g.stride <= g.slab_bytes());
        assert_eq!(g.limit, 24);
        let g = Geometry::new(MAX_OBJECT_SIZE, 0).unwrap();
        assert_eq!(g.pages, MAX_SLAB_PAGES);
        assert_eq!(g.limit, 8);
    }

    #[test]
    fn waste_is_bounded_where_it_can_be() {
        for size in [24, 48, 192, 700, 1000, 1500, 2048, 3000, 4096] {
            let g = Geometry::new(size, 0).unwrap();
            let waste = g.slab_bytes() - g.objects * g.stride;
            assert!(waste * 8 <= g.slab_bytes(), "{size}: {g:?}");
        }
    }

    #[test]
    fn red_zones_are_room_after_every_object() {
        for align in [0, 8, 64, 4096] {
            for size in [1, 8, 24, 64, 100, 192, 1024, 4096, 5000, MAX_OBJECT_SIZE] {
                let plain = Geometry::new(size, align).unwrap();
                let g = Geometry::with_red_zone(size, align).unwrap();
                assert_eq!(plain.red_zone, 0);
                assert!(g.red_zone >= RED_ZONE_MIN, "{size}/{align}: {g:?}");
                assert_eq!(g.stride, g.object_size + g.red_zone);
                assert!(g.stride >= plain.stride);
                assert_eq!(g.first % g.align, 0);
                assert!(g.objects > 0 && g.first + g.objects * g.stride <= g.slab_bytes());
            }
        }
        // Padding that is room enough costs nothing; too little takes the next step.
        let g = Geometry::with_red_zone(56, 64).unwrap();
        assert_eq!((g.stride, g.red_zone), (64, 8));
        let g = Geometry::with_red_zone(60, 64).unwrap();
        assert_eq!((g.stride, g.red_zone), (128, 68));
        let g = Geometry::with_red_zone(64, 0).unwrap();
        assert_eq!((g.stride, g.red_zone), (72, 8));
    }

    #[test]
    fn bad_sizes_and_alignments_are_errors() {
        assert_eq!(Geometry::new(0, 0), Err(SlabError::BadSize(0)));
        assert_eq!(
            Geometry::new(MAX_OBJECT_SIZE + 1, 0),
            Err(SlabError::BadSize(MAX_OBJECT_SIZE + 1))
        );
        assert_eq!(Geometry::new(64, 3), Err(SlabError::BadAlign(3)));
        assert_eq!(Geometry::new(64, 8192), Err(SlabError::BadAlign(8192)));
    }
}
