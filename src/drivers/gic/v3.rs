//! GICv3: arm-gic's `GicV3` behind a lock for configuring redistributors, and our own
//! access to what it gets wrong or cannot reach: GICD_CTLR in the kernel's security view,
//! each redistributor's power, wake and write-pending registers (bounded waits, on the
//! CPU's own redistributor, without the lock) and the read-back of its enables. The CPU
//! interface is system registers, per core by nature, used without the lock.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use aarch64_cpu::asm::barrier;
use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3, Group, SecureIntGroup, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup, Trigger, UniqueMmioPointer};
use arrayvec::ArrayVec;
use tock_registers::interfaces::Readable;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

use super::poll::{self, Clock};
use super::redistributor_power::{self, Offline};
use super::security::{self, SecurityView};
use super::{GicError, Interrupt};
use crate::MAX_CPUS;
use crate::arch::icc;
use crate::drivers::mmio::Mmio;
use crate::drivers::timer;
use crate::mm::region::PhysRegion;
use crate::smp::cpumask::CpuMask;
use crate::sync::IrqSpinLock;

register_structs! {
    /// The distributor registers we access ourselves.
    DistributorControl {
        (0x0000 => ctlr: ReadWrite<u32>),
        (0x0004 => @END),
    },
    /// The registers of one redistributor we access ourselves: in its RD_base frame, then
    /// in its SGI_base frame 64 KiB on.
    RedistributorFrame {
        /// Bit 3, RWP: a write to ICENABLER0 (among others) is still taking effect.
        (0x0_0000 => ctlr: ReadWrite<u32>),
        (0x0_0004 => iidr: ReadOnly<u32>),
        /// GICR_TYPER's low word; bit 1, VLPIS, means GICv4's two more frames.
        (0x0_0008 => typer: ReadOnly<u32>),
        (0x0_000c => _typer_high_and_statusr),
        (0x0_0014 => waker: ReadWrite<u32>),
        (0x0_0018 => _before_pwrr),
        (0x0_0024 => pwrr: ReadWrite<u32>),
        (0x0_0028 => _rest_of_rd_base),
        /// Interrupts 0-31's groups; RAZ/WI to Non-secure accesses where DS = 0.
        (0x1_0080 => igroupr0: ReadWrite<u32>),
        (0x1_0084 => _groups),
        (0x1_0100 => isenabler0: ReadWrite<u32>),
        (0x1_0104 => @END),
    }
}

/// One redistributor's frames: RD_base and SGI_base, 64 KiB each; GICv4's with virtual
/// LPIs have two more.
const GICV3_STRIDE: u64 = 0x2_0000;
const GICV4_STRIDE: u64 = 0x4_0000;
const TYPER_VLPIS: u32 = 1 << 1;
const RWP: u32 = 1 << 3;
const UNKNOWN: usize = usize::MAX;
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

pub struct GicV3Driver {
    gic: IrqSpinLock<GicV3<'static>>,
    /// Each logical CPU's redistributor index.
    redistributor: [AtomicUsize; MAX_CPUS],
    mpidr: [u64; MAX_CPUS],
    /// The first redistributor's frames, and the distance to the next.
    redistributors: u64,
    stride: u64,
    view: SecurityView,
}

impl GicV3Driver {
    /// Finds the kernel's security view of the GIC and turns the distributor on in it.
    pub fn new(
        distributor: PhysRegion,
        redistributors: PhysRegion,
        mpidrs: &[u64],
    ) -> Result<Self, GicError> {
        let (Some(gicd), Some(gicr)) = (
            NonNull::new(distributor.base as *mut Gicd),
            NonNull::new(redistributors.base as *mut GicrSgi),
        ) else {
            return Err(GicError::Refused("GIC at address 0"));
        };
        // SAFETY: the device tree's first redistributor region, mapped as Device memory by
        // the boot code; GICR_TYPER is read-only.
        let first: Mmio<RedistributorFrame> = unsafe { Mmio::new(redistributors.base) };
        let stride = match first.typer.get() & TYPER_VLPIS {
            0 => GICV3_STRIDE,
            _ => GICV4_STRIDE,
        };
        let slots = (redistributors.size / stride) as usize;
        let count = mpidrs.len().min(slots).min(MAX_CPUS);
        // SAFETY: the device tree's distributor and first redistributor region, mapped as
        // Device memory by the boot code. Beside arm-gic's accesses behind the lock, this
        // driver's own are GICD_CTLR, here before the lock is shared, and each
        // redistributor's frames, used only by that redistributor's CPU.
        let mut gic = unsafe { GicV3::new(UniqueMmioPointer::new(gicd), gicr, count) }
            .map_err(|_| GicError::Refused("unexpected redistributor frame layout"))?;
        let redistributor = [const { AtomicUsize::new(UNKNOWN) }; MAX_CPUS];
        // Redistributor order need not be CPU order: match GICR_TYPER's affinity.
        for index in 0..count {
            let Ok(typer) = gic.gicr_typer(index) else {
                continue;
            };
            let affinity = typer.core_mpidr() & 0xff_00ff_ffff;
            if let Some(cpu) = mpidrs.iter().position(|&m| m == affinity) {
                redistributor[cpu].store(index, Ordering::Relaxed);
            }
        }
        let security_extensions = gic.typer().has_security_extension();
        let driver = Self {
            gic: IrqSpinLock::new(gic),
            redistributor,
            mpidr: core::array::from_fn(|i| mpidrs.get(i).copied().unwrap_or(u64::MAX)),
            redistributors: redistributors.base,
            stride,
            view: SecurityView::Single,
        };
        let boot = driver.frame(driver.index_of(crate::arch::cpu::id())?);
        let view = SecurityView::probe(security_extensions, &mut &boot.igroupr0);
        // SAFETY: the distributor's control register; see `GicV3::new` above.
        let control: Mmio<DistributorControl> = unsafe { Mmio::new(distributor.base) };
        security::enable_v3_distributor(&mut &control.ctlr, view, &mut TimerClock)?;
        Ok(Self { view, ..driver })
    }

