//! The typed machine description built from the device tree, and the parser that fills it.

use core::fmt;

use arrayvec::{ArrayString, ArrayVec};
use dtoolkit::fdt::Fdt;

use super::blob::{self, BlobError};
use super::cells;
use super::consistency::{MAX_RELEASE_ADDR, region_is_sane};
use super::interrupts::{Controllers, GicInterrupt, Specifiers, decode_gic};
use super::mpidr::Mpidr;
use super::psci::{self, PsciNode};
use super::topology::{self, Topology};
use super::walk::{self, Visit};
use crate::MAX_CPUS;
use crate::mm::region::PhysRegion;
use crate::text::push_truncated;

// Limits of what one tree may describe. Debian's 576 arm64 trees from Linux need at most
// 6 memory ranges, 44 reservations, 4 UARTs and 42 aliases.
pub const MAX_MEMORY_REGIONS: usize = 16;
pub const MAX_RESERVATIONS: usize = 64;
const MAX_PROBLEMS: usize = 16;
const MAX_UARTS: usize = 8;
const MAX_ALIASES: usize = 64;
const MAX_CLOCKS: usize = 64;
/// GICv3 redistributor regions kept (`#redistributor-regions`).
pub const MAX_GICV3_REDIST_REGIONS: usize = 8;
/// Interrupt controllers of a GIC binding the walk keeps until it knows the root one.
const MAX_GICS: usize = 4;
/// The GICv2 implementations the kernel drives (Linux's irq-gic.c names, GICv1 aside).
const GICV2_COMPATIBLE: [&str; 4] = [
    "arm,gic-400",
    "arm,cortex-a15-gic",
    "arm,cortex-a7-gic",
    "qcom,msm-qgic2",
];
const GICV3_COMPATIBLE: [&str; 1] = ["arm,gic-v3"];
/// The Raspberry Pi SoCs Trusted Firmware-A's Raspberry Pi port runs on (rpi4, rpi3).
const RPI_SOCS: [&str; 2] = ["brcm,bcm2711", "brcm,bcm2837"];

/// Why a blob cannot describe a machine this kernel can run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtError {
    /// The blob's structure is broken (header, tokens, strings, offsets): `blob::check`.
    Malformed(BlobError),
    /// The blob's header claims a size that does not fit where it was found.
    BadSize { claimed: usize, available: usize },
    /// No usable `/memory` node: there is nothing to run in.
    NoMemory,
}

impl fmt::Display for DtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtError::Malformed(e) => write!(f, "malformed device tree blob: {e}"),
            DtError::BadSize { claimed, available } => write!(
                f,
                "device tree header claims {claimed} bytes, but only {available} are plausible"
            ),
            DtError::NoMemory => write!(f, "device tree has no usable /memory node"),
        }
    }
}

/// Something in the tree the kernel could not use, reported at boot and by `dt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub node: ArrayString<64>,
    pub message: ArrayString<96>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.node, self.message)
    }
}

/// A range of memory the page allocator must leave alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation<'dtb> {
    pub region: PhysRegion,
    /// `/memreserve/` or the `/reserved-memory` child's name.
    pub name: &'dtb str,
    /// `no-map`: not even the kernel's linear map may cover it.
    pub no_map: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartKind {
    /// Arm PrimeCell PL011 (`arm,pl011`).
    Pl011,
    /// The BCM2835/BCM2711 auxiliary "mini UART" (`brcm,bcm2835-aux-uart`).
    MiniUart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uart<'dtb> {
    pub kind: UartKind,
    pub name: &'dtb str,
    pub region: PhysRegion,
    /// The reference clock (`clocks` → a fixed clock's `clock-frequency`), when known.
    pub clock_hz: Option<u32>,
    /// Its interrupt as a GIC INTID.
    pub irq: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gic {
    V2 {
        distributor: PhysRegion,
        cpu_interface: PhysRegion,
    },
    V3 {
        distributor: PhysRegion,
        redistributors: ArrayVec<PhysRegion, MAX_GICV3_REDIST_REGIONS>,
    },
}

impl Gic {
    pub fn version(&self) -> u8 {
        match self {
            Gic::V2 { .. } => 2,
            Gic::V3 { .. } => 3,
        }
    }

    /// Every MMIO region of the controller.
    pub fn regions(&self) -> impl Iterator<Item = PhysRegion> + '_ {
        let (first, rest): (PhysRegion, &[PhysRegion]) = match self {
            Gic::V2 {
                distributor,
                cpu_interface,
            } => (*distributor, core::slice::from_ref(cpu_interface)),
            Gic::V3 {
                distributor,
                redistributors,
            } => (*distributor, redistributors.as_slice()),
        };
        core::iter::once(first).chain(rest.iter().copied())
    }
}

/// The architected timer's per-CPU interrupts (GIC INTIDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    pub phys_irq: u32,
    pub virt_irq: u32,
}

/// How a CPU is turned on: `enable-method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnableMethod<'dtb> {
    Psci,
    SpinTable {
        release_addr: u64,
    },
    /// A method this kernel does not implement, or spin-table without a release address.
    Unsupported(&'dtb str),
    /// No `enable-method`: only a boot CPU may lack one.
    None,
}

