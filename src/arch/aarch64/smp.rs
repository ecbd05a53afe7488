//! What a secondary core needs before Rust can run on it: the table `secondary.s` reads
//! with the MMU off (this core's stack and the boot CPU's MMU settings), its entry address,
//! the restart of a parked core, and the hook into the kernel it enters.

use core::ptr::addr_of_mut;

use aarch64_cpu::registers::{MAIR_EL1, Readable, SCTLR_EL1, TCR_EL1, TTBR0_EL1};

use super::cache;
use super::stack::CpuStacks;
use crate::MAX_CPUS;
use crate::dt::Mpidr;

// The affinity mask reaches the assembly in 16-bit pieces, for its movz/movk.
const _: () = assert!(Mpidr::AFFINITY_MASK >> 48 == 0);
core::arch::global_asm!(
    include_str!("secondary.s"),
    max_cpus = const MAX_CPUS,
    affinity_mask_0 = const Mpidr::AFFINITY_MASK & 0xffff,
    affinity_mask_16 = const (Mpidr::AFFINITY_MASK >> 16) & 0xffff,
    affinity_mask_32 = const (Mpidr::AFFINITY_MASK >> 32) & 0xffff,
);

#[repr(C)]
struct SecondaryCpu {
    /// Its MPIDR's affinity fields ([`Mpidr::affinity`]).
    mpidr: u64,
    stack_top: u64,
    overflow_stack_top: u64,
    _pad: u64,
}

/// Read by `secondary.s` with the MMU off: every write is cleaned to the point of
/// coherency before the core is started.
#[repr(C)]
struct SecondaryBoot {
    mair: u64,
    tcr: u64,
    ttbr0: u64,
    sctlr: u64,
    cpus: [SecondaryCpu; MAX_CPUS],
}

#[unsafe(no_mangle)]
static mut SECONDARY_BOOT: SecondaryBoot = SecondaryBoot {
    mair: 0,
    tcr: 0,
    ttbr0: 0,
    sctlr: 0,
    cpus: [const {
        SecondaryCpu {
            mpidr: 0,
            stack_top: 0,
            overflow_stack_top: 0,
            _pad: 0,
        }
    }; MAX_CPUS],
};

unsafe extern "C" {
    fn secondary_entry();
    fn secondary_restart(cpu: usize, stack_top: u64) -> !;
}

/// The physical address a secondary core starts at.
pub fn entry_point() -> u64 {
    secondary_entry as *const () as u64
}

/// Records where logical CPU `cpu` (MPIDR `mpidr`) finds its stacks (mapped in the stack
/// window), with this core's MMU settings, and makes both visible to a core whose caches
/// are off.
///
/// Called by the one CPU controlling hotplug (the hotplug lock's writer), before it starts
/// the core.
pub fn prepare(cpu: usize, mpidr: Mpidr, stacks: &CpuStacks) {
    // SAFETY: only the hotplug writer writes the table, and the core it describes is not
    // running; other cores read only their own entries, with the MMU off.
    unsafe {
        let table = addr_of_mut!(SECONDARY_BOOT);
        (*table).mair = MAIR_EL1.get();
        (*table).tcr = TCR_EL1.get();
        (*table).ttbr0 = TTBR0_EL1.get();
        (*table).sctlr = SCTLR_EL1.get();
        (*table).cpus[cpu] = SecondaryCpu {
            mpidr: mpidr.affinity(),
            stack_top: stacks.stack.end,
            overflow_stack_top: stacks.overflow.end,
            _pad: 0,
        };
        // The header and this CPU's entry: every other entry was cleaned when it was
        // written (a whole-table clean per CPU would be 512 * 16 KiB at 512 CPUs).
        cache::clean_to_poc(
            table as u64,
            core::mem::offset_of!(SecondaryBoot, cpus) as u64,
        );
        cache::clean_to_poc(
            &raw const (*table).cpus[cpu] as u64,
            core::mem::size_of::<SecondaryCpu>() as u64,
        );
    }
}

/// Starts this parked core over: back to the top of the stack `prepare` gave it (its
/// overflow stack is still in TPIDRRO_EL0), then `secondary_main` again. Nothing of the current call chain survives: only a core that
/// is done with everything on its stack (a parked core being released) calls it.
pub fn restart(cpu: usize) -> ! {
    assert_eq!(
        super::cpu::id(),
        cpu,
        "cpu{cpu} restarted from another core"
    );
    // SAFETY: reading this core's own entry, written by the controller before it started
    // (or released) the core and not written again while the core runs.
    let stack_top = unsafe { (*addr_of_mut!(SECONDARY_BOOT)).cpus[cpu].stack_top };
    // SAFETY: that is this core's own stack, and the caller keeps nothing on it.
    unsafe { secondary_restart(cpu, stack_top) }
}

/// Where a secondary core goes once its MMU is on: the kernel's CPU bring-up registers it
/// (`smp`); the architecture names nothing above it.
pub type SecondaryEntry = fn(usize) -> !;

static SECONDARY_ENTRY: spin::Once<SecondaryEntry> = spin::Once::new();

/// Sets where secondary cores enter the kernel. Set before the first one is started.
pub fn set_secondary_entry(entry: SecondaryEntry) {
    SECONDARY_ENTRY.call_once(|| entry);
}

#[unsafe(no_mangle)]
extern "C" fn secondary_main(cpu: usize) -> ! {
    super::cpu::set_id(cpu);
    // Asynchronous aborts are reported, as on the boot CPU.
    super::cpu::unmask_serror();
    match SECONDARY_ENTRY.get() {
        Some(entry) => entry(cpu),
        // Started by something other than the kernel's bring-up: nothing to run.
        None => super::cpu::halt(),
    }
}
