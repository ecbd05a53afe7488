//! The Generic Interrupt Controller, v2 or v3 as the device tree says, behind one facade
//! over the `arm-gic` crate.
//!
//! What the rest of the kernel sees (`controller.rs`): bring up the distributor once, in
//! whichever security view the kernel has of it (`security.rs`: one security state,
//! non-secure or secure, found by what our writes do); bring each core's CPU interface
//! (v2) or redistributor (v3) up when the core comes online and down when it dies; send
//! SGIs to a set of logical CPUs; acknowledge and end interrupts. Every enable is read
//! back, and every wait on the GIC is bounded (`poll.rs`), with the GICv3 redistributor's
//! power and wake handshakes in `redistributor_power.rs`. A GICv3's redistributors are
//! found in every region the tree gives (`redistributors.rs`), and its SGIs addressed by
//! affinity group, range selector and broadcast (`sgi.rs`); its per-CPU state is sized by
//! the CPUs the kernel manages, in memory the kernel gives at init.
//!
//! The crate's known defects are handled here and nowhere else:
//!
//! - v2: `GicV2::setup` enables the distributor with GICD_CTLR bit 1 (EnableGrp1) when
//!   GICD_TYPER says SecurityExtn. To a Non-secure kernel that bit is RAZ/WI (its enable
//!   is bit 0), so the distributor stays off and no CPU ever gets an interrupt; in the
//!   Secure view it enables Group 1 where its GICC_CTLR write enables Group 0. It also
//!   rewrites all 32 group registers. We never call it: `security.rs` finds the view and
//!   enables the group we use, read back; each core sets its own banked group register.
//! - v2: acknowledging as Group 1 reads GICC_AIAR, which is Secure-only (RAZ to a
//!   Non-secure kernel): in every view we acknowledge and end through GICC_IAR/GICC_EOIR,
//!   with our interrupts in the group GICC_IAR serves there (Group 1 for a Non-secure
//!   access, Group 0 otherwise).
//! - v2: an SGI's IAR value carries the sender in bits 12:10: we dispatch on bits 9:0 and
//!   end the interrupt with the raw value, written to GICC_EOIR ourselves (the crate's
//!   `IntId` cannot hold it).
//! - v2: `SgiTarget::All` also hits the sender, so we never use it; targets are explicit
//!   lists of CPU-interface masks.
//! - v2: a core's CPU-interface number is not its MPIDR: each core reads its own mask from
//!   the banked GICD_ITARGETSR0 when it comes up.
//! - v2: `set_interrupt_priority` writes a whole word (resetting three neighbours) and
//!   there is no ITARGETSR, GICC_CTLR-off or read-back API: we leave priorities at their
//!   reset value and touch those registers ourselves (`v2.rs`).
//! - v3: `GicV3` takes one redistributor base and a CPU count, and finds a redistributor by
//!   index at one fixed stride from it (the first frame's VLPIS): it cannot reach a second
//!   region (QEMU's `virt` puts redistributors past the 123rd at 256 GiB) and it reads
//!   past the Last of a region with room to spare; its `cpu` arguments are indices, not
//!   MPIDRs. We do not use `GicV3`: `redistributors.rs` walks every region frame by frame
//!   to each GICR_TYPER.Last, the stride from each redistributor's VLPIS, and matches CPUs
//!   by GICR_TYPER's affinity; each CPU then drives its own redistributor through
//!   `GicRedistributor`.
//! - v3: `SgiTarget::List` has no range selector (RS) field and `send_sgi` no way to add
//!   one, so a CPU whose Aff0 is 16 or more cannot be named; `SgiTarget::All` (IRM) is
//!   there but nothing to decide when it may stand in for lists. We write ICC_SGI1R_EL1
//!   ourselves (`arch::icc`) with the value `sgi.rs` computes: a target list per
//!   (Aff3, Aff2, Aff1, RS) group, RS used only where GICD_TYPER.RSS and ICC_CTLR_EL1.RSS
//!   say the GIC has range selectors (a CPU it cannot reach is reported and never brought
//!   online), one IRM = 1 write for every other online CPU.
//! - v3: `redistributor_mark_core_asleep` (and `_awake`, inside `init_cpu` and `setup`)
//!   set or clear GICR_WAKER.ProcessorSleep and poll ChildrenAsleep with no bound and no
//!   check that the write took: where GICR_WAKER is RAZ/WI (KVM; a GIC with two security
//!   states seen Non-secure) a CPU going offline spins for ever, with the GIC lock held
//!   and interrupts masked. `gicr_power_on` polls GICR_PWRR without a bound too. We use
//!   none of them: `redistributor_power.rs` does both handshakes bounded and checked, on
//!   the CPU's own redistributor without the lock, and sleeps the redistributor at offline
//!   only where that is the kernel's job (its module doc says where and why).
//! - v3: `init_cpu` writes ICC_SRE_EL1 and then ICC_CTLR_EL1 with no ISB between: where
//!   SRE resets to 0 (bare metal) that access can be UNDEFINED. We set SRE ourselves, ISB,
//!   and read it back (`arch::icc`), and write ICC_CTLR_EL1 after.
//! - v3: `setup` and the distributor's `configure_default_settings` write GICD_CTLR with
//!   the Secure layout's names (ARE_S, EnableGrp1NS) and poll RWP without a bound: right
//!   by coincidence of bit positions for a Non-secure or single-state kernel, wrong in the
//!   Secure view; the redistributor's `configure_default_settings` polls GICR_CTLR.RWP
//!   without a bound. We program GICD_CTLR ourselves in the view's layout and wait for
//!   both RWPs with a bound; SPIs stay as they reset (disabled: the kernel uses none).
//!
//! Barriers, each where its rule applies: `dsb ishst` before every SGI (the target must see
//! the memory it is sent for); ISB after writing ICC_SRE_EL1, ICC_PMR_EL1,
//! ICC_IGRPEN1_EL1 and ICC_SGI1R_EL1 (a system register write takes effect for what
//! follows only after a context synchronization event; Linux's `gic_write_sre`,
//! `gic_write_grpen1` and the `isb()` closing `gic_ipi_send_mask`).

