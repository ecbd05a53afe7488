//! `bench lock`: `cpus_read_lock` + `cpus_read_unlock`, and the kernel's `SpinLock` lock +
//! unlock, against `spin::Mutex` lock + unlock (the floor: the same lock without a class,
//! a holder or the validator's hooks), uncontended, in batches; nanoseconds per pair, and,
//! under the counting plugin, instructions, loads and stores per pair (a batch of each
//! counted with interrupts masked). Booted with `lockdep`, the first two show what
//! validation costs.

use core::hint::black_box;

use super::counts::{self, PartCounts, Reported};
use super::stats::{Samples, Verdict};
use super::timed;
use crate::println;
use crate::smp::hotplug;
use crate::sync::SpinLock;

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

fn kernel_lock_batch(lock: &SpinLock<u64>) {
    for _ in 0..BATCH {
        *black_box(lock).lock() += 1;
    }
}

pub fn run() {
    let mut verdict = Verdict::new();
    let counting = PartCounts::open("lock", &mut verdict);
    let mutex = spin::Mutex::new(0u64);
    let kernel_lock = SpinLock::new(crate::lock_class!("bench lock"), 0u64);
    let tags = [counts::new_tag(), counts::new_tag(), counts::new_tag()];
    if counting.on() {
        let _masked = crate::arch::cpu::mask_irqs();
        counts::bracket(tags[0], read_lock_batch);
        counts::bracket(tags[1], || spin_batch(&mutex));
        counts::bracket(tags[2], || kernel_lock_batch(&kernel_lock));
    }
    let mut read_lock = Samples::<SAMPLES>::new();
    let mut spin = Samples::<SAMPLES>::new();
    let mut kernel = Samples::<SAMPLES>::new();
    for sample in 0..=SAMPLES {
        let ((), r) = timed(read_lock_batch);
        let ((), s) = timed(|| spin_batch(&mutex));
        let ((), k) = timed(|| kernel_lock_batch(&kernel_lock));
        if sample > 0 {
            read_lock.push(r / BATCH);
            spin.push(s / BATCH);
            kernel.push(k / BATCH);
        }
    }
    verdict.samples(&mut read_lock, "read-lock-samples");
    verdict.samples(&mut spin, "spin-samples");
    verdict.samples(&mut kernel, "kernel-lock-samples");
    // Every locked section ran; every read lock was given back.
    let counted_batches = if counting.on() { 1 } else { 0 };
    let sections = (SAMPLES as u64 + 1 + counted_batches) * BATCH;
    verdict.check(*mutex.lock() == sections, "spin-sections-lost");
    verdict.check(*kernel_lock.lock() == sections, "kernel-lock-sections-lost");
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
        &[
            reported("read_lock", tags[0]),
            reported("spin", tags[1]),
            reported("kernel_lock", tags[2]),
        ],
    );
    let lock = hotplug::lock_state();
    verdict.check(
        lock.refcount == 0 && lock.writer.is_none(),
        "read-lock-held",
    );
    println!(
        "RESULT bench-lock {} lockdep={} read_lock_ns={} spin_ns={} kernel_lock_ns={} \
         read_lock_p99_ns={} spin_p99_ns={} kernel_lock_p99_ns={}{counted}{verdict}",
        verdict.word(),
        u8::from(crate::sync::lockdep::enabled()),
        read_lock.median(),
        spin.median(),
        kernel.median(),
        read_lock.p99(),
        spin.p99(),
        kernel.p99(),
    );
}
