//! `slab_debug`: red zones and poison. The byte patterns, painting and checking an
//! object's bytes with them, and the report of a corrupted object.
//!
//! A cache with red zones (its geometry has `red_zone > 0`) keeps every object in one of
//! two paintings, as Linux's SLAB_RED_ZONE | SLAB_POISON do:
//! - free (fresh from a new slab, or freed): the object is all `POISON_FREE`; a write to
//!   it while nobody owns it (a use after free) changes that, and is seen when the object
//!   is next handed out or by a check;
//! - handed out: the object is `POISON_INUSE` (or what the constructor made of zeroed
//!   memory), so reading it before writing it shows a pattern, not an old object.
//!
//! In both, the bytes after the object up to the next one are `RED_ZONE`; a write past
//! the object (an overrun) changes them, and is seen when the object is freed or by a
//! check. There is no zone before each object: objects are aligned (up to a page), so one
//! would cost a whole alignment step per object, and a write just before any object but a
//! slab's first already lands in the red zone of the object before it.

use core::fmt;
use core::ptr::{self, NonNull};

use super::geometry::Geometry;

/// What a free object is filled with (Linux's POISON_FREE).
pub const POISON_FREE: u8 = 0x6b;
/// What an object is filled with when handed out (Linux's POISON_INUSE).
pub const POISON_INUSE: u8 = 0x5a;
/// The guard bytes after each object (Linux's SLUB_RED_INACTIVE).
pub const RED_ZONE: u8 = 0xbb;

/// Which painting was found spoiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The guard bytes after the object: something wrote past it.
    RedZone,
    /// The free object's poison: something wrote to it while it was free.
    Poison,
}

/// Bytes of an object's painting that are not what they should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damage {
    pub kind: Kind,
    /// Offset of the first wrong byte from the object's start.
    pub offset: usize,
    /// How many bytes are wrong.
    pub bytes: usize,
    /// The first wrong byte.
    pub found: u8,
    pub expected: u8,
}

/// Where a corruption was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Freeing the object.
    Free,
    /// About to hand the object out.
    Alloc,
    /// A check of the whole cache (`slab check`).
    Check,
}

/// What becomes of an object found corrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Set aside for good: never handed out again (see `Cache`'s quarantine).
    Quarantined,
    /// Still with its user; it is quarantined when freed (its red zone is checked then).
    InUse,
    /// Waiting in a per-CPU array; it is quarantined when next handed out.
    InArray,
}

/// A corrupted object, as the platform is told of it.
#[derive(Clone, Copy, Debug)]
pub struct Corruption<'a> {
    pub cache: &'a str,
    pub object: usize,
    pub damage: Damage,
    pub seen: Seen,
    pub fate: Fate,
}

impl fmt::Display for Corruption<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.damage;
        let (what, meaning) = match d.kind {
            Kind::RedZone => ("red zone", "a write past the object"),
            Kind::Poison => ("poison", "a write to the object while it was free"),
        };
        let seen = match self.seen {
            Seen::Free => "seen at free",
            Seen::Alloc => "seen at allocation",
            Seen::Check => "seen by slab check",
        };
        let fate = match self.fate {
            Fate::Quarantined => "object quarantined",
            Fate::InUse => "object in use: quarantined when freed",
            Fate::InArray => "object in a per-CPU array: quarantined when next handed out",
        };
        write!(
            f,
            "slab_debug: cache '{}': object {:#x}: {what} overwritten, {} byte(s) from +{} \
             (found {:#04x}, expected {:#04x}): {meaning}; {seen}; {fate}",
            self.cache, self.object, d.bytes, d.offset, d.found, d.expected
        )
    }
}

/// Fills the object's own bytes with `byte`.
///
/// # Safety
/// `object` is an object of a live slab laid out by `geometry`, and nothing else uses its
/// bytes now (it is free, or being handed out or taken back).
pub unsafe fn paint(object: NonNull<u8>, geometry: &Geometry, byte: u8) {
    // SAFETY: the object's bytes are inside its slab and ours (the caller's promise).
    unsafe { ptr::write_bytes(object.as_ptr(), byte, geometry.object_size) }
}

