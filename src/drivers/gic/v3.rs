//! GICv3: each CPU's redistributor, found in every region the device tree gives
//! (`redistributors.rs`) and configured through arm-gic's `GicRedistributor` by its own CPU
//! alone; SGIs written to ICC_SGI1R_EL1 by us (`sgi.rs`: range selectors and IRM, which
//! arm-gic's `SgiTarget` cannot say); GICD_CTLR in the kernel's security view; each
//! redistributor's power, wake and write-pending registers (bounded waits) and the
//! read-back of its enables. The CPU interface is system registers, per core by nature.
//!
//! Per CPU the driver keeps its MPIDR, its SGI route and its redistributor, in a table
//! sized by the CPUs the kernel manages, made once at init with memory the kernel gives
//! ([`Services::leak`]). Nothing else is shared between CPUs but the distributor, written
//! only at init: every other access is a CPU's to its own redistributor or its own CPU
//! interface, so there is no lock.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aarch64_cpu::asm::barrier;
use arm_gic::gicv3::registers::GicrSgi;
use arm_gic::gicv3::{GicCpuInterface, GicRedistributor, Group, SecureIntGroup};
use arm_gic::{IntId, InterruptGroup, Trigger, UniqueMmioPointer};
use arrayvec::ArrayVec;
use tock_registers::interfaces::Readable;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

use super::controller::Services;
use super::poll::{self, Clock};
use super::redistributor_power::{self, Offline};
use super::redistributors::{self, Discovery, Frames};
use super::security::{self, SecurityView};
use super::sgi::{self, SgiRoute};
use super::{GicError, Interrupt};
use crate::arch::{cpu, icc, mmu};
use crate::drivers::mmio::Mmio;
use crate::drivers::timer;
use crate::dt::{Cpu, MAX_GICV3_REDIST_REGIONS, Mpidr};
use crate::mm::region::PhysRegion;
use crate::smp::cpumask::CpuMask;

register_structs! {
    /// The distributor registers we access ourselves.
    Distributor {
        (0x0000 => ctlr: ReadWrite<u32>),
        /// Bit 10, SecurityExtn: two security states; bit 26, RSS: range selectors.
        (0x0004 => typer: ReadOnly<u32>),
        (0x0008 => @END),
    },
    /// The registers of one redistributor we access ourselves: in its RD_base frame, then
    /// in its SGI_base frame 64 KiB on.
    RedistributorFrame {
        /// Bit 3, RWP: a write to ICENABLER0 (among others) is still taking effect.
        (0x0_0000 => ctlr: ReadWrite<u32>),
        (0x0_0004 => iidr: ReadOnly<u32>),
        /// Affinity in bits 63:32; bit 4, Last; bit 1, VLPIS (`redistributors.rs`).
        (0x0_0008 => typer: ReadOnly<u64>),
        (0x0_0010 => _statusr),
        (0x0_0014 => waker: ReadWrite<u32>),
        (0x0_0018 => _before_pwrr),
        (0x0_0024 => pwrr: ReadWrite<u32>),
        (0x0_0028 => _rest_of_rd_base),
        /// ArchRev in bits 7:4: 3 (GICv3) or 4 (GICv4).
        (0x0_ffe8 => pidr2: ReadOnly<u32>),
        (0x0_ffec => _ids),
        /// Interrupts 0-31's groups; RAZ/WI to Non-secure accesses where DS = 0.
        (0x1_0080 => igroupr0: ReadWrite<u32>),
        (0x1_0084 => _groups),
        (0x1_0100 => isenabler0: ReadWrite<u32>),
        (0x1_0104 => @END),
    }
}

const GICD_TYPER_SECURITY_EXTN: u32 = 1 << 10;
const GICD_TYPER_RSS: u32 = 1 << 26;
const ICC_CTLR_RSS: u64 = 1 << 18;
const RWP: u32 = 1 << 3;
/// Our interrupts' priority: arm-gic's default, the highest a Non-secure write can set.
const PRIORITY: u8 = 0x80;
/// ICC_IGRPEN1_EL1.Enable.
const GROUP1_ENABLE: u64 = 1;

