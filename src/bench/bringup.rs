//! `bench bringup`: every other CPU brought up at once, by the kernel and by the floor.
//!
//! - The floor: PSCI CPU_ON to every CPU at once, each to a stub that only says it arrived
//!   and turns itself off again (`arch::hotplug_floor`, told to die before it starts), from
//!   the first CPU_ON to the last arrival seen: the least a parallel bring-up costs under
//!   this emulator, with nothing of the kernel's done.
//! - The kernel: `cpus_up` of the same CPUs, as boot brings them up (UP_PREPARE, the
//!   enable method, each CPU's own bring-up, the arrival handshake, ONLINE), from the
//!   first start to the last CPU online.
//!
//! Both start with every other CPU offline, so the part takes them down first and leaves
//! them online at the end. Where the floor cannot run (a CPU started by spin-table, or
//! PSCI 0.1, which has no AFFINITY_INFO to see the stub die), the kernel's bring-up is
//! measured alone and the line says `floor=unavailable`.

use super::stats::{Millis, Verdict};
use crate::arch::hotplug_floor::FloorMailbox;
use crate::arch::psci::Psci;
use crate::drivers::timer::{self, Deadline};
use crate::dt::EnableMethod;
use crate::println;
use crate::smp::cpumask::CpuMask;
use crate::smp::{hotplug, state};

/// The floor's mailboxes, one per possible CPU: made by the first run, kept for the next.
static MAILBOXES: spin::Once<Option<&'static [FloorMailbox]>> = spin::Once::new();

/// How long the floor's waiter sleeps between looks for arrivals.
const ARRIVAL_LOOK_US: u64 = 100;

/// How long the whole floor, and each CPU's turning off after it, may take.
const FLOOR_TIMEOUT_US: u64 = 30_000_000;

pub fn run() {
    let mut verdict = Verdict::new();
    match measure(&mut verdict) {
        Ok(Measured {
            cpus,
            kernel_ns,
            floor: Ok(floor_ns),
        }) => println!(
            "RESULT bench-bringup {} cpus={cpus} kernel_ms={} floor_ms={} kernel_vs_floor={}{verdict}",
            verdict.word(),
            Millis(kernel_ns),
            Millis(floor_ns),
            super::stats::Hundredths(kernel_ns * 100 / floor_ns.max(1)),
        ),
        // The kernel's bring-up is measured where the floor cannot be.
        Ok(Measured {
            cpus,
            kernel_ns,
            floor: Err(why),
        }) => {
            println!("bench bringup: no floor: {why}");
            println!(
                "RESULT bench-bringup {} cpus={cpus} kernel_ms={} floor=unavailable{verdict}",
                verdict.word(),
                Millis(kernel_ns),
            );
        }
        Err(why) => {
            println!("bench bringup: {why}");
            println!("RESULT bench-bringup FAIL reason={why}");
        }
    }
}

/// What a run measured: the kernel's bring-up of `cpus` CPUs, and the floor's, or why
/// there is none on this machine.
struct Measured {
    cpus: usize,
    kernel_ns: u64,
    floor: Result<u64, &'static str>,
}

fn measure(verdict: &mut Verdict) -> Result<Measured, &'static str> {
    let me = crate::arch::cpu::id();
    let targets = state::online().without(me);
    if targets.is_empty() {
        return Err("needs-another-online-cpu");
    }
    for cpu in targets.iter() {
        hotplug::cpu_down(cpu).map_err(|_| "cpu-down-failed")?;
    }
    let floor = floor_of(targets);
    // The kernel's, whatever the floor did: the CPUs must come back either way.
    let began = timer::now_ns();
    let mut up = 0;
    hotplug::cpus_up(targets, |_, result, _| up += usize::from(result.is_ok()));
    let kernel_ns = timer::now_ns() - began;
    verdict.check(up == targets.len(), "cpus-not-back-online");
    if let Err(why) = floor
        && why.starts_with("floor-")
    {
        // The floor ran and failed: that is a failure, not an absence.
        return Err(why);
    }
    Ok(Measured {
        cpus: targets.len(),
        kernel_ns,
        floor,
    })
}

/// The floor's bring-up of `targets` (offline), where PSCI with AFFINITY_INFO drives every
/// one of them: the stub is started by CPU_ON, and its death seen by AFFINITY_INFO. Why
/// not, otherwise (an error not starting with `floor-`).
fn floor_of(targets: CpuMask) -> Result<u64, &'static str> {
    let platform = crate::boot::platform();
    if targets
        .iter()
        .any(|c| !matches!(platform.cpus[c].enable_method, EnableMethod::Psci))
    {
        return Err("needs-psci");
    }
    let psci = Psci::new(platform.psci.ok_or("needs-psci")?);
    if !psci.has_standard_functions() {
        return Err("psci-0.1-has-no-affinity-info");
    }
    let mailboxes = MAILBOXES
        .call_once(|| crate::mm::table::leak(state::possible().len(), |_| FloorMailbox::new()))
        .ok_or("floor-no-memory-for-mailboxes")?;
    floor(&psci, targets, mailboxes)
}

/// The floor's bring-up of `targets` (offline), in ns; they are off again after.
fn floor(psci: &Psci, targets: CpuMask, mailboxes: &[FloorMailbox]) -> Result<u64, &'static str> {
    let platform = crate::boot::platform();
    let began = timer::ticks();
    for cpu in targets.iter() {
        let (entry, context) = mailboxes[cpu].arm(psci.method(), None);
        // Told to die before it starts: it arrives, says so, and calls CPU_OFF at once.
        mailboxes[cpu].tell_to_die();
        psci.cpu_on(platform.cpus[cpu].mpidr, entry, context)
            .map_err(|_| "floor-cpu-on-refused")?;
    }
    let deadline = Deadline::after_us(FLOOR_TIMEOUT_US);
    let mut waiting = targets;
    let mut last = began;
    while !waiting.is_empty() {
        for cpu in waiting.iter() {
            if mailboxes[cpu].arrived() {
                waiting.remove(cpu);
                last = timer::ticks();
            }
        }
        if deadline.passed() {
            return Err("floor-cpu-never-arrived");
        }
        // As the kernel's bring-up waits: asleep between looks, so that a spinning waiter
        // does not hold a host core the CPUs it waits for need (the stub sends no SGI, so
        // each look is a timer's).
        if !waiting.is_empty() {
            crate::smp::doze_unless(|| false, ARRIVAL_LOOK_US);
        }
    }
    // Off again (AFFINITY_INFO), before the kernel brings them up.
    for cpu in targets.iter() {
        let mpidr = platform.cpus[cpu].mpidr;
        if !crate::smp::psci_ops::wait_until_off(psci, mpidr, &deadline) {
            return Err(if mailboxes[cpu].off_error().is_some() {
                "floor-cpu-off-refused"
            } else {
                "floor-cpu-never-off"
            });
        }
    }
    Ok(timer::ticks_to_ns(last - began))
}
