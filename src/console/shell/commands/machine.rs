//! Machine commands: `dt`, `mem`, `dmesg`, `poweroff`, `reboot`, `crash`.

use core::sync::atomic::{AtomicBool, Ordering};

use super::{CmdError, CmdResult};
use crate::arch::exceptions::{self, Fault};
use crate::boot;
use crate::console::shell::args::Args;
use crate::drivers::gic;
use crate::drivers::timer::Deadline;
use crate::dt::{Gic, PsciFunctions, PsciNode};
use crate::mm::{self, page_alloc::PAGE_SIZE};
use crate::power;
use crate::println;
use crate::sync::IrqSpinLock;

/// The kernel's security view of the GIC it drives, and what that view means.
fn gic_security() {
    match gic::description() {
        Some(d) => println!(
            "             security: {}: {}",
            d.view.name(d.version),
            d.view.meaning(d.version)
        ),
        None => println!("             security: (not driven: see the boot log)"),
    }
}

pub(super) fn dt<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    let p = boot::platform();
    println!("model:       {}", p.model.unwrap_or("(none)"));
    println!("blob:        {} ({} bytes)", p.dtb, p.dtb.size);
    println!("bootargs:    {}", p.bootargs);
    println!("stdout-path: {}", p.stdout_path.unwrap_or("(none)"));
    match &p.console {
        Some(u) => {
            match u.irq {
                Some(irq) => println!(
                    "console:     {} ({:?}) at {}, irq {irq}",
                    u.name, u.kind, u.region
                ),
                None => println!(
                    "console:     {} ({:?}) at {}, no interrupt on the GIC",
                    u.name, u.kind, u.region
                ),
            }
            match u.clock_hz {
                Some(hz) => println!("             clock {hz} Hz: the kernel sets 115200 baud"),
                None => println!("             clock unknown: the firmware's baud rate is kept"),
            }
        }
        None => println!("console:     (none)"),
    }
    for u in p
        .uarts
        .iter()
        .filter(|u| Some(u.region) != p.console.map(|c| c.region))
    {
        println!("other uart:  {} ({:?}) at {}", u.name, u.kind, u.region);
    }
    if let Some(w) = p.watchdog {
        println!("watchdog:    {w} (reboot)");
    }
    match &p.gic {
        Some(Gic::V2 {
            distributor,
            cpu_interface,
        }) => {
            println!(
                "gic:         GICv2, distributor {distributor}, cpu interface {cpu_interface}"
            );
            gic_security();
        }
        Some(Gic::V3 {
            distributor,
            redistributors,
        }) => {
            println!("gic:         GICv3, distributor {distributor}");
            for r in redistributors {
                println!("             redistributors {r}");
            }
            gic_security();
        }
        None => println!("gic:         (none)"),
    }
    match p.psci {
        Some(PsciNode {
            method,
            functions: PsciFunctions::V0_1(ids),
        }) => println!("psci:        {method:?}, version 0.1 (the device tree's): {ids}"),
        Some(PsciNode { method, .. }) => match power::psci().map(|psci| psci.version()) {
            Some(Ok(v)) => println!("psci:        {method:?}, version {}.{}", v.major, v.minor),
            _ => println!("psci:        {method:?}, version unknown"),
        },
        None => println!("psci:        (none)"),
    }
    match p.timer {
        Some(t) => println!(
            "timer:       physical irq {}, virtual irq {}",
            t.phys_irq, t.virt_irq
        ),
        None => println!("timer:       (none)"),
    }
    for m in &p.memory {
        println!("memory:      {m} ({} MiB)", m.size >> 20);
    }
    for r in &p.reservations {
        let no_map = if r.no_map { ", no-map" } else { "" };
        println!("reserved:    {} {}{no_map}", r.region, r.name);
    }
    for (i, cpu) in p.cpus.iter().enumerate() {
        println!(
            "cpu {i}:       {} mpidr {:#x}, {}",
            cpu.name, cpu.mpidr, cpu.enable_method
        );
    }
    if p.cpus_left_out > 0 {
        println!(
            "cpus:        {} more left out (limit {})",
            p.cpus_left_out,
            crate::MAX_CPUS
        );
    }
    for problem in &p.problems {
        println!("problem:     {problem}");
    }
    if p.problems_dropped > 0 {
        println!("problem:     {} more not kept", p.problems_dropped);
    }
    Ok(())
}

