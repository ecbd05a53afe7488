//! `bench hotplug`: every other online CPU taken offline, then brought online, one at a
//! time, for a number of cycles after a warm-up one; each operation timed.

use super::stats::{Micros, Samples, Verdict};
use super::timed;
use crate::println;
use crate::smp::hotplug::{self, HotplugError};
use crate::smp::state;

const CYCLES: usize = 20;

pub fn run() {
    let me = crate::arch::cpu::id();
    let targets = state::online().without(me);
    if targets.is_empty() {
        println!("RESULT bench-hotplug FAIL reason=needs-a-second-online-cpu");
        return;
    }
    let mut offline = Samples::<1024>::new();
    let mut online = Samples::<1024>::new();
    let mut failure: Option<(usize, HotplugError)> = None;
    'cycles: for cycle in 0..=CYCLES {
        for (down, samples) in [(true, &mut offline), (false, &mut online)] {
            for cpu in targets.iter() {
                let (result, ns) = timed(|| {
                    if down {
                        hotplug::cpu_down(cpu)
                    } else {
                        hotplug::cpu_up(cpu)
                    }
                });
                if let Err(e) = result {
                    failure = Some((cpu, e));
                    break 'cycles;
                }
                if cycle > 0 {
                    samples.push(ns);
                }
            }
        }
    }
    if let Some((cpu, e)) = failure {
        println!("bench hotplug: cpu{cpu}: {e}");
        // Bring back whatever the failure left offline.
        for cpu in targets.iter().filter(|c| !state::online().contains(*c)) {
            if let Err(e) = hotplug::cpu_up(cpu) {
                println!("bench hotplug: cpu{cpu} stays offline: {e}");
            }
        }
        println!("RESULT bench-hotplug FAIL reason=cpu{cpu}");
        return;
    }
    let mut verdict = Verdict::new();
    verdict.samples(&mut offline, "offline-samples");
    verdict.samples(&mut online, "online-samples");
    verdict.check(
        offline.len() == CYCLES * targets.len() && online.len() == offline.len(),
        "operations-missing",
    );
    verdict.check(
        state::online().and(targets) == targets,
        "a-cpu-left-offline",
    );
    println!(
        "RESULT bench-hotplug {} cpus={} cycles={CYCLES} ops={} offline_us={} online_us={} offline_p99_us={} online_p99_us={}{verdict}",
        verdict.word(),
        targets.len() + 1,
        offline.len() + online.len(),
        Micros(offline.median()),
        Micros(online.median()),
        Micros(offline.p99()),
        Micros(online.p99()),
    );
}
