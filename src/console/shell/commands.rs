//! The shell's commands: one table, each entry with its usage and what it does.

// There is no heap to box errors into: a failure carries its message inline.
#![allow(clippy::result_large_err)]

use core::fmt;

use arrayvec::ArrayString;

use super::args::{ArgError, Args};
use crate::arch::exceptions::{self, Fault};
use crate::boot;
use crate::drivers::timer;
use crate::dt::Gic;
use crate::mm::{self, page_alloc::PAGE_SIZE};
use crate::power;
use crate::println;
use crate::smp::state::{self, HotplugState};
use crate::smp::{call, hotplug};
use core::sync::atomic::Ordering;

/// Why a command did not do what was asked.
pub enum CmdError<'a> {
    /// The arguments are wrong: the shell prints the error and the usage.
    Usage(ArgError<'a>),
    /// The command ran and failed.
    Failed(ArrayString<160>),
}

impl<'a> From<ArgError<'a>> for CmdError<'a> {
    fn from(e: ArgError<'a>) -> Self {
        CmdError::Usage(e)
    }
}

impl CmdError<'_> {
    pub fn failed(args: fmt::Arguments<'_>) -> Self {
        let mut text = ArrayString::new();
        let _ = fmt::write(&mut Truncate(&mut text), args);
        CmdError::Failed(text)
    }
}

struct Truncate<'a, const N: usize>(&'a mut ArrayString<N>);

impl<const N: usize> fmt::Write for Truncate<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.0.try_push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}

pub type CmdResult<'a> = Result<(), CmdError<'a>>;

pub struct Command {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
    pub run: for<'a> fn(&Args<'a>) -> CmdResult<'a>,
}

const COMMANDS: &[Command] = &[
    Command {
        name: "help",
        args: "",
        help: "list the commands",
        run: help,
    },
    Command {
        name: "dt",
        args: "",
        help: "what the device tree describes, with addresses",
        run: dt,
    },
    Command {
        name: "cpus",
        args: "",
        help: "each CPU: logical id, MPIDR, enable method, state",
        run: cpus,
    },
    Command {
        name: "cpu",
        args: "on|off N",
        help: "bring CPU N online or take it offline, with the time it took",
        run: cpu_on_off,
    },
    Command {
        name: "ipi",
        args: "N",
        help: "SGI round trip to CPU N (a cross-call that waits), 100 times",
        run: ipi,
    },
    Command {
        name: "hotplug",
        args: "[cycles]",
        help: "offline then online every other CPU, repeatedly (default 1 cycle)",
        run: hotplug,
    },
    Command {
        name: "mem",
        args: "",
        help: "memory map and page allocator counts",
        run: mem,
    },
    Command {
        name: "dmesg",
        args: "",
        help: "the kernel log",
        run: dmesg,
    },
    Command {
        name: "poweroff",
        args: "",
        help: "turn the machine off (PSCI SYSTEM_OFF)",
        run: poweroff,
    },
    Command {
        name: "reboot",
        args: "",
        help: "reset the machine (PSCI SYSTEM_RESET)",
        run: reboot,
    },
    Command {
        name: "crash",
        args: "null|undefined|panic",
        help: "make the kernel fail on purpose, to see its Oops report",
        run: crash,
    },
];

pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

fn help<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    for c in COMMANDS {
        let mut usage = ArrayString::<40>::new();
        let _ = fmt::write(
            &mut Truncate(&mut usage),
            format_args!("{} {}", c.name, c.args),
        );
        println!("  {usage:<28} {}", c.help);
    }
    Ok(())
}

fn dt<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    let p = boot::platform();
    println!("model:       {}", p.model.unwrap_or("(none)"));
    println!("blob:        {} ({} bytes)", p.dtb, p.dtb.size);
    println!("bootargs:    {}", p.bootargs);
    println!("stdout-path: {}", p.stdout_path.unwrap_or("(none)"));
    match &p.console {
        Some(u) => {
            let clock = u.clock_hz.map_or(0, |hz| hz);
            println!(
                "console:     {} ({:?}) at {}, clock {} Hz, irq {}",
                u.name,
                u.kind,
                u.region,
                clock,
                u.irq.map_or(-1, i64::from)
            );
        }
        None => println!("console:     (none)"),
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

fn cpus<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    let p = boot::platform();
    let shell_cpu = crate::arch::cpu::id();
    println!("CPU  MPIDR        METHOD       STATE");
    for (i, cpu) in p.cpus.iter().enumerate() {
        let mut method = ArrayString::<16>::new();
        let _ = fmt::write(
            &mut Truncate(&mut method),
            format_args!("{}", cpu.enable_method),
        );
        let mut state_text = ArrayString::<40>::new();
        let _ = match state::possible()
            .contains(i)
            .then(|| state::slot(i).state())
        {
            None => fmt::write(&mut state_text, format_args!("left out")),
            Some(HotplugState::Offline) if state::slot(i).parked.load(Ordering::Acquire) => {
                fmt::write(&mut state_text, format_args!("parked (offline)"))
            }
            Some(s) => fmt::write(&mut state_text, format_args!("{s}")),
        };
        if i == shell_cpu {
            let _ = state_text.try_push_str(", shell");
        }
        println!("{i:>3}  {:<11}  {method:<11}  {state_text}", Hex(cpu.mpidr));
    }
    Ok(())
}

