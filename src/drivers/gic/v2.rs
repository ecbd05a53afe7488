//! GICv2 (GIC-400): arm-gic's `GicV2` behind a lock for the SGI register, plus what it has
//! no usable API for: the distributor's enable in the kernel's security view
//! (`security.rs`), ITARGETSR0, GICC_CTLR on and off with read-back, GICC_IAR/GICC_EOIR
//! with an SGI's sender bits, and a CPU's own setup in five banked registers (arm-gic's
//! `setup` rewrites all 32 group registers, shared ones included, and enables the wrong
//! bit in two of the three views).
//! The CPU-interface registers are banked: every call here acts on the calling core's
//! own interface, so acknowledge and end, on every interrupt's path, need no lock.

use core::sync::atomic::{AtomicU8, Ordering};

use arm_gic::IntId;
use arm_gic::gicv2::{GicV2, SgiTarget, SgiTargetListFilter};
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

use super::security::{self, SecurityView};
use super::{GicError, Interrupt};
use crate::drivers::mmio::Mmio;
use crate::mm::region::PhysRegion;
use crate::smp::cpumask::CpuMask;
use crate::sync::IrqSpinLock;

register_structs! {
    /// The distributor registers we access ourselves.
    DistributorExtra {
        /// Bit 0 enables the group we use, in every view (`security.rs`).
        (0x000 => ctlr: ReadWrite<u32>),
        (0x004 => _before_groups),
        /// Interrupts 0-31's groups, one bit each; banked per core. RAZ/WI to a
        /// Non-secure access when the GIC has the Security Extensions.
        (0x080 => igroupr0: ReadWrite<u32>),
        (0x084 => _groups),
        /// Interrupts 0-31: writing 1 enables one; banked per core.
        (0x100 => isenabler0: ReadWrite<u32>),
        (0x104 => _enables),
        /// Interrupts 0-31: writing 1 disables one; banked per core.
        (0x180 => icenabler0: WriteOnly<u32>),
        (0x184 => _disables),
        /// Byte n: the CPU-interface mask that interrupt n targets. Banked for 0-31: reading
        /// any byte of ITARGETSR0 gives the reading core's own mask.
        (0x800 => itargetsr0: ReadOnly<u32>),
        (0x804 => _config),
        /// Software generated interrupts: one write sends one SGI.
        (0xf00 => sgir: WriteOnly<u32, GICD_SGIR::Register>),
        (0xf04 => @END),
    },
    /// The CPU interface registers we access ourselves.
    CpuInterfaceExtra {
        (0x000 => ctlr: ReadWrite<u32, GICC_CTLR::Register>),
        (0x004 => pmr: ReadWrite<u32>),
        (0x008 => _bpr),
        (0x00c => iar: ReadOnly<u32, GICC_IAR::Register>),
        (0x010 => eoir: WriteOnly<u32, GICC_IAR::Register>),
        (0x014 => @END),
    }
}

register_bitfields! [u32,
    GICD_SGIR [
        SgiIntId OFFSET(0) NUMBITS(4) [],
        /// Bit n: CPU interface n.
        CpuTargetList OFFSET(16) NUMBITS(8) [],
        TargetListFilter OFFSET(24) NUMBITS(2) [
            CpuTargetList = 0
        ]
    ],
    /// GICC_CTLR: bit 0 is the enable of the group we use in every view (EnableGrp0 where
    /// we own the groups, EnableGrp1 in the Non-secure layout).
    GICC_CTLR [
        /// Signal this interface's interrupts of our group to the core.
        Enable OFFSET(0) NUMBITS(1) []
    ],
    /// GICC_IAR, and GICC_EOIR written back with the same value.
    GICC_IAR [
        InterruptId OFFSET(0) NUMBITS(10) [],
        /// For an SGI: the interface that sent it.
        SourceCpu OFFSET(10) NUMBITS(3) []
    ]
];

pub struct GicV2Driver {
    gic: IrqSpinLock<GicV2<'static>>,
    distributor: Mmio<DistributorExtra>,
    cpu_interface: Mmio<CpuInterfaceExtra>,
    /// Each logical CPU's CPU-interface mask (0 until the CPU came up once).
    masks: [AtomicU8; 8],
    view: SecurityView,
}

impl GicV2Driver {
    /// Finds the kernel's security view of the GIC and turns the distributor on in it.
    pub fn new(distributor: PhysRegion, cpu_interface: PhysRegion) -> Result<Self, GicError> {
        // SAFETY: the device tree's GICv2 regions, mapped as Device memory by the boot
        // code; this driver is their only user.
        let gic = unsafe {
            GicV2::new(
                distributor.base as *mut arm_gic::gicv2::registers::Gicd,
                cpu_interface.base as *mut arm_gic::gicv2::registers::Gicc,
            )
        };
        let security_extensions = gic.typer().has_security_extension();
        let driver = Self {
            gic: IrqSpinLock::new(crate::lock_class!("gic distributor"), gic),
            // SAFETY: the same regions. Beside arm-gic's accesses behind the lock (the SGI
            // register alone), this driver's are GICD_CTLR, here before the lock is shared,
            // and registers banked per core, each used only by its own core.
            distributor: unsafe { Mmio::new(distributor.base) },
            // SAFETY: the CPU interface region: every register of it is banked per core.
            cpu_interface: unsafe { Mmio::new(cpu_interface.base) },
            masks: [const { AtomicU8::new(0) }; 8],
            view: SecurityView::Single,
        };
        let view = SecurityView::probe(security_extensions, &mut &driver.distributor.igroupr0);
        security::enable_v2_distributor(&mut &driver.distributor.ctlr)?;
        Ok(Self { view, ..driver })
    }

