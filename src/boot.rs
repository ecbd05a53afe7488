//! The boot CPU's path once the MMU is on and the console works (the part before is in
//! `arch::aarch64::boot`): keep the platform description, read the bootargs, report what
//! was found, and start the shell.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::boot::{EarlyTicks, EntryInfo};
use crate::dt::Platform;
use crate::dt::bootargs::BootOptions;
use crate::{pr_err, pr_info, pr_notice, pr_warn};

static PLATFORM: spin::Once<Platform<'static>> = spin::Once::new();
/// The counter when the shell first showed its prompt: the boot's length (0: not yet).
static READY_TICKS: AtomicU64 = AtomicU64::new(0);
static TIMELINE: spin::Once<Timeline> = spin::Once::new();

/// The counter, in ticks from machine start, at the end of each boot phase before the
/// prompt; what `bench boot` breaks the boot's length into.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    pub early: EarlyTicks,
    /// The boot log written, up to the secondary CPUs' start.
    pub reported: u64,
    /// Every CPU the device tree lists brought online (or given up on).
    pub cpus: u64,
}

/// The boot's phases, once boot has brought the CPUs up.
pub fn timeline() -> Option<&'static Timeline> {
    TIMELINE.get()
}

/// The machine as the device tree describes it. Only called after boot has kept it.
pub fn platform() -> &'static Platform<'static> {
    PLATFORM
        .get()
        .expect("platform() used before boot kept the device tree")
}

/// Notes that the shell shows its prompt: the first call marks the end of boot.
pub fn mark_ready() {
    let now = crate::drivers::timer::ticks();
    let _ = READY_TICKS.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
}

/// The counter at the first prompt, once there was one.
pub fn ready_ticks() -> Option<u64> {
    match READY_TICKS.load(Ordering::Relaxed) {
        0 => None,
        ticks => Some(ticks),
    }
}

/// The machine, if boot got that far.
pub fn try_platform() -> Option<&'static Platform<'static>> {
    PLATFORM.get()
}

pub fn kernel_main(platform: Platform<'static>, entry: EntryInfo) -> ! {
    // The hook through which the idle loop reaches this layer: what idle CPUs run in the
    // foreground. (A fatal exception's handler is set in `arch::boot`, as the MMU comes on.)
    crate::smp::set_foreground(crate::smp::Foreground {
        wants: crate::console::is_console_cpu,
        run: crate::console::shell::run,
    });
    let platform = PLATFORM.call_once(|| platform);
    // The console log level comes first (`quiet` hides even the first lines); what the
    // bootargs got wrong is said once it is set.
    let mut bad_args = arrayvec::ArrayVec::<_, 8>::new();
    let mut more_bad_args = 0;
    let options = BootOptions::parse(platform.bootargs, |e| {
        if bad_args.try_push(e).is_err() {
            more_bad_args += 1;
        }
    });
    if let Some(level) = options.console_loglevel {
        crate::console::set_console_loglevel(level);
    }
    pr_info!(
        "hotslab {} on {}",
        env!("CARGO_PKG_VERSION"),
        platform.model.unwrap_or("an unnamed machine")
    );
    let image = crate::arch::layout::image();
    pr_info!(
        "entered at EL{}, now EL{}; image at {} (relocated by {:#x}); {} page tables",
        entry.entry_el,
        crate::arch::cpu::current_el(),
        image,
        entry.relocation,
        entry.page_tables
    );
    pr_info!(
        "device tree at {}, bootargs \"{}\"",
        platform.dtb,
        platform.bootargs
    );
    for e in bad_args {
        pr_warn!("bootargs: {e}");
    }
    if more_bad_args > 0 {
        pr_warn!("bootargs: {more_bad_args} more word(s) not understood");
    }
    crate::panic::set_action(options.panic);
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
    let mpidr = crate::arch::cpu::mpidr_affinity();
    pr_info!(
        "{} CPU(s) in the device tree; cpu{me} (MPIDR {mpidr:#x}) is booting",
        platform.cpus.len(),
    );
    if !platform.cpus.is_empty() && platform.cpu_index_of(mpidr).is_none() {
        pr_warn!(
            "device tree: the boot CPU (MPIDR {mpidr:#x}) is not among its CPUs: it runs as \
             cpu{me}, in place of the one listed with MPIDR {:#x}",
            platform.cpus.get(me).map_or(0, |c| c.mpidr)
        );
    }
    if let Some(list) = options.faults {
        match crate::smp::fault::parse_all(list) {
            Ok(specs) => {
                for (fault, cpu) in specs {
                    crate::smp::fault::FAULTS.arm(fault, cpu);
                    pr_notice!("fault injection: {fault} armed for cpu{cpu}");
                }
            }
            Err(e) => pr_warn!("bootargs: 'fault={list}': {e}; no fault armed"),
        }
    }
    crate::console::set_console_cpu(me);
    let reported = crate::drivers::timer::ticks();
    crate::smp::init(platform, &options);
    TIMELINE.call_once(|| Timeline {
        early: entry.ticks,
        reported,
        cpus: crate::drivers::timer::ticks(),
    });
    crate::mm::kernel_slab::init(
        options.slab_hotplug_lock,
        options.slab_race_window_us,
        options.slab_debug,
    );
    crate::mm::kmalloc::init();
    if crate::drivers::gic::version().is_some() && !crate::smp::private_interrupts().is_empty() {
        crate::console::enable_input_tick();
    }
    crate::console::shell::start(options.run);
    crate::smp::idle_loop(me)
}
