//! A depth-first walk over every node of a validated blob that keeps, for each node, the
//! chain of buses from the root to its parent (what `reg` decoding and `ranges` translation
//! need) and the interrupt parent its ancestors pass down: what dtoolkit's streaming nodes
//! do not carry.
//!
//! Each node's properties are read from the blob once, and the values of those the parser
//! asks about ([`KNOWN_PROPERTIES`]) kept in a table: dtoolkit's own lookup re-reads every
//! property (and its name from the strings block) per question, and the parser asks a
//! dozen questions of every node. That was most of boot's device-tree time under emulation.

use arrayvec::{ArrayString, ArrayVec};
use dtoolkit::fdt::FdtNode;
use dtoolkit::{Node, Property};

use super::cells::{self, AddressSpace, Bus, Ranges};

/// How deep the walk goes; real trees stay below 8.
pub const MAX_DEPTH: usize = 16;
/// The longest node path the walk spells out; longer ones are cut (and so match nothing).
pub const MAX_PATH: usize = 256;
/// The properties whose values each visited node keeps at hand; [`Visit::prop`] searches
/// the blob for any other name.
const KNOWN_PROPERTIES: [&str; 26] = [
    "compatible",
    "status",
    "device_type",
    "reg",
    "ranges",
    "#address-cells",
    "#size-cells",
    "phandle",
    "clock-frequency",
    "clocks",
    "interrupts",
    "model",
    "bootargs",
    "stdout-path",
    "linux,stdout-path",
    "method",
    "enable-method",
    "cpu-release-addr",
    "numa-node-id",
    "cpu",
    "no-map",
    "#redistributor-regions",
    "interrupt-parent",
    "interrupts-extended",
    "interrupt-controller",
    "#interrupt-cells",
];

/// `name`'s index in [`KNOWN_PROPERTIES`]: a `match`, which goes by the name's length
/// straight to the few names of that length, where a search of the list would compare the
/// length of every one (a dozen lookups for every node, and one for each of its
/// properties). A unit test holds the two to the same order.
fn known_index(name: &str) -> Option<usize> {
    Some(match name {
        "compatible" => 0,
        "status" => 1,
        "device_type" => 2,
        "reg" => 3,
        "ranges" => 4,
        "#address-cells" => 5,
        "#size-cells" => 6,
        "phandle" => 7,
        "clock-frequency" => 8,
        "clocks" => 9,
        "interrupts" => 10,
        "model" => 11,
        "bootargs" => 12,
        "stdout-path" => 13,
        "linux,stdout-path" => 14,
        "method" => 15,
        "enable-method" => 16,
        "cpu-release-addr" => 17,
        "numa-node-id" => 18,
        "cpu" => 19,
        "no-map" => 20,
        "#redistributor-regions" => 21,
        "interrupt-parent" => 22,
        "interrupts-extended" => 23,
        "interrupt-controller" => 24,
        "#interrupt-cells" => 25,
        _ => return None,
    })
}

/// The values of a node's [`KNOWN_PROPERTIES`], by index; `None` where the node lacks one.
type KnownValues<'dtb> = [Option<&'dtb [u8]>; KNOWN_PROPERTIES.len()];

/// A node together with where it sits.
pub struct Visit<'w, 'dtb> {
    pub node: FdtNode<'dtb>,
    pub name: &'dtb str,
    /// The full path, e.g. `/soc/serial@7e201000`.
    pub path: &'w str,
    /// Buses from the root to the parent; empty for the root itself.
    pub buses: &'w [Bus<'dtb>],
    /// The nearest ancestor's `interrupt-parent`, which the node inherits without its own.
    inherited_interrupt_parent: Option<u32>,
    known: &'w KnownValues<'dtb>,
}

