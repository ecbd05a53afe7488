//! The one live GIC and the calls the kernel makes on it: v2 or v3 as the device tree
//! says, each core's interface up and down, SGIs, acknowledge and end.

use super::redistributor_power::Offline;
use super::{Description, GicError, SGI_KICK, v2, v3};
use crate::dt::{Cpu, Gic as GicNode, Platform};
use crate::smp::cpumask::CpuMask;

pub use super::v3::{GicCpu, Redistributors};

/// A table of `len` entries, `make(i)` each, kept for good: the kernel's
/// `mm::table::leak`, for the GICv3 driver's per-CPU state.
pub type LeakTable = fn(usize, &mut dyn FnMut(usize) -> GicCpu) -> Option<&'static [GicCpu]>;

/// What the GIC driver needs from the kernel above it, which it names only by shape.
pub struct Services {
    /// Memory for the per-CPU state, sized by the CPUs the kernel manages.
    pub leak: LeakTable,
    /// The CPUs online now: an SGI to every other one may go as one broadcast.
    pub online: fn() -> CpuMask,
}

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
    pub(super) fn acknowledged(id: u32, end: u32) -> Option<Self> {
        (id < FIRST_SPECIAL_ID).then_some(Self { id, end })
    }

    /// The interrupt ID (for an SGI, without its sender).
    pub fn id(self) -> u32 {
        self.id
    }

    pub(super) fn to_end(self) -> u32 {
        self.end
    }
}

/// The one live controller.
enum Controller {
    V2(v2::GicV2Driver),
    V3(v3::GicV3Driver),
}

static GIC: spin::Once<Controller> = spin::Once::new();

/// Brings up the distributor, in whichever security view the kernel has of it; on a
/// GICv3, finds each CPU's redistributor. `cpus` are the CPUs the kernel manages, by
/// logical id. Each core, the boot core included, then brings up its own interface with
/// [`init_cpu`]; [`reachable`] says first which ones can be.
pub fn init(
    platform: &Platform<'_>,
    cpus: &[Cpu<'_>],
    services: &Services,
) -> Result<(), GicError> {
    let controller = match &platform.gic {
        None => return Err(GicError::Missing),
        Some(GicNode::V2 {
            distributor,
            cpu_interface,
        }) => Controller::V2(v2::GicV2Driver::new(*distributor, *cpu_interface)?),
        Some(GicNode::V3 {
            distributor,
            redistributors,
        }) => Controller::V3(v3::GicV3Driver::new(
            *distributor,
            redistributors,
            cpus,
            services,
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

/// Whether the controller can drive `cpu` at all: on a GICv3, a redistributor of its
/// affinity, and an SGI route to it (Aff0 16 or more needs range selectors). A CPU it
/// cannot drive must never come online: nothing could be sent to it.
pub fn reachable(cpu: usize) -> Result<(), GicError> {
    match controller() {
        Controller::V2(_) => Ok(()),
        Controller::V3(g) => g.reachable(cpu),
    }
}

/// On a GICv3, what the walk of its redistributor regions found.
pub fn redistributors() -> Option<Redistributors> {
    match GIC.get()? {
        Controller::V2(_) => None,
        Controller::V3(g) => Some(g.redistributors()),
    }
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

/// Turns this core's CPU interface off, so no interrupt is signalled to it any more, on a
/// core about to be powered off; on a GICv3 also what the redistributor needs before that
/// (`redistributor_power::offline`). Runs on the core itself, interrupts masked; bounded.
pub fn shutdown_cpu(cpu: usize) -> Result<(), GicError> {
    match controller() {
        Controller::V2(g) => g.shutdown_cpu(),
        Controller::V3(g) => g.shutdown_cpu(cpu).map(|_: Offline| ()),
    }
}

/// Sends SGI `sgi` to every CPU in `targets` (the sender included only if listed).
pub fn send_sgi(sgi: u32, targets: CpuMask) {
    if targets.is_empty() {
        return;
    }
    // Writes to memory (call data, flags) must be visible before the SGI arrives: a DSB
    // orders them before the write that generates it (the GIC is not in the Inner
    // Shareable domain's ordering for plain stores; Linux's `dsb(ishst)` before an IPI).
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
    // The stop's state must be visible before the SGI arrives (as in `send_sgi`).
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

/// The controller's version and the kernel's security view of it, once initialised.
pub fn description() -> Option<Description> {
    GIC.get().map(|c| match c {
        Controller::V2(g) => Description {
            version: 2,
            view: g.view(),
        },
        Controller::V3(g) => Description {
            version: 3,
            view: g.view(),
        },
    })
}

/// The controller's version, once initialised.
pub fn version() -> Option<u8> {
    description().map(|d| d.version)
}
