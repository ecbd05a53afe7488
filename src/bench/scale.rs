//! `bench scale`: the operations whose cost could grow with the number of CPUs, each on
//! one CPU or one cache, so that runs at 4 and at 512 CPUs compare the same work:
//!
//! - `offline`, `online`: one CPU (the highest-numbered other online one) taken down and
//!   brought up again; the hotplug lock's writer and the drain of that CPU's arrays are
//!   inside;
//! - `write_lock`: the hotplug lock's write side taken and given back, uncontended, in
//!   batches of [`BATCH`] (in ns a pair): the writer looks at every possible CPU's reader
//!   count;
//! - `on_each_cpu`: a cross-call to every online CPU, waited for;
//! - `drain`: `kmem_cache_shrink` of a cache, which flushes every online CPU's array by
//!   cross-call (what `kmem_cache_destroy` does first).
//!
//! Each is timed (median of [`ROUNDS`] after a warm-up), and under the counting plugin
//! counted on this CPU (the median operation's instructions, loads and stores). The
//! offline and online have their floor beside them, on the same CPU in the same rounds
//! (`hotplug_floor`): what the emulator itself takes to stop and start that vCPU, which at
//! many vCPUs is most of it.

use super::counts::{self, PartCounts, Reported};
use super::hotplug_floor::Floor;
use super::stats::{Micros, Samples, Verdict};
use super::timed;
use crate::arch::cpu::IrqContext;
use crate::mm::kernel_slab::{self, OwnedObject};
use crate::mm::slab::SlabFlags;
use crate::println;
use crate::smp::{call, hotplug, state};

const ROUNDS: usize = 15;
/// Write-lock pairs a sample: one alone is near the timer's resolution at few CPUs.
const BATCH: u64 = 100;
/// Floor cycles on the target per round.
const FLOOR_CYCLES: usize = 3;
const FLOOR_SAMPLES: usize = ROUNDS * FLOOR_CYCLES;

/// The operations, in the order of the RESULT line.
const NAMES: [&str; 5] = ["offline", "online", "write_lock", "on_each_cpu", "drain"];

fn no_op(_: u64, _: IrqContext<'_>) {}

pub fn run() {
    let me = crate::arch::cpu::id();
    let Some(target) = state::online().without(me).iter().last() else {
        println!("RESULT bench-scale FAIL reason=needs-a-second-online-cpu");
        return;
    };
    let cache = match kernel_slab::kmem_cache_create("bench-scale", 64, 8, SlabFlags::NONE, None) {
        Ok(cache) => cache,
        Err(e) => {
            println!("bench scale: create: {e}");
            println!("RESULT bench-scale FAIL reason=create");
            return;
        }
    };
    let mut verdict = Verdict::new();
    let counting = PartCounts::open("scale", &mut verdict);
    let warm_up = counts::new_tag();
    let tags = NAMES.map(|_| counts::new_tag());
    let mut samples = NAMES.map(|_| Samples::<ROUNDS>::new());
    let mut floor = Floor::<FLOOR_SAMPLES>::new();
    let floor_offline = Floor::<FLOOR_SAMPLES>::runs_offline(target);
    let mut failure = None;
    for round in 0..=ROUNDS {
        let tag = |i: usize| if round > 0 { tags[i] } else { warm_up };
        let down = timed(|| counts::bracket(tag(0), || hotplug::cpu_down(target).is_ok()));
        if down.0
            && floor_offline
            && let Err(why) = floor.cycles(target, FLOOR_CYCLES, round > 0)
        {
            failure.get_or_insert(why);
        }
        let up = timed(|| counts::bracket(tag(1), || hotplug::cpu_up(target).is_ok()));
        if up.0
            && !floor_offline
            && let Err(why) = floor.cycles(target, FLOOR_CYCLES, round > 0)
        {
            failure.get_or_insert(why);
        }
        let results = [
            down,
            up,
            timed(|| {
                counts::bracket(tag(2), || {
                    for _ in 0..BATCH {
                        hotplug::cpu_hotplug_begin();
                        hotplug::cpu_hotplug_done();
                    }
                    true
                })
            }),
            timed(|| {
                counts::bracket(tag(3), || {
                    call::on_each_cpu(state::online(), no_op, 0, true).is_ok()
                })
            }),
            {
                // An object through this CPU's array, so that the drain has one to give back.
                let through_array = OwnedObject::alloc(&cache.share()).map(|o| o.free());
                if !matches!(through_array, Ok(Ok(()))) {
                    failure.get_or_insert("alloc-free");
                }
                timed(|| {
                    counts::bracket(tag(4), || {
                        kernel_slab::kmem_cache_shrink(&cache);
                        true
                    })
                })
            },
        ];
        for (i, (ok, ns)) in results.into_iter().enumerate() {
            let per_op = if i == 2 { ns / BATCH } else { ns };
            if !ok {
                failure.get_or_insert(NAMES[i]);
            } else if round > 0 {
                samples[i].push(per_op);
            }
        }
        if failure.is_some() {
            break;
        }
    }
    if !state::online().contains(target)
        && let Err(e) = hotplug::cpu_up(target)
    {
        println!("bench scale: cpu{target} stays offline: {e}");
    }
    if let Err((_, e)) = kernel_slab::kmem_cache_destroy(cache) {
        println!("bench scale: destroy: {e}");
        verdict.check(false, "cache-left-behind");
    }
    if let Some(what) = failure {
        println!("bench scale: {what} of cpu{target} failed");
        println!("RESULT bench-scale FAIL reason={what}");
        return;
    }
    for (i, s) in samples.iter_mut().enumerate() {
        verdict.samples(s, NAMES[i]);
    }
    verdict.samples(&mut floor.offline, "floor-offline");
    verdict.samples(&mut floor.online, "floor-online");
    let mut counted = alloc::string::String::new();
    // One operation a bracket (the write lock's, a batch): the median bracket's counts.
    let reported: [Reported; 5] = core::array::from_fn(|i| Reported {
        name: NAMES[i],
        tag: tags[i],
        brackets: ROUNDS as u64,
        ops: if i == 2 { BATCH } else { 1 },
    });
    counting.write_tags(&mut counted, &mut verdict, &reported);
    let [offline, online, write_lock, on_each_cpu, drain] = &mut samples;
    println!(
        "RESULT bench-scale {} cpus={} target={target} offline_us={} online_us={} \
         floor_offline_us={} floor_online_us={} write_lock_ns={} on_each_cpu_us={} \
         drain_us={}{counted}{verdict}",
        verdict.word(),
        state::online().len(),
        Micros(offline.median()),
        Micros(online.median()),
        Micros(floor.offline.median()),
        Micros(floor.online.median()),
        write_lock.median(),
        Micros(on_each_cpu.median()),
        Micros(drain.median()),
    );
}
