//! Mutation testing of the device tree reader: thousands of damaged copies of real blobs
//! (ours from dts/, QEMU's own as `make unit` dumps them), each parsed under
//! `catch_unwind`. A parse must not panic; it must either fail with an error that says why,
//! or return a platform that keeps every promise of [`Platform::check_consistency`].
//!
//! Each case starts from one of the blobs, makes up to three edits to its tree (cell counts,
//! property values and lengths, `reg`/`ranges` that overflow, phandle cycles, deep nesting,
//! more CPUs than [`MAX_CPUS`], removed or duplicated nodes, dangling paths...), writes it
//! back, then damages up to two things in the bytes (bit flips, truncation, header offsets
//! and sizes, property lengths, string offsets, tokens). Everything is drawn from a
//! deterministic generator seeded per case, so a failure names the seed that repeats it:
//! `DT_MUTATION_SEED=<seed> DT_MUTATIONS=1 cargo test --lib mutation`. `DT_MUTATIONS=N`
//! runs a longer campaign (default [`DEFAULT_MUTATIONS`]).

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::bootargs::BootOptions;
use super::test_tree::{
    FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_NOP, FDT_PROP, HEADER_SIZE, Layout, Node, Tree,
    cells_bytes, set_word, word,
};
use super::tests::blob;
use super::walk::MAX_DEPTH;
use super::{DtError, MAX_MEMORY_REGIONS, MAX_RESERVATIONS, Platform};
use crate::MAX_CPUS;
use crate::rng::Rng;

const DEFAULT_MUTATIONS: u64 = 12_000;
const DEFAULT_SEED: u64 = 0x5eed_0000;

/// The blobs mutated, all made by `make unit`.
const BASES: [&str; 7] = [
    "qemu-virt-gicv2.dtb",
    "qemu-virt-gicv3-20cpus.dtb",
    "qemu-raspi4b-rpi4.dtb",
    "rpi4.dtb",
    "soc-ranges.dtb",
    "virt-bad-mpidr.dtb",
    "virt-no-uart.dtb",
];

