//! The Generic Interrupt Controller, v2 or v3 as the device tree says, behind one facade
//! over the `arm-gic` crate.
//!
//! What the rest of the kernel sees: bring up the distributor once, bring each core's CPU
//! interface (v2) or redistributor (v3) up when the core comes online and down when it
//! dies, send SGIs to a set of logical CPUs, and acknowledge/end interrupts. The crate's
//! known defects are handled here and nowhere else:
//!
//! - v2: acknowledging as Group 1 reads GICC_AIAR, which reads 0 for a non-secure kernel:
//!   we acknowledge and end as Group 0 (GICC_IAR/GICC_EOIR).
//! - v2: an SGI's IAR value carries the sender in bits 12:10: we dispatch on bits 9:0 and
//!   end the interrupt with the raw value, written to GICC_EOIR ourselves (the crate's
//!   `IntId` cannot hold it).
//! - v2: `SgiTarget::All` also hits the sender, so we never use it; targets are explicit
//!   lists of CPU-interface masks.
//! - v2: a core's CPU-interface number is not its MPIDR: each core reads its own mask from
//!   the banked GICD_ITARGETSR0 when it comes up.
//! - v2: `set_interrupt_priority` writes a whole word (resetting three neighbours) and
//!   there is no ITARGETSR or GICC_CTLR-off API: we leave priorities at their reset value
//!   and touch those registers ourselves (`v2.rs`).
//! - v3: the crate's `cpu` arguments are redistributor indices, not MPIDRs: each core's
//!   index is found by matching GICR_TYPER's affinity with its MPIDR; SGI target lists
//!   cover Aff0 0-15 of one cluster per write, so targets are grouped by cluster.

mod v2;
mod v3;

use core::fmt;

use crate::dt::{Gic as GicNode, Platform};
use crate::smp::cpumask::CpuMask;

/// The SGI that delivers cross-CPU function calls.
pub const SGI_CALL: u32 = 0;
/// The SGI that only wakes a core (to look at its flags).
pub const SGI_KICK: u32 = 1;
/// The SGI that stops a core for good, after another one's Oops or panic.
pub const SGI_STOP: u32 = 2;

/// An acknowledged interrupt, to be ended with [`end`].
#[derive(Clone, Copy, Debug)]
pub struct Interrupt {
    id: u32,
    /// What ending it writes back (GICv2: the acknowledge register whole, an SGI's
    /// sender included).
    end: u32,
}

/// IDs 1020-1023 are special: nothing was pending.
const FIRST_SPECIAL_ID: u32 = 1020;

impl Interrupt {
    /// An interrupt acknowledged with ID `id`, ended by writing `end`; none for a special
    /// ID.
    fn acknowledged(id: u32, end: u32) -> Option<Self> {
        (id < FIRST_SPECIAL_ID).then_some(Self { id, end })
    }

    /// The interrupt ID (for an SGI, without its sender).
    pub fn id(self) -> u32 {
        self.id
    }

    fn to_end(self) -> u32 {
        self.end
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GicError {
    /// The device tree has no interrupt controller.
    Missing,
    /// GICv2 addresses at most 8 CPU interfaces.
    CpuNotAddressable(usize),
    /// No GICv3 redistributor has this core's affinity.
    NoRedistributor { mpidr: u64 },
    /// The controller refused (the crate's error, as text).
    Refused(&'static str),
}

impl fmt::Display for GicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GicError::Missing => write!(f, "the device tree describes no GIC"),
            GicError::CpuNotAddressable(cpu) => {
                write!(f, "cpu{cpu} is beyond the 8 CPUs a GICv2 can address")
            }
            GicError::NoRedistributor { mpidr } => {
                write!(f, "no GICv3 redistributor has affinity {mpidr:#x}")
            }
            GicError::Refused(what) => write!(f, "the GIC refused: {what}"),
        }
    }
}

/// The one live controller. It sits once in a static, never moved or copied, so the
/// size of the larger (v3: per-CPU redistributor table) variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Controller {
    V2(v2::GicV2Driver),
    V3(v3::GicV3Driver),
}

static GIC: spin::Once<Controller> = spin::Once::new();