impl fmt::Display for EnableMethod<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnableMethod::Psci => f.write_str("psci"),
            EnableMethod::SpinTable { .. } => f.write_str("spin-table"),
            EnableMethod::Unsupported(m) => f.write_str(m),
            EnableMethod::None => f.write_str("none"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpu<'dtb> {
    pub name: &'dtb str,
    /// MPIDR affinity bits (Aff3..Aff0) from `reg`.
    pub mpidr: Mpidr,
    pub enable_method: EnableMethod<'dtb>,
    /// The NUMA node the tree puts it in (`numa-node-id`), if it says.
    pub numa_node: Option<u32>,
    /// Its place in `/cpus/cpu-map`, if the tree gives one.
    pub topology: Option<Topology>,
}

/// A range of RAM whose memory node names its NUMA node (`numa-node-id`, Linux's
/// Documentation/devicetree/bindings/numa.txt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumaRange {
    pub region: PhysRegion,
    pub node: u32,
}

/// Everything the kernel learned from the device tree.
#[derive(Debug, Clone)]
pub struct Platform<'dtb> {
    /// Where the blob itself sits.
    pub dtb: PhysRegion,
    pub model: Option<&'dtb str>,
    pub memory: ArrayVec<PhysRegion, MAX_MEMORY_REGIONS>,
    /// The ranges of `memory` whose node names a NUMA node. The kernel itself does not
    /// place anything by node; `dt` shows them.
    pub memory_numa: ArrayVec<NumaRange, MAX_MEMORY_REGIONS>,
    pub reservations: ArrayVec<Reservation<'dtb>, MAX_RESERVATIONS>,
    pub bootargs: &'dtb str,
    /// `/chosen/stdout-path` with any `:options` suffix removed.
    pub stdout_path: Option<&'dtb str>,
    pub console: Option<Uart<'dtb>>,
    /// Every enabled UART this kernel has a driver for, in tree order.
    pub uarts: ArrayVec<Uart<'dtb>, MAX_UARTS>,
    pub gic: Option<Gic>,
    /// The GIC's phandle, which interrupt specifiers name it by.
    pub gic_phandle: Option<u32>,
    /// The PSCI `/psci` describes, if it can be called.
    pub psci: Option<PsciNode>,
    pub timer: Option<Timer>,
    /// The BCM2835/BCM2711 power-management block whose watchdog resets the SoC.
    pub watchdog: Option<PhysRegion>,
    /// A Raspberry Pi's SoC (BCM2711, BCM2837), whose one PSCI firmware, Trusted
    /// Firmware-A's Raspberry Pi port, powers a core off by a warm reset (RMR_EL3) into
    /// its holding pen: a core comes back from CPU_OFF only where that reset happens.
    pub psci_off_by_warm_reset: bool,
    pub cpus: ArrayVec<Cpu<'dtb>, MAX_CPUS>,
    /// CPUs beyond [`MAX_CPUS`], reported and left out.
    pub cpus_left_out: usize,
    pub problems: ArrayVec<Problem, MAX_PROBLEMS>,
    /// Problems beyond what `problems` holds.
    pub problems_dropped: usize,
}

/// A UART as the walk finds it: its node path, the phandle of its clock and its
/// interrupts, resolved once the whole tree is known.
struct FoundUart<'dtb> {
    path: ArrayString<{ walk::MAX_PATH }>,
    uart: Uart<'dtb>,
    clock: Option<u32>,
    interrupts: Option<Specifiers<'dtb>>,
}

