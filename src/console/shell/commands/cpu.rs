//! CPU commands: `cpus`, `cpu on|off`, `ipi`, `hotplug`, `fault`, `backtrace`.

use core::fmt;

use arrayvec::ArrayString;

use super::{CmdError, CmdResult, Hex, Truncating};
use crate::arch::cpu::IrqContext;
use crate::boot;
use crate::console::shell::args::Args;
use crate::console::shell::raw::{OrNone, Value, yes_no};
use crate::drivers::timer;
use crate::dt::{Cpu, EnableMethod, Mpidr, Topology};
use crate::println;
use crate::smp::asker::Busy;
use crate::smp::backtrace;
use crate::smp::call;
use crate::smp::cpu_ops::Death;
use crate::smp::hotplug::{self, HotplugError};
use crate::smp::state::{self, Absence, HotplugState};

/// What `cpus` says about one CPU, in either form.
struct CpuFacts {
    mpidr: Mpidr,
    method: EnableMethod<'static>,
    /// Its place in the tree's `/cpus/cpu-map`, if the tree gives one.
    topology: Option<Topology>,
    /// Its hotplug state; `None` for a CPU of the tree the kernel left out.
    state: Option<HotplugState>,
    /// Offline in the spin table's loop (a spin-table CPU taken down).
    parked: bool,
    /// Why it can never come online, if it cannot.
    absence: Option<Absence>,
    /// The shell runs on it.
    shell: bool,
    /// Offline, its last death taken on its own word: the method cannot confirm it
    /// (PSCI 0.1).
    unconfirmed: bool,
}

fn cpu_facts(cpu: usize, tree: &Cpu<'static>) -> CpuFacts {
    let state = state::possible()
        .contains(cpu)
        .then(|| state::slot(cpu).state());
    CpuFacts {
        mpidr: tree.mpidr,
        method: tree.enable_method,
        topology: tree.topology,
        state,
        parked: state == Some(HotplugState::Offline) && state::slot(cpu).parked(),
        absence: state::absence(cpu),
        shell: cpu == crate::arch::cpu::id(),
        unconfirmed: state == Some(HotplugState::Offline) && off_unconfirmed(cpu),
    }
}

/// `cpus [--raw]`: every CPU of the device tree and the hotplug lock, as a table or as
/// `key=value` lines (docs/shell.md).
pub(super) fn cpus<'a>(args: &Args<'a>) -> CmdResult<'a> {
    let raw = args.only_option("--raw")?;
    let p = boot::platform();
    if !raw {
        println!("CPU  MPIDR        METHOD       TOPOLOGY   STATE");
    }
    for (i, tree) in p.cpus.iter().enumerate() {
        let facts = cpu_facts(i, tree);
        if raw {
            // A CPU of the tree beyond what the kernel manages has no state: it is left out.
            let state: &dyn fmt::Display = match &facts.state {
                Some(state) => state,
                None => &"left-out",
            };
            let place = |level: fn(Topology) -> u32| OrNone(facts.topology.map(level));
            println!(
                "cpu={i} mpidr={:#x} method={} state={state} shell={} parked={} absent={} \
                 unconfirmed={} socket={} cluster={} core={} thread={}",
                facts.mpidr,
                Value(facts.method),
                yes_no(facts.shell),
                yes_no(facts.parked),
                facts.absence.map_or("no", Absence::name),
                yes_no(facts.unconfirmed),
                place(|t| t.socket),
                place(|t| t.cluster),
                place(|t| t.core),
                place(|t| t.thread),
            );
        } else {
            print_cpu_row(i, &facts);
        }
    }
    let lock = hotplug::lock_state();
    if raw {
        println!(
            "lock=hotplug readers={} writer={} waiting={}",
            lock.refcount,
            OrNone(lock.writer),
            lock.waiters
        );
        return Ok(());
    }
    let mut writer = ArrayString::<8>::new();
    let _ = match lock.writer {
        Some(cpu) => fmt::write(&mut writer, format_args!("cpu{cpu}")),
        None => fmt::write(&mut writer, format_args!("none")),
    };
    println!(
        "hotplug lock: {} reader(s) inside, writer {writer}, {} waiting",
        lock.refcount, lock.waiters
    );
    Ok(())
}

