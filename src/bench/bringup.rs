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
//! them online at the end.

use super::stats::{Millis, Verdict};
use crate::arch::hotplug_floor::FloorMailbox;
use crate::arch::psci::{AffinityState, Psci};
use crate::drivers::timer::{self, Deadline};
use crate::dt::EnableMethod;
use crate::println;
use crate::smp::cpumask::CpuMask;
use crate::smp::{hotplug, state};

/// The floor's mailboxes, one per possible CPU: made by the first run, kept for the next.
static MAILBOXES: spin::Once<Option<&'static [FloorMailbox]>> = spin::Once::new();

/// How long the whole floor, and each CPU's turning off after it, may take.
const FLOOR_TIMEOUT_US: u64 = 30_000_000;

pub fn run() {
    let mut verdict = Verdict::new();
    match measure(&mut verdict) {
        Ok((cpus, floor_ns, kernel_ns)) => println!(
            "RESULT bench-bringup {} cpus={cpus} kernel_ms={} floor_ms={} kernel_vs_floor={}{verdict}",
            verdict.word(),
            Millis(kernel_ns),
            Millis(floor_ns),
            super::stats::Hundredths(kernel_ns * 100 / floor_ns.max(1)),
        ),
        Err(why) => {
            println!("bench bringup: {why}");
            println!("RESULT bench-bringup FAIL reason={why}");
        }
    }
}

/// (CPUs, floor ns, kernel ns).
fn measure(verdict: &mut Verdict) -> Result<(usize, u64, u64), &'static str> {
    let platform = crate::boot::platform();
    let me = crate::arch::cpu::id();
    let targets = state::online().without(me);
    if targets.is_empty() {
        return Err("needs-another-online-cpu");
    }
    if targets
        .iter()
        .any(|c| !matches!(platform.cpus[c].enable_method, EnableMethod::Psci))
    {
        return Err("floor-needs-psci");
    }
    let psci = Psci::new(platform.psci.ok_or("psci-without-a-conduit")?);
    if !psci.has_standard_functions() {
        return Err("psci-0.1-has-no-affinity-info");
    }
    let mailboxes = MAILBOXES
        .call_once(|| crate::mm::table::leak(state::possible().len(), |_| FloorMailbox::new()))
        .ok_or("no-memory-for-mailboxes")?;
    for cpu in targets.iter() {
        hotplug::cpu_down(cpu).map_err(|_| "cpu-down-failed")?;
    }
    let floor = floor(&psci, targets, mailboxes);
    // The kernel's, whatever the floor did: the CPUs must come back either way.
    let began = timer::now_ns();
    let mut up = 0;
    hotplug::cpus_up(targets, |_, result, _| up += usize::from(result.is_ok()));
    let kernel_ns = timer::now_ns() - began;
    verdict.check(up == targets.len(), "cpus-not-back-online");
    Ok((targets.len(), floor?, kernel_ns))
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
    }
    // Off again (AFFINITY_INFO), before the kernel brings them up.
    for cpu in targets.iter() {
        let mpidr = platform.cpus[cpu].mpidr;
        while !matches!(psci.affinity_info(mpidr), Ok(AffinityState::Off)) {
            if mailboxes[cpu].off_error().is_some() {
                return Err("floor-cpu-off-refused");
            }
            if deadline.passed() {
                return Err("floor-cpu-never-off");
            }
            core::hint::spin_loop();
        }
    }
    Ok(timer::ticks_to_ns(last - began))
}
