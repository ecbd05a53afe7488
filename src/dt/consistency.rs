//! What every [`Platform`] the parser returns must satisfy, whatever blob it came from:
//! the promises boot code relies on without checking again. The mutation tests and the
//! fuzzer hold every platform they get to [`Platform::check_consistency`].
//!
//! - the blob's own region, every RAM range, reservation, UART, GIC and watchdog region is
//!   non-empty and ends within the 64-bit address space;
//! - there is RAM, and no two RAM ranges overlap; a NUMA node is kept only for a RAM range,
//!   once;
//! - the console is one of the UARTs, and there is one whenever there are UARTs;
//! - interrupt numbers are what the GIC can deliver: the timer's are PPIs (16-31), a
//!   UART's an SPI (32-1019);
//! - a GICv3 has at least one redistributor region;
//! - CPU MPIDRs are distinct and only use the affinity fields; a spin-table release address
//!   is 8-byte aligned and below [`MAX_RELEASE_ADDR`]; a CPU that says `psci` comes with a
//!   `/psci` node that says how to call it;
//! - every problem says something.

use core::fmt;

use arrayvec::ArrayString;

use super::platform::{EnableMethod, Gic, Platform};
use crate::mm::region::PhysRegion;
use crate::text::push_truncated;

/// Spin-table release addresses must lie below this: the kernel maps each one again at
/// 2^47 plus itself (an alias in the upper half of its 48-bit address space, below the
/// CPU stacks' window at 3 * 2^46).
pub const MAX_RELEASE_ADDR: u64 = 1 << 46;
/// The PPI and SPI INTID ranges of the GIC.
pub const PPI_INTIDS: core::ops::Range<u32> = 16..32;
pub const SPI_INTIDS: core::ops::Range<u32> = 32..1020;

/// A broken promise: which one, and about what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistency(pub ArrayString<112>);

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn broken(args: fmt::Arguments<'_>) -> Result<(), Inconsistency> {
    let mut s = ArrayString::new();
    push_truncated(&mut s, args);
    Err(Inconsistency(s))
}

/// Whether `region` is non-empty and its last byte is addressable.
pub fn region_is_sane(region: PhysRegion) -> bool {
    region.size > 0 && region.base.checked_add(region.size).is_some()
}

fn sane(what: &str, region: PhysRegion) -> Result<(), Inconsistency> {
    if region_is_sane(region) {
        Ok(())
    } else {
        broken(format_args!(
            "{what}: region base {:#x} size {:#x} is empty or wraps",
            region.base, region.size
        ))
    }
}

impl Platform<'_> {
    /// Checks the promises listed in the module documentation.
    pub fn check_consistency(&self) -> Result<(), Inconsistency> {
        sane("device tree blob", self.dtb)?;
        if self.memory.is_empty() {
            return broken(format_args!("no RAM"));
        }
        for (i, m) in self.memory.iter().enumerate() {
            sane("memory", *m)?;
            if let Some(other) = self.memory[..i].iter().find(|o| o.overlaps(m)) {
                return broken(format_args!("memory {m} overlaps {other}"));
            }
        }
        for (i, n) in self.memory_numa.iter().enumerate() {
            if !self.memory.contains(&n.region) {
                return broken(format_args!(
                    "NUMA node {} of {}: not a RAM range",
                    n.node, n.region
                ));
            }
            if self.memory_numa[..i].iter().any(|o| o.region == n.region) {
                return broken(format_args!("{} in two NUMA nodes", n.region));
            }
        }
        for r in &self.reservations {
            sane(r.name, r.region)?;
        }
        for u in &self.uarts {
            sane(u.name, u.region)?;
            if let Some(irq) = u.irq
                && !SPI_INTIDS.contains(&irq)
            {
                return broken(format_args!("{}: interrupt {irq} is not an SPI", u.name));
            }
        }
        match (&self.console, self.uarts.is_empty()) {
            (Some(c), _) if !self.uarts.contains(c) => {
                return broken(format_args!("console {} is not among the UARTs", c.name));
            }
            (None, false) => return broken(format_args!("UARTs but no console")),
            _ => {}
        }
        if let Some(gic) = &self.gic {
            if let Gic::V3 { redistributors, .. } = gic
                && redistributors.is_empty()
            {
                return broken(format_args!("GICv3 without redistributors"));
            }
            for region in gic.regions() {
                sane("GIC", region)?;
            }
        }
        if let Some(t) = self.timer
            && !(PPI_INTIDS.contains(&t.phys_irq) && PPI_INTIDS.contains(&t.virt_irq))
        {
            return broken(format_args!(
                "timer interrupts {} and {} are not both PPIs",
                t.phys_irq, t.virt_irq
            ));
        }
        if let Some(w) = self.watchdog {
            sane("watchdog", w)?;
        }
        for (i, cpu) in self.cpus.iter().enumerate() {
            if !cpu.mpidr.is_affinity_only() {
                return broken(format_args!(
                    "{}: MPIDR {:#x} has bits outside the affinity fields",
                    cpu.name, cpu.mpidr
                ));
            }
            if self.cpus[..i].iter().any(|c| c.mpidr == cpu.mpidr) {
                return broken(format_args!("MPIDR {:#x} appears twice", cpu.mpidr));
            }
            match cpu.enable_method {
                EnableMethod::SpinTable { release_addr }
                    if !release_addr.is_multiple_of(8) || release_addr >= MAX_RELEASE_ADDR =>
                {
                    return broken(format_args!(
                        "{}: release address {release_addr:#x} unusable",
                        cpu.name
                    ));
                }
                EnableMethod::Psci if self.psci.is_none() => {
                    return broken(format_args!("{}: psci without /psci", cpu.name));
                }
                _ => {}
            }
        }
        if let Some(p) = self.problems.iter().find(|p| p.message.trim().is_empty()) {
            return broken(format_args!("a problem that says nothing: {p:?}"));
        }
        Ok(())
    }
}