/// Fills the red zone after the object.
///
/// # Safety
/// As [`paint`]; the red zone belongs to the allocator.
pub unsafe fn paint_red_zone(object: NonNull<u8>, geometry: &Geometry) {
    // SAFETY: the red zone lies between this object and the next slot, inside the slab.
    unsafe {
        ptr::write_bytes(
            object.as_ptr().add(geometry.object_size),
            RED_ZONE,
            geometry.red_zone,
        )
    }
}

/// The object's red zone, if it is not intact.
///
/// # Safety
/// `object` is an object of a live slab laid out by `geometry` (it may be in use: only the
/// red zone is read).
pub unsafe fn check_red_zone(object: NonNull<u8>, geometry: &Geometry) -> Option<Damage> {
    // SAFETY: the red zone lies after the object, inside the slab (the caller's promise).
    let start = unsafe { object.as_ptr().add(geometry.object_size) };
    // SAFETY: as above, `geometry.red_zone` bytes from `start`.
    unsafe { mismatch(start, geometry.red_zone, RED_ZONE) }.map(|(at, bytes, found)| Damage {
        kind: Kind::RedZone,
        offset: geometry.object_size + at,
        bytes,
        found,
        expected: RED_ZONE,
    })
}

/// The free object's poison, if it is not intact.
///
/// # Safety
/// As [`paint`].
pub unsafe fn check_poison(object: NonNull<u8>, geometry: &Geometry) -> Option<Damage> {
    // SAFETY: the object's bytes, inside its slab (the caller's promise).
    unsafe { mismatch(object.as_ptr(), geometry.object_size, POISON_FREE) }.map(
        |(offset, bytes, found)| Damage {
            kind: Kind::Poison,
            offset,
            bytes,
            found,
            expected: POISON_FREE,
        },
    )
}

/// The first byte of `[start, start + len)` that is not `byte`, how many are not, and the
/// first such byte's value. Reads are volatile: the point is to see stray writes the
/// compiler knows nothing of. A quick pass a word at a time (bytes at the unaligned
/// edges) says whether anything is wrong; only then is every byte looked at.
///
/// # Safety
/// `[start, start + len)` is readable.
unsafe fn mismatch(start: *const u8, len: usize, byte: u8) -> Option<(usize, usize, u8)> {
    let head = start.align_offset(8).min(len);
    let words = (len - head) / 8;
    let tail = head + words * 8;
    let word = u64::from_ne_bytes([byte; 8]);
    // SAFETY: every read is inside the range (the caller's promise); words are read from
    // the first aligned address on, whole inside the range.
    let intact = unsafe {
        let aligned = start.add(head).cast::<u64>();
        (0..head).all(|i| ptr::read_volatile(start.add(i)) == byte)
            && (0..words).all(|i| ptr::read_volatile(aligned.add(i)) == word)
            && (tail..len).all(|i| ptr::read_volatile(start.add(i)) == byte)
    };
    if intact {
        return None;
    }
    let mut first = None;
    let mut bytes = 0;
    for i in 0..len {
        // SAFETY: inside the range.
        let value = unsafe { ptr::read_volatile(start.add(i)) };
        if value != byte {
            first.get_or_insert((i, value));
            bytes += 1;
        }
    }
    first.map(|(at, value)| (at, bytes, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatches_are_found_counted_and_located() {
        let mut buf = [RED_ZONE; 40];
        // SAFETY: the whole buffer is readable.
        let check = |b: &[u8], from: usize| unsafe {
            mismatch(b.as_ptr().add(from), b.len() - from, RED_ZONE)
        };
        assert_eq!(check(&buf, 0), None);
        assert_eq!(check(&buf, 3), None);
        buf[5] = 0x21;
        buf[17] = 0x22;
        buf[39] = 0x23;
        assert_eq!(check(&buf, 0), Some((5, 3, 0x21)));
        assert_eq!(check(&buf, 3), Some((2, 3, 0x21)));
        assert_eq!(check(&buf, 6), Some((11, 2, 0x22)));
    }
}
