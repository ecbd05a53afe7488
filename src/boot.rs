//! The boot CPU's path once the MMU is on and the console works (the part before is in
//! `arch::aarch64::boot`): keep the platform description, read the bootargs, report what
//! was found, and start the shell.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::boot::{EarlyTicks, EntryInfo};
use crate::dt::Platform;
use crate::dt::bootargs::BootOptions;
use crate::log;

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
    let platform = PLATFORM.call_once(|| platform);
    log!(
        "hotslab {} on {}",
        env!("CARGO_PKG_VERSION"),
        platform.model.unwrap_or("an unnamed machine")
    );
    let image = crate::arch::layout::image();
    log!(
        "entered at EL{}, now EL{}; image at {} (relocated by {:#x}); {} page tables",
        entry.entry_el,
        crate::arch::cpu::current_el(),
        image,
        entry.relocation,
        entry.page_tables
    );
    log!(
        "device tree at {}, bootargs \"{}\"",
        platform.dtb,
        platform.bootargs
    );
    let options = BootOptions::parse(platform.bootargs, |e| log!("bootargs: {e}"));
    crate::panic::set_action(options.panic);
    for problem in &platform.problems {
        log!("device tree: {problem}");
    }
    if platform.cpus_left_out > 0 {
        log!(
            "device tree: {} CPUs beyond the limit of {} left out",
            platform.cpus_left_out,
            crate::MAX_CPUS
        );
    }
    let stats = crate::mm::page_stats();
    log!(
        "memory: {} MiB in {} range(s), {} pages free",
        platform.total_memory() >> 20,
        platform.memory.len(),
        stats.free
    );
    if let Some(psci) = crate::power::psci() {
        match psci.version() {
            Ok(v) => log!(
                "psci: {:?} conduit, version {}.{}",
                psci.method(),
                v.major,
                v.minor
            ),
            Err(e) => log!(
                "psci: {:?} conduit, PSCI_VERSION failed: {e:?}",
                psci.method()
            ),
        }
    }
    let me = crate::arch::cpu::id();
    let mpidr = crate::arch::cpu::mpidr_affinity();
    log!(
        "{} CPU(s) in the device tree; cpu{me} (MPIDR {mpidr:#x}) is booting",
        platform.cpus.len(),
    );
    if !platform.cpus.is_empty() && platform.cpu_index_of(mpidr).is_none() {
        log!(
            "device tree: the boot CPU (MPIDR {mpidr:#x}) is not among its CPUs: it runs as \
             cpu{me}, in place of the one listed with MPIDR {:#x}",
            platform.cpus.get(me).map_or(0, |c| c.mpidr)
        );
    }
    for (fault, cpu) in options
        .faults
        .into_iter()
        .flat_map(crate::smp::fault::parse_list)
        .flatten()
    {
        crate::smp::fault::FAULTS.arm(fault, cpu);
        log!("fault injection: {fault} armed for cpu{cpu}");
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
