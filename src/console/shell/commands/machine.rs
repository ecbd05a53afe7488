//! Machine commands: `dt`, `mem`, `dmesg`, `poweroff`, `reboot`, `crash`.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{CmdError, CmdResult, Hex};
use crate::arch::exceptions::{self, Fault};
use crate::boot;
use crate::console::shell::args::Args;
use crate::console::shell::raw::{OrNone, Value, yes_no};
use crate::drivers::gic;
use crate::drivers::timer::Deadline;
use crate::dt::{Gic, Platform, PsciFunctions, PsciMethod, PsciNode, UartKind};
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

/// `dt [--raw]`: what the device tree describes, as a table or as `key=value` lines.
pub(super) fn dt<'a>(args: &Args<'a>) -> CmdResult<'a> {
    let p = boot::platform();
    if args.only_option("--raw")? {
        dt_raw(p);
        return Ok(());
    }
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
            let found = gic::redistributors();
            for (i, r) in redistributors.iter().enumerate() {
                match found {
                    Some(f) => {
                        println!("             redistributors {r}: {} found", f.per_region[i])
                    }
                    None => println!("             redistributors {r}"),
                }
            }
            if let Some(f) = found {
                println!(
                    "             {} of {} for the kernel's CPUs; range selectors {}; SGIs to \
                     all others {}",
                    f.discovery.matched,
                    f.discovery.found,
                    yes_no(f.range_selectors),
                    if f.broadcast { "broadcast" } else { "as lists" }
                );
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

/// `dt --raw`: a line for each thing the table shows, in the same order (docs/shell.md).
fn dt_raw(p: &Platform<'_>) {
    println!("model={}", OrNone(p.model.map(Value)));
    println!("blob={:#x} size={:#x}", p.dtb.base, p.dtb.size);
    println!("bootargs={}", Value(p.bootargs));
    println!("stdout_path={}", OrNone(p.stdout_path.map(Value)));
    let console = p.console.map(|c| c.region);
    let others = p.uarts.iter().filter(|u| Some(u.region) != console);
    for u in p.console.iter().chain(others) {
        println!(
            "uart={} kind={} base={:#x} size={:#x} console={} irq={} clock_hz={}",
            Value(u.name),
            match u.kind {
                UartKind::Pl011 => "pl011",
                UartKind::MiniUart => "mini-uart",
            },
            u.region.base,
            u.region.size,
            yes_no(Some(u.region) == console),
            OrNone(u.irq),
            OrNone(u.clock_hz)
        );
    }
    match p.watchdog {
        Some(w) => println!("watchdog={:#x} size={:#x}", w.base, w.size),
        None => println!("watchdog=none"),
    }
    match &p.gic {
        Some(Gic::V2 {
            distributor,
            cpu_interface,
        }) => println!(
            "gic=v2 distributor={:#x} distributor_size={:#x} cpu_interface={:#x} \
             cpu_interface_size={:#x}",
            distributor.base, distributor.size, cpu_interface.base, cpu_interface.size
        ),
        Some(Gic::V3 {
            distributor,
            redistributors,
        }) => {
            println!(
                "gic=v3 distributor={:#x} distributor_size={:#x} redistributor_regions={}",
                distributor.base,
                distributor.size,
                redistributors.len()
            );
            let found = gic::redistributors();
            for (i, r) in redistributors.iter().enumerate() {
                println!(
                    "redistributors={:#x} size={:#x} found={}",
                    r.base,
                    r.size,
                    OrNone(found.map(|f| f.per_region[i]))
                );
            }
            if let Some(f) = found {
                println!(
                    "gic_redistributors={} matched={} range_selectors={} broadcast={}",
                    f.discovery.found,
                    f.discovery.matched,
                    yes_no(f.range_selectors),
                    yes_no(f.broadcast)
                );
            }
        }
        None => println!("gic=none"),
    }
    match gic::description() {
        Some(d) => println!("gic_security={}", d.view.key()),
        None => println!("gic_security=none"),
    }
    match p.psci {
        Some(PsciNode { method, functions }) => {
            let conduit = match method {
                PsciMethod::Hvc => "hvc",
                PsciMethod::Smc => "smc",
            };
            let number = |n: Option<u32>| OrNone(n.map(|n| Hex(u64::from(n))));
            match (functions, power::psci().map(|psci| psci.version())) {
                (PsciFunctions::V0_1(ids), _) => println!(
                    "psci={conduit} version=0.1 cpu_on={} cpu_off={}",
                    number(ids.cpu_on),
                    number(ids.cpu_off)
                ),
                (_, Some(Ok(v))) => println!("psci={conduit} version={}.{}", v.major, v.minor),
                _ => println!("psci={conduit} version=unknown"),
            }
        }
        None => println!("psci=none"),
    }
    match p.timer {
        Some(t) => println!(
            "timer=present phys_irq={} virt_irq={}",
            t.phys_irq, t.virt_irq
        ),
        None => println!("timer=none"),
    }
    for m in &p.memory {
        println!(
            "memory={:#x} size={:#x} numa_node={}",
            m.base,
            m.size,
            OrNone(p.numa_node_of(m))
        );
    }
    for r in &p.reservations {
        println!(
            "reserved={:#x} size={:#x} name={} no_map={}",
            r.region.base,
            r.region.size,
            Value(r.name),
            yes_no(r.no_map)
        );
    }
    for (i, cpu) in p.cpus.iter().enumerate() {
        println!(
            "cpu_node={} index={i} mpidr={:#x} method={} numa_node={}",
            Value(cpu.name),
            cpu.mpidr,
            Value(cpu.enable_method),
            OrNone(cpu.numa_node)
        );
    }
    println!(
        "cpus_left_out={} limit={}",
        p.cpus_left_out,
        crate::MAX_CPUS
    );
    for problem in &p.problems {
        println!(
            "problem={} message={}",
            Value(problem.node.as_str()),
            Value(problem.message.as_str())
        );
    }
    println!(
        "problems={} not_kept={}",
        p.problems.len(),
        p.problems_dropped
    );
}

/// `mem [--raw]`: the RAM, what the page allocator keeps out, and its counts.
pub(super) fn mem<'a>(args: &Args<'a>) -> CmdResult<'a> {
    if args.get(0) == Some("--check-memset") {
        args.at_most(1)?;
        match crate::arch::memset::check_memset() {
            Ok(fills) => println!("RESULT mem-check-memset PASS fills={fills}"),
            Err(bad) => println!(
                "RESULT mem-check-memset FAIL start={} len={} byte={:#x}",
                bad.start, bad.len, bad.byte
            ),
        }
        return Ok(());
    }
    let p = boot::platform();
    let s = mm::page_stats();
    if args.only_option("--raw")? {
        for m in &p.memory {
            println!("ram={:#x} size={:#x}", m.base, m.size);
        }
        let image = crate::arch::layout::image();
        let kept = [(image, "kernel image"), (p.dtb, "device tree blob")];
        let reserved = p.reservations.iter().map(|r| (r.region, r.name));
        for (region, what) in kept.into_iter().chain(reserved) {
            println!(
                "kept={:#x} size={:#x} what={}",
                region.base,
                region.size,
                Value(what)
            );
        }
        stacks_raw();
        println!(
            "page_size={PAGE_SIZE} total={} free={} in_use={} reserved={}",
            s.total,
            s.free,
            s.in_use(),
            s.reserved
        );
        return Ok(());
    }
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
    let mib = |pages: usize| (pages as u64 * PAGE_SIZE) >> 20;
    println!("Pages (4 KiB):");
    println!("  total     {:>8}  ({} MiB)", s.total, mib(s.total));
    println!("  free      {:>8}  ({} MiB)", s.free, mib(s.free));
    println!("  in use    {:>8}  ({} MiB)", s.in_use(), mib(s.in_use()));
    println!("  reserved  {:>8}  ({} MiB)", s.reserved, mib(s.reserved));
    stacks();
    Ok(())
}

