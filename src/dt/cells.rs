//! Cell arithmetic of the device tree: decoding `reg` entries and translating a device's
//! bus address through every parent's `ranges` into a CPU physical address.
//!
//! Nothing here trusts the blob: a cell count out of range, a property whose length is not
//! a whole number of entries, or an address no `ranges` entry covers is an error value.

use core::fmt;

/// `#address-cells` and `#size-cells` of a bus: how its children write `reg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressSpace {
    pub address_cells: u32,
    pub size_cells: u32,
}

impl AddressSpace {
    /// What the specification says a node without the properties uses.
    pub const DEFAULT: AddressSpace = AddressSpace {
        address_cells: 2,
        size_cells: 1,
    };
}

/// How a bus maps its children's addresses into its own parent's address space.
#[derive(Clone, Copy, Debug)]
pub enum Ranges<'dtb> {
    /// No `ranges` property: the children's addresses are not CPU-visible.
    Absent,
    /// An empty `ranges`: the children's addresses are the parent's.
    Identity,
    /// `(child address, parent address, size)` triples, still encoded.
    Map(&'dtb [u8]),
}

/// One level of the path from the root to a device: the bus node and how it translates.
#[derive(Clone, Copy, Debug)]
pub struct Bus<'dtb> {
    pub name: &'dtb str,
    /// The bus's own `#address-cells`/`#size-cells`, which its children use.
    pub space: AddressSpace,
    /// The `#address-cells` of the bus's parent, in which `ranges` writes parent addresses.
    pub parent_address_cells: u32,
    pub ranges: Ranges<'dtb>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellError {
    /// A cell count above 2 (we handle 32- and 64-bit quantities only).
    UnsupportedCellCount(u32),
    /// The property's length is not a whole number of entries.
    Length { len: usize, entry: usize },
    /// A bus on the path has no `ranges`, so the device is not reachable from the CPU.
    NoRanges,
    /// No `ranges` entry covers the address.
    Unmapped(u64),
    /// Translation overflowed the 64-bit address space.
    Overflow,
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CellError::UnsupportedCellCount(n) => write!(f, "{n} cells per value (at most 2)"),
            CellError::Length { len, entry } => {
                write!(f, "{len} bytes is not a multiple of the {entry}-byte entry")
            }
            CellError::NoRanges => write!(f, "a parent bus has no 'ranges'"),
            CellError::Unmapped(a) => write!(f, "no 'ranges' entry covers {a:#x}"),
            CellError::Overflow => write!(f, "address overflows 64 bits"),
        }
    }
}

/// Reads a `cells`-wide big-endian value from the front of `bytes`.
pub fn take_cells(bytes: &[u8], cells: u32) -> Result<(u64, &[u8]), CellError> {
    if cells > 2 {
        return Err(CellError::UnsupportedCellCount(cells));
    }
    let len = cells as usize * 4;
    if bytes.len() < len {
        return Err(CellError::Length {
            len: bytes.len(),
            entry: len,
        });
    }
    let (head, rest) = bytes.split_at(len);
    let value = head.chunks_exact(4).fold(0u64, |acc, c| {
        (acc << 32) | u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    });
    Ok((value, rest))
}

/// Reads a single u32 property value.
pub fn as_u32(bytes: &[u8]) -> Option<u32> {
    let array: [u8; 4] = bytes.try_into().ok()?;
    Some(u32::from_be_bytes(array))
}