    pub fn view(&self) -> SecurityView {
        self.view
    }

    fn index_of(&self, cpu: usize) -> Result<usize, GicError> {
        match self
            .redistributor
            .get(cpu)
            .map(|i| i.load(Ordering::Relaxed))
        {
            Some(index) if index != UNKNOWN => Ok(index),
            _ => Err(GicError::NoRedistributor {
                mpidr: self.mpidr.get(cpu).copied().unwrap_or(u64::MAX),
            }),
        }
    }

    /// Redistributor `index`'s frames. Only its own CPU uses them (coming up and going
    /// offline), so no lock.
    fn frame(&self, index: usize) -> Mmio<RedistributorFrame> {
        // SAFETY: `index` is below the count `new` found room for in the device tree's
        // redistributor region, mapped as Device memory by the boot code.
        unsafe { Mmio::new(self.redistributors + index as u64 * self.stride) }
    }

    /// Turns this core's redistributor and CPU interface on: powered (GIC-600/700), awake,
    /// system registers in use, every private interrupt off but ours, ours in the group
    /// the view asks for, then the priority mask and Group 1; each step read back.
    pub fn init_cpu(&self, cpu: usize, ppis: &[u32]) -> Result<(), GicError> {
        let index = self.index_of(cpu)?;
        let frame = self.frame(index);
        let clock = &mut TimerClock;
        redistributor_power::power_on(frame.iidr.get(), &mut &frame.pwrr, clock)?;
        redistributor_power::wake(&mut &frame.waker, clock)?;
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
        // EOImode 0 (EOI also deactivates), no PMR hint, separate binary points.
        icc::write_icc_ctlr_el1(0);

        self.redistributor_do(index, |r| {
            r.enable_all_interrupts(false);
            Ok(())
        })?;
        // Disabling takes effect once GICR_CTLR.RWP reads 0.
        poll::until(
            clock,
            "GICR_CTLR.RWP to read 0 (this CPU's redistributor disabling its interrupts)",
            || frame.ctlr.get() & RWP == 0,
        )?;
        let ours: ArrayVec<IntId, 8> = [super::SGI_CALL, super::SGI_KICK, super::SGI_STOP]
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
        self.redistributor_do(index, |r| {
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

    /// Runs `f` on redistributor `index` through arm-gic, under the lock.
    fn redistributor_do(
        &self,
        index: usize,
        f: impl FnOnce(
            &mut arm_gic::gicv3::GicRedistributor<'_>,
        ) -> Result<(), arm_gic::gicv3::GicError>,
    ) -> Result<(), GicError> {
        let mut gic = self.gic.lock();
        let mut redistributor = gic
            .redistributor(index)
            .map_err(|_| GicError::Refused("no such redistributor"))?;
        f(&mut redistributor).map_err(|_| GicError::Refused("configuring a private interrupt"))
    }

    /// Disables what `init_cpu` enabled on this core but [`super::SGI_KICK`] (the call and
    /// stop SGIs and every one of `ppis`), its interface left on.
    pub fn park_cpu(&self, cpu: usize, ppis: &[u32]) {
        if let Ok(index) = self.index_of(cpu) {
            let mut gic = self.gic.lock();
            let sgis = [super::SGI_CALL, super::SGI_STOP].map(IntId::sgi);
            for id in sgis
                .into_iter()
                .chain(ppis.iter().map(|&ppi| IntId::ppi(ppi - 16)))
            {
                let _ = gic.enable_interrupt(id, Some(index), false);
            }
        }
    }

    /// Group 1 off on this CPU interface, then the redistributor prepared for its CPU's
    /// power-off (`redistributor_power::offline`: asleep where that is ours to do).
    pub fn shutdown_cpu(&self, cpu: usize) -> Result<Offline, GicError> {
        GicCpuInterface::enable_group1(false);
        // The write takes effect for what follows (the redistributor's sleep) after an ISB.
        barrier::isb(barrier::SY);
        let frame = self.frame(self.index_of(cpu)?);
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

    pub fn send_sgi(&self, sgi: u32, targets: CpuMask) {
        // One write per cluster (Aff3.Aff2.Aff1), Aff0 0-15 as a bit list.
        let mut clusters = ArrayVec::<(u64, u16), MAX_CPUS>::new();
        for cpu in targets.iter() {
            let mpidr = self.mpidr[cpu];
            let (cluster, aff0) = (mpidr & !0xff, (mpidr & 0xff) as u16);
            if aff0 >= 16 {
                continue;
            }
            match clusters.iter_mut().find(|(c, _)| *c == cluster) {
                Some((_, list)) => *list |= 1 << aff0,
                None => clusters.push((cluster, 1 << aff0)),
            }
        }
        for (cluster, list) in clusters {
            let target = SgiTarget::List {
                affinity3: (cluster >> 32) as u8,
                affinity2: (cluster >> 16) as u8,
                affinity1: (cluster >> 8) as u8,
                target_list: list,
            };
            let _ =
                GicCpuInterface::send_sgi(IntId::sgi(sgi), target, SgiTargetGroup::CurrentGroup1);
        }
        // The ICC_SGI1R_EL1 writes are system register writes: an ISB makes sure they are
        // executed now, not left pending behind what the caller does next (Linux's
        // `gic_ipi_send_mask` ends with the same `isb()`).
        barrier::isb(barrier::SY);
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