/// Per-walk scratch state the final [`Platform`] does not keep.
struct Scratch<'dtb> {
    uarts: ArrayVec<FoundUart<'dtb>, MAX_UARTS>,
    aliases: ArrayVec<(ArrayString<32>, &'dtb str), MAX_ALIASES>,
    /// `(phandle, clock-frequency)` of every node that has both.
    clocks: ArrayVec<(u32, u32), MAX_CLOCKS>,
    /// Every interrupt controller, for following `interrupt-parent` chains.
    controllers: Controllers,
    /// The root's `interrupt-parent`: where the chain to the root controller starts.
    root_interrupt_parent: Option<u32>,
    /// Each enabled GIC with its phandle (`None` inside: its registers were unusable).
    gics: ArrayVec<(Option<u32>, &'dtb str, Option<Gic>), MAX_GICS>,
    /// The first enabled architected timer: its name and interrupts.
    timer: Option<(&'dtb str, Option<Specifiers<'dtb>>)>,
    /// Whether a PSCI node has been met (the first one decides).
    psci_seen: bool,
    /// Each CPU's `phandle`, by its index in `cpus`.
    cpu_phandles: ArrayVec<Option<u32>, MAX_CPUS>,
    /// The highest MPIDR of the CPUs in `cpus`.
    highest_mpidr: Option<Mpidr>,
    /// Each `/cpus/cpu-map` leaf: the CPU it names (a phandle) and the place it gives.
    cpu_map: ArrayVec<(u32, Topology), MAX_CPUS>,
}

impl<'dtb> Platform<'dtb> {
    /// Parses a blob found at physical address `blob_base`.
    pub fn parse(blob: &'dtb [u8], blob_base: u64) -> Result<Self, DtError> {
        let platform = Self::read_tree(blob, blob_base)?;
        if platform.memory.is_empty() {
            return Err(DtError::NoMemory);
        }
        Ok(platform)
    }

    /// [`Platform::parse`] without its demand for RAM. Whatever else
    /// [`Platform::check_consistency`] promises holds.
    pub fn read_tree(blob: &'dtb [u8], blob_base: u64) -> Result<Self, DtError> {
        let mut reader = TreeReader::new();
        reader.read(blob, blob_base)?;
        Ok(reader.platform)
    }

    /// A platform with nothing found yet, for the blob at `dtb`.
    const fn empty(dtb: PhysRegion) -> Self {
        Platform {
            dtb,
            model: None,
            memory: ArrayVec::new_const(),
            memory_numa: ArrayVec::new_const(),
            reservations: ArrayVec::new_const(),
            bootargs: "",
            stdout_path: None,
            console: None,
            uarts: ArrayVec::new_const(),
            gic: None,
            gic_phandle: None,
            psci: None,
            timer: None,
            watchdog: None,
            psci_off_by_warm_reset: false,
            cpus: ArrayVec::new_const(),
            cpus_left_out: 0,
            problems: ArrayVec::new_const(),
            problems_dropped: 0,
        }
    }
}

impl<'dtb> Scratch<'dtb> {
    /// Back to [`Scratch::new`], in place.
    fn reset(&mut self) {
        let Scratch {
            uarts,
            aliases,
            clocks,
            controllers,
            root_interrupt_parent,
            gics,
            timer,
            psci_seen,
            cpu_phandles,
            highest_mpidr,
            cpu_map,
        } = self;
        uarts.clear();
        aliases.clear();
        clocks.clear();
        controllers.clear();
        *root_interrupt_parent = None;
        gics.clear();
        *timer = None;
        *psci_seen = false;
        cpu_phandles.clear();
        *highest_mpidr = None;
        cpu_map.clear();
    }

    const fn new() -> Self {
        Scratch {
            uarts: ArrayVec::new_const(),
            aliases: ArrayVec::new_const(),
            clocks: ArrayVec::new_const(),
            controllers: Controllers::new(),
            root_interrupt_parent: None,
            gics: ArrayVec::new_const(),
            timer: None,
            psci_seen: false,
            cpu_phandles: ArrayVec::new_const(),
            highest_mpidr: None,
            cpu_map: ArrayVec::new_const(),
        }
    }
}

/// Reads trees into a platform it holds, with the walk's working state beside it: over
/// 20 KiB together, too much for a stack frame, so the kernel keeps its reader in a static
/// and the platform is built where it stays.
pub struct TreeReader<'dtb> {
    platform: Platform<'dtb>,
    scratch: Scratch<'dtb>,
}

impl Default for TreeReader<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'dtb> TreeReader<'dtb> {
    pub const fn new() -> Self {
        TreeReader {
            platform: Platform::empty(PhysRegion::new(0, 0)),
            scratch: Scratch::new(),
        }
    }

    /// Reads the blob found at physical address `blob_base` (without [`Platform::parse`]'s
    /// demand for RAM: boot reads the tree this way so that it can report a missing
    /// `/memory` on the console the tree names), replacing what was read before.
    pub fn read(&mut self, blob: &'dtb [u8], blob_base: u64) -> Result<&Platform<'dtb>, DtError> {
        // The header's size decides how much of `blob` is the tree; without a valid magic,
        // the structural check gives the reason.
        let blob = match super::blob_size(blob) {
            Some(claimed) if claimed > blob.len() => {
                return Err(DtError::BadSize {
                    claimed,
                    available: blob.len(),
                });
            }
            Some(claimed) => &blob[..claimed],
            None => blob,
        };
        blob::check(blob).map_err(DtError::Malformed)?;
        // dtoolkit's own check would also refuse names longer than 31 characters, which
        // real trees use; `blob::check` is the same check without that limit.
        let fdt = Fdt::new_unchecked(blob);

        let TreeReader { platform, scratch } = self;
        platform.reset(PhysRegion::new(blob_base, blob.len() as u64));
        scratch.reset();
        for r in fdt.memory_reservations() {
            platform.reserve(
                "/memreserve/",
                PhysRegion::new(r.address(), r.size()),
                false,
            );
        }

        let mut too_deep = ArrayVec::<&'dtb str, 4>::new();
        walk::walk(fdt.root(), &mut |v| platform.visit(v, scratch), &mut |t| {
            let _ = too_deep.try_push(t.name);
        });
        for name in too_deep {
            platform.problem(
                name,
                format_args!("nested deeper than {} levels: skipped", walk::MAX_DEPTH),
            );
        }

        scratch.resolve_uart_clocks();
        platform.choose_gic(scratch);
        platform.resolve_interrupts(scratch);
        platform.choose_console(scratch);
        platform.uarts = scratch.uarts.iter().map(|found| found.uart).collect();
        platform.check_cpus();
        platform.place_cpus(scratch);
        Ok(platform)
    }
}

impl<'dtb> Platform<'dtb> {
    /// Back to [`Platform::empty`], in place.
    fn reset(&mut self, dtb: PhysRegion) {
        let Platform {
            dtb: blob,
            model,
            memory,
            memory_numa,
            reservations,
            bootargs,
            stdout_path,
            console,
            uarts,
            gic,
            gic_phandle,
            psci,
            timer,
            watchdog,
            psci_off_by_warm_reset,
            cpus,
            cpus_left_out,
            problems,
            problems_dropped,
        } = self;
        *blob = dtb;
        *model = None;
        memory.clear();
        memory_numa.clear();
        reservations.clear();
        *bootargs = "";
        *stdout_path = None;
        *console = None;
        uarts.clear();
        *gic = None;
        *gic_phandle = None;
        *psci = None;
        *timer = None;
        *watchdog = None;
        *psci_off_by_warm_reset = false;
        cpus.clear();
        *cpus_left_out = 0;
        problems.clear();
        *problems_dropped = 0;
    }

