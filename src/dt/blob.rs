//! The structural check of a flattened device tree blob, before anything walks it.
//!
//! This is the check `dtoolkit::fdt::Fdt::new` makes, made here instead so that it accepts
//! what dtc, libfdt and Linux accept: dtoolkit also refuses node and property names longer
//! than the specification's 31 characters, which Linux's own trees and QEMU's use
//! (`snps,quirk-frame-length-adjustment`, 34). A blob that passes is exactly one dtoolkit's
//! walk can read without panicking (what `Fdt::new_unchecked` requires): header and block
//! offsets inside the blob and in order, a terminated reservation map, the struct block a
//! balanced tree of tokens ending in FDT_END, every node name and property name
//! NUL-terminated UTF-8 inside its block, every property value inside the struct block.
//! Names are not held to the specification's character set or length: readers of real
//! trees do not, and nothing here depends on them.

use core::fmt;

const FDT_MAGIC: u32 = 0xd00d_feed;
/// The version dtoolkit reads (17), which every version since 16 is compatible with.
const FDT_VERSION: u32 = 17;
const HEADER_SIZE: usize = 40;
const TOKEN_SIZE: usize = 4;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

/// What is wrong with a blob's structure, and where (a byte offset into the blob).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobError {
    pub offset: usize,
    pub kind: BlobErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobErrorKind {
    /// Shorter than a header.
    TooShort,
    BadMagic(u32),
    /// A version this reader cannot read (it reads 16 and 17 and what stays compatible).
    UnsupportedVersion {
        version: u32,
        last_compatible: u32,
    },
    /// The header's total size is not the blob's.
    SizeMismatch {
        claimed: usize,
    },
    /// A header offset or size is out of the blob or out of order.
    Layout(&'static str),
    /// The memory reservation map runs into the struct block without its terminator.
    ReservationsUnterminated,
    /// A token that cannot be there.
    BadToken(u32),
    /// The struct block ends before its tree does.
    Truncated,
    /// A node name without its NUL inside the struct block, or not UTF-8.
    BadNodeName,
    /// A property name offset outside the strings block, without its NUL, or not UTF-8.
    BadPropertyName,
    /// A property value that runs past the struct block.
    PropertyOverrun {
        len: usize,
    },
    /// The root node has a name.
    NamedRoot,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            BlobErrorKind::TooShort => write!(f, "shorter than a header"),
            BlobErrorKind::BadMagic(m) => write!(f, "bad magic {m:#010x}"),
            BlobErrorKind::UnsupportedVersion {
                version,
                last_compatible,
            } => write!(
                f,
                "version {version} (compatible down to {last_compatible}), which cannot be \
                 read as version {FDT_VERSION}"
            ),
            BlobErrorKind::SizeMismatch { claimed } => {
                write!(f, "the header claims {claimed} bytes")
            }
            BlobErrorKind::Layout(what) => write!(f, "header: {what}"),
            BlobErrorKind::ReservationsUnterminated => {
                write!(f, "the memory reservation map has no terminator")
            }
            BlobErrorKind::BadToken(t) => write!(f, "unexpected token {t:#x}"),
            BlobErrorKind::Truncated => write!(f, "the struct block ends inside the tree"),
            BlobErrorKind::BadNodeName => write!(f, "a node name is not terminated UTF-8"),
            BlobErrorKind::BadPropertyName => {
                write!(
                    f,
                    "a property name is outside the strings block or not UTF-8"
                )
            }
            BlobErrorKind::PropertyOverrun { len } => {
                write!(f, "a {len}-byte property value runs past the struct block")
            }
            BlobErrorKind::NamedRoot => write!(f, "the root node has a name"),
        }?;
        write!(f, " at offset {:#x}", self.offset)
    }
}