    pub fn view(&self) -> SecurityView {
        self.view
    }

    pub fn init_cpu(&self, cpu: usize, ppis: &[u32]) -> Result<(), GicError> {
        if cpu >= self.masks.len() {
            return Err(GicError::CpuNotAddressable(cpu));
        }
        let enables = super::SGIS
            .into_iter()
            .chain(ppis.iter().copied())
            .filter(|&id| id < 32)
            .fold(0u32, |bits, id| bits | 1 << id);
        // IGROUPR0 and ISENABLER0 of the distributor and GICC_PMR/GICC_CTLR of the CPU
        // interface are all banked: this core's own, which only it touches, so no lock.
        if self.view.owns_groups() {
            // Group 0: what GICC_IAR acknowledges for a Secure or single-state access.
            self.distributor.igroupr0.set(0);
            let reads = self.distributor.igroupr0.get();
            if reads & enables != 0 {
                return Err(GicError::Ignored {
                    register: "GICD_IGROUPR0",
                    wrote: 0,
                    reads,
                    why: "our SGIs and PPIs stay in Group 1, which GICC_IAR does not \
                          acknowledge here",
                });
            }
        }
        self.distributor.isenabler0.set(enables);
        let reads = self.distributor.isenabler0.get();
        if reads & enables != enables {
            return Err(GicError::Ignored {
                register: "GICD_ISENABLER0",
                wrote: enables,
                reads,
                why: if self.view.owns_groups() {
                    "some of our SGIs and PPIs cannot be enabled"
                } else {
                    "the Secure side left some of our SGIs and PPIs in Group 0, which a \
                     Non-secure kernel can neither enable nor acknowledge"
                },
            });
        }
        security::enable_v2_cpu_interface(
            &mut &self.cpu_interface.ctlr,
            &mut &self.cpu_interface.pmr,
        )?;
        // ITARGETSR0 is read-only and banked: this core's own target mask.
        let mask = self.distributor.itargetsr0.get() as u8;
        self.masks[cpu].store(mask, Ordering::Release);
        Ok(())
    }

    /// Disables every private interrupt of this core but `keep`, its interface left on.
    pub fn park_cpu(&self, keep: u32) {
        // ICENABLER0 is banked: this core's own.
        self.distributor.icenabler0.set(!(1 << keep));
    }

    pub fn shutdown_cpu(&self) -> Result<(), GicError> {
        // GICC_CTLR is banked, this core's: no more signalling to the core.
        self.cpu_interface.ctlr.write(GICC_CTLR::Enable::CLEAR);
        let reads = self.cpu_interface.ctlr.get();
        if reads & 1 != 0 {
            return Err(GicError::Ignored {
                register: "GICC_CTLR",
                wrote: 0,
                reads,
                why: "this CPU interface stays on while its CPU goes off",
            });
        }
        Ok(())
    }

    /// The CPU-interface mask of `targets`.
    fn target_list(&self, targets: CpuMask) -> u16 {
        targets
            .iter()
            .filter(|&c| c < self.masks.len())
            .fold(0u16, |acc, c| {
                acc | u16::from(self.masks[c].load(Ordering::Acquire))
            })
    }

    /// Sends `sgi` without taking the lock, for a CPU that may hold it (see
    /// `gic::send_sgi_emergency`).
    pub fn send_sgi_unlocked(&self, sgi: u32, targets: CpuMask) {
        let list = self.target_list(targets);
        if list != 0 {
            self.distributor.sgir.write(
                GICD_SGIR::SgiIntId.val(sgi)
                    + GICD_SGIR::CpuTargetList.val(u32::from(list))
                    + GICD_SGIR::TargetListFilter::CpuTargetList,
            );
        }
    }

    pub fn send_sgi(&self, sgi: u32, targets: CpuMask) {
        let list = self.target_list(targets);
        if list == 0 {
            return;
        }
        self.gic.lock().send_sgi(
            IntId::sgi(sgi),
            SgiTarget::List {
                target_list_filter: SgiTargetListFilter::CPUTargetList,
                target_list: list,
            },
        );
    }

    /// Acknowledges through GICC_IAR in every view (our interrupts are in the group it
    /// serves there; GICC_AIAR is RAZ to a Non-secure kernel), keeping the raw value with
    /// an SGI's sender bits for [`Self::end`].
    pub fn acknowledge(&self) -> Option<Interrupt> {
        // GICC_IAR is banked, this core's.
        let iar = self.cpu_interface.iar.extract();
        Interrupt::acknowledged(iar.read(GICC_IAR::InterruptId), iar.get())
    }

    pub fn end(&self, irq: Interrupt) {
        // arm-gic's end_interrupt takes an IntId, which cannot hold an SGI's sender bits
        // (IntId::try_from rejects 1024 and up), and GICC_EOIR needs them: write it here.
        // GICC_EOIR is banked, this core's.
        self.cpu_interface.eoir.set(irq.to_end());
    }
}