/// Every CPU's stacks as `key=value` lines: size and the most ever used, in bytes.
fn stacks_raw() {
    use crate::arch::stack::{self, OVERFLOW_STACK_SIZE, STACK_SIZE};
    let boot = crate::arch::layout::boot_stack_region();
    println!(
        "stack=boot size={} used={}",
        boot.size,
        stack::high_water(&boot.range())
    );
    for cpu in crate::smp::state::possible().iter() {
        if let Some((used, overflow_used)) = crate::smp::stacks::high_water(cpu) {
            println!(
                "stack=cpu{cpu} size={STACK_SIZE} used={used} overflow_size={OVERFLOW_STACK_SIZE} \
                 overflow_used={overflow_used}"
            );
        }
    }
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
            "masked-spin",
        ],
        "null, undefined, stack, serror, locked, fpsimd, panic or masked-spin",
    )? {
        "null" => Fault::NullDereference,
        "undefined" => Fault::UndefinedInstruction,
        "stack" => Fault::StackOverflow,
        "serror" => Fault::SError,
        "locked" => return crash_holding_a_lock(),
        "masked-spin" => return spin_masked_elsewhere(),
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
static CRASH_LOCK: IrqSpinLock<()> = IrqSpinLock::new(crate::lock_class!("crash lock"), ());
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
    let _masked = crate::arch::cpu::mask_irqs();
    CRASH_LOCK_WAITED.store(true, Ordering::Release);
    drop(CRASH_LOCK.lock());
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

/// How long `crash masked-spin` keeps another CPU spinning with interrupts masked: long
/// beside the 100 ms a backtrace waits for a CPU, short beside the 5 s a cross-call waits.
const MASKED_SPIN_US: u64 = 3_000_000;
/// How many masked spins have started, since boot.
static MASKED_SPINS: AtomicU64 = AtomicU64::new(0);

/// The other CPU's part: interrupts masked, spin for `us`, unmask.
fn spin_masked(us: u64) {
    let _masked = crate::arch::cpu::mask_irqs();
    MASKED_SPINS.fetch_add(1, Ordering::Release);
    let deadline = Deadline::after_us(us);
    while !deadline.passed() {
        core::hint::spin_loop();
    }
}

/// Has another CPU spin with interrupts masked for [`MASKED_SPIN_US`] (a hard lockup that
/// ends), returning once it spins: what a CPU stuck on a lock looks like to the others.
fn spin_masked_elsewhere<'a>() -> Result<(), CmdError<'a>> {
    let me = crate::arch::cpu::id();
    let Some(other) = crate::smp::state::online().without(me).iter().next() else {
        return Err(CmdError::failed(format_args!(
            "crash masked-spin needs another online CPU to spin"
        )));
    };
    let started = MASKED_SPINS.load(Ordering::Acquire);
    crate::smp::work::start_on(other, spin_masked, MASKED_SPIN_US)
        .map_err(|e| CmdError::failed(format_args!("cpu{other}: {e}")))?;
    let deadline = Deadline::after_us(10_000_000);
    while MASKED_SPINS.load(Ordering::Acquire) == started {
        if deadline.passed() {
            return Err(CmdError::failed(format_args!(
                "cpu{other} did not start its masked spin within 10 s"
            )));
        }
        core::hint::spin_loop();
    }
    println!(
        "crash masked-spin: cpu{other} spins with interrupts masked for {} ms",
        MASKED_SPIN_US / 1000
    );
    Ok(())
}