    /// What only the whole tree shows about the CPUs: none at all, or `psci` as their
    /// enable method without a `/psci` node saying how to call it (such CPUs cannot be
    /// started, and say why).
    fn check_cpus(&mut self) {
        if self.cpus.is_empty() && self.cpus_left_out == 0 {
            self.problem(
                "/cpus",
                format_args!("no CPU nodes: the boot CPU runs alone"),
            );
        }
        if self.psci.is_none() {
            let mut orphans = 0;
            for cpu in self.cpus.iter_mut() {
                if cpu.enable_method == EnableMethod::Psci {
                    cpu.enable_method = EnableMethod::Unsupported("psci");
                    orphans += 1;
                }
            }
            if orphans > 0 {
                self.problem(
                    "/psci",
                    format_args!(
                        "{orphans} CPU(s) say enable-method psci, but there is no usable \
                         /psci node: they cannot be started"
                    ),
                );
            }
        }
    }

    /// `region` of `node`'s `what`, unless it is empty or wraps past the top of the
    /// address space (a problem then).
    fn checked_region(
        &mut self,
        node: &str,
        what: &str,
        (base, size): (u64, u64),
    ) -> Option<PhysRegion> {
        let region = PhysRegion::new(base, size);
        if region_is_sane(region) {
            return Some(region);
        }
        self.problem(
            node,
            format_args!("{what} at {base:#x} of size {size:#x} is empty or wraps: ignored"),
        );
        None
    }

    /// Records a problem with `node`.
    fn problem(&mut self, node: &str, message: fmt::Arguments<'_>) {
        let mut p = Problem {
            node: ArrayString::new(),
            message: ArrayString::new(),
        };
        push_truncated(&mut p.node, format_args!("{node}"));
        push_truncated(&mut p.message, message);
        if self.problems.try_push(p).is_err() {
            self.problems_dropped += 1;
        }
    }

    fn reserve(&mut self, name: &'dtb str, mut region: PhysRegion, no_map: bool) {
        if region.size == 0 {
            return;
        }
        if region.base.checked_add(region.size).is_none() {
            // Keep more than asked rather than less: cut at the top of the address space.
            self.problem(
                name,
                format_args!(
                    "reservation at {:#x} wraps: kept up to the top",
                    region.base
                ),
            );
            region.size = u64::MAX - region.base;
            if region.size == 0 {
                return;
            }
        }
        let r = Reservation {
            region,
            name,
            no_map,
        };
        if self.reservations.try_push(r).is_err() {
            self.problem(
                name,
                format_args!("more than {MAX_RESERVATIONS} reservations: {region} ignored"),
            );
        }
    }

    fn visit(&mut self, v: &Visit<'_, 'dtb>, scratch: &mut Scratch<'dtb>) {
        if let (Some(phandle), Some(freq)) = (v.prop_u32("phandle"), v.prop_u32("clock-frequency"))
        {
            let _ = scratch.clocks.try_push((phandle, freq));
        }
        scratch.controllers.record(v);
        match v.depth() {
            0 => {
                self.model = v.prop_str("model");
                self.psci_off_by_warm_reset = v.compatible_with(&RPI_SOCS);
                scratch.root_interrupt_parent = v.prop_u32("interrupt-parent");
                return;
            }
            1 => match v.node_name_base() {
                "chosen" => return self.visit_chosen(v),
                "aliases" => return visit_aliases(v, scratch),
                _ => {}
            },
            _ => {}
        }
        if v.depth() == 2 && v.parent_name() == Some("cpus") && is_cpu(v) {
            // A CPU's status says whether it runs now, not whether it exists: every CPU
            // node is read (Linux's rule), and its enable method decides.
            return self.visit_cpu(v, scratch);
        }
        if let Some(below) = v.path.strip_prefix(CPU_MAP) {
            return self.visit_cpu_map(v, below, scratch);
        }
        if !v.enabled() {
            return;
        }
        if v.depth() == 2 && v.parent_name() == Some("reserved-memory") {
            return self.visit_reserved_memory(v);
        }
        if v.depth() == 1 && v.prop_str("device_type") == Some("memory") {
            // Memory nodes are children of the root (Linux 6.1 reads no others).
            self.visit_memory(v);
        } else if v.compatible_with(&psci::COMPATIBLE) {
            if !scratch.psci_seen {
                scratch.psci_seen = true;
                self.visit_psci(v);
            }
        } else if v.compatible_with(&["arm,armv8-timer", "arm,armv7-timer"]) {
            if scratch.timer.is_none() {
                scratch.timer = Some((v.name, Specifiers::of(v)));
            }
        } else if v.compatible_with(&GICV2_COMPATIBLE) {
            let gic = self.visit_gic_v2(v);
            self.keep_gic(v, gic, scratch);
        } else if v.compatible_with(&GICV3_COMPATIBLE) {
            let gic = self.visit_gic_v3(v);
            self.keep_gic(v, gic, scratch);
        } else if v.compatible_with(&["arm,pl011"]) {
            self.visit_uart(v, UartKind::Pl011, scratch);
        } else if v.compatible_with(&["brcm,bcm2835-aux-uart"]) {
            self.visit_uart(v, UartKind::MiniUart, scratch);
        } else if v.compatible_with(&["brcm,bcm2835-pm-wdt", "brcm,bcm2835-pm"]) {
            self.visit_watchdog(v);
        }
    }