pub(super) fn mem<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    let p = boot::platform();
    println!("RAM (device tree):");
    for m in &p.memory {
        println!("  {m}  {:>6} MiB", m.size >> 20);
    }
    println!("Kept from the page allocator:");
    println!("  {}  kernel image", crate::arch::layout::image());
    println!("  {}  device tree blob", p.dtb);
    for r in &p.reservations {
        println!("  {}  {}", r.region, r.name);
    }
    let s = mm::page_stats();
    let mib = |pages: usize| (pages as u64 * PAGE_SIZE) >> 20;
    println!("Pages (4 KiB):");
    println!("  total     {:>8}  ({} MiB)", s.total, mib(s.total));
    println!("  free      {:>8}  ({} MiB)", s.free, mib(s.free));
    println!("  in use    {:>8}  ({} MiB)", s.in_use(), mib(s.in_use()));
    println!("  reserved  {:>8}  ({} MiB)", s.reserved, mib(s.reserved));
    stacks();
    Ok(())
}

/// Every CPU's stacks: size and the most ever used.
fn stacks() {
    use crate::arch::stack::{self, OVERFLOW_STACK_SIZE, STACK_SIZE};
    println!("Stacks (the most each ever used):");
    let boot = crate::arch::layout::boot_stack_region();
    println!(
        "  boot stack: {} of {} bytes used (the boot CPU's first stack)",
        stack::high_water(&boot.range()),
        boot.size
    );
    for cpu in crate::smp::state::possible().iter() {
        if let Some((used, overflow_used)) = crate::smp::stacks::high_water(cpu) {
            println!(
                "  cpu{cpu}: {used} of {STACK_SIZE} bytes used ({}%); overflow stack {overflow_used} of {OVERFLOW_STACK_SIZE}",
                used * 100 / STACK_SIZE
            );
        }
    }
}

pub(super) fn dmesg<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    crate::console::dump_log();
    Ok(())
}

pub(super) fn poweroff<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    let e = power::poweroff(0);
    Err(CmdError::failed(format_args!("{e}")))
}

pub(super) fn reboot<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    let e = power::reboot();
    Err(CmdError::failed(format_args!("{e}")))
}

pub(super) fn crash<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(1)?;
    let fault = match args.choice(
        0,
        &[
            "null",
            "undefined",
            "stack",
            "serror",
            "locked",
            "fpsimd",
            "panic",
        ],
        "null, undefined, stack, serror, locked, fpsimd or panic",
    )? {
        "null" => Fault::NullDereference,
        "undefined" => Fault::UndefinedInstruction,
        "stack" => Fault::StackOverflow,
        "serror" => Fault::SError,
        "locked" => return crash_holding_a_lock(),
        "fpsimd" => {
            crate::arch::fpsimd::use_fpsimd();
            return Ok(());
        }
        _ => panic!("the crash command asked for a panic"),
    };
    exceptions::provoke(fault).map_err(|e| CmdError::failed(format_args!("{}", e.0)))
}

/// What `crash locked` holds as it faults, and another CPU waits for with interrupts
/// masked: that CPU cannot take the stop the Oops sends it.
static CRASH_LOCK: IrqSpinLock<()> = IrqSpinLock::new(());
static CRASH_LOCK_HELD: AtomicBool = AtomicBool::new(false);
static CRASH_LOCK_WAITED: AtomicBool = AtomicBool::new(false);

/// The other CPU's part: once the lock is held, mask interrupts, say so, and wait for it
/// (for good).
fn wait_for_crash_lock(_: u64) {
    let deadline = Deadline::after_us(10_000_000);
    while !CRASH_LOCK_HELD.load(Ordering::Acquire) {
        if deadline.passed() {
            return;
        }
        core::hint::spin_loop();
    }
    let masked = crate::arch::cpu::irq_save();
    CRASH_LOCK_WAITED.store(true, Ordering::Release);
    drop(CRASH_LOCK.lock());
    crate::arch::cpu::irq_restore(masked);
}

/// A null dereference while holding a spin lock another CPU waits for, interrupts masked.
fn crash_holding_a_lock<'a>() -> Result<(), CmdError<'a>> {
    let me = crate::arch::cpu::id();
    let Some(other) = crate::smp::state::online().without(me).iter().next() else {
        return Err(CmdError::failed(format_args!(
            "crash locked needs another online CPU to wait for the lock"
        )));
    };
    crate::smp::work::start_on(other, wait_for_crash_lock, 0)
        .map_err(|e| CmdError::failed(format_args!("cpu{other}: {e}")))?;
    let _held = CRASH_LOCK.lock();
    CRASH_LOCK_HELD.store(true, Ordering::Release);
    let deadline = Deadline::after_us(10_000_000);
    while !CRASH_LOCK_WAITED.load(Ordering::Acquire) {
        if deadline.passed() {
            CRASH_LOCK_HELD.store(false, Ordering::Release);
            return Err(CmdError::failed(format_args!(
                "cpu{other} did not start waiting for the lock within 10 s; no crash"
            )));
        }
        core::hint::spin_loop();
    }
    println!("crash locked: cpu{me} holds a spin lock cpu{other} waits for, interrupts masked");
    exceptions::provoke(Fault::NullDereference)
        .map_err(|e| CmdError::failed(format_args!("{}", e.0)))
}
