//! The boot CPU's path once the MMU is on, the console works and the CPU is on its own
//! stack (the part before is in `arch::aarch64::boot`): the kernel's bring-up as a list of
//! init steps, each with what it must come after and why, then the idle loop. It keeps
//! what the rest of the kernel asks of boot: the platform description, and when each boot
//! phase ended.

mod banner;

use core::sync::atomic::{AtomicU64, Ordering};

use arrayvec::ArrayVec;

use crate::arch::boot::{EarlyTicks, EntryInfo};
use crate::arch::count_marker;
use crate::dt::Platform;
use crate::dt::bootargs::{BootArgError, BootOptions};
use crate::pr_warn;
use crate::{pr_err, pr_notice};

static PLATFORM: spin::Once<&'static Platform<'static>> = spin::Once::new();
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
    if READY_TICKS
        .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        count_marker::checkpoint(count_marker::phase::READY);
    }
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
    PLATFORM.get().copied()
}

/// Keeps the machine's description for the kernel's lifetime (once, at boot).
pub fn keep_platform(platform: &'static Platform<'static>) {
    PLATFORM.call_once(|| platform);
}

/// What the init steps share: the platform, the bootargs as read, what the entry code
/// learned, and the counter at the end of the boot log.
pub struct Boot {
    pub platform: &'static Platform<'static>,
    pub options: BootOptions<'static>,
    /// What the bootargs got wrong, said once the console log level is set.
    pub bad_args: ArrayVec<BootArgError<'static>, 8>,
    /// Mistakes beyond `bad_args`.
    pub more_bad_args: usize,
    pub entry: EntryInfo,
    /// The counter when the boot log was written (see [`Timeline`]).
    pub reported: u64,
}

/// One step of the kernel's bring-up: run once, on the boot CPU, in [`INIT`]'s order.
struct InitStep {
    name: &'static str,
    /// What it must come after, and why: each ordering constraint said once, here.
    after: &'static str,
    run: fn(&mut Boot),
}

/// The kernel's bring-up, in order (Linux's `start_kernel`, as a table).
const INIT: &[InitStep] = &[
    InitStep {
        name: "idle hook",
        after: "nothing; before any CPU can reach the idle loop (the CPU bring-up below)",
        run: |_| {
            // What idle CPUs run in the foreground: the idle loop names nothing above it.
            crate::smp::set_foreground(crate::smp::Foreground {
                wants: crate::console::is_console_cpu,
                run: crate::console::shell::run,
            })
        },
    },
    InitStep {
        name: "backtrace output",
        after: "nothing; before the CPU bring-up, after which any CPU may be asked for its \
                backtrace",
        run: |_| crate::smp::backtrace::set_output(crate::console::write_report_line),
    },
    InitStep {
        name: "console log level",
        after: "the bootargs, read at boot's start; before the first log line (`quiet` \
                hides even the first)",
        run: |boot| {
            if let Some(level) = boot.options.console_loglevel {
                crate::console::set_console_loglevel(level);
            }
        },
    },
    InitStep {
        name: "panic action",
        after: "the bootargs; before anything that may fail, so `panic=` holds for it",
        run: |boot| crate::panic::set_action(boot.options.panic),
    },
    InitStep {
        name: "lock validation",
        after: "the console, where its reports go; before any CPU but this one runs and \
                while this one holds no lock, so every lock taken from here is seen from \
                its first acquisition",
        run: start_lock_validation,
    },
    InitStep {
        name: "boot log",
        after: "the console log level, which decides what of it shows",
        run: banner::log,
    },
    InitStep {
        name: "fault injection",
        after: "the boot log; before the CPU bring-up, whose faults `fault=` may arm",
        run: arm_faults,
    },
    // The GIC, and every CPU the tree lists brought up.
    InitStep {
        name: "CPUs",
        after: "the fault injection; the console is put on this CPU first, as the shell \
                starts here",
        run: |boot| {
            crate::console::set_console_cpu(crate::arch::cpu::id());
            boot.reported = crate::drivers::timer::ticks();
            count_marker::checkpoint(count_marker::phase::LOG);
            crate::smp::init(boot.platform, &boot.options);
            let cpus = crate::drivers::timer::ticks();
            count_marker::checkpoint(count_marker::phase::CPUS);
            TIMELINE.call_once(|| Timeline {
                early: boot.entry.ticks,
                reported: boot.reported,
                cpus,
            });
        },
    },
    InitStep {
        name: "slab allocator",
        after: "the CPUs: it starts with arrays for the CPUs online now and registers the \
                hotplug callbacks that give later ones theirs",
        run: |boot| {
            crate::mm::kernel_slab::init(
                boot.options.slab_hotplug_lock,
                boot.options.slab_lock_order_inverted,
                boot.options.slab_race_window_us,
                boot.options.slab_debug,
            )
        },
    },
    InitStep {
        name: "kmalloc",
        after: "the slab allocator, whose caches it is",
        run: |_| crate::mm::kmalloc::init(),
    },
    InitStep {
        name: "console input tick",
        after: "the GIC and this CPU's timer interrupt (the CPUs step); without them the \
                shell polls",
        run: |_| {
            if crate::drivers::gic::version().is_some()
                && !crate::smp::private_interrupts().is_empty()
            {
                crate::console::enable_input_tick();
            }
        },
    },
    InitStep {
        name: "shell",
        after: "everything: the `run=` script may use any command",
        run: |boot| crate::console::shell::start(boot.options.run),
    },
];

/// The boot CPU's bring-up: every init step, then the idle loop.
pub fn kernel_main(entry: EntryInfo) -> ! {
    let platform = platform();
    let mut bad_args = ArrayVec::new();
    let mut more_bad_args = 0;
    let options = BootOptions::parse(platform.bootargs, |e| {
        if bad_args.try_push(e).is_err() {
            more_bad_args += 1;
        }
    });
    let mut boot = Boot {
        platform,
        options,
        bad_args,
        more_bad_args,
        entry,
        reported: 0,
    };
    for step in INIT {
        crate::pr_debug!("init: {} (after {})", step.name, step.after);
        (step.run)(&mut boot);
    }
    crate::smp::idle_loop(crate::arch::cpu::id())
}

/// Points lock reports at the console and lockup reports at every CPU's backtrace, and
/// turns the validator on for `lockdep`: one state per CPU the device tree lists.
fn start_lock_validation(boot: &mut Boot) {
    crate::sync::lockup::set_report_sink(crate::console::write_report);
    crate::sync::lockup::set_every_cpu_backtrace(|| {
        // A second asker is told who asks already; either way the report goes on.
        let _ = crate::smp::backtrace::all_cpus_backtrace();
    });
    if !boot.options.lockdep {
        return;
    }
    let cpus = boot.platform.cpus.len().clamp(1, crate::MAX_CPUS);
    match crate::mm::table::leak(cpus, |_| crate::sync::lockdep::CpuState::new()) {
        Some(states) => {
            crate::sync::lockdep::enable(states);
            pr_notice!("lockdep: validating every lock's order and context, {cpus} CPU(s)");
        }
        None => pr_err!("lockdep: no memory for {cpus} CPUs' held locks; not validating"),
    }
}

/// Arms what `fault=` asks for; a list with a mistake arms nothing, and says why.
fn arm_faults(boot: &mut Boot) {
    let Some(list) = boot.options.faults else {
        return;
    };
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