    fn visit_chosen(&mut self, v: &Visit<'_, 'dtb>) {
        self.bootargs = v.prop_str("bootargs").unwrap_or("");
        self.stdout_path = v
            .prop_str("stdout-path")
            .or_else(|| v.prop_str("linux,stdout-path"))
            .map(|p| p.split(':').next().unwrap_or(p));
    }

    fn visit_memory(&mut self, v: &Visit<'_, 'dtb>) {
        let Some(value) = v.prop("reg") else {
            return self.problem(v.path, format_args!("memory node without 'reg'"));
        };
        let entries = match cells::reg_entries(value, v.reg_space()) {
            Ok(e) => e,
            Err(e) => return self.problem(v.path, format_args!("bad 'reg': {e}")),
        };
        let numa_node = self.numa_node(v);
        for (addr, size) in entries {
            match cells::translate(addr, v.buses) {
                Ok(base) if size > 0 => {
                    let Some(region) = self.checked_region(v.path, "memory", (base, size)) else {
                        continue;
                    };
                    if let Some(other) = self.memory.iter().find(|m| m.overlaps(&region)) {
                        let other = *other;
                        self.problem(
                            v.path,
                            format_args!("memory {region} overlaps {other}: ignored"),
                        );
                    } else if self.memory.try_push(region).is_err() {
                        self.problem(
                            v.path,
                            format_args!(
                                "more than {MAX_MEMORY_REGIONS} memory ranges: {region} ignored"
                            ),
                        );
                    } else if let Some(node) = numa_node {
                        // As many as `memory` holds: it was just pushed there.
                        let _ = self.memory_numa.try_push(NumaRange { region, node });
                    }
                }
                Ok(_) => {}
                Err(e) => self.problem(v.path, format_args!("memory at {addr:#x}: {e}")),
            }
        }
    }

    /// The node's `numa-node-id`, if it has one that is a single cell.
    fn numa_node(&mut self, v: &Visit<'_, 'dtb>) -> Option<u32> {
        let value = v.prop("numa-node-id")?;
        let node = cells::as_u32(value);
        if node.is_none() {
            self.problem(
                v.path,
                format_args!("'numa-node-id' is not one 32-bit cell: ignored"),
            );
        }
        node
    }

    fn visit_reserved_memory(&mut self, v: &Visit<'_, 'dtb>) {
        let no_map = v.prop("no-map").is_some();
        let Some(value) = v.prop("reg") else {
            // A dynamically placed pool (size/alloc-ranges only): nothing fixed to avoid.
            return;
        };
        match cells::reg_entries(value, v.reg_space()) {
            Ok(entries) => {
                for (addr, size) in entries {
                    match cells::translate(addr, v.buses) {
                        Ok(base) => self.reserve(v.name, PhysRegion::new(base, size), no_map),
                        Err(e) => self.problem(v.path, format_args!("reservation: {e}")),
                    }
                }
            }
            Err(e) => self.problem(v.path, format_args!("bad 'reg': {e}")),
        }
    }

    fn visit_cpu(&mut self, v: &Visit<'_, 'dtb>, scratch: &mut Scratch<'dtb>) {
        let mpidr = match v.prop("reg").map(|r| {
            cells::reg_entries(
                r,
                cells::AddressSpace {
                    address_cells: v.reg_space().address_cells,
                    size_cells: 0,
                },
            )
        }) {
            Some(Ok(mut entries)) => match entries.next() {
                Some((mpidr, _)) => Mpidr::new(mpidr),
                None => return self.problem(v.path, format_args!("cpu with empty 'reg'")),
            },
            Some(Err(e)) => return self.problem(v.path, format_args!("bad 'reg': {e}")),
            None => return self.problem(v.path, format_args!("cpu without 'reg' (its MPIDR)")),
        };
        if !mpidr.is_affinity_only() {
            return self.problem(
                v.path,
                format_args!("MPIDR {mpidr:#x} has bits outside the affinity fields: left out"),
            );
        }
        let enable_method = match v.prop_str("enable-method") {
            Some("psci") => EnableMethod::Psci,
            // A 64-bit value (arm64's booting.rst), as Linux reads it.
            Some("spin-table") => match v
                .prop("cpu-release-addr")
                .filter(|value| value.len() == 8)
                .and_then(cells::as_u64)
                .filter(|addr| addr.is_multiple_of(8) && *addr < MAX_RELEASE_ADDR)
            {
                Some(release_addr) => EnableMethod::SpinTable { release_addr },
                None => {
                    self.problem(
                        v.path,
                        format_args!(
                            "spin-table without a valid (64-bit, 8-byte aligned, below {MAX_RELEASE_ADDR:#x}) 'cpu-release-addr'"
                        ),
                    );
                    EnableMethod::Unsupported("spin-table")
                }
            },
            Some(other) => {
                self.problem(
                    v.path,
                    format_args!("enable-method '{other}' is not supported"),
                );
                EnableMethod::Unsupported(other)
            }
            None => EnableMethod::None,
        };
        // Trees list CPUs in ascending MPIDR order: one above every CPU kept so far cannot
        // repeat one, and only the others are searched for.
        let above_all = scratch.highest_mpidr.is_none_or(|highest| mpidr > highest);
        if !above_all && self.cpus.iter().any(|c| c.mpidr == mpidr) {
            return self.problem(
                v.path,
                format_args!("MPIDR {mpidr:#x} appears twice: left out"),
            );
        }
        let cpu = Cpu {
            name: v.name,
            mpidr,
            enable_method,
            numa_node: self.numa_node(v),
            topology: None,
        };
        match self.cpus.try_push(cpu) {
            // As many as `cpus` holds.
            Ok(()) => {
                _ = scratch.cpu_phandles.try_push(v.prop_u32("phandle"));
                scratch.highest_mpidr = scratch.highest_mpidr.max(Some(mpidr));
            }
            Err(_) => self.cpus_left_out += 1,
        }
    }