/// One row of the `cpus` table.
fn print_cpu_row(cpu: usize, facts: &CpuFacts) {
    let mut method = ArrayString::<16>::new();
    let _ = fmt::write(
        &mut Truncating::new(&mut method),
        format_args!("{}", facts.method),
    );
    let mut state_text = ArrayString::<120>::new();
    let out = &mut Truncating::new(&mut state_text);
    let _ = match (facts.state, facts.absence) {
        (None, _) => fmt::write(out, format_args!("left out")),
        (Some(HotplugState::Offline), _) if facts.parked => {
            fmt::write(out, format_args!("parked (offline)"))
        }
        (Some(HotplugState::Offline), Some(why)) => fmt::write(out, format_args!("offline: {why}")),
        (Some(HotplugState::Offline), None) if facts.unconfirmed => {
            fmt::write(out, format_args!("offline, {}", Death::Unconfirmable))
        }
        (Some(s), _) => fmt::write(out, format_args!("{s}")),
    };
    if facts.shell {
        let _ = state_text.try_push_str(", shell");
    }
    // socket:cluster:core:thread, or "-" where the tree has no cpu-map entry for it.
    let mut place = ArrayString::<48>::new();
    let _ = match facts.topology {
        Some(t) => fmt::write(&mut place, format_args!("{t}")),
        None => fmt::write(&mut place, format_args!("-")),
    };
    println!(
        "{cpu:>3}  {:<11}  {method:<11}  {place:<9}  {state_text}",
        Hex(facts.mpidr.affinity())
    );
}

/// Whether `cpu`'s last death could not be confirmed (PSCI 0.1).
fn off_unconfirmed(cpu: usize) -> bool {
    state::slot(cpu).off_unconfirmed()
}

/// ` (not confirmed off: ...)` after a `cpu off` whose death could not be confirmed.
fn unconfirmed_note(cpu: usize) -> ArrayString<96> {
    let mut note = ArrayString::new();
    if off_unconfirmed(cpu) {
        let _ = fmt::write(
            &mut Truncating::new(&mut note),
            format_args!(" ({})", Death::Unconfirmable),
        );
    }
    note
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

pub(super) fn cpu_on_off<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(2)?;
    let action = args.choice(0, &["on", "off"], "on or off")?;
    let cpu = cpu_number(args, 1)?;
    let me = crate::arch::cpu::id();
    if action == "off" && cpu == me {
        // Not moved for nothing: a CPU its method cannot take down stays as it is.
        hotplug::can_go_offline(cpu).map_err(|e| CmdError::failed(format_args!("{e}")))?;
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
            let note = if action == "off" {
                unconfirmed_note(cpu)
            } else {
                ArrayString::new()
            };
            println!("cpu {action} {cpu}: done in {us} us{note}");
            Ok(())
        }
        // Refused before anything changed: the error says it all.
        Err(
            e @ (HotplugError::NoSuchCpu(_)
            | HotplugError::WrongState { .. }
            | HotplugError::NotPresent(..)
            | HotplugError::LastCpu(_)
            | HotplugError::IsCaller(_)
            | HotplugError::CannotGoOffline(..)),
        ) => Err(CmdError::failed(format_args!("{e}"))),
        // Failed on the way: say where the CPU was left.
        Err(e) => Err(CmdError::failed(format_args!(
            "{e}; cpu{cpu} is {} now",
            state::slot(cpu).state()
        ))),
    }
}

/// The second half of `cpu off` of the shell's own CPU, on the CPU the shell moved to.
pub fn finish_cpu_off(cpu: usize) {
    let start = timer::now_ns();
    match hotplug::cpu_down(cpu) {
        Ok(()) => println!(
            "cpu off {cpu}: done in {} us (shell now on cpu{}){}",
            (timer::now_ns() - start) / 1000,
            crate::arch::cpu::id(),
            unconfirmed_note(cpu)
        ),
        Err(e) => println!("cpu off {cpu}: {e}"),
    }
}

