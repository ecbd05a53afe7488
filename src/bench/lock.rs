//! `bench lock`: `cpus_read_lock` + `cpus_read_unlock` against `spin::Mutex` lock +
//! unlock, uncontended, in batches; nanoseconds per pair, and, under the counting plugin,
//! instructions, loads and stores per pair (a batch of each counted with interrupts
//! masked).

use core::hint::black_box;

use super::counts::{self, PartCounts, Reported};
use super::stats::{Samples, Verdict};
use super::timed;
use crate::println;
use crate::smp::hotplug;

const BATCH: u64 = 1000;
const SAMPLES: usize = 31;

fn read_lock_batch() {
    for _ in 0..BATCH {
        hotplug::cpus_read_lock();
        hotplug::cpus_read_unlock();
    }
}

fn spin_batch(mutex: &spin::Mutex<u64>) {
    for _ in 0..BATCH {
        *black_box(mutex).lock() += 1;
    }
}

pub fn run() {
    let mut verdict = Verdict::new();
    let counting = PartCounts::open("lock", &mut verdict);
    let mutex = spin::Mutex::new(0u64);
    let tags = [counts::new_tag(), counts::new_tag()];
    if counting.on() {
        let _masked = crate::arch::cpu::mask_irqs();
        counts::bracket(tags[0], read_lock_batch);
        counts::bracket(tags[1], || spin_batch(&mutex));
    }
    let mut read_lock = Samples::<SAMPLES>::new();
    let mut spin = Samples::<SAMPLES>::new();
    for sample in 0..=SAMPLES {
        let ((), r) = timed(read_lock_batch);
        let ((), s) = timed(|| spin_batch(&mutex));
        if sample > 0 {
            read_lock.push(r / BATCH);
            spin.push(s / BATCH);
        }
    }
    verdict.samples(&mut read_lock, "read-lock-samples");
    verdict.samples(&mut spin, "spin-samples");
    // Every spin-locked section ran; every read lock was given back.
    let counted_batches = if counting.on() { 1 } else { 0 };
    verdict.check(
        *mutex.lock() == (SAMPLES as u64 + 1 + counted_batches) * BATCH,
        "spin-sections-lost",
    );
    let mut counted = alloc::string::String::new();
    let reported = |name, tag| Reported {
        name,
        tag,
        brackets: 1,
        ops: BATCH,
    };
    counting.write_tags(
        &mut counted,
        &mut verdict,
        &[reported("read_lock", tags[0]), reported("spin", tags[1])],
    );
    let lock = hotplug::lock_state();
    verdict.check(
        lock.refcount == 0 && lock.writer.is_none(),
        "read-lock-held",
    );
    println!(
        "RESULT bench-lock {} read_lock_ns={} spin_ns={} read_lock_p99_ns={} spin_p99_ns={}{counted}{verdict}",
        verdict.word(),
        read_lock.median(),
        spin.median(),
        read_lock.p99(),
        spin.p99(),
    );
}