    /// A node below `/cpus/cpu-map` (`below` is its path under it): a leaf, with a `cpu`
    /// phandle, gives that CPU's place (`topology.rs`).
    fn visit_cpu_map(&mut self, v: &Visit<'_, 'dtb>, below: &str, scratch: &mut Scratch<'dtb>) {
        let Some(value) = v.prop("cpu") else {
            return;
        };
        let Some(phandle) = cells::as_u32(value) else {
            return self.problem(v.path, format_args!("'cpu' is not one phandle: ignored"));
        };
        if below.rsplit('/').next() != Some(v.name) {
            // The walk cut a path too long for its buffer: the place cannot be read.
            return self.problem(v.name, format_args!("cpu-map path too long: ignored"));
        }
        match topology::place(below.split('/')) {
            Ok(place) => {
                if scratch.cpu_map.try_push((phandle, place)).is_err() {
                    self.problem(
                        v.path,
                        format_args!("more cpu-map leaves than {MAX_CPUS} CPUs: ignored"),
                    );
                }
            }
            Err(e) => self.problem(v.path, format_args!("{e}")),
        }
    }

    /// Gives each CPU the place its cpu-map leaf names; says what does not fit: a leaf of
    /// no CPU, a CPU named twice, CPUs the map leaves out, two CPUs at one place.
    fn place_cpus(&mut self, scratch: &mut Scratch<'dtb>) {
        if scratch.cpu_map.is_empty() {
            return;
        }
        let phandles = &scratch.cpu_phandles;
        // Leaves usually follow the CPUs' order: try the CPU after the last one placed.
        let mut next = 0;
        for &(phandle, place) in &scratch.cpu_map {
            let cpu = (phandles.get(next) == Some(&Some(phandle)))
                .then_some(next)
                .or_else(|| phandles.iter().position(|p| *p == Some(phandle)));
            match cpu {
                None => self.problem(
                    CPU_MAP_NODE,
                    format_args!("{place} names phandle {phandle:#x}, no CPU kept: ignored"),
                ),
                Some(c) if self.cpus[c].topology.is_some() => {
                    let name = self.cpus[c].name;
                    self.problem(
                        CPU_MAP_NODE,
                        format_args!("{place} names {name} again: ignored"),
                    );
                }
                Some(c) => {
                    self.cpus[c].topology = Some(place);
                    next = c + 1;
                }
            }
        }
        let unplaced = self.cpus.iter().filter(|c| c.topology.is_none()).count();
        if unplaced > 0 {
            self.problem(
                CPU_MAP_NODE,
                format_args!("{unplaced} CPU(s) not in it: their place is unknown"),
            );
        }
        scratch.cpu_map.sort_unstable_by_key(|&(_, place)| place);
        let twice = scratch
            .cpu_map
            .windows(2)
            .filter(|pair| pair[0].1 == pair[1].1)
            .count();
        if twice > 0 {
            let place = scratch
                .cpu_map
                .windows(2)
                .find(|p| p[0].1 == p[1].1)
                .map(|p| p[0].1);
            self.problem(
                CPU_MAP_NODE,
                format_args!(
                    "{twice} place(s) given to two CPUs, {} first",
                    place.unwrap_or_default()
                ),
            );
        }
    }

    fn visit_psci(&mut self, v: &Visit<'_, 'dtb>) {
        self.psci = psci::read(v, &mut |message| self.problem(v.path, message));
    }

    /// A GICv2's distributor and CPU interface, or `None` (a problem) if unusable.
    fn visit_gic_v2(&mut self, v: &Visit<'_, 'dtb>) -> Option<Gic> {
        match (v.reg(0), v.reg(1)) {
            (Ok(Some(d)), Ok(Some(c))) => {
                let distributor = self.checked_region(v.path, "GIC distributor", d);
                let cpu_interface = self.checked_region(v.path, "GIC CPU interface", c);
                Some(Gic::V2 {
                    distributor: distributor?,
                    cpu_interface: cpu_interface?,
                })
            }
            (Err(e), _) | (_, Err(e)) => {
                self.problem(v.path, format_args!("bad 'reg': {e}"));
                None
            }
            _ => {
                self.problem(
                    v.path,
                    format_args!("GICv2 needs distributor and CPU interface 'reg'"),
                );
                None
            }
        }
    }

