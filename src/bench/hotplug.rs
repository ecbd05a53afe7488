//! `bench hotplug`: every other online CPU taken offline, then brought online, one at a
//! time, for a number of cycles after a warm-up one; each operation timed. Each cycle
//! also runs the floor (`hotplug_floor`) on each CPU, interleaved with the kernel's
//! operations so that both see the host in the same mood. Each kept operation, the
//! floor's too, is also a count bracket: under the counting plugin, the controlling CPU's
//! instructions, loads and stores in the median operation, the rounds of its waits for
//! the target left out.

use super::counts::{self, PartCounts, Reported};
use super::hotplug_floor::Floor;
use super::stats::{Micros, Samples, Verdict};
use super::timed;
use crate::println;
use crate::smp::cpumask::CpuMask;
use crate::smp::hotplug::{self, HotplugError};
use crate::smp::state;

const CYCLES: usize = 20;
// Room for 20 cycles of up to 12 other CPUs (256 samples), and for their floors.
/// Floor cycles per CPU per cycle: each is short, and their median swings more.
const FLOOR_CYCLES: usize = 5;

/// The count bracket tags of the kernel's operations: offline, online, and the warm-up
/// cycle's.
#[derive(Clone, Copy)]
struct Tags {
    offline: u64,
    online: u64,
    warm_up: u64,
}

/// Why a cycle stopped.
enum Failure {
    Kernel(usize, HotplugError),
    Floor(usize, &'static str),
}

pub fn run() {
    let me = crate::arch::cpu::id();
    let targets = state::online().without(me);
    if targets.is_empty() {
        println!("RESULT bench-hotplug FAIL reason=needs-a-second-online-cpu");
        return;
    }
    let mut verdict = Verdict::new();
    let counting = PartCounts::open("hotplug", &mut verdict);
    let tags = Tags {
        offline: counts::new_tag(),
        online: counts::new_tag(),
        warm_up: counts::new_tag(),
    };
    let mut offline = Samples::<256>::new();
    let mut online = Samples::<256>::new();
    let mut floor = Floor::<1024>::new();
    let mut failure = None;
    for cycle in 0..=CYCLES {
        let kept = cycle > 0;
        if let Err(f) = one_cycle(targets, kept, tags, &mut offline, &mut online, &mut floor) {
            failure = Some(f);
            break;
        }
    }
    if let Some(failure) = failure {
        let cpu = match failure {
            Failure::Kernel(cpu, e) => {
                println!("bench hotplug: cpu{cpu}: {e}");
                cpu
            }
            Failure::Floor(cpu, why) => {
                println!("bench hotplug: cpu{cpu}: the floor: {why}");
                cpu
            }
        };
        // Bring back whatever the failure left offline.
        for cpu in targets.iter().filter(|c| !state::online().contains(*c)) {
            if let Err(e) = hotplug::cpu_up(cpu) {
                println!("bench hotplug: cpu{cpu} stays offline: {e}");
            }
        }
        println!("RESULT bench-hotplug FAIL reason=cpu{cpu}");
        return;
    }
    verdict.samples(&mut offline, "offline-samples");
    verdict.samples(&mut online, "online-samples");
    verdict.samples(&mut floor.offline, "floor-offline-samples");
    verdict.samples(&mut floor.online, "floor-online-samples");
    verdict.check(
        offline.len() == CYCLES * targets.len() && online.len() == offline.len(),
        "operations-missing",
    );
    verdict.check(
        floor.online.len() == CYCLES * FLOOR_CYCLES * targets.len()
            && floor.offline.len() == floor.online.len(),
        "floor-cycles-missing",
    );
    verdict.check(
        state::online().and(targets) == targets,
        "a-cpu-left-offline",
    );
    let mut counted = alloc::string::String::new();
    // One operation a bracket: the median operation's counts.
    let reported = |name, tag, samples: usize| Reported {
        name,
        tag,
        brackets: samples as u64,
        ops: 1,
    };
    counting.write_tags(
        &mut counted,
        &mut verdict,
        &[
            reported("offline", tags.offline, offline.len()),
            reported("online", tags.online, online.len()),
            reported("floor_offline", floor.offline_tag, floor.offline.len()),
            reported("floor_online", floor.online_tag, floor.online.len()),
        ],
    );
    println!(
        "RESULT bench-hotplug {} cpus={} cycles={CYCLES} ops={} offline_us={} online_us={} \
         offline_min_us={} online_min_us={} offline_p99_us={} online_p99_us={} \
         floor_offline_us={} floor_online_us={} floor_offline_min_us={} \
         floor_online_min_us={}{counted}{verdict}",
        verdict.word(),
        targets.len() + 1,
        offline.len() + online.len(),
        Micros(offline.median()),
        Micros(online.median()),
        Micros(offline.min()),
        Micros(online.min()),
        Micros(offline.p99()),
        Micros(online.p99()),
        Micros(floor.offline.median()),
        Micros(floor.online.median()),
        Micros(floor.offline.min()),
        Micros(floor.online.min()),
    );
}

/// Every target offline, the floors that run on offline CPUs, every target online, the
/// floors that run on online ones; kept only if `keep`.
fn one_cycle(
    targets: CpuMask,
    keep: bool,
    tags: Tags,
    offline: &mut Samples<256>,
    online: &mut Samples<256>,
    floor: &mut Floor<1024>,
) -> Result<(), Failure> {
    for (down, samples) in [(true, offline), (false, online)] {
        let tag = match (keep, down) {
            (false, _) => tags.warm_up,
            (true, true) => tags.offline,
            (true, false) => tags.online,
        };
        for cpu in targets.iter() {
            let (result, ns) = timed(|| {
                counts::bracket(tag, || {
                    if down {
                        hotplug::cpu_down(cpu)
                    } else {
                        hotplug::cpu_up(cpu)
                    }
                })
            });
            result.map_err(|e| Failure::Kernel(cpu, e))?;
            if keep {
                samples.push(ns);
            }
        }
        for cpu in targets
            .iter()
            .filter(|&c| Floor::<1024>::runs_offline(c) == down)
        {
            floor
                .cycles(cpu, FLOOR_CYCLES, keep)
                .map_err(|why| Failure::Floor(cpu, why))?;
        }
    }
    Ok(())
}