fn be32(blob: &[u8], offset: usize) -> Option<u32> {
    let bytes = blob.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

fn fail<T>(offset: usize, kind: BlobErrorKind) -> Result<T, BlobError> {
    Err(BlobError { offset, kind })
}

/// Checks `blob` (exactly the header's total size) as described in the module doc.
pub fn check(blob: &[u8]) -> Result<(), BlobError> {
    if blob.len() < HEADER_SIZE {
        return fail(0, BlobErrorKind::TooShort);
    }
    let field = |index: usize| be32(blob, index * 4).map_or(0, |v| v as usize);
    let magic = field(0) as u32;
    if magic != FDT_MAGIC {
        return fail(0, BlobErrorKind::BadMagic(magic));
    }
    let (total, off_struct, off_strings, off_rsvmap) = (field(1), field(2), field(3), field(4));
    let (version, last_compatible) = (field(5) as u32, field(6) as u32);
    let (size_strings, size_struct) = (field(8), field(9));
    if !(last_compatible..=version).contains(&FDT_VERSION) {
        return fail(
            20,
            BlobErrorKind::UnsupportedVersion {
                version,
                last_compatible,
            },
        );
    }
    if total != blob.len() {
        return fail(4, BlobErrorKind::SizeMismatch { claimed: total });
    }
    let layout = |offset, what| fail(offset, BlobErrorKind::Layout(what));
    if off_rsvmap < HEADER_SIZE || !off_rsvmap.is_multiple_of(8) {
        return layout(
            16,
            "the reservation map is not 8-byte aligned after the header",
        );
    }
    if off_rsvmap > off_struct {
        return layout(16, "the reservation map is not before the struct block");
    }
    if !off_struct.is_multiple_of(TOKEN_SIZE) {
        return layout(8, "the struct block is not 4-byte aligned");
    }
    let struct_end = off_struct.saturating_add(size_struct);
    let strings_end = off_strings.saturating_add(size_strings);
    if struct_end > blob.len() || strings_end > blob.len() {
        return layout(8, "a block runs past the end of the blob");
    }
    if struct_end > off_strings {
        return layout(12, "the strings block is not after the struct block");
    }
    check_reservations(blob, off_rsvmap, off_struct)?;
    check_structure(blob, off_struct, struct_end, off_strings, strings_end)
}

fn check_reservations(blob: &[u8], mut offset: usize, end: usize) -> Result<(), BlobError> {
    loop {
        if offset + 16 > end {
            return fail(offset, BlobErrorKind::ReservationsUnterminated);
        }
        if blob[offset..offset + 16].iter().all(|&b| b == 0) {
            return Ok(());
        }
        offset += 16;
    }
}

/// The end of the NUL-terminated UTF-8 string at `start`, within `limit`.
fn string_end(blob: &[u8], start: usize, limit: usize) -> Option<usize> {
    let bytes = blob.get(start..limit)?;
    let len = bytes.iter().position(|&b| b == 0)?;
    core::str::from_utf8(&bytes[..len]).ok()?;
    Some(start + len + 1)
}

fn check_structure(
    blob: &[u8],
    start: usize,
    end: usize,
    strings: usize,
    strings_end: usize,
) -> Result<(), BlobError> {
    let token = |offset: usize| {
        if offset + TOKEN_SIZE > end {
            return fail(offset, BlobErrorKind::Truncated);
        }
        Ok(be32(blob, offset).unwrap_or(0))
    };
    let mut offset = start;
    // The root node first, past any NOPs.
    loop {
        match token(offset)? {
            FDT_NOP => offset += TOKEN_SIZE,
            FDT_BEGIN_NODE => break,
            other => return fail(offset, BlobErrorKind::BadToken(other)),
        }
    }
    let mut depth = 0usize;
    // Properties come first in a node, before its children (dtoolkit relies on it).
    let mut properties_allowed = false;
    loop {
        let at = offset;
        match token(at)? {
            FDT_BEGIN_NODE => {
                let name = at + TOKEN_SIZE;
                let name_end = string_end(blob, name, end).ok_or(BlobError {
                    offset: name,
                    kind: BlobErrorKind::BadNodeName,
                })?;
                if depth == 0 && name_end != name + 1 {
                    return fail(name, BlobErrorKind::NamedRoot);
                }
                depth += 1;
                properties_allowed = true;
                offset = name_end.next_multiple_of(TOKEN_SIZE);
            }
            FDT_END_NODE => {
                depth -= 1;
                properties_allowed = false;
                offset = at + TOKEN_SIZE;
                if depth == 0 {
                    break;
                }
            }
            FDT_PROP if properties_allowed => {
                let len = token(at + 4)? as usize;
                let name_offset = token(at + 8)? as usize;
                let value = at + 12;
                let name = strings.saturating_add(name_offset);
                if name >= strings_end || string_end(blob, name, strings_end).is_none() {
                    return fail(at + 8, BlobErrorKind::BadPropertyName);
                }
                match value.checked_add(len) {
                    Some(value_end) if value_end <= end => {
                        offset = value_end.next_multiple_of(TOKEN_SIZE);
                    }
                    _ => return fail(at + 4, BlobErrorKind::PropertyOverrun { len }),
                }
            }
            FDT_NOP => offset = at + TOKEN_SIZE,
            other => return fail(at, BlobErrorKind::BadToken(other)),
        }
    }
    // After the root: NOPs, then FDT_END.
    loop {
        match token(offset)? {
            FDT_NOP => offset += TOKEN_SIZE,
            FDT_END => return Ok(()),
            other => return fail(offset, BlobErrorKind::BadToken(other)),
        }
    }
}