    /// A GICv3's distributor and redistributor regions, or `None` (a problem) if unusable.
    fn visit_gic_v3(&mut self, v: &Visit<'_, 'dtb>) -> Option<Gic> {
        let count = v.prop_u32("#redistributor-regions").unwrap_or(1) as usize;
        let distributor = match v.reg(0) {
            Ok(Some(reg)) => self.checked_region(v.path, "GIC distributor", reg)?,
            Ok(None) => {
                self.problem(v.path, format_args!("GICv3 without a distributor 'reg'"));
                return None;
            }
            Err(e) => {
                self.problem(v.path, format_args!("bad 'reg': {e}"));
                return None;
            }
        };
        if count > MAX_GICV3_REDIST_REGIONS {
            self.problem(
                v.path,
                format_args!(
                    "{count} redistributor regions: only the first {MAX_GICV3_REDIST_REGIONS} \
                     used, the CPUs of the rest left without one"
                ),
            );
        }
        let mut redistributors = ArrayVec::new();
        for i in 1..=count.min(MAX_GICV3_REDIST_REGIONS) {
            match v.reg(i) {
                Ok(Some(reg)) => {
                    redistributors.push(self.checked_region(v.path, "GIC redistributors", reg)?)
                }
                Ok(None) => break,
                Err(e) => {
                    self.problem(v.path, format_args!("bad 'reg': {e}"));
                    return None;
                }
            }
        }
        if redistributors.is_empty() {
            self.problem(v.path, format_args!("GICv3 without redistributors"));
            return None;
        }
        Some(Gic::V3 {
            distributor,
            redistributors,
        })
    }

    /// Keeps a GIC until the root controller is known.
    fn keep_gic(&mut self, v: &Visit<'_, 'dtb>, gic: Option<Gic>, scratch: &mut Scratch<'dtb>) {
        if scratch
            .gics
            .try_push((v.prop_u32("phandle"), v.name, gic))
            .is_err()
        {
            self.problem(
                v.path,
                format_args!("more than {MAX_GICS} GICs: this one ignored"),
            );
        }
    }

    /// The GIC the kernel drives: the root interrupt controller (where the root's
    /// `interrupt-parent` chain ends) if it is a GIC, else the first GIC in the tree.
    fn choose_gic(&mut self, scratch: &Scratch<'dtb>) {
        if scratch.controllers.dropped > 0 {
            self.problem(
                "/",
                format_args!(
                    "more than {} interrupt controllers: {} not followed",
                    super::interrupts::MAX_CONTROLLERS,
                    scratch.controllers.dropped
                ),
            );
        }
        let root = scratch
            .root_interrupt_parent
            .and_then(|p| scratch.controllers.root_of(p));
        let chosen = root
            .and_then(|ph| scratch.gics.iter().find(|(p, _, _)| *p == Some(ph)))
            .or(scratch.gics.first());
        let Some((phandle, name, gic)) = chosen else {
            return;
        };
        for (_, other, _) in scratch
            .gics
            .iter()
            .filter(|(p, n, _)| (p, n) != (phandle, name))
        {
            self.problem(
                other,
                format_args!("not the root interrupt controller ({name} is): ignored"),
            );
        }
        self.gic = gic.clone();
        self.gic_phandle = *phandle;
    }

    /// The timer's PPIs and each UART's SPI, from specifiers of the chosen GIC.
    fn resolve_interrupts(&mut self, scratch: &mut Scratch<'dtb>) {
        let gic = self.gic.as_ref().and(self.gic_phandle);
        let controllers = &scratch.controllers;
        let on_gic = |specifiers: &Option<Specifiers<'dtb>>, index| {
            let (controller, cells) = controllers.specifier(specifiers.as_ref()?, index)?;
            (Some(controller) == gic)
                .then(|| decode_gic(cells))
                .flatten()
        };
        if let Some((name, specifiers)) = scratch.timer {
            // Secure physical, non-secure physical, virtual, hypervisor: each a PPI.
            match (on_gic(&specifiers, 1), on_gic(&specifiers, 2)) {
                (Some(GicInterrupt::Ppi(phys_irq)), Some(GicInterrupt::Ppi(virt_irq))) => {
                    self.timer = Some(Timer { phys_irq, virt_irq })
                }
                // Without a GIC the kernel says so once; the timer is only what follows.
                _ if gic.is_none() => {}
                _ => self.problem(
                    name,
                    format_args!("timer interrupts are not PPIs of the GIC"),
                ),
            }
        }
        for found in scratch.uarts.iter_mut() {
            if let Some(GicInterrupt::Spi(irq)) = on_gic(&found.interrupts, 0) {
                found.uart.irq = Some(irq);
            }
        }
    }

    fn visit_watchdog(&mut self, v: &Visit<'_, 'dtb>) {
        match v.reg(0) {
            Ok(Some(reg)) => self.watchdog = self.checked_region(v.path, "watchdog", reg),
            Ok(None) => self.problem(v.path, format_args!("watchdog without 'reg'")),
            Err(e) => self.problem(v.path, format_args!("bad 'reg': {e}")),
        }
    }

    fn visit_uart(&mut self, v: &Visit<'_, 'dtb>, kind: UartKind, scratch: &mut Scratch<'dtb>) {
        let region = match v.reg(0) {
            Ok(Some(reg)) => match self.checked_region(v.path, "UART", reg) {
                Some(region) => region,
                None => return,
            },
            Ok(None) => return self.problem(v.path, format_args!("UART without 'reg'")),
            Err(e) => return self.problem(v.path, format_args!("UART 'reg': {e}")),
        };
        let clock_phandle = v
            .prop("clocks")
            .and_then(|c| c.get(0..4))
            .and_then(cells::as_u32);
        let uart = Uart {
            kind,
            name: v.name,
            region,
            clock_hz: None,
            irq: None,
        };
        let mut path = ArrayString::new();
        push_truncated(&mut path, format_args!("{}", v.path));
        let found = FoundUart {
            path,
            uart,
            clock: clock_phandle,
            interrupts: Specifiers::of(v),
        };
        if scratch.uarts.try_push(found).is_err() {
            self.problem(v.path, format_args!("more than {MAX_UARTS} UARTs: ignored"));
        }
    }

