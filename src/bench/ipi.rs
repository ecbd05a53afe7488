//! `bench ipi`: an SGI round trip (a waiting cross-call to one other CPU, each in turn),
//! and a waiting cross-call to every online CPU at once.

use super::stats::{Micros, Samples, Verdict};
use super::timed;
use crate::println;
use crate::smp::call;
use crate::smp::state;

const ROUNDS: usize = 200;

fn no_op(_: u64) {}

pub fn run() {
    let me = crate::arch::cpu::id();
    let online = state::online();
    let others = online.without(me);
    if others.is_empty() {
        println!("RESULT bench-ipi FAIL reason=needs-a-second-online-cpu");
        return;
    }
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
        let (one_result, one) = timed(|| call::smp_call_function_single(target, no_op, 0, true));
        let (all_result, all) = timed(|| call::on_each_cpu(online, no_op, 0, true));
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
    let mut verdict = Verdict::new();
    verdict.samples(&mut round_trip, "round-trip-samples");
    verdict.samples(&mut to_all, "on-each-cpu-samples");
    verdict.check(state::online() == online, "online-set-changed");
    println!(
        "RESULT bench-ipi {} cpus={} roundtrip_us={} on_each_cpu_us={} roundtrip_p99_us={} on_each_cpu_p99_us={}{verdict}",
        verdict.word(),
        online.len(),
        Micros(round_trip.median()),
        Micros(to_all.median()),
        Micros(round_trip.p99()),
        Micros(to_all.p99()),
    );
}