mod poll;
pub mod redistributor_power;
pub mod redistributors;
pub mod security;
pub mod sgi;

#[cfg(target_os = "none")]
mod controller;
#[cfg(target_os = "none")]
mod v2;
#[cfg(target_os = "none")]
mod v3;

#[cfg(target_os = "none")]
pub use controller::*;
pub use security::{Description, SecurityView};

use core::fmt;

use crate::dt::Mpidr;
use crate::mm::region::PhysRegion;

/// The SGI that delivers cross-CPU function calls.
pub const SGI_CALL: u32 = 0;
/// The SGI that only wakes a core (to look at its flags).
pub const SGI_KICK: u32 = 1;
/// The SGI that stops a core for good, after another one's Oops or panic.
pub const SGI_STOP: u32 = 2;
/// The SGI that asks a core to print its own backtrace (Linux's `IPI_CPU_BACKTRACE`).
pub const SGI_BACKTRACE: u32 = 3;
/// Every SGI the kernel uses: each online core enables them all; a parked one keeps
/// [`SGI_KICK`] alone.
pub const SGIS: [u32; 4] = [SGI_CALL, SGI_KICK, SGI_STOP, SGI_BACKTRACE];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GicError {
    /// The device tree has no interrupt controller.
    Missing,
    /// GICv2 addresses at most 8 CPU interfaces.
    CpuNotAddressable(usize),
    /// No GICv3 redistributor has this core's affinity.
    NoRedistributor { mpidr: Mpidr },
    /// This core's Aff0 is 16 or more, which an SGI names only through a range selector,
    /// and the GIC has none: nothing can be sent to it.
    NoRangeSelector { mpidr: Mpidr },
    /// Some CPU needs a range selector to be sent an SGI, and this CPU interface has none
    /// (ICC_CTLR_EL1.RSS reads 0).
    SenderWithoutRangeSelector,
    /// A region of the controller is not mapped (boot says why).
    NotMapped {
        what: &'static str,
        region: PhysRegion,
    },
    /// No memory for the per-CPU table of this many CPUs.
    NoMemory { cpus: usize },
    /// The controller refused (the crate's error, as text).
    Refused(&'static str),
    /// A register ignored our write: it reads back without what we set.
    Ignored {
        register: &'static str,
        wrote: u32,
        reads: u32,
        /// What that leaves the machine without.
        why: &'static str,
    },
    /// A bounded wait on the GIC ran out.
    Timeout {
        /// What was awaited, and of whom.
        waiting_for: &'static str,
        limit_us: u64,
    },
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
            GicError::NoRangeSelector { mpidr } => write!(
                f,
                "MPIDR {mpidr:#x} has Aff0 16 or more, which an SGI names only through a range \
                 selector, and GICD_TYPER.RSS or ICC_CTLR_EL1.RSS says the GIC has none: no SGI \
                 can reach it"
            ),
            GicError::SenderWithoutRangeSelector => write!(
                f,
                "this CPU interface has no range selector (ICC_CTLR_EL1.RSS reads 0), so it \
                 could not send SGIs to the CPUs whose Aff0 is 16 or more"
            ),
            GicError::NotMapped { what, region } => write!(
                f,
                "the GIC's {what} at {region} is not mapped (the boot log's page tables say why)"
            ),
            GicError::NoMemory { cpus } => {
                write!(f, "no memory for the GIC's table of {cpus} CPUs")
            }
            GicError::Refused(what) => write!(f, "the GIC refused: {what}"),
            GicError::Ignored {
                register,
                wrote,
                reads,
                why,
            } => write!(
                f,
                "{register} reads {reads:#x} after we wrote {wrote:#x}: {why}"
            ),
            GicError::Timeout {
                waiting_for,
                limit_us,
            } => write!(f, "gave up after {limit_us} us waiting for {waiting_for}"),
        }
    }
}