    /// Picks the console: the UART the last `console=` bootarg names (an alias or a node
    /// path), else the one `/chosen/stdout-path` names (directly or through an alias),
    /// else the first enabled one. A name that leads to no UART is a [`Problem`] and the
    /// next rule decides.
    fn choose_console(&mut self, scratch: &Scratch<'dtb>) {
        let from_bootargs = super::bootargs::split(self.bootargs)
            .filter_map(Result::ok)
            .filter(|arg| arg.key == "console")
            .filter_map(|arg| arg.value)
            .last()
            .map(|v| ("console=", v));
        let from_stdout_path = self.stdout_path.map(|p| ("stdout-path", p));
        let mut chosen = None;
        for (source, wanted) in [from_bootargs, from_stdout_path].into_iter().flatten() {
            // Options follow a ':' (`serial0:115200n8`), or a ',' after an alias
            // (`console=serial0,115200`); node names may contain ','.
            let wanted = if wanted.starts_with('/') {
                wanted.split(':').next()
            } else {
                wanted.split([',', ':']).next()
            }
            .unwrap_or(wanted);
            let path = if wanted.starts_with('/') {
                wanted
            } else {
                scratch
                    .aliases
                    .iter()
                    .find(|(alias, _)| alias.as_str() == wanted)
                    .map_or(wanted, |(_, path)| *path)
            };
            match scratch
                .uarts
                .iter()
                .find(|found| path_matches(&found.path, path))
            {
                Some(found) => {
                    chosen = Some(found);
                    break;
                }
                None => self.problem(
                    "/chosen",
                    format_args!("{source} '{wanted}' names no UART this kernel drives"),
                ),
            }
        }
        self.console = chosen.or(scratch.uarts.first()).map(|found| found.uart);
    }

    /// The NUMA node the tree puts the RAM range `region` of `memory` in, if it says.
    pub fn numa_node_of(&self, region: &PhysRegion) -> Option<u32> {
        self.memory_numa
            .iter()
            .find(|n| n.region == *region)
            .map(|n| n.node)
    }

    /// Memory minus nothing: the RAM ranges as the DT gives them.
    pub fn total_memory(&self) -> u64 {
        self.memory.iter().map(|r| r.size).sum()
    }

    /// The boot CPU's index in [`Platform::cpus`], by MPIDR.
    pub fn cpu_index_of(&self, mpidr: Mpidr) -> Option<usize> {
        self.cpus.iter().position(|c| c.mpidr == mpidr)
    }
}

impl Scratch<'_> {
    /// Fills in each UART's clock rate from its `clocks` phandle, where that is a clock
    /// with a fixed `clock-frequency`.
    fn resolve_uart_clocks(&mut self) {
        for FoundUart { uart, clock, .. } in self.uarts.iter_mut() {
            uart.clock_hz = clock.and_then(|ph| {
                self.clocks
                    .iter()
                    .find(|(p, _)| *p == ph)
                    .map(|(_, hz)| *hz)
            });
        }
    }
}

/// The CPU topology map, and the prefix of its descendants' paths.
const CPU_MAP_NODE: &str = "/cpus/cpu-map";
const CPU_MAP: &str = "/cpus/cpu-map/";

/// A child of /cpus that is a CPU: named `cpu` or of `device_type` "cpu" (Linux's test;
/// `cpu-map` and other helpers are neither).
fn is_cpu(v: &Visit<'_, '_>) -> bool {
    v.node_name_base() == "cpu" || v.prop_str("device_type") == Some("cpu")
}

impl<'dtb> Visit<'_, 'dtb> {
    /// The node name without its unit address.
    fn node_name_base(&self) -> &'dtb str {
        self.name.split('@').next().unwrap_or(self.name)
    }
}

fn visit_aliases<'dtb>(v: &Visit<'_, 'dtb>, scratch: &mut Scratch<'dtb>) {
    use dtoolkit::{Node, Property};
    for prop in v.node.properties() {
        let Ok(value) = prop.value_as::<&'dtb [u8]>() else {
            continue;
        };
        let value = value.strip_suffix(&[0]).unwrap_or(value);
        let mut name = ArrayString::new();
        if let (Ok(path), Ok(())) = (core::str::from_utf8(value), name.try_push_str(prop.name())) {
            let _ = scratch.aliases.try_push((name, path));
        }
    }
}

/// Whether node path `path` is what `wanted` names; a component of `wanted` without a unit
/// address matches any unit address.
fn path_matches(path: &str, wanted: &str) -> bool {
    let mut have = path.split('/').filter(|s| !s.is_empty());
    let mut want = wanted.split('/').filter(|s| !s.is_empty());
    loop {
        match (have.next(), want.next()) {
            (None, None) => return true,
            (Some(h), Some(w)) => {
                let ok = if w.contains('@') {
                    h == w
                } else {
                    h.split('@').next() == Some(w)
                };
                if !ok {
                    return false;
                }
            }
            _ => return false,
        }
    }
}