/// What the mutations draw on, beyond the crate's generator.
impl Rng {
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Random bytes, `min` to `max` of them.
    fn bytes(&mut self, min: usize, max: usize) -> Vec<u8> {
        let len = min + self.below(max - min + 1);
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// A 32-bit value that tends to sit on a boundary.
    fn interesting_u32(&mut self) -> u32 {
        const VALUES: [u32; 14] = [
            0,
            1,
            2,
            3,
            4,
            8,
            16,
            31,
            32,
            0x7f,
            0x8000_0000,
            0xffff_fff0,
            0xffff_fffe,
            u32::MAX,
        ];
        if self.chance(4) {
            self.next_u64() as u32
        } else {
            *self.pick(&VALUES)
        }
    }

    /// A 64-bit address or size that tends to overflow something.
    fn interesting_u64(&mut self) -> u64 {
        const VALUES: [u64; 10] = [
            0,
            1,
            0x1000,
            0x4000_0000,
            0x8000_0000_0000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX - 0xfff,
            u64::MAX - 1,
            u64::MAX,
        ];
        if self.chance(4) {
            self.next_u64()
        } else {
            *self.pick(&VALUES)
        }
    }

    /// `n` cells of interesting values.
    fn cells(&mut self, n: usize) -> Vec<u8> {
        let cells: Vec<u32> = (0..n).map(|_| self.interesting_u32()).collect();
        cells_bytes(&cells)
    }
}

/// Properties the reader reads or follows: those holding cells, then those holding text.
const CELL_PROPERTIES: [&str; 12] = [
    "reg",
    "ranges",
    "#address-cells",
    "#size-cells",
    "interrupts",
    "clocks",
    "phandle",
    "clock-frequency",
    "cpu-release-addr",
    "#redistributor-regions",
    "interrupt-parent",
    "#interrupt-cells",
];
const STRING_PROPERTIES: [&str; 8] = [
    "compatible",
    "status",
    "device_type",
    "method",
    "enable-method",
    "stdout-path",
    "bootargs",
    "model",
];
const COMPATIBLES: [&str; 12] = [
    "arm,pl011",
    "brcm,bcm2835-aux-uart",
    "arm,gic-400",
    "arm,cortex-a15-gic",
    "arm,gic-v3",
    "arm,psci-1.0",
    "arm,armv8-timer",
    "brcm,bcm2835-pm-wdt",
    "fixed-clock",
    "simple-bus",
    "acme,unknown",
    "",
];

/// One edit of the tree, described for the failure message.
fn mutate_tree(rng: &mut Rng, tree: &mut Tree, log: &mut String) {
    let paths = tree.root.paths();
    let path = rng.pick(&paths).clone();
    let where_ = tree.root.path_text(&path);
    match rng.below(20) {
        0 => {
            // Mostly on a bus, whose children's `reg` and own `ranges` depend on them.
            let buses: Vec<&Vec<usize>> = paths
                .iter()
                .filter(|p| !tree.root.at(p).children.is_empty())
                .collect();
            let path = if rng.chance(4) {
                &path
            } else {
                *rng.pick(&buses)
            };
            let where_ = tree.root.path_text(path);
            let name = *rng.pick(&["#address-cells", "#size-cells"]);
            let value = rng.interesting_u32();
            tree.root.at_mut(path).set_cells(name, &[value]);
            let _ = write!(log, "{where_}: {name} = {value:#x}; ");
        }
        1 => {
            // An existing property's value replaced: random bytes, cut, or grown.
            let node = tree.root.at_mut(&path);
            if node.props.is_empty() {
                return mutate_tree(rng, tree, log);
            }
            let i = rng.below(node.props.len());
            let old = node.props[i].1.clone();
            let new = match rng.below(3) {
                0 => rng.bytes(0, 32),
                1 => old[..old.len().saturating_sub(1 + rng.below(4))].to_vec(),
                _ => [old.clone(), rng.bytes(1, 8)].concat(),
            };
            let _ = write!(
                log,
                "{where_}: '{}' of {} bytes -> {:02x?}; ",
                String::from_utf8_lossy(&node.props[i].0),
                old.len(),
                new
            );
            node.props[i].1 = new;
        }
        2 => {
            // A property the reader follows, with cells of boundary values.
            let name = *rng.pick(&CELL_PROPERTIES);
            let n = rng.below(13);
            let value = rng.cells(n);
            let _ = write!(log, "{where_}: {name} = {value:02x?}; ");
            tree.root.at_mut(&path).set(name, value);
        }
        3 => phandle_cycle(rng, tree, log),
        4 => {
            let depth = *rng.pick(&[MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 200]);
            let node = tree.root.at_mut(&path);
            let mut inner = Node::new("uart@9000000");
            inner
                .set_str("compatible", "arm,pl011")
                .set_cells("reg", &[0, 0x900_0000, 0, 0x1000]);
            for level in 0..depth {
                let mut outer = Node::new(&format!("level{level}"));
                outer.set("ranges", Vec::new());
                outer.children.push(inner);
                inner = outer;
            }
            node.children.push(inner);
            let _ = write!(log, "{where_}: a chain {depth} deep below; ");
        }
        5 => many_cpus(rng, tree, log),
        6 => {
            if path.is_empty() {
                return mutate_tree(rng, tree, log);
            }
            let (last, parent) = path.split_last().expect("not the root");
            tree.root.at_mut(parent).children.remove(*last);
            let _ = write!(log, "{where_}: removed; ");
        }
        7 => {
            let node = tree.root.at_mut(&path);
            if node.props.is_empty() {
                return mutate_tree(rng, tree, log);
            }
            let (name, _) = node.props.remove(rng.below(node.props.len()));
            let _ = write!(
                log,
                "{where_}: '{}' removed; ",
                String::from_utf8_lossy(&name)
            );
        }
        8 => {
            if path.is_empty() {
                return mutate_tree(rng, tree, log);
            }
            let (last, parent) = path.split_last().expect("not the root");
            let copy = tree.root.at(&path).clone();
            tree.root.at_mut(parent).children.insert(*last, copy);
            let _ = write!(log, "{where_}: duplicated; ");
        }
        9 => {
            let target = match rng.below(6) {
                0 => tree.root.path_text(rng.pick(&paths).as_slice()),
                1 => "/no-such-node@0".to_string(),
                2 => String::new(),
                3 => "/".repeat(300),
                4 => format!(
                    "{}:115200n8",
                    tree.root.path_text(rng.pick(&paths).as_slice())
                ),
                _ => "serial0".to_string(),
            };
            let node = if rng.chance(2) {
                tree.root.child_or_new("chosen")
            } else {
                tree.root.child_or_new("aliases")
            };
            let name = if node.name == b"chosen" {
                "stdout-path"
            } else {
                "serial0"
            };
            node.set_str(name, &target);
            let _ = write!(log, "{name} = '{target}'; ");
        }
        10 => {
            let compatible = *rng.pick(&COMPATIBLES);
            tree.root.at_mut(&path).set_str("compatible", compatible);
            let _ = write!(log, "{where_}: compatible = '{compatible}'; ");
        }
        11 => {
            let kind = *rng.pick(&["memory", "cpu", "serial"]);
            tree.root.at_mut(&path).set_str("device_type", kind);
            let _ = write!(log, "{where_}: device_type = '{kind}'; ");
        }
        12 => {
            if path.is_empty() {
                return mutate_tree(rng, tree, log);
            }
            let name: Vec<u8> = match rng.below(5) {
                0 => b"n".repeat(32 + rng.below(300)),
                1 => b"a@b@c".to_vec(),
                2 => Vec::new(),
                3 => vec![0xff, 0xfe, b'@', 0x80],
                _ => b"cpu@0".to_vec(),
            };
            let _ = write!(
                log,
                "{where_}: renamed {:02x?}; ",
                &name[..name.len().min(8)]
            );
            tree.root.at_mut(&path).name = name;
        }
        13 => {
            let n = *rng.pick(&[1, 2, MAX_RESERVATIONS, MAX_RESERVATIONS + 3]);
            for _ in 0..n {
                let entry = (rng.interesting_u64(), rng.interesting_u64());
                tree.reservations.push(entry);
            }
            let _ = write!(log, "{n} /memreserve/ entries of boundary values; ");
        }
        14 => memory(rng, tree, log),
        15 => {
            // `ranges` triples, maybe overflowing the parent's space.
            let n = rng.below(4) * 3 + rng.below(2);
            let wide = if rng.chance(2) { 2 } else { 1 };
            let value = rng.cells(n * wide);
            let _ = write!(log, "{where_}: ranges = {value:02x?}; ");
            tree.root.at_mut(&path).set("ranges", value);
        }
        16 => {
            let reg: Vec<u32> = (0..4)
                .flat_map(|_| {
                    let v = rng.interesting_u64();
                    [(v >> 32) as u32, v as u32]
                })
                .collect();
            let take = 2 + rng.below(7);
            let _ = write!(log, "{where_}: reg = {:x?}; ", &reg[..take]);
            tree.root.at_mut(&path).set_cells("reg", &reg[..take]);
        }
        17 => {
            let status = *rng.pick(&["okay", "ok", "disabled", "fail", "", "okay\0junk"]);
            tree.root.at_mut(&path).set_str("status", status);
            let _ = write!(log, "{where_}: status = {status:?}; ");
        }
        18 => {
            let mut cells = Vec::new();
            for _ in 0..rng.below(5) {
                cells.extend([rng.below(4) as u32, rng.interesting_u32(), 4]);
            }
            let _ = write!(log, "{where_}: interrupts = {cells:x?}; ");
            tree.root.at_mut(&path).set_cells("interrupts", &cells);
        }
        _ => {
            let name = *rng.pick(&STRING_PROPERTIES);
            let value: String = match rng.below(4) {
                0 => "console=serial1,115200 run=\"cpus; mem".to_string(),
                1 => "\"".repeat(rng.below(9)),
                2 => String::from_utf8_lossy(&rng.bytes(0, 40)).into_owned(),
                _ => "spin-table".to_string(),
            };
            let _ = write!(log, "{where_}: {name} = {value:?}; ");
            tree.root.at_mut(&path).set_str(name, &value);
        }
    }
}

/// `interrupt-parent` and `clocks` going round in circles: a node pointing at itself, two
/// at each other, or two nodes with the same phandle.
fn phandle_cycle(rng: &mut Rng, tree: &mut Tree, log: &mut String) {
    let paths = tree.root.paths();
    let a = rng.pick(&paths).clone();
    let b = rng.pick(&paths).clone();
    let (pa, pb) = (0x4242, if rng.chance(3) { 0x4242 } else { 0x4343 });
    let link = *rng.pick(&["interrupt-parent", "clocks"]);
    tree.root
        .at_mut(&a)
        .set_cells("phandle", &[pa])
        .set_cells(link, &[pb])
        .set_cells("clock-frequency", &[rng.interesting_u32()]);
    tree.root
        .at_mut(&b)
        .set_cells("phandle", &[pb])
        .set_cells(link, &[pa]);
    let _ = write!(
        log,
        "{} and {}: {link} cycle, phandles {pa:#x}/{pb:#x}; ",
        tree.root.path_text(&a),
        tree.root.path_text(&b)
    );
}

/// More CPU nodes than the kernel takes, with MPIDRs that may repeat or overflow.
fn many_cpus(rng: &mut Rng, tree: &mut Tree, log: &mut String) {
    let n = *rng.pick(&[MAX_CPUS - 1, MAX_CPUS, MAX_CPUS + 1, MAX_CPUS + 40, 300]);
    let duplicates = rng.chance(3);
    let cpus = tree.root.child_or_new("cpus");
    let cells = cpus
        .prop("#address-cells")
        .and_then(super::cells::as_u32)
        .unwrap_or(2);
    for i in 0..n {
        let mpidr: u64 = if duplicates {
            (i % 7) as u64
        } else if rng.chance(8) {
            rng.interesting_u64()
        } else {
            (((i / 16) << 8) | (i % 16)) as u64
        };
        let mut cpu = Node::new(&format!("cpu@{mpidr:x}"));
        cpu.set_str("device_type", "cpu");
        match cells {
            1 => cpu.set_cells("reg", &[mpidr as u32]),
            _ => cpu.set_cells("reg", &[(mpidr >> 32) as u32, mpidr as u32]),
        };
        match rng.below(3) {
            0 => cpu.set_str("enable-method", "psci"),
            1 => cpu.set_str("enable-method", "spin-table").set(
                "cpu-release-addr",
                rng.interesting_u64().to_be_bytes().to_vec(),
            ),
            _ => &mut cpu,
        };
        cpus.children.push(cpu);
    }
    let _ = write!(log, "{n} more CPUs (duplicate MPIDRs: {duplicates}); ");
}

/// RAM ranges that overlap, wrap, are empty, or are too many.
fn memory(rng: &mut Rng, tree: &mut Tree, log: &mut String) {
    let mut ranges = Vec::new();
    let n = *rng.pick(&[1, 2, 3, MAX_MEMORY_REGIONS + 2]);
    let mut base = 0x4000_0000u64;
    for _ in 0..n {
        let (b, s) = match rng.below(4) {
            0 => (base, 0x1000_0000),
            1 => (base - 0x800_0000, 0x1000_0000),
            2 => (rng.interesting_u64(), rng.interesting_u64()),
            _ => (base, 0),
        };
        ranges.push((b, s));
        base = base.wrapping_add(0x2000_0000);
    }
    let cells: Vec<u32> = ranges
        .iter()
        .flat_map(|&(b, s)| [(b >> 32) as u32, b as u32, (s >> 32) as u32, s as u32])
        .collect();
    let node = tree.root.child_or_new("memory@40000000");
    node.set_str("device_type", "memory")
        .set_cells("reg", &cells);
    let _ = write!(log, "memory ranges {ranges:x?}; ");
}

/// One edit of the bytes.
fn mutate_bytes(rng: &mut Rng, blob: &mut Vec<u8>, layout: &Layout, log: &mut String) {
    let len = blob.len();
    match rng.below(11) {
        0 => {
            let flips = 1 + rng.below(8);
            for _ in 0..flips {
                let at = rng.below(len);
                blob[at] ^= 1 << rng.below(8);
            }
            let _ = write!(log, "{flips} bit flips; ");
        }
        1 => {
            let at = rng.below(len);
            let run = (1 + rng.below(16)).min(len - at);
            let fill = rng.below(3);
            for b in &mut blob[at..at + run] {
                *b = match fill {
                    0 => 0,
                    1 => 0xff,
                    _ => rng.next_u64() as u8,
                };
            }
            let _ = write!(log, "{run} bytes at {at:#x} overwritten ({fill}); ");
        }
        2 => {
            let keep = rng.below(len);
            blob.truncate(keep);
            let fixed = keep >= 8 && rng.chance(2);
            if fixed {
                set_word(blob, 4, keep as u32);
            }
            let _ = write!(
                log,
                "truncated to {keep} bytes (totalsize fixed: {fixed}); "
            );
        }
        3 => {
            const FIELDS: [&str; 10] = [
                "magic",
                "totalsize",
                "off_dt_struct",
                "off_dt_strings",
                "off_mem_rsvmap",
                "version",
                "last_comp_version",
                "boot_cpuid_phys",
                "size_dt_strings",
                "size_dt_struct",
            ];
            let field = rng.below(FIELDS.len());
            let old = word(blob, field * 4);
            let new = match rng.below(6) {
                0 => rng.interesting_u32(),
                1 => old.wrapping_add(4),
                2 => old.wrapping_sub(4),
                3 => old.wrapping_add(1),
                4 => len as u32 + rng.below(3) as u32 - 1,
                // Into another block: the header, the reservations, the structure.
                _ => *rng.pick(&[
                    0,
                    HEADER_SIZE as u32,
                    layout.off_struct as u32,
                    layout.off_strings as u32,
                ]),
            };
            set_word(blob, field * 4, new);
            let _ = write!(log, "header {} {old:#x} -> {new:#x}; ", FIELDS[field]);
        }
        4 | 5 => {
            let Some(&at) = layout.props.get(rng.below(layout.props.len().max(1))) else {
                return;
            };
            let (field, name) = if rng.chance(2) {
                (at + 4, "len")
            } else {
                (at + 8, "nameoff")
            };
            let old = word(blob, field);
            let strings_len = len - layout.off_strings;
            let new = match rng.below(6) {
                0 => rng.interesting_u32(),
                1 => old.wrapping_add(1),
                2 => old.wrapping_sub(1),
                3 => (len - at) as u32,
                4 => strings_len as u32,
                _ => old.wrapping_add(4),
            };
            set_word(blob, field, new);
            let _ = write!(log, "property at {at:#x}: {name} {old:#x} -> {new:#x}; ");
        }
        6 | 7 => {
            let at = *rng.pick(&layout.tokens);
            let random = rng.next_u64() as u32;
            let new = *rng.pick(&[
                FDT_BEGIN_NODE,
                FDT_END_NODE,
                FDT_PROP,
                FDT_NOP,
                FDT_END,
                0,
                random,
            ]);
            let old = word(blob, at);
            set_word(blob, at, new);
            let _ = write!(log, "token at {at:#x}: {old} -> {new:#x}; ");
        }
        8 => {
            // Strings run into each other, or stop being UTF-8.
            let at = layout.off_strings + rng.below((len - layout.off_strings).max(1));
            if at < len {
                blob[at] = *rng.pick(&[b'x', 0xff, 0xc3, 0]);
            }
            let _ = write!(log, "string byte at {at:#x} changed; ");
        }
        9 => {
            // A node name loses its terminator, or gains bytes no name may hold.
            let at = *rng.pick(&layout.nodes) + 4;
            let end = at + blob[at..].iter().position(|&b| b == 0).unwrap_or(0);
            blob[end] = *rng.pick(&[b'x', 0xff, b'/', b' ']);
            let _ = write!(log, "node name at {at:#x} damaged; ");
        }
        _ => {
            // A stretch of the structure block copied over another: tokens out of order.
            let from = *rng.pick(&layout.tokens);
            let to = *rng.pick(&layout.tokens);
            let run = (4 * (1 + rng.below(16))).min(len - from).min(len - to);
            let chunk = blob[from..from + run].to_vec();
            blob[to..to + run].copy_from_slice(&chunk);
            let _ = write!(
                log,
                "{run} structure bytes from {from:#x} copied to {to:#x}; "
            );
        }
    }
}

/// One case: the damaged blob and what was done to it.
fn make_case(seed: u64, bases: &[(&str, Tree)]) -> (Vec<u8>, String) {
    let mut rng = Rng::new(seed);
    let (name, base) = &bases[rng.below(bases.len())];
    let mut log = format!("{name}: ");
    let mut tree = base.clone();
    let tree_edits = rng.below(4);
    for _ in 0..tree_edits {
        mutate_tree(&mut rng, &mut tree, &mut log);
    }
    let (mut bytes, layout) = tree.write();
    let byte_edits = if tree_edits == 0 {
        1 + rng.below(2)
    } else {
        rng.below(2) * rng.below(3)
    };
    for _ in 0..byte_edits {
        // The layout describes the whole blob: nothing follows a truncation.
        if bytes.len() < layout.off_strings {
            break;
        }
        mutate_bytes(&mut rng, &mut bytes, &layout, &mut log);
    }
    (bytes, log)
}

/// How a parse ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Outcome {
    Rejected,
    Accepted,
}

