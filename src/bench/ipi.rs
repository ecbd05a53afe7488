//! `bench ipi`: an SGI round trip (a waiting cross-call to one other CPU, each in turn),
//! and a waiting cross-call to every online CPU at once. Each kept call is also a count
//! bracket: under the counting plugin, the calling CPU's instructions, loads and stores
//! in the median call, the rounds of its wait for the others left out.

use super::counts::{self, PartCounts, Reported};
use super::stats::{Micros, Samples, Verdict};
use super::timed;
use crate::arch::cpu::IrqContext;
use crate::println;
use crate::smp::call;
use crate::smp::state;

const ROUNDS: usize = 200;

fn no_op(_: u64, _: IrqContext<'_>) {}

pub fn run() {
    let me = crate::arch::cpu::id();
    let online = state::online();
    let others = online.without(me);
    if others.is_empty() {
        println!("RESULT bench-ipi FAIL reason=needs-a-second-online-cpu");
        return;
    }
    let mut verdict = Verdict::new();
    let counting = PartCounts::open("ipi", &mut verdict);
    // The warm-up round's brackets go to a tag of their own.
    let (warm_up, one_tag, all_tag) = (counts::new_tag(), counts::new_tag(), counts::new_tag());
    let mut round_trip = Samples::<ROUNDS>::new();
    let mut to_all = Samples::<ROUNDS>::new();
    let mut targets = others.iter();
    for round in 0..=ROUNDS {
        let target = match targets.next() {
            Some(cpu) => cpu,
            None => {
                targets = others.iter();
                targets.next().expect("others is not empty")
            }
        };
        let (one_tag, all_tag) = if round > 0 {
            (one_tag, all_tag)
        } else {
            (warm_up, warm_up)
        };
        let (one_result, one) = timed(|| {
            counts::bracket(one_tag, || {
                call::smp_call_function_single(target, no_op, 0, true)
            })
        });
        let (all_result, all) =
            timed(|| counts::bracket(all_tag, || call::on_each_cpu(online, no_op, 0, true)));
        if let Err(e) = one_result.and(all_result) {
            println!("bench ipi: {e}");
            println!("RESULT bench-ipi FAIL reason=cross-call");
            return;
        }
        if round > 0 {
            round_trip.push(one);
            to_all.push(all);
        }
    }
    verdict.samples(&mut round_trip, "round-trip-samples");
    verdict.samples(&mut to_all, "on-each-cpu-samples");
    verdict.check(state::online() == online, "online-set-changed");
    let mut counted = alloc::string::String::new();
    // One operation a bracket: the median operation's counts.
    let reported = |name, tag| Reported {
        name,
        tag,
        brackets: ROUNDS as u64,
        ops: 1,
    };
    counting.write_tags(
        &mut counted,
        &mut verdict,
        &[
            reported("roundtrip", one_tag),
            reported("on_each_cpu", all_tag),
        ],
    );
    println!(
        "RESULT bench-ipi {} cpus={} roundtrip_us={} on_each_cpu_us={} roundtrip_p99_us={} on_each_cpu_p99_us={}{counted}{verdict}",
        verdict.word(),
        online.len(),
        Micros(round_trip.median()),
        Micros(to_all.median()),
        Micros(round_trip.p99()),
        Micros(to_all.p99()),
    );
}
