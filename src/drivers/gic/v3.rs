//! GICv3: arm-gic's `GicV3` behind a lock for the distributor and redistributors; the CPU
//! interface is system registers, per core by nature, used without the lock.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup, UniqueMmioPointer};
use arrayvec::ArrayVec;

use super::{GicError, Interrupt};
use crate::MAX_CPUS;
use crate::mm::region::PhysRegion;
use crate::smp::cpumask::CpuMask;
use crate::sync::IrqSpinLock;

/// One redistributor's frames (RD_base + SGI_base) in GICv3.
const REDISTRIBUTOR_STRIDE: u64 = 0x2_0000;
const UNKNOWN: usize = usize::MAX;

pub struct GicV3Driver {
    gic: IrqSpinLock<GicV3<'static>>,
    /// Each logical CPU's redistributor index.
    redistributor: [AtomicUsize; MAX_CPUS],
    mpidr: [u64; MAX_CPUS],
}

impl GicV3Driver {
    pub fn new(
        distributor: PhysRegion,
        redistributors: PhysRegion,
        mpidrs: &[u64],
    ) -> Result<Self, GicError> {
        let slots = (redistributors.size / REDISTRIBUTOR_STRIDE) as usize;
        let count = mpidrs.len().min(slots).min(MAX_CPUS);
        let (Some(gicd), Some(gicr)) = (
            NonNull::new(distributor.base as *mut Gicd),
            NonNull::new(redistributors.base as *mut GicrSgi),
        ) else {
            return Err(GicError::Refused("GIC at address 0"));
        };
        // SAFETY: the device tree's distributor and first redistributor region, mapped as
        // Device memory by the boot code; this driver is their only user.
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
        let driver = Self {
            gic: IrqSpinLock::new(gic),
            redistributor,
            mpidr: core::array::from_fn(|i| mpidrs.get(i).copied().unwrap_or(u64::MAX)),
        };
        let boot = driver.index_of(crate::arch::cpu::id())?;
        {
            let mut gic = driver.gic.lock();
            let _ = gic.gicr_power_on(boot);
            gic.setup(boot);
        }
        Ok(driver)
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

    pub fn init_cpu(&self, cpu: usize, ppis: &[u32]) -> Result<(), GicError> {
        let index = self.index_of(cpu)?;
        {
            let mut gic = self.gic.lock();
            let _ = gic.gicr_power_on(index);
            gic.init_cpu(index);
            for sgi in [super::SGI_CALL, super::SGI_KICK, super::SGI_STOP] {
                gic.enable_interrupt(IntId::sgi(sgi), Some(index), true)
                    .map_err(|_| GicError::Refused("enabling an SGI"))?;
            }
            for &ppi in ppis {
                gic.enable_interrupt(IntId::ppi(ppi - 16), Some(index), true)
                    .map_err(|_| GicError::Refused("enabling a PPI"))?;
            }
        }
        GicCpuInterface::set_priority_mask(0xff);
        GicCpuInterface::enable_group1(true);
        Ok(())
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

    pub fn shutdown_cpu(&self, cpu: usize) {
        GicCpuInterface::enable_group1(false);
        if let Ok(index) = self.index_of(cpu) {
            let _ = self.gic.lock().redistributor_mark_core_asleep(index);
        }
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
