//! A device tree as plain data, for tests that build blobs or damage them: read from a
//! valid blob (with dtoolkit), edited as nodes and properties, and written back as a blob
//! whose layout (where each token, property header and name lies) is kept, so that the
//! bytes can be damaged precisely afterwards.

use std::collections::HashMap;

use dtoolkit::fdt::{Fdt, FdtNode};
use dtoolkit::{Node as _, Property as _};

/// The magic, version and last compatible version this writer emits.
const FDT_MAGIC: u32 = 0xd00d_feed;
const VERSION: u32 = 17;
const LAST_COMP_VERSION: u32 = 16;
pub const HEADER_SIZE: usize = 40;

pub const FDT_BEGIN_NODE: u32 = 1;
pub const FDT_END_NODE: u32 = 2;
pub const FDT_PROP: u32 = 3;
pub const FDT_NOP: u32 = 4;
pub const FDT_END: u32 = 9;

#[derive(Clone, Debug, Default)]
pub struct Node {
    /// Raw bytes: tests may write names no valid blob has.
    pub name: Vec<u8>,
    pub props: Vec<(Vec<u8>, Vec<u8>)>,
    pub children: Vec<Node>,
}

impl Node {
    pub fn new(name: &str) -> Self {
        Node {
            name: name.as_bytes().to_vec(),
            ..Node::default()
        }
    }

    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    pub fn prop(&self, name: &str) -> Option<&[u8]> {
        self.props
            .iter()
            .find(|(n, _)| n == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }

    /// Sets `name` (replacing its first occurrence, else appending it).
    pub fn set(&mut self, name: &str, value: Vec<u8>) -> &mut Self {
        match self.props.iter_mut().find(|(n, _)| n == name.as_bytes()) {
            Some((_, v)) => *v = value,
            None => self.props.push((name.as_bytes().to_vec(), value)),
        }
        self
    }

    pub fn set_str(&mut self, name: &str, value: &str) -> &mut Self {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        self.set(name, bytes)
    }

    pub fn set_cells(&mut self, name: &str, cells: &[u32]) -> &mut Self {
        self.set(name, cells_bytes(cells))
    }

    /// The child named `name`, made if missing.
    pub fn child_or_new(&mut self, name: &str) -> &mut Node {
        if let Some(i) = self.children.iter().position(|c| c.name == name.as_bytes()) {
            return &mut self.children[i];
        }
        self.children.push(Node::new(name));
        self.children.last_mut().expect("just pushed")
    }

    /// Every node below and including this one, as index paths from it.
    pub fn paths(&self) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        let mut todo = vec![(Vec::new(), self)];
        while let Some((path, node)) = todo.pop() {
            for (i, child) in node.children.iter().enumerate() {
                let mut p = path.clone();
                p.push(i);
                todo.push((p, child));
            }
            out.push(path);
        }
        out
    }

    pub fn at_mut(&mut self, path: &[usize]) -> &mut Node {
        path.iter().fold(self, |n, &i| &mut n.children[i])
    }

    pub fn at(&self, path: &[usize]) -> &Node {
        path.iter().fold(self, |n, &i| &n.children[i])
    }

    /// The node's path as text (`/soc/serial@7e201000`), for names and stdout-path.
    pub fn path_text(&self, path: &[usize]) -> String {
        let mut text = String::new();
        let mut node = self;
        for &i in path {
            node = &node.children[i];
            text.push('/');
            text.push_str(&node.name());
        }
        if text.is_empty() {
            text.push('/');
        }
        text
    }

    fn from_fdt(node: FdtNode<'_>) -> Node {
        Node {
            name: node.name().as_bytes().to_vec(),
            props: node
                .properties()
                .map(|p| (p.name().as_bytes().to_vec(), p.value().to_vec()))
                .collect(),
            children: node.children().map(Node::from_fdt).collect(),
        }
    }
}

pub fn cells_bytes(cells: &[u32]) -> Vec<u8> {
    cells.iter().flat_map(|c| c.to_be_bytes()).collect()
}

#[derive(Clone, Debug, Default)]
pub struct Tree {
    pub reservations: Vec<(u64, u64)>,
    pub boot_cpuid: u32,
    pub root: Node,
}