fn cpu_number<'a>(args: &Args<'a>, index: usize) -> Result<usize, CmdError<'a>> {
    let n = args.number(index, "a CPU number")?;
    let count = boot::platform().cpus.len();
    if n as usize >= count.max(state::possible().len()) {
        return Err(CmdError::failed(format_args!(
            "there is no cpu{n} (CPUs are 0-{})",
            count.saturating_sub(1)
        )));
    }
    Ok(n as usize)
}

fn cpu_on_off<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(2)?;
    let action = args.choice(0, &["on", "off"], "on or off")?;
    let cpu = cpu_number(args, 1)?;
    let me = crate::arch::cpu::id();
    if action == "off" && cpu == me {
        // The shell cannot take its own CPU down: it moves to another CPU, which does.
        let Some(to) = state::online().without(me).iter().next() else {
            return Err(CmdError::failed(format_args!(
                "cpu{cpu} is the last online CPU"
            )));
        };
        println!("cpu off {cpu}: the shell moves to cpu{to}, which takes cpu{cpu} down");
        crate::console::shell::hand_over_and_take_down(cpu, to);
        return Ok(());
    }
    let start = timer::now_ns();
    let result = if action == "on" {
        hotplug::cpu_up(cpu)
    } else {
        hotplug::cpu_down(cpu)
    };
    let us = (timer::now_ns() - start) / 1000;
    match result {
        Ok(()) => {
            println!("cpu {action} {cpu}: done in {us} us");
            Ok(())
        }
        Err(e) => Err(CmdError::failed(format_args!("{e}"))),
    }
}

/// The second half of `cpu off` of the shell's own CPU, on the CPU the shell moved to.
pub fn finish_cpu_off(cpu: usize) {
    let start = timer::now_ns();
    match hotplug::cpu_down(cpu) {
        Ok(()) => println!(
            "cpu off {cpu}: done in {} us (shell now on cpu{})",
            (timer::now_ns() - start) / 1000,
            crate::arch::cpu::id()
        ),
        Err(e) => println!("cpu off {cpu}: {e}"),
    }
}

fn no_op(_: u64) {}

fn ipi<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(1)?;
    let cpu = cpu_number(args, 0)?;
    const ROUNDS: usize = 100;
    let mut times = [0u64; ROUNDS];
    for t in times.iter_mut() {
        let start = timer::now_ns();
        call::smp_call_function_single(cpu, no_op, 0, true)
            .map_err(|e| CmdError::failed(format_args!("{e}")))?;
        *t = timer::now_ns() - start;
    }
    times.sort_unstable();
    println!(
        "ipi {cpu}: {ROUNDS} round trips, min {} us, median {} us, max {} us",
        times[0] / 1000,
        times[ROUNDS / 2] / 1000,
        times[ROUNDS - 1] / 1000
    );
    Ok(())
}

fn hotplug<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(1)?;
    let cycles = args.number_or(0, 1, "a number of cycles")?;
    let me = crate::arch::cpu::id();
    let targets = state::online().without(me);
    let (mut ops, mut off_ns, mut on_ns) = (0u64, 0u64, 0u64);
    let mut failure = None;
    'cycles: for cycle in 0..cycles {
        for cpu in targets.iter() {
            let start = timer::now_ns();
            if let Err(e) = hotplug::cpu_down(cpu) {
                failure = Some((cycle, e));
                break 'cycles;
            }
            off_ns += timer::now_ns() - start;
            ops += 1;
        }
        for cpu in targets.iter() {
            let start = timer::now_ns();
            if let Err(e) = hotplug::cpu_up(cpu) {
                failure = Some((cycle, e));
                break 'cycles;
            }
            on_ns += timer::now_ns() - start;
            ops += 1;
        }
    }
    let half = (ops / 2).max(1);
    if let Some((cycle, e)) = failure {
        println!("hotplug: cycle {cycle}: {e}");
    }
    let lost = targets.bits() & !state::online().bits();
    println!(
        "RESULT hotplug {} cycles={cycles} ops={ops} cpus={} offline_avg_us={} online_avg_us={} lost={}",
        if failure.is_none() && lost == 0 {
            "PASS"
        } else {
            "FAIL"
        },
        targets.len(),
        off_ns / half / 1000,
        on_ns / half / 1000,
        crate::smp::cpumask::CpuMask::from_bits(lost),
    );
    Ok(())
}

/// Formats as `0x...` with a width applied to the whole.
struct Hex(u64);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = ArrayString::<20>::new();
        let _ = fmt::write(&mut s, format_args!("{:#x}", self.0));
        f.pad(&s)
    }
}

fn mem<'a>(args: &Args<'a>) -> CmdResult<'a> {
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

fn dmesg<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    crate::console::dump_log();
    Ok(())
}

fn poweroff<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    let e = power::poweroff(0);
    Err(CmdError::failed(format_args!("{e}")))
}

fn reboot<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    let e = power::reboot();
    Err(CmdError::failed(format_args!("{e}")))
}

fn crash<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(1)?;
    match args.choice(
        0,
        &["null", "undefined", "panic"],
        "null, undefined or panic",
    )? {
        "null" => exceptions::provoke(Fault::NullDereference),
        "undefined" => exceptions::provoke(Fault::UndefinedInstruction),
        _ => panic!("the crash command asked for a panic"),
    }
    Ok(())
}