/// Parses `bytes` and holds the result to the rules; `Err` says which was broken.
fn judge(bytes: &[u8]) -> Result<Outcome, String> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        match Platform::parse(bytes, 0x4800_0000) {
            Err(e) => {
                let reason = e.to_string();
                if reason.trim().is_empty() {
                    return Err(format!("an error without a reason: {e:?}"));
                }
                Ok(Outcome::Rejected)
            }
            Ok(p) => {
                p.check_consistency()
                    .map_err(|e| format!("inconsistent platform: {e}"))?;
                // What boot does next with it must hold up too.
                let _ = BootOptions::parse(p.bootargs, |e| {
                    let _ = e.to_string();
                });
                let _ = (
                    p.total_memory(),
                    p.cpu_index_of(super::Mpidr::new(0)),
                    format!("{p:?}"),
                );
                for problem in &p.problems {
                    let _ = problem.to_string();
                }
                Ok(Outcome::Accepted)
            }
        }
    }));
    match result {
        Ok(verdict) => verdict,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panicked: {message}"))
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={text}: not a number")))
}

#[test]
fn mutated_blobs_are_rejected_with_a_reason_or_consistent() {
    let count = env_u64("DT_MUTATIONS").unwrap_or(DEFAULT_MUTATIONS);
    let first_seed = env_u64("DT_MUTATION_SEED").unwrap_or(DEFAULT_SEED);
    let bases: Vec<(&str, Tree)> = BASES
        .iter()
        .map(|&name| (name, Tree::read(&blob(name))))
        .collect();
    // The bases themselves, written back undamaged: accepted and consistent.
    for (name, tree) in &bases {
        let (bytes, _) = tree.write();
        assert_eq!(
            judge(&bytes),
            Ok(Outcome::Accepted),
            "{name} written back without damage"
        );
    }
    let mut failures = Vec::new();
    let (mut rejected, mut accepted) = (0u64, 0u64);
    for seed in first_seed..first_seed + count {
        let (bytes, log) = make_case(seed, &bases);
        match judge(&bytes) {
            Ok(Outcome::Rejected) => rejected += 1,
            Ok(Outcome::Accepted) => accepted += 1,
            Err(why) => {
                failures.push(format!("seed {seed:#x}: {why}\n    mutations: {log}"));
            }
        }
    }
    println!(
        "{count} mutated blobs from seed {first_seed:#x}: {rejected} rejected, {accepted} \
         accepted and consistent, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {count} mutated blobs broke the rules (rerun one with DT_MUTATION_SEED=<seed> \
         DT_MUTATIONS=1):\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    // Both ways out must be well used, or the mutations stopped reaching the parser.
    if count >= 1000 {
        assert!(
            rejected > count / 10 && accepted > count / 10,
            "lopsided: {rejected} rejected, {accepted} accepted"
        );
    }
}

#[test]
fn a_tree_nested_past_the_walk_limit_is_reported_not_followed() {
    let mut tree = Tree::read(&blob("qemu-virt-gicv2.dtb"));
    let mut chain = Node::new("uart@9000000");
    chain.set_str("compatible", "arm,pl011");
    for level in 0..3000 {
        let mut outer = Node::new(&format!("level{level}"));
        outer.children.push(chain);
        chain = outer;
    }
    tree.root.children.push(chain);
    let (bytes, _) = tree.write();
    let p = Platform::parse(&bytes, 0).expect("deep but valid");
    assert!(
        p.problems
            .iter()
            .any(|p| p.message.contains("nested deeper than")),
        "{:?}",
        p.problems
    );
    p.check_consistency().unwrap();
}

#[test]
fn damaged_header_offsets_are_errors_that_say_why() {
    let (good, layout) = Tree::read(&blob("qemu-virt-gicv2.dtb")).write();
    for (field, value) in [
        (8, 0u32),                      // off_dt_struct into the header
        (8, layout.off_strings as u32), // the structure block where the strings are
        (12, u32::MAX),                 // off_dt_strings out of bounds
        (16, 0),                        // off_mem_rsvmap into the header
        (32, u32::MAX),                 // size_dt_strings
        (36, u32::MAX),                 // size_dt_struct
        (4, good.len() as u32 - 1),     // totalsize short of the blob
        (4, u32::MAX),                  // totalsize beyond it
        (20, 1),                        // version
    ] {
        let mut bytes = good.clone();
        set_word(&mut bytes, field, value);
        let e = Platform::parse(&bytes, 0).expect_err("a damaged header");
        let reason = e.to_string();
        assert!(!reason.is_empty(), "field {field} = {value:#x}: {e:?}");
        if field == 4 && value as usize > bytes.len() {
            assert!(matches!(e, DtError::BadSize { .. }), "{e:?}");
        }
    }
}

// What the mutation run found broken before the reader was fixed, one case each, built
// from QEMU's virt tree.

fn qemu_virt() -> Tree {
    Tree::read(&blob("qemu-virt-gicv2.dtb"))
}

/// Parses `tree`, which must yield a consistent platform; returns its problems as text.
fn parse_consistent(tree: &Tree, check: impl FnOnce(&Platform<'_>)) -> Vec<String> {
    let (bytes, _) = tree.write();
    let p = Platform::parse(&bytes, 0x4800_0000).expect("a platform");
    p.check_consistency().expect("consistent");
    check(&p);
    p.problems.iter().map(|p| p.to_string()).collect()
}

fn assert_reported(problems: &[String], text: &str) {
    assert!(
        problems.iter().any(|p| p.contains(text)),
        "no problem saying {text:?}: {problems:?}"
    );
}

#[test]
fn overlapping_and_wrapping_memory_is_reported_and_left_out() {
    let mut tree = qemu_virt();
    tree.root.child_or_new("memory@40000000").set_cells(
        "reg",
        &[
            0,
            0x4000_0000,
            0,
            0x2000_0000, // the RAM
            0,
            0x5000_0000,
            0,
            0x2000_0000, // half of it again
            0xffff_ffff,
            0xffff_f000,
            0,
            0x2000, // past the top
        ],
    );
    let problems = parse_consistent(&tree, |p| {
        assert_eq!(
            p.memory.as_slice(),
            &[crate::mm::region::PhysRegion::new(0x4000_0000, 0x2000_0000)]
        );
    });
    assert_reported(&problems, "overlaps [0x0040000000-0x005fffffff]: ignored");
    assert_reported(
        &problems,
        "memory at 0xfffffffffffff000 of size 0x2000 is empty or wraps",
    );
}

#[test]
fn a_cpu_whose_mpidr_has_non_affinity_bits_is_left_out() {
    let mut tree = qemu_virt();
    let cpus = tree.root.child_or_new("cpus");
    // Bit 31 of MPIDR_EL1 is RES1 and bit 24 the MT flag: neither names a core.
    cpus.child_or_new("cpu@1").set_cells("reg", &[0x8000_0001]);
    cpus.child_or_new("cpu@2").set_cells("reg", &[0x0100_0002]);
    let problems = parse_consistent(&tree, |p| {
        let mpidrs: Vec<u64> = p.cpus.iter().map(|c| c.mpidr.affinity()).collect();
        assert_eq!(mpidrs, [0, 3]);
    });
    assert_reported(
        &problems,
        "MPIDR 0x80000001 has bits outside the affinity fields",
    );
    assert_reported(
        &problems,
        "MPIDR 0x1000002 has bits outside the affinity fields",
    );
}

#[test]
fn psci_cpus_without_a_psci_node_cannot_be_started_and_say_so() {
    let mut tree = qemu_virt();
    tree.root.children.retain(|n| n.name != b"psci");
    let problems = parse_consistent(&tree, |p| {
        assert_eq!(p.psci, None);
        assert!(
            p.cpus
                .iter()
                .all(|c| c.enable_method == super::EnableMethod::Unsupported("psci"))
        );
    });
    assert_reported(
        &problems,
        "4 CPU(s) say enable-method psci, but there is no usable",
    );
}

#[test]
fn a_spin_table_release_address_the_kernel_cannot_map_is_refused() {
    let mut tree = qemu_virt();
    let cpu = tree.root.child_or_new("cpus").child_or_new("cpu@1");
    cpu.set_str("enable-method", "spin-table")
        .set("cpu-release-addr", (1u64 << 47).to_be_bytes().to_vec());
    let problems = parse_consistent(&tree, |p| {
        assert_eq!(
            p.cpus[1].enable_method,
            super::EnableMethod::Unsupported("spin-table")
        );
    });
    assert_reported(&problems, "cpu@1: spin-table without a valid");
}

#[test]
fn interrupts_outside_their_ranges_are_not_used() {
    let mut tree = qemu_virt();
    // The timer's PPIs written as SPIs, and a UART on an SPI past the GIC's last.
    tree.root
        .child_or_new("timer")
        .set_cells("interrupts", &[0, 13, 4, 0, 14, 4, 0, 11, 4, 0, 10, 4]);
    tree.root
        .child_or_new("pl011@9000000")
        .set_cells("interrupts", &[0, 5000, 4]);
    let problems = parse_consistent(&tree, |p| {
        assert_eq!(p.timer, None);
        assert_eq!(p.console.map(|c| c.irq), Some(None));
    });
    assert_reported(&problems, "timer interrupts are not PPIs of the GIC");
}

#[test]
fn empty_or_wrapping_device_regions_are_not_used() {
    let mut tree = qemu_virt();
    tree.root
        .child_or_new("pl011@9000000")
        .set_cells("reg", &[0, 0x900_0000, 0, 0]);
    tree.root.child_or_new("intc@8000000").set_cells(
        "reg",
        &[
            0xffff_ffff,
            0xffff_0000,
            0,
            0x1_0000,
            0,
            0x801_0000,
            0,
            0x1_0000,
        ],
    );
    let problems = parse_consistent(&tree, |p| {
        assert_eq!(p.console, None);
        assert_eq!(p.gic, None);
    });
    assert_reported(&problems, "UART at 0x9000000 of size 0x0 is empty or wraps");
    assert_reported(
        &problems,
        "GIC distributor at 0xffffffffffff0000 of size 0x10000",
    );
}

#[test]
fn a_reservation_that_wraps_is_kept_up_to_the_top() {
    let mut tree = qemu_virt();
    tree.reservations.push((0x1000, u64::MAX));
    let problems = parse_consistent(&tree, |p| {
        let r = p.reservations[0].region;
        assert_eq!((r.base, r.end()), (0x1000, u64::MAX));
    });
    assert_reported(&problems, "reservation at 0x1000 wraps: kept up to the top");
}
