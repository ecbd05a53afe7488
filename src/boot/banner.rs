//! The boot log: what the kernel found (the image, the device tree and what was wrong
//! with it, memory, PSCI, the boot CPU), written once the console log level is set.

use super::Boot;
use crate::{pr_err, pr_info, pr_notice, pr_warn};

/// Writes the boot log.
pub fn log(boot: &mut Boot) {
    let platform = boot.platform;
    pr_info!(
        "hotslab {} on {}",
        env!("CARGO_PKG_VERSION"),
        platform.model.unwrap_or("an unnamed machine")
    );
    let image = crate::arch::layout::image();
    pr_info!(
        "entered at EL{}, now EL{}; image at {} (relocated by {:#x}); {} page tables",
        boot.entry.entry_el,
        crate::arch::cpu::current_el(),
        image,
        boot.entry.relocation,
        boot.entry.page_tables
    );
    if let Some(unmapped) = boot.entry.unmapped_gic {
        pr_err!(
            "page tables: interrupt controller region {} not mapped: {} ({} more GIC \
             region(s) not mapped); the GIC driver leaves them alone",
            unmapped.region,
            unmapped.error,
            boot.entry.more_unmapped_gic
        );
    }
    pr_info!(
        "device tree at {}, bootargs \"{}\"",
        platform.dtb,
        platform.bootargs
    );
    for e in &boot.bad_args {
        pr_warn!("bootargs: {e}");
    }
    if boot.more_bad_args > 0 {
        pr_warn!(
            "bootargs: {} more word(s) not understood",
            boot.more_bad_args
        );
    }
    for problem in &platform.problems {
        pr_warn!("device tree: {problem}");
    }
    if platform.cpus_left_out > 0 {
        pr_warn!(
            "device tree: {} CPUs beyond the limit of {} left out",
            platform.cpus_left_out,
            crate::MAX_CPUS
        );
    }
    let stats = crate::mm::page_stats();
    pr_info!(
        "memory: {} MiB in {} range(s), {} pages free",
        platform.total_memory() >> 20,
        platform.memory.len(),
        stats.free
    );
    if let Some(psci) = crate::power::psci() {
        match (psci.v0_1(), psci.version()) {
            // PSCI 0.1 has no PSCI_VERSION: the tree says which PSCI it is.
            (Some(ids), _) => {
                pr_info!(
                    "psci: {:?} conduit, version 0.1 (the device tree's; no PSCI_VERSION): {ids}",
                    psci.method()
                );
                pr_notice!(
                    "psci: 0.1 has no AFFINITY_INFO, SYSTEM_OFF or SYSTEM_RESET: a CPU taken \
                     offline is not confirmed off (it is taken as off once it calls CPU_OFF, \
                     as Linux does); poweroff and reboot use semihosting or a watchdog"
                );
            }
            (None, Ok(v)) => pr_info!(
                "psci: {:?} conduit, version {}.{}",
                psci.method(),
                v.major,
                v.minor
            ),
            (None, Err(e)) => pr_err!(
                "psci: {:?} conduit, PSCI_VERSION failed: {e:?}",
                psci.method()
            ),
        }
    }
    let me = crate::arch::cpu::id();
    let mpidr = crate::arch::cpu::mpidr();
    pr_info!(
        "{} CPU(s) in the device tree; cpu{me} (MPIDR {mpidr:#x}) is booting",
        platform.cpus.len(),
    );
    if !platform.cpus.is_empty() && platform.cpu_index_of(mpidr).is_none() {
        pr_warn!(
            "device tree: the boot CPU (MPIDR {mpidr:#x}) is not among its CPUs: it runs as \
             cpu{me}, in place of the one listed with MPIDR {:#x}",
            platform.cpus.get(me).map_or(0, |c| c.mpidr.affinity())
        );
    }
}