/// Reads a property of one or two cells as a u64.
pub fn as_u64(bytes: &[u8]) -> Option<u64> {
    match bytes.len() {
        4 => as_u32(bytes).map(u64::from),
        8 => Some(u64::from_be_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

/// Iterates over the `(address, size)` entries of a `reg` property.
pub fn reg_entries(
    value: &[u8],
    space: AddressSpace,
) -> Result<impl Iterator<Item = (u64, u64)> + '_, CellError> {
    for cells in [space.address_cells, space.size_cells] {
        if cells > 2 {
            return Err(CellError::UnsupportedCellCount(cells));
        }
    }
    let entry = (space.address_cells + space.size_cells) as usize * 4;
    if entry == 0 || !value.len().is_multiple_of(entry) {
        return Err(CellError::Length {
            len: value.len(),
            entry,
        });
    }
    Ok(value.chunks_exact(entry).map(move |chunk| {
        // The lengths were checked above, so these cannot fail.
        let (addr, rest) = take_cells(chunk, space.address_cells).unwrap_or((0, &[]));
        let (size, _) = take_cells(rest, space.size_cells).unwrap_or((0, &[]));
        (addr, size)
    }))
}

/// Translates `addr`, an address on the bus at the end of `path`, into a CPU physical
/// address. `path` runs from the root (whose address space is the CPU's) to the device's
/// parent.
pub fn translate(mut addr: u64, path: &[Bus<'_>]) -> Result<u64, CellError> {
    // The root's children already speak CPU addresses; every bus below it maps its children.
    for bus in path.iter().skip(1).rev() {
        addr = match bus.ranges {
            Ranges::Absent => return Err(CellError::NoRanges),
            Ranges::Identity => addr,
            Ranges::Map(bytes) => map_through(addr, bytes, bus)?,
        };
    }
    Ok(addr)
}

fn map_through(addr: u64, bytes: &[u8], bus: &Bus<'_>) -> Result<u64, CellError> {
    let child_cells = bus.space.address_cells;
    let parent_cells = bus.parent_address_cells;
    let size_cells = bus.space.size_cells;
    // Checked before they are added: the counts come from the blob.
    for cells in [child_cells, parent_cells, size_cells] {
        if cells > 2 {
            return Err(CellError::UnsupportedCellCount(cells));
        }
    }
    let entry = (child_cells + parent_cells + size_cells) as usize * 4;
    if entry == 0 || !bytes.len().is_multiple_of(entry) {
        return Err(CellError::Length {
            len: bytes.len(),
            entry,
        });
    }
    for chunk in bytes.chunks_exact(entry) {
        let (child, rest) = take_cells(chunk, child_cells)?;
        let (parent, rest) = take_cells(rest, parent_cells)?;
        let (size, _) = take_cells(rest, size_cells)?;
        if addr >= child && addr - child < size {
            return parent.checked_add(addr - child).ok_or(CellError::Overflow);
        }
    }
    Err(CellError::Unmapped(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(cells: &[u32]) -> Vec<u8> {
        cells.iter().flat_map(|c| c.to_be_bytes()).collect()
    }

    const ROOT: Bus<'static> = Bus {
        name: "",
        space: AddressSpace {
            address_cells: 2,
            size_cells: 1,
        },
        parent_address_cells: 2,
        ranges: Ranges::Identity,
    };

    #[test]
    fn reg_with_two_address_cells() {
        let v = be(&[0x0, 0x4000_0000, 0x2000_0000, 0x1, 0x0, 0x1000]);
        let got: Vec<_> = reg_entries(&v, ROOT.space).unwrap().collect();
        assert_eq!(
            got,
            vec![(0x4000_0000, 0x2000_0000), (0x1_0000_0000, 0x1000)]
        );
    }

    #[test]
    fn reg_length_must_be_whole_entries() {
        let v = be(&[0, 1, 2, 3]);
        assert!(matches!(
            reg_entries(&v, ROOT.space).err(),
            Some(CellError::Length { len: 16, entry: 12 })
        ));
        let space = AddressSpace {
            address_cells: 3,
            size_cells: 1,
        };
        assert_eq!(
            reg_entries(&v, space).err(),
            Some(CellError::UnsupportedCellCount(3))
        );
    }

    #[test]
    fn translates_through_bcm2711_soc_ranges() {
        // /soc of the Raspberry Pi 4: #address-cells = 1, #size-cells = 1 below a root with
        // two address cells; bus 0x7e000000 is CPU 0xfe000000, 0x40000000 is 0xff800000.
        let ranges = be(&[
            0x7e00_0000,
            0x0,
            0xfe00_0000,
            0x0180_0000, //
            0x4000_0000,
            0x0,
            0xff80_0000,
            0x0080_0000,
        ]);
        let soc = Bus {
            name: "soc",
            space: AddressSpace {
                address_cells: 1,
                size_cells: 1,
            },
            parent_address_cells: 2,
            ranges: Ranges::Map(&ranges),
        };
        let path = [ROOT, soc];
        assert_eq!(translate(0x7e20_1000, &path), Ok(0xfe20_1000));
        assert_eq!(translate(0x4004_1000, &path), Ok(0xff84_1000));
        assert_eq!(translate(0x1000, &path), Err(CellError::Unmapped(0x1000)));
    }

    #[test]
    fn absent_ranges_block_translation_and_identity_passes() {
        let mut bus = Bus {
            name: "i2c",
            space: AddressSpace {
                address_cells: 1,
                size_cells: 0,
            },
            parent_address_cells: 2,
            ranges: Ranges::Absent,
        };
        assert_eq!(translate(0x50, &[ROOT, bus]), Err(CellError::NoRanges));
        bus.ranges = Ranges::Identity;
        assert_eq!(translate(0x50, &[ROOT, bus]), Ok(0x50));
        // The root itself never translates.
        assert_eq!(translate(0x50, &[ROOT]), Ok(0x50));
    }

    #[test]
    fn nested_buses_compose() {
        let outer_ranges = be(&[0x0, 0x0, 0x1000_0000, 0x100_0000]);
        let outer = Bus {
            name: "outer",
            space: AddressSpace {
                address_cells: 1,
                size_cells: 1,
            },
            parent_address_cells: 2,
            ranges: Ranges::Map(&outer_ranges),
        };
        let inner_ranges = be(&[0x0, 0x20_0000, 0x1000]);
        let inner = Bus {
            name: "inner",
            space: AddressSpace {
                address_cells: 1,
                size_cells: 1,
            },
            parent_address_cells: 1,
            ranges: Ranges::Map(&inner_ranges),
        };
        assert_eq!(translate(0x10, &[ROOT, outer, inner]), Ok(0x1020_0010));
    }

    #[test]
    fn huge_cell_counts_in_ranges_are_errors_not_overflows() {
        // Found by the mutation tests: a root with #address-cells = 0xffffffff above a bus
        // with `ranges`; adding the three counts overflowed before they were checked.
        let ranges = be(&[0, 0, 0x1000]);
        let bus = Bus {
            name: "soc",
            space: AddressSpace {
                address_cells: 1,
                size_cells: 1,
            },
            parent_address_cells: u32::MAX,
            ranges: Ranges::Map(&ranges),
        };
        assert_eq!(
            translate(0x10, &[ROOT, bus]),
            Err(CellError::UnsupportedCellCount(u32::MAX))
        );
        let bus = Bus {
            space: AddressSpace {
                address_cells: u32::MAX,
                size_cells: u32::MAX,
            },
            ..bus
        };
        assert!(translate(0x10, &[ROOT, bus]).is_err());
    }

    #[test]
    fn overflow_is_an_error() {
        let ranges = be(&[0x0, 0xffff_ffff, 0xffff_ff00, 0x0, 0x1000]);
        let bus = Bus {
            name: "b",
            space: AddressSpace {
                address_cells: 1,
                size_cells: 2,
            },
            parent_address_cells: 2,
            ranges: Ranges::Map(&ranges),
        };
        // Entry: child 0x0 (1 cell) -> parent 0xffffffff_ffffff00 (2 cells), size 0x1000 (2).
        assert_eq!(translate(0x200, &[ROOT, bus]), Err(CellError::Overflow));
    }
}