fn no_op(_: u64, _: IrqContext<'_>) {}

pub(super) fn ipi<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(1)?;
    let cpu = cpu_number(args, 0)?;
    if cpu == crate::arch::cpu::id() {
        return Err(CmdError::failed(format_args!(
            "cpu{cpu} runs the shell; a round trip needs another CPU"
        )));
    }
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

/// Offlines and onlines every CPU but the shell's, `cycles` times. After each half cycle
/// a census checks that cross-calls reach exactly the online CPUs, and a call to an
/// offline one must be refused.
pub(super) fn hotplug<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(1)?;
    let cycles = args.number_or(0, 1, "a number of cycles")?;
    let me = crate::arch::cpu::id();
    let targets = state::online().without(me);
    let (mut ops, mut off_ns, mut on_ns, mut censuses) = (0u64, 0u64, 0u64, 0u64);
    let mut failure: Option<(u64, ArrayString<512>)> = None;
    let mut fail = |cycle: u64, args: fmt::Arguments<'_>| {
        let mut text = ArrayString::new();
        let _ = fmt::write(&mut Truncating::new(&mut text), args);
        failure = Some((cycle, text));
    };
    'cycles: for cycle in 0..cycles {
        for (going_down, total) in [(true, &mut off_ns), (false, &mut on_ns)] {
            for cpu in targets.iter() {
                let start = timer::now_ns();
                let result = if going_down {
                    hotplug::cpu_down(cpu)
                } else {
                    hotplug::cpu_up(cpu)
                };
                if let Err(e) = result {
                    fail(cycle, format_args!("{e}"));
                    break 'cycles;
                }
                *total += timer::now_ns() - start;
                ops += 1;
            }
            match call::census() {
                Ok((answered, online)) if answered == online => censuses += 1,
                Ok((answered, online)) => {
                    fail(
                        cycle,
                        format_args!("cross-call reached cpu {answered}, online is {online}"),
                    );
                    break 'cycles;
                }
                Err(e) => {
                    fail(cycle, format_args!("cross-call census: {e}"));
                    break 'cycles;
                }
            }
            if let Some(cpu) = targets.iter().next().filter(|_| going_down) {
                match call::smp_call_function_single(cpu, no_op, 0, true) {
                    Err(call::CallError::Offline(_)) => {}
                    other => {
                        fail(
                            cycle,
                            format_args!("a call to offline cpu{cpu} gave {other:?}"),
                        );
                        break 'cycles;
                    }
                }
            }
        }
    }
    let half = (ops / 2).max(1);
    if let Some((cycle, why)) = &failure {
        println!("hotplug: cycle {cycle}: {why}");
    }
    let lost = targets.minus(state::online());
    println!(
        "RESULT hotplug {} cycles={cycles} ops={ops} cpus={} censuses={censuses} offline_avg_us={} online_avg_us={} lost={}",
        if failure.is_none() && lost.is_empty() {
            "PASS"
        } else {
            "FAIL"
        },
        targets.len(),
        off_ns / half / 1000,
        on_ns / half / 1000,
        lost,
    );
    Ok(())
}

/// `fault [KIND CPU]`: arms a fault for the CPU's next bring-up or teardown, or lists the
/// faults armed.
pub(super) fn fault<'a>(args: &Args<'a>) -> CmdResult<'a> {
    use crate::smp::fault::{FAULTS, Fault, FaultSpecError};
    args.at_most(2)?;
    if args.is_empty() {
        let mut any = false;
        for cpu in 0..boot::platform().cpus.len().min(crate::MAX_CPUS) {
            for fault in FAULTS.armed(cpu) {
                println!("cpu{cpu}: {fault}");
                any = true;
            }
        }
        if !any {
            println!("no fault armed");
        }
        return Ok(());
    }
    let kind = args.word(0, "a fault kind")?;
    let Some(fault) = Fault::from_name(kind) else {
        return Err(CmdError::failed(format_args!(
            "{}",
            FaultSpecError::UnknownKind(kind)
        )));
    };
    let cpu = cpu_number(args, 1)?;
    FAULTS.arm(fault, cpu);
    println!("fault: {fault} armed for cpu{cpu} (fires once)");
    Ok(())
}

/// `backtrace`: this CPU's backtrace, then every other online CPU's, each printed by the
/// CPU itself (Linux's sysrq-l); fails naming the CPUs that gave none.
pub(super) fn backtrace<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    match backtrace::all_cpus_backtrace() {
        Ok(b) if b.missing().is_empty() => Ok(()),
        Ok(b) => Err(CmdError::failed(format_args!(
            "no backtrace from cpu {} of the {} other CPUs asked",
            b.missing(),
            b.asked.len()
        ))),
        // Another CPU is printing every CPU's, and that was said already.
        Err(Busy { .. }) => Ok(()),
    }
}