impl<'dtb> Visit<'_, 'dtb> {
    pub fn prop(&self, name: &str) -> Option<&'dtb [u8]> {
        match known_index(name) {
            Some(index) => self.known[index],
            None => self
                .node
                .property(name)
                .and_then(|p| p.value_as::<&'dtb [u8]>().ok()),
        }
    }

    pub fn prop_str(&self, name: &str) -> Option<&'dtb str> {
        let bytes = self.prop(name)?;
        let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        let s = core::str::from_utf8(bytes).ok()?;
        // The first string of a list.
        s.split('\0').next()
    }

    pub fn prop_u32(&self, name: &str) -> Option<u32> {
        self.prop(name).and_then(cells::as_u32)
    }

    /// Whether `compatible` lists any of `candidates`.
    pub fn compatible_with(&self, candidates: &[&str]) -> bool {
        self.prop("compatible").is_some_and(|v| {
            v.split(|&b| b == 0)
                .any(|c| candidates.iter().any(|k| k.as_bytes() == c))
        })
    }

    /// `status` absent, "okay" or "ok".
    pub fn enabled(&self) -> bool {
        matches!(self.prop_str("status"), None | Some("okay") | Some("ok"))
    }

    /// The phandle of the controller the node's `interrupts` go to: its own
    /// `interrupt-parent`, or the nearest ancestor's.
    pub fn interrupt_parent(&self) -> Option<u32> {
        self.prop_u32("interrupt-parent")
            .or(self.inherited_interrupt_parent)
    }

    /// The depth of the node: 0 for the root.
    pub fn depth(&self) -> usize {
        self.buses.len()
    }

    pub fn parent_name(&self) -> Option<&'dtb str> {
        self.buses.last().map(|b| b.name)
    }

    /// The address space the node's `reg` is written in (its parent's).
    pub fn reg_space(&self) -> AddressSpace {
        self.buses.last().map_or(AddressSpace::DEFAULT, |b| b.space)
    }

    /// `reg` entry `index`, translated to a CPU physical address.
    pub fn reg(&self, index: usize) -> Result<Option<(u64, u64)>, cells::CellError> {
        let Some(value) = self.prop("reg") else {
            return Ok(None);
        };
        let Some((addr, size)) = cells::reg_entries(value, self.reg_space())?.nth(index) else {
            return Ok(None);
        };
        Ok(Some((cells::translate(addr, self.buses)?, size)))
    }
}

/// Why a walk stopped short of a subtree.
pub struct TooDeep<'dtb> {
    pub name: &'dtb str,
}

/// Visits every node, parents before children. Subtrees deeper than [`MAX_DEPTH`] are
/// skipped and reported through `too_deep`.
pub fn walk<'dtb>(
    root: FdtNode<'dtb>,
    visit: &mut dyn FnMut(&Visit<'_, 'dtb>),
    too_deep: &mut dyn FnMut(TooDeep<'dtb>),
) {
    let mut buses = ArrayVec::<Bus<'dtb>, MAX_DEPTH>::new();
    let mut path = ArrayString::<MAX_PATH>::new();
    walk_node(root, &mut buses, None, &mut path, visit, too_deep);
}

fn walk_node<'dtb>(
    node: FdtNode<'dtb>,
    buses: &mut ArrayVec<Bus<'dtb>, MAX_DEPTH>,
    inherited_interrupt_parent: Option<u32>,
    path: &mut ArrayString<MAX_PATH>,
    visit: &mut dyn FnMut(&Visit<'_, 'dtb>),
    too_deep: &mut dyn FnMut(TooDeep<'dtb>),
) {
    let name = node.name();
    let path_len = path.len();
    // "/" for the root, "/name" below it, "/parent/name" further down. A path too long for
    // the buffer is cut short, which only means no stdout-path will match it.
    if buses.is_empty() {
        let _ = path.try_push('/');
    } else {
        if path.as_str() != "/" {
            let _ = path.try_push('/');
        }
        let _ = path.try_push_str(name);
    }

    let mut known: KnownValues<'dtb> = [None; KNOWN_PROPERTIES.len()];
    for property in node.properties() {
        if let Some(index) = known_index(property.name()) {
            // A later duplicate does not override the first, as dtoolkit's lookup would not.
            if known[index].is_none() {
                known[index] = property.value_as::<&'dtb [u8]>().ok();
            }
        }
    }
    let here = Visit {
        node,
        name,
        path: path.as_str(),
        buses: buses.as_slice(),
        inherited_interrupt_parent,
        known: &known,
    };
    visit(&here);
    let interrupt_parent = here.interrupt_parent();

    let bus = Bus {
        name,
        space: AddressSpace {
            address_cells: here.prop_u32("#address-cells").unwrap_or(2),
            size_cells: here.prop_u32("#size-cells").unwrap_or(1),
        },
        parent_address_cells: here.reg_space().address_cells,
        ranges: match here.prop("ranges") {
            None => Ranges::Absent,
            Some([]) => Ranges::Identity,
            Some(v) => Ranges::Map(v),
        },
    };
    if buses.try_push(bus).is_err() {
        too_deep(TooDeep { name });
    } else {
        for child in node.children() {
            walk_node(child, buses, interrupt_parent, path, visit, too_deep);
        }
        buses.pop();
    }
    path.truncate(path_len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_index_is_each_known_property_s_place_and_none_for_others() {
        for (index, name) in KNOWN_PROPERTIES.iter().enumerate() {
            assert_eq!(known_index(name), Some(index), "{name}");
        }
        for other in ["", "cpus", "compatibles", "Reg", "linux,stdout", "#cells"] {
            assert_eq!(known_index(other), None, "{other}");
        }
    }
}