/// Brings up the distributor (and this, the boot, core's interface). `mpidrs` are the
/// logical CPUs' MPIDRs, by logical id.
pub fn init(platform: &Platform<'_>, mpidrs: &[u64]) -> Result<(), GicError> {
    let controller = match &platform.gic {
        None => return Err(GicError::Missing),
        Some(GicNode::V2 {
            distributor,
            cpu_interface,
        }) => Controller::V2(v2::GicV2Driver::new(*distributor, *cpu_interface)),
        Some(GicNode::V3 {
            distributor,
            redistributors,
        }) => Controller::V3(v3::GicV3Driver::new(
            *distributor,
            redistributors[0],
            mpidrs,
        )?),
    };
    GIC.call_once(|| controller);
    Ok(())
}

/// The most CPUs this controller can address.
pub fn max_cpus(platform: &Platform<'_>) -> usize {
    match platform.gic {
        Some(GicNode::V2 { .. }) => 8,
        _ => crate::MAX_CPUS,
    }
}

fn controller() -> &'static Controller {
    GIC.get().expect("GIC used before gic::init")
}

/// Turns this core's CPU interface (or redistributor) on and enables the SGIs and `ppis`
/// on it. Runs on the core itself, `cpu` being its logical id.
pub fn init_cpu(cpu: usize, ppis: &[u32]) -> Result<(), GicError> {
    match controller() {
        Controller::V2(g) => g.init_cpu(cpu, ppis),
        Controller::V3(g) => g.init_cpu(cpu, ppis),
    }
}

/// Leaves this core's CPU interface on for [`SGI_KICK`] alone, every other private
/// interrupt (`ppis` among them) disabled: a parked core sleeps in WFI until that SGI.
pub fn park_cpu(cpu: usize, ppis: &[u32]) {
    match controller() {
        Controller::V2(g) => g.park_cpu(SGI_KICK),
        Controller::V3(g) => g.park_cpu(cpu, ppis),
    }
}

/// Turns this core's CPU interface off, so no interrupt is signalled to it any more.
pub fn shutdown_cpu(cpu: usize) {
    match controller() {
        Controller::V2(g) => g.shutdown_cpu(cpu),
        Controller::V3(g) => g.shutdown_cpu(cpu),
    }
}

/// Sends SGI `sgi` to every CPU in `targets` (the sender included only if listed).
pub fn send_sgi(sgi: u32, targets: CpuMask) {
    if targets.is_empty() {
        return;
    }
    // Writes to memory (call data, flags) must be visible before the SGI arrives.
    aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISHST);
    match controller() {
        Controller::V2(g) => g.send_sgi(sgi, targets),
        Controller::V3(g) => g.send_sgi(sgi, targets),
    }
}

/// Sends SGI `sgi` to `targets` from a CPU that may be holding any lock (its Oops): the
/// GICv2 distributor's SGI register is written without the driver's lock, which only
/// orders arm-gic's own accesses (GICD_SGIR is write-only, each write one SGI).
pub fn send_sgi_emergency(sgi: u32, targets: CpuMask) {
    if targets.is_empty() {
        return;
    }
    // Stores before it (the stop's state) must be visible before the SGI arrives.
    aarch64_cpu::asm::barrier::dsb(aarch64_cpu::asm::barrier::ISHST);
    match GIC.get() {
        Some(Controller::V2(g)) => g.send_sgi_unlocked(sgi, targets),
        Some(Controller::V3(g)) => g.send_sgi(sgi, targets),
        None => {}
    }
}

/// The highest-priority pending interrupt of this core, acknowledged.
pub fn acknowledge() -> Option<Interrupt> {
    match controller() {
        Controller::V2(g) => g.acknowledge(),
        Controller::V3(_) => v3::GicV3Driver::acknowledge(),
    }
}

/// Ends an interrupt from [`acknowledge`].
pub fn end(irq: Interrupt) {
    match controller() {
        Controller::V2(g) => g.end(irq),
        Controller::V3(_) => v3::GicV3Driver::end(irq),
    }
}

/// The controller's version, once initialised.
pub fn version() -> Option<u8> {
    GIC.get().map(|c| match c {
        Controller::V2(_) => 2,
        Controller::V3(_) => 3,
    })
}
