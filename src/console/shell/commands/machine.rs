//! Machine commands: `dt`, `mem`, `dmesg`, `poweroff`, `reboot`, `crash`.

use super::{CmdError, CmdResult};
use crate::arch::exceptions::{self, Fault};
use crate::boot;
use crate::console::shell::args::Args;
use crate::console::shell::raw::{OrNone, Value, yes_no};
use crate::dt::{Gic, Platform, PsciMethod, UartKind};
use crate::mm::{self, page_alloc::PAGE_SIZE};
use crate::power;
use crate::println;

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
            println!("gic:         GICv2, distributor {distributor}, cpu interface {cpu_interface}")
        }
        Some(Gic::V3 {
            distributor,
            redistributors,
        }) => {
            println!("gic:         GICv3, distributor {distributor}");
            for r in redistributors {
                println!("             redistributors {r}");
            }
        }
        None => println!("gic:         (none)"),
    }
    match p.psci {
        Some(method) => match power::psci().map(|psci| psci.version()) {
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
            for r in redistributors {
                println!("redistributors={:#x} size={:#x}", r.base, r.size);
            }
        }
        None => println!("gic=none"),
    }
    match p.psci {
        Some(method) => {
            let conduit = match method {
                PsciMethod::Hvc => "hvc",
                PsciMethod::Smc => "smc",
            };
            match power::psci().map(|psci| psci.version()) {
                Some(Ok(v)) => println!("psci={conduit} version={}.{}", v.major, v.minor),
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
    Ok(())
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
    match args.choice(
        0,
        &["null", "undefined", "fpsimd", "panic"],
        "null, undefined, fpsimd or panic",
    )? {
        "null" => exceptions::provoke(Fault::NullDereference),
        "undefined" => exceptions::provoke(Fault::UndefinedInstruction),
        "fpsimd" => crate::arch::fpsimd::use_fpsimd(),
        _ => panic!("the crash command asked for a panic"),
    }
    Ok(())
}