/// The generic timer, as the portable bounded waits read time.
struct TimerClock;

impl Clock for TimerClock {
    fn now_us(&mut self) -> u64 {
        timer::now_ns() / 1_000
    }
}

/// One CPU as the GICv3 driver keeps it.
pub struct GicCpu {
    mpidr: Mpidr,
    /// How SGIs reach it; `None`: they cannot (Aff0 16 or more, no range selectors).
    route: Option<SgiRoute>,
    /// Its redistributor's RD_base once found; 0 while it has none.
    rd_base: AtomicU64,
}

/// What the walk of the redistributor regions found, for `dt`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Redistributors {
    pub discovery: Discovery,
    /// Redistributors found in each region, in the tree's order.
    pub per_region: [u16; MAX_GICV3_REDIST_REGIONS],
    /// Whether the GIC has range selectors (GICD_TYPER.RSS and the boot CPU's
    /// ICC_CTLR_EL1.RSS).
    pub range_selectors: bool,
    /// Whether an SGI to every other online CPU goes as one IRM = 1 write.
    pub broadcast: bool,
}

pub struct GicV3Driver {
    cpus: &'static [GicCpu],
    view: SecurityView,
    redistributors: Redistributors,
    /// Some CPU's SGIs need a range selector: every sending CPU interface needs them too.
    range_selectors_needed: bool,
    online: fn() -> CpuMask,
}

/// GICR_TYPER and GICR_PIDR2 of redistributors in a mapped region.
struct MappedFrames;

impl Frames for MappedFrames {
    fn typer(&mut self, rd_base: u64) -> u64 {
        frame(rd_base).typer.get()
    }

    fn pidr2(&mut self, rd_base: u64) -> u32 {
        frame(rd_base).pidr2.get()
    }
}

/// The frames of the redistributor at `rd_base`.
fn frame(rd_base: u64) -> Mmio<RedistributorFrame> {
    // SAFETY: every `rd_base` the driver uses is one the walk found inside a redistributor
    // region the tree gives, checked mapped as Device memory first, with its RD_base and
    // SGI_base frames inside the region (`redistributors::walk`); the registers read here
    // are read-only or are this CPU's own redistributor's, which only this CPU touches.
    unsafe { Mmio::new(rd_base) }
}

/// Sets ICC_SRE_EL1.SRE on this CPU, so that its other ICC registers can be used.
fn enable_system_registers() -> Result<(), GicError> {
    // arm-gic's `init_cpu` without its unbounded wake and with the ISB it lacks.
    let sre = icc::enable_icc_sre_el1();
    if sre & icc::SRE == 0 {
        return Err(GicError::Ignored {
            register: "ICC_SRE_EL1",
            wrote: icc::SRE as u32,
            reads: sre as u32,
            why: "EL2 keeps the GIC's system-register interface from EL1",
        });
    }
    Ok(())
}

/// Whether every byte of `region` is mapped.
fn mapped(region: PhysRegion) -> bool {
    mmu::is_range_mapped(region.base, region.size)
}

