//! The GICv3 CPU interface's system registers that the GIC driver needs and arm-gic does
//! not offer in the form it needs: ICC_SRE_EL1 set and read back with the ISB between,
//! ICC_CTLR_EL1 written and read, ICC_IGRPEN1_EL1 read back, ICC_SGI1R_EL1 written whole
//! (arm-gic's `SgiTarget` has no range selector).

use core::arch::asm;

/// ICC_SRE_EL1.SRE: the CPU interface is used through system registers.
pub const SRE: u64 = 1 << 0;

/// Sets ICC_SRE_EL1.SRE and returns the register as it then reads. A write to ICC_SRE_EL1
/// takes effect for later instructions only after a context synchronization event (GICv3
/// architecture, IHI 0069, "ICC_SRE_EL1"; Linux's `gic_write_sre` is write + ISB), and
/// until SRE is in effect an access to another ICC register can be UNDEFINED: hence the
/// ISB before the read-back and before the caller's next ICC access. Where EL2 disables
/// the system-register interface for EL1 (ICC_SRE_EL2.Enable = 0) the bit does not stick,
/// which the caller sees in what is returned.
pub fn enable_icc_sre_el1() -> u64 {
    let sre: u64;
    // SAFETY: ICC_SRE_EL1 exists wherever GICv3's system registers do (the driver runs
    // this only for a GICv3); setting SRE changes how the GIC's CPU interface is reached,
    // no memory. The ISB is the synchronization the write needs.
    unsafe {
        asm!(
            "mrs {v}, S3_0_C12_C12_5",
            "orr {v}, {v}, #1",
            "msr S3_0_C12_C12_5, {v}",
            "isb",
            "mrs {v}, S3_0_C12_C12_5",
            v = out(reg) sre,
            options(nomem, nostack),
        )
    };
    sre
}

/// Writes ICC_CTLR_EL1 (EOImode, CBPR, PMHE), then an ISB so later ICC accesses see it.
pub fn write_icc_ctlr_el1(value: u64) {
    // SAFETY: ICC_CTLR_EL1 is accessible at EL1 once ICC_SRE_EL1.SRE is set, which the
    // driver checks first; it configures the CPU interface only.
    unsafe { asm!("msr S3_0_C12_C12_4, {}", "isb", in(reg) value, options(nomem, nostack)) };
}

/// ICC_CTLR_EL1 as it reads now (bit 18, RSS: this CPU interface can send SGIs to
/// Aff0 16-255 through a range selector).
pub fn icc_ctlr_el1() -> u64 {
    let value: u64;
    // SAFETY: reading ICC_CTLR_EL1 has no side effects; accessible at EL1 once SRE is set,
    // which the driver checks first.
    unsafe { asm!("mrs {}, S3_0_C12_C12_4", out(reg) value, options(nomem, nostack)) };
    value
}

/// Writes ICC_SGI1R_EL1: generates the Group 1 SGI the value describes (targets, INTID,
/// IRM, RS). No ISB: a caller sending several ends them with one, which makes the writes
/// take effect before what follows (Linux's `gic_ipi_send_mask`).
pub fn write_icc_sgi1r_el1(value: u64) {
    // SAFETY: ICC_SGI1R_EL1 is accessible at EL1 once SRE is set, which every CPU that
    // sends SGIs checked when its interface came up; the write sends an interrupt, nothing
    // else. Not `nomem`: the compiler must keep the stores the target will read (and the
    // caller's DSB after them) before it.
    unsafe { asm!("msr S3_0_C12_C11_5, {}", in(reg) value, options(nostack)) };
}

/// ICC_IGRPEN1_EL1 as it reads now (bit 0: Group 1 enabled for this security state).
pub fn icc_igrpen1_el1() -> u64 {
    let value: u64;
    // SAFETY: reading ICC_IGRPEN1_EL1 has no side effects; accessible at EL1 once SRE is
    // set, which the driver checks first.
    unsafe { asm!("mrs {}, S3_0_C12_C12_7", out(reg) value, options(nomem, nostack)) };
    value
}