/// Where things landed in a written blob.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub off_struct: usize,
    pub off_strings: usize,
    /// Offsets of every structure-block token.
    pub tokens: Vec<usize>,
    /// Offsets of every FDT_PROP token (its length and name offset follow).
    pub props: Vec<usize>,
    /// Offsets of every FDT_BEGIN_NODE token (its name follows).
    pub nodes: Vec<usize>,
}

impl Tree {
    /// Reads a structurally valid blob.
    pub fn read(blob: &[u8]) -> Tree {
        super::blob::check(blob).expect("a valid blob to start from");
        let fdt = Fdt::new_unchecked(blob);
        Tree {
            reservations: fdt
                .memory_reservations()
                .map(|r| (r.address(), r.size()))
                .collect(),
            boot_cpuid: fdt.boot_cpuid_phys(),
            root: Node::from_fdt(fdt.root()),
        }
    }

    /// Writes the blob: header, reservation map, structure block, strings block.
    pub fn write(&self) -> (Vec<u8>, Layout) {
        let mut strings = Vec::new();
        let mut string_offsets = HashMap::new();
        let mut structure = Vec::new();
        let mut layout = Layout::default();
        let rsvmap_len = (self.reservations.len() + 1) * 16;
        let off_struct = HEADER_SIZE + rsvmap_len;
        write_node(
            &self.root,
            off_struct,
            &mut structure,
            &mut strings,
            &mut string_offsets,
            &mut layout,
        );
        layout.tokens.push(off_struct + structure.len());
        structure.extend_from_slice(&FDT_END.to_be_bytes());
        let off_strings = off_struct + structure.len();
        let total = off_strings + strings.len();
        let mut blob = Vec::with_capacity(total);
        for word in [
            FDT_MAGIC,
            total as u32,
            off_struct as u32,
            off_strings as u32,
            HEADER_SIZE as u32,
            VERSION,
            LAST_COMP_VERSION,
            self.boot_cpuid,
            strings.len() as u32,
            structure.len() as u32,
        ] {
            blob.extend_from_slice(&word.to_be_bytes());
        }
        for &(address, size) in self.reservations.iter().chain([(0, 0)].iter()) {
            blob.extend_from_slice(&address.to_be_bytes());
            blob.extend_from_slice(&size.to_be_bytes());
        }
        blob.extend_from_slice(&structure);
        blob.extend_from_slice(&strings);
        layout.off_struct = off_struct;
        layout.off_strings = off_strings;
        (blob, layout)
    }
}

fn write_node(
    node: &Node,
    base: usize,
    out: &mut Vec<u8>,
    strings: &mut Vec<u8>,
    string_offsets: &mut HashMap<Vec<u8>, u32>,
    layout: &mut Layout,
) {
    let pad = |out: &mut Vec<u8>| {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    };
    layout.tokens.push(base + out.len());
    layout.nodes.push(base + out.len());
    out.extend_from_slice(&FDT_BEGIN_NODE.to_be_bytes());
    out.extend_from_slice(&node.name);
    out.push(0);
    pad(out);
    for (name, value) in &node.props {
        let nameoff = *string_offsets.entry(name.clone()).or_insert_with(|| {
            let at = strings.len() as u32;
            strings.extend_from_slice(name);
            strings.push(0);
            at
        });
        layout.tokens.push(base + out.len());
        layout.props.push(base + out.len());
        out.extend_from_slice(&FDT_PROP.to_be_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(&nameoff.to_be_bytes());
        out.extend_from_slice(value);
        pad(out);
    }
    for child in &node.children {
        write_node(child, base, out, strings, string_offsets, layout);
    }
    layout.tokens.push(base + out.len());
    out.extend_from_slice(&FDT_END_NODE.to_be_bytes());
}

/// Reads the big-endian word at `at`.
pub fn word(blob: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(blob[at..at + 4].try_into().expect("4 bytes"))
}

pub fn set_word(blob: &mut [u8], at: usize, value: u32) {
    blob[at..at + 4].copy_from_slice(&value.to_be_bytes());
}