impl GicV3Driver {
    /// Finds every CPU's redistributor in `regions` and the kernel's security view of the
    /// GIC, and turns the distributor on in it. `cpus` are the CPUs the kernel manages, by
    /// logical id; this runs on the boot CPU.
    pub fn new(
        distributor: PhysRegion,
        regions: &[PhysRegion],
        cpus: &[Cpu<'_>],
        services: &Services,
    ) -> Result<Self, GicError> {
        if !mapped(distributor) {
            return Err(GicError::NotMapped {
                what: "distributor",
                region: distributor,
            });
        }
        // SAFETY: the tree's distributor, checked mapped as Device memory just now; the
        // driver's only accesses to it are GICD_TYPER (read-only) and GICD_CTLR, here,
        // before any other CPU runs.
        let dist: Mmio<Distributor> = unsafe { Mmio::new(distributor.base) };
        let typer = dist.typer.get();
        enable_system_registers()?;
        let range_selectors =
            typer & GICD_TYPER_RSS != 0 && icc::icc_ctlr_el1() & ICC_CTLR_RSS != 0;
        let table = (services.leak)(cpus.len(), &mut |i| GicCpu {
            mpidr: cpus[i].mpidr,
            route: SgiRoute::of(cpus[i].mpidr, range_selectors),
            rd_base: AtomicU64::new(0),
        })
        .ok_or(GicError::NoMemory { cpus: cpus.len() })?;

        let mut per_region = [0u16; MAX_GICV3_REDIST_REGIONS];
        let discovery = redistributors::discover(
            regions,
            mapped,
            &mut MappedFrames,
            table.len(),
            |c| table[c].mpidr,
            |c, rd_base| {
                table[c]
                    .rd_base
                    .compare_exchange(0, rd_base, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            },
            |index, outcome| {
                let found = outcome.unwrap_or_else(|e| {
                    crate::pr_err!("interrupt controller: {e}");
                    e.found()
                });
                if let Some(count) = per_region.get_mut(index) {
                    *count = found.try_into().unwrap_or(u16::MAX);
                }
            },
        );
        let redistributors = Redistributors {
            discovery,
            per_region,
            range_selectors,
            // An IRM = 1 SGI reaches every PE the GIC serves: only where each is a CPU the
            // kernel manages (none running anything else) may it stand in for lists.
            broadcast: discovery.all_matched(),
        };
        let driver = Self {
            cpus: table,
            view: SecurityView::Single,
            redistributors,
            range_selectors_needed: table
                .iter()
                .any(|c| c.route.is_some_and(SgiRoute::needs_range_selector)),
            online: services.online,
        };
        crate::pr_info!(
            "GICv3: {} redistributor(s) in {} region(s), {} of them for the kernel's CPUs; \
             range selectors: {}; an SGI to every other CPU goes {}",
            discovery.found,
            regions.len(),
            discovery.matched,
            if range_selectors { "yes" } else { "no" },
            if redistributors.broadcast {
                "as one broadcast (IRM)"
            } else {
                "as lists (the GIC serves CPUs the kernel does not manage)"
            }
        );
        let boot = frame(driver.rd_base_of(cpu::id())?);
        let security_extensions = typer & GICD_TYPER_SECURITY_EXTN != 0;
        let view = SecurityView::probe(security_extensions, &mut &boot.igroupr0);
        security::enable_v3_distributor(&mut &dist.ctlr, view, &mut TimerClock)?;
        Ok(Self { view, ..driver })
    }

    pub fn view(&self) -> SecurityView {
        self.view
    }

    pub fn redistributors(&self) -> Redistributors {
        self.redistributors
    }

    /// Whether `cpu` can be driven: it has a redistributor, and SGIs can reach it.
    pub fn reachable(&self, cpu: usize) -> Result<(), GicError> {
        let entry = self.cpus.get(cpu).ok_or(GicError::NoRedistributor {
            mpidr: Mpidr::default(),
        })?;
        self.rd_base_of(cpu)?;
        match entry.route {
            Some(_) => Ok(()),
            None => Err(GicError::NoRangeSelector { mpidr: entry.mpidr }),
        }
    }

    fn rd_base_of(&self, cpu: usize) -> Result<u64, GicError> {
        match self.cpus.get(cpu) {
            Some(c) => match c.rd_base.load(Ordering::Relaxed) {
                0 => Err(GicError::NoRedistributor { mpidr: c.mpidr }),
                base => Ok(base),
            },
            None => Err(GicError::NoRedistributor {
                mpidr: Mpidr::default(),
            }),
        }
    }

    /// Turns this core's redistributor and CPU interface on: powered (GIC-600/700), awake,
    /// system registers in use, every private interrupt off but ours, ours in the group
    /// the view asks for, then the priority mask and Group 1; each step read back.
    pub fn init_cpu(&self, cpu: usize, ppis: &[u32]) -> Result<(), GicError> {
        let rd_base = self.rd_base_of(cpu)?;
        let frame = frame(rd_base);
        let clock = &mut TimerClock;
        redistributor_power::power_on(frame.iidr.get(), &mut &frame.pwrr, clock)?;
        redistributor_power::wake(&mut &frame.waker, clock)?;
        enable_system_registers()?;
        // EOImode 0 (EOI also deactivates), no PMR hint, separate binary points.
        icc::write_icc_ctlr_el1(0);
        if self.range_selectors_needed && icc::icc_ctlr_el1() & ICC_CTLR_RSS == 0 {
            return Err(GicError::SenderWithoutRangeSelector);
        }

        own_redistributor(rd_base, |r| {
            r.enable_all_interrupts(false);
            Ok(())
        })?;
        // Disabling takes effect once GICR_CTLR.RWP reads 0.
        poll::until(
            clock,
            "GICR_CTLR.RWP to read 0 (this CPU's redistributor disabling its interrupts)",
            || frame.ctlr.get() & RWP == 0,
        )?;
        let ours: ArrayVec<IntId, 8> = super::SGIS
            .into_iter()
            .map(IntId::sgi)
            .chain(ppis.iter().map(|&ppi| IntId::ppi(ppi - 16)))
            .collect();
        let group = match self.view {
            SecurityView::Single => Some(Group::Group1NS),
            SecurityView::Secure => Some(Group::Secure(SecureIntGroup::Group1S)),
            // The Secure side's: GICR_IGROUPR0 is RAZ/WI to us.
            SecurityView::NonSecure => None,
        };
        let enables = ours
            .iter()
            .fold(0u32, |bits, &id| bits | 1 << u32::from(id));
        own_redistributor(rd_base, |r| {
            for &id in &ours {
                if let Some(group) = group {
                    r.set_group(id, group)?;
                }
                r.set_interrupt_priority(id, PRIORITY)?;
                if !id.is_sgi() {
                    r.set_trigger(id, Trigger::Level)?;
                }
                r.enable_interrupt(id, true)?;
            }
            Ok(())
        })?;
        let reads = frame.isenabler0.get();
        if reads & enables != enables {
            return Err(GicError::Ignored {
                register: "GICR_ISENABLER0",
                wrote: enables,
                reads,
                why: if self.view.owns_groups() {
                    "some of our SGIs and PPIs cannot be enabled"
                } else {
                    "the Secure side left some of our SGIs and PPIs in a Secure group, which \
                     a Non-secure kernel can neither enable nor acknowledge"
                },
            });
        }

        GicCpuInterface::set_priority_mask(0xff);
        // A write to ICC_PMR_EL1 takes effect for later instructions after an ISB.
        barrier::isb(barrier::SY);
        let pmr = GicCpuInterface::get_priority_mask();
        if pmr == 0 {
            return Err(GicError::Ignored {
                register: "ICC_PMR_EL1",
                wrote: 0xff,
                reads: 0,
                why: "every interrupt stays masked",
            });
        }
        GicCpuInterface::enable_group1(true);
        // Likewise ICC_IGRPEN1_EL1 (Linux's `gic_write_grpen1` is write + ISB).
        barrier::isb(barrier::SY);
        let igrpen1 = icc::icc_igrpen1_el1();
        if igrpen1 & GROUP1_ENABLE == 0 {
            return Err(GicError::Ignored {
                register: "ICC_IGRPEN1_EL1",
                wrote: GROUP1_ENABLE as u32,
                reads: igrpen1 as u32,
                why: "Group 1 stays off on this CPU interface",
            });
        }
        Ok(())
    }

    /// Disables what `init_cpu` enabled on this core but [`super::SGI_KICK`] (every other
    /// SGI and every one of `ppis`), its interface left on.
    pub fn park_cpu(&self, cpu: usize, ppis: &[u32]) {
        let Ok(rd_base) = self.rd_base_of(cpu) else {
            return;
        };
        let _ = own_redistributor(rd_base, |r| {
            for id in super::SGIS
                .into_iter()
                .filter(|&sgi| sgi != super::SGI_KICK)
                .map(IntId::sgi)
                .chain(ppis.iter().map(|&ppi| IntId::ppi(ppi - 16)))
            {
                r.enable_interrupt(id, false)?;
            }
            Ok(())
        });
    }

    /// Group 1 off on this CPU interface, then the redistributor prepared for its CPU's
    /// power-off (`redistributor_power::offline`: asleep where that is ours to do).
    pub fn shutdown_cpu(&self, cpu: usize) -> Result<Offline, GicError> {
        GicCpuInterface::enable_group1(false);
        // The write takes effect for what follows (the redistributor's sleep) after an ISB.
        barrier::isb(barrier::SY);
        let frame = frame(self.rd_base_of(cpu)?);
        let outcome = redistributor_power::offline(self.view, &mut &frame.waker, &mut TimerClock)?;
        static SAID: AtomicBool = AtomicBool::new(false);
        if outcome == Offline::WakerIgnoresWrites && !SAID.swap(true, Ordering::Relaxed) {
            crate::pr_info!(
                "GICR_WAKER ignores writes (as under KVM): redistributors stay awake while \
                 their CPUs are off"
            );
        }
        Ok(outcome)
    }

    /// Sends SGI `sgi` to `targets`: one ICC_SGI1R_EL1 write per group of them, or one
    /// IRM = 1 write for every other online CPU (`sgi::send`). A target no SGI can reach is
    /// reported (none can be online: `reachable` kept it out).
    pub fn send_sgi(&self, sgi: u32, targets: CpuMask) {
        let broadcast = self.redistributors.broadcast.then(|| (self.online)());
        let unreachable = sgi::send(
            sgi,
            targets,
            cpu::id(),
            |c| self.cpus.get(c).and_then(|entry| entry.route),
            broadcast,
            icc::write_icc_sgi1r_el1,
        );
        // The ICC_SGI1R_EL1 writes are system register writes: an ISB makes sure they are
        // executed now, not left pending behind what the caller does next (Linux's
        // `gic_ipi_send_mask` ends with the same `isb()`).
        barrier::isb(barrier::SY);
        if !unreachable.is_empty() {
            crate::pr_err!(
                "SGI {sgi} not sent to CPU(s) {unreachable}: no SGI can reach them (Aff0 16 or \
                 more, and no range selectors)"
            );
        }
    }

    pub fn acknowledge() -> Option<Interrupt> {
        GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1)
            .and_then(|id| Interrupt::acknowledged(id.into(), id.into()))
    }

    pub fn end(irq: Interrupt) {
        if let Ok(id) = IntId::try_from(irq.to_end()) {
            GicCpuInterface::end_interrupt(id, InterruptGroup::Group1);
        }
    }
}

/// Runs `f` on the redistributor at `rd_base` through arm-gic; the calling CPU's own.
fn own_redistributor(
    rd_base: u64,
    f: impl FnOnce(&mut GicRedistributor<'_>) -> Result<(), arm_gic::gicv3::GicError>,
) -> Result<(), GicError> {
    let Some(base) = NonNull::new(rd_base as *mut GicrSgi) else {
        return Err(GicError::Refused("redistributor at address 0"));
    };
    // SAFETY: a redistributor the walk found, mapped as Device memory, its two frames
    // inside its region (`frame`); it is the calling CPU's own, which no other CPU
    // configures, and this pointer lives only for `f`, while this CPU makes no other
    // access to those registers.
    let mut redistributor = GicRedistributor::new(unsafe { UniqueMmioPointer::new(base) });
    f(&mut redistributor).map_err(|_| GicError::Refused("configuring a private interrupt"))
}
