//! Machine commands: `dt`, `mem`, `dmesg`, `poweroff`, `reboot`, `crash`.

use super::{CmdError, CmdResult};
use crate::arch::exceptions::{self, Fault};
use crate::boot;
use crate::console::shell::args::Args;
use crate::drivers::gic;
use crate::dt::Gic;
use crate::mm::{self, page_alloc::PAGE_SIZE};
use crate::power;
use crate::println;

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
