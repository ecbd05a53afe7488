//! `bench lock`: `cpus_read_lock` + `cpus_read_unlock` against `spin::Mutex` lock +
//! unlock, uncontended, in batches; nanoseconds per pair.

use core::hint::black_box;

use super::stats::{Samples, Verdict};
use super::timed;
use crate::println;
use crate::smp::hotplug;

const BATCH: u64 = 1000;
const SAMPLES: usize = 31;

pub fn run() {
    let mutex = spin::Mutex::new(0u64);
    let mut read_lock = Samples::<SAMPLES>::new();
    let mut spin = Samples::<SAMPLES>::new();
    for sample in 0..=SAMPLES {
        let ((), r) = timed(|| {
            for _ in 0..BATCH {
                hotplug::cpus_read_lock();
                hotplug::cpus_read_unlock();
            }
        });
        let ((), s) = timed(|| {
            for _ in 0..BATCH {
                *black_box(&mutex).lock() += 1;
            }
        });
        if sample > 0 {
            read_lock.push(r / BATCH);
            spin.push(s / BATCH);
        }
    }
    let mut verdict = Verdict::new();
    verdict.samples(&mut read_lock, "read-lock-samples");
    verdict.samples(&mut spin, "spin-samples");
    // Every spin-locked section ran; every read lock was given back.
    verdict.check(
        *mutex.lock() == (SAMPLES as u64 + 1) * BATCH,
        "spin-sections-lost",
    );
    let lock = hotplug::lock_state();
    verdict.check(
        lock.refcount == 0 && lock.writer.is_none(),
        "read-lock-held",
    );
    println!(
        "RESULT bench-lock {} read_lock_ns={} spin_ns={} read_lock_p99_ns={} spin_p99_ns={}{verdict}",
        verdict.word(),
        read_lock.median(),
        spin.median(),
        read_lock.p99(),
        spin.p99(),
    );
}
