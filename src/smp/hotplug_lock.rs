//! The CPU hotplug lock: a mutex with reader refcounting, in the shape of Linux's
//! `get_online_cpus()`/`cpu_hotplug_begin()` of the 2.6 era that the 2004 slab fix used,
//! with the reader count kept per CPU so an uncontended reader touches only its own.
//!
//! - Readers (`cpus_read_lock`) count themselves in on their own CPU and then look at the
//!   mutex: found free, they are in; found held (a writer is in or coming), they count
//!   themselves out again and queue for the mutex, counting themselves in while they hold
//!   it. Many readers run at once, and while any does, no CPU comes or goes.
//! - The writer (`cpu_hotplug_begin`, held by CPU up/down) takes the mutex and keeps it
//!   until every other CPU's count is zero, so new readers queue behind it and it always
//!   gets in. It may take the read side itself (its own callbacks do).
//! - The mutex is a ticket lock: whoever queues for it gets it in turn. A controller that
//!   releases the write side and takes it straight back (`hotplug`, the stress runs) would
//!   otherwise win a test-and-set race against a reader spinning for it over and over, and
//!   the reader (a cache being made) wait for as long as the hotplug goes on.
//! - A full fence stands between each side's write and its look at the other's (reader:
//!   its count, then the mutex; writer: the mutex, then the counts), so at least one of
//!   them sees the other: a writer never misses a reader that got in.
//! - Readers nest: a CPU already inside only deepens its own count, so a nested read never
//!   waits for a writer that is waiting for it.
//!
//! Threads of execution here are CPUs (the kernel has no scheduler): each caller names the
//! CPU it runs on, and only that CPU changes its count. Waiting is spinning, with
//! interrupts enabled in the kernel (see `smp::hotplug`), so cross-CPU calls keep being
//! served; the lock is not for interrupt handlers. Under `cfg(loom)` the same code is
//! model-checked on the host.

#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering, fence};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicUsize, Ordering, fence};

const NO_WRITER: usize = usize::MAX;

/// The lock for `N` CPUs.
pub struct HotplugLock<const N: usize> {
    /// The mutex's next ticket: taking one queues for the mutex.
    next: AtomicUsize,
    /// The ticket that holds the mutex: it is free when no ticket is out (`next == serving`).
    serving: AtomicUsize,
    /// The CPU holding the write side, or NO_WRITER.
    writer: AtomicUsize,
    /// CPUs spinning for the mutex.
    waiters: AtomicUsize,
    /// Each CPU's reader count: how deep it is in the read side (0: not a reader). Only
    /// its own CPU writes it; the writer reads them all.
    depth: [AtomicUsize; N],
    /// How many of `depth` the writer looks at: the CPUs there can be (set once at boot,
    /// [`HotplugLock::limit_to`]), so a small machine does not pay for the ceiling.
    cpus: AtomicUsize,
}

/// A snapshot of the lock, for tests and the shell's `cpus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockState {
    /// CPUs inside the read side, the writer's own reads not counted.
    pub refcount: usize,
    pub writer: Option<usize>,
    pub waiters: usize,
}

#[cfg(not(loom))]
impl<const N: usize> HotplugLock<N> {
    pub const fn new() -> Self {
        Self {
            next: AtomicUsize::new(0),
            serving: AtomicUsize::new(0),
            writer: AtomicUsize::new(NO_WRITER),
            waiters: AtomicUsize::new(0),
            depth: [const { AtomicUsize::new(0) }; N],
            cpus: AtomicUsize::new(N),
        }
    }
}

#[cfg(not(loom))]
impl<const N: usize> Default for HotplugLock<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(loom)]
impl<const N: usize> HotplugLock<N> {
    pub fn new() -> Self {
        Self {
            next: AtomicUsize::new(0),
            serving: AtomicUsize::new(0),
            writer: AtomicUsize::new(NO_WRITER),
            waiters: AtomicUsize::new(0),
            depth: core::array::from_fn(|_| AtomicUsize::new(0)),
            cpus: AtomicUsize::new(N),
        }
    }
}

impl<const N: usize> HotplugLock<N> {
    /// Only CPUs below `cpus` will ever take the lock: the writer looks at their counts
    /// alone. Called once, before any CPU but the caller runs.
    pub fn limit_to(&self, cpus: usize) {
        self.cpus.store(cpus.clamp(1, N), Ordering::Relaxed);
    }

    /// The reader counts the writer looks at.
    fn counts(&self) -> &[AtomicUsize] {
        &self.depth[..self.cpus.load(Ordering::Relaxed)]
    }

    /// Takes a ticket and waits for its turn: the mutex's holders come in the order they
    /// queued. Out of line: a reader only comes here when a writer is about.
    #[inline(never)]
    fn lock_mutex(&self, relax: &mut impl FnMut()) {
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        // Acquire: what the mutex's last holder did happens before this one's turn.
        if self.serving.load(Ordering::Acquire) == ticket {
            return;
        }
        self.waiters.fetch_add(1, Ordering::Relaxed);
        while self.serving.load(Ordering::Acquire) != ticket {
            relax();
        }
        self.waiters.fetch_sub(1, Ordering::Relaxed);
    }

    /// Hands the mutex to the next ticket. Only the holder writes `serving`.
    fn unlock_mutex(&self) {
        let mine = self.serving.load(Ordering::Relaxed);
        self.serving.store(mine.wrapping_add(1), Ordering::Release);
    }

    /// Whether a ticket is out: the mutex is held, or someone queues for it.
    fn mutex_taken(&self) -> bool {
        // `serving` with Acquire: found free, what the last holder did happens before.
        let serving = self.serving.load(Ordering::Acquire);
        self.next.load(Ordering::Relaxed) != serving
    }

    /// Enters the read side on `cpu`; `relax` is called while waiting.
    #[inline(always)]
    pub fn read_lock(&self, cpu: usize, mut relax: impl FnMut()) {
        let depth = self.depth[cpu].load(Ordering::Relaxed);
        if depth > 0 || self.writer.load(Ordering::Relaxed) == cpu {
            // Nested, or the writer reading: already excluded from hotplug.
            self.depth[cpu].store(depth + 1, Ordering::Relaxed);
            return;
        }
        self.depth[cpu].store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        // A writer takes its ticket before its fence: this sees it, or it sees this count.
        if !self.mutex_taken() {
            return;
        }
        // A writer holds or is taking the mutex: queue behind it.
        self.depth[cpu].store(0, Ordering::Relaxed);
        self.lock_mutex(&mut relax);
        self.depth[cpu].store(1, Ordering::Relaxed);
        self.unlock_mutex();
    }

    /// Leaves the read side on `cpu`.
    #[inline(always)]
    pub fn read_unlock(&self, cpu: usize) {
        let depth = self.depth[cpu].load(Ordering::Relaxed);
        assert!(
            depth > 0,
            "cpus_read_unlock on cpu{cpu} without cpus_read_lock"
        );
        // Release: the reader's critical section happens before the next writer's.
        self.depth[cpu].store(depth - 1, Ordering::Release);
    }

    /// Takes the write side on `cpu`: waits for the mutex, then for the readers to leave.
    pub fn write_lock(&self, cpu: usize, mut relax: impl FnMut()) {
        assert_eq!(
            self.depth[cpu].load(Ordering::Relaxed),
            0,
            "cpu_hotplug_begin on cpu{cpu} inside its own cpus_read_lock would wait forever"
        );
        self.lock_mutex(&mut relax);
        self.writer.store(cpu, Ordering::Relaxed);
        // Pairs with the readers' fence: a reader this misses sees the ticket taken.
        fence(Ordering::SeqCst);
        for (other, depth) in self.counts().iter().enumerate() {
            while other != cpu && depth.load(Ordering::Acquire) != 0 {
                relax();
            }
        }
    }

    /// Releases the write side taken by `cpu`.
    pub fn write_unlock(&self, cpu: usize) {
        assert_eq!(
            self.writer.load(Ordering::Relaxed),
            cpu,
            "cpu_hotplug_done on cpu{cpu}, which is not the writer"
        );
        assert_eq!(
            self.depth[cpu].load(Ordering::Relaxed),
            0,
            "cpu_hotplug_done on cpu{cpu} with its read side still taken"
        );
        self.writer.store(NO_WRITER, Ordering::Relaxed);
        self.unlock_mutex();
    }

    /// Whether `cpu` holds either side: what `assert_cpus_held` checks.
    pub fn held_by(&self, cpu: usize) -> bool {
        self.depth[cpu].load(Ordering::Relaxed) > 0 || self.writer.load(Ordering::Relaxed) == cpu
    }

    /// The CPUs inside the read side now, the writer's own reads not counted.
    pub fn readers(&self) -> impl Iterator<Item = usize> + '_ {
        let writer = self.writer.load(Ordering::Relaxed);
        self.counts()
            .iter()
            .enumerate()
            .filter(move |&(cpu, depth)| cpu != writer && depth.load(Ordering::Relaxed) > 0)
            .map(|(cpu, _)| cpu)
    }

    pub fn state(&self) -> LockState {
        let writer = self.writer.load(Ordering::Relaxed);
        LockState {
            refcount: self.readers().count(),
            writer: (writer != NO_WRITER).then_some(writer),
            waiters: self.waiters.load(Ordering::Relaxed),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn readers_nest_and_count_once() {
        let l = HotplugLock::<4>::new();
        l.read_lock(1, || {});
        l.read_lock(1, || {});
        l.read_lock(2, || {});
        assert_eq!(l.state().refcount, 2);
        assert!(l.held_by(1) && l.held_by(2) && !l.held_by(0));
        l.read_unlock(1);
        assert_eq!(l.state().refcount, 2);
        l.read_unlock(1);
        l.read_unlock(2);
        assert_eq!(
            l.state(),
            LockState {
                refcount: 0,
                writer: None,
                waiters: 0
            }
        );
    }

    #[test]
    fn the_writer_may_read() {
        let l = HotplugLock::<4>::new();
        l.write_lock(3, || {});
        l.read_lock(3, || panic!("the writer's read must not wait"));
        assert!(l.held_by(3));
        assert_eq!(l.state().refcount, 0);
        l.read_unlock(3);
        l.write_unlock(3);
        assert_eq!(l.state().writer, None);
    }

    #[test]
    #[should_panic(expected = "without cpus_read_lock")]
    fn unbalanced_unlock_is_caught() {
        HotplugLock::<2>::new().read_unlock(0);
    }

    #[test]
    #[should_panic(expected = "would wait forever")]
    fn writing_inside_a_read_is_caught() {
        let l = HotplugLock::<2>::new();
        l.read_lock(0, || {});
        l.write_lock(0, || {});
    }

    #[test]
    fn a_writer_waits_for_readers_and_blocks_new_ones() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let l = Arc::new(HotplugLock::<4>::new());
        l.read_lock(0, || {});
        let writer_in = Arc::new(AtomicBool::new(false));
        let w = {
            let (l, writer_in) = (l.clone(), writer_in.clone());
            std::thread::spawn(move || {
                l.write_lock(1, std::thread::yield_now);
                writer_in.store(true, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                writer_in.store(false, Ordering::SeqCst);
                l.write_unlock(1);
            })
        };
        // The writer holds the mutex and waits for cpu0.
        while l.state().writer.is_none() {
            std::thread::yield_now();
        }
        assert!(!writer_in.load(Ordering::SeqCst));
        // A nested read on cpu0 does not wait for the writer that waits for it.
        l.read_lock(0, || panic!("nested read waited"));
        l.read_unlock(0);
        // A new reader on cpu2 queues behind the writer.
        let r = {
            let (l, writer_in) = (l.clone(), writer_in.clone());
            std::thread::spawn(move || {
                l.read_lock(2, std::thread::yield_now);
                assert!(!writer_in.load(Ordering::SeqCst));
                l.read_unlock(2);
            })
        };
        l.read_unlock(0);
        w.join().unwrap();
        r.join().unwrap();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicBool as Flag;

    /// Runs `f` under loom with a preemption bound: spinning waits make the full space
    /// unbounded, and two preemptions already put a reader before, inside and after the
    /// writer's wait.
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(2);
        model.max_branches = 20_000;
        model.check(f);
    }

    /// A nesting reader against a writer that also reads: in every interleaving no reader
    /// is inside while the writer is, and both finish (the writer gets in; the nested read
    /// does not wait for the writer that waits for it).
    #[test]
    fn a_nesting_reader_and_a_writer() {
        model(|| {
            let lock = Arc::new(HotplugLock::<2>::new());
            let writer_inside = Arc::new(Flag::new(false));
            let reader_inside = Arc::new(Flag::new(false));
            let reader = {
                let (lock, w, r) = (lock.clone(), writer_inside.clone(), reader_inside.clone());
                loom::thread::spawn(move || {
                    lock.read_lock(0, loom::thread::yield_now);
                    assert!(!w.load(Ordering::SeqCst), "reader inside with the writer");
                    r.store(true, Ordering::SeqCst);
                    lock.read_lock(0, loom::thread::yield_now);
                    lock.read_unlock(0);
                    r.store(false, Ordering::SeqCst);
                    lock.read_unlock(0);
                })
            };
            lock.write_lock(1, loom::thread::yield_now);
            assert!(
                !reader_inside.load(Ordering::SeqCst),
                "writer inside with a reader"
            );
            writer_inside.store(true, Ordering::SeqCst);
            lock.read_lock(1, loom::thread::yield_now);
            lock.read_unlock(1);
            writer_inside.store(false, Ordering::SeqCst);
            lock.write_unlock(1);
            reader.join().unwrap();
            assert_eq!(lock.state().refcount, 0);
        });
    }

    /// Two readers are never excluded from each other, and the count comes back to zero.
    #[test]
    fn readers_share() {
        model(|| {
            let lock = Arc::new(HotplugLock::<2>::new());
            let other = {
                let lock = lock.clone();
                loom::thread::spawn(move || {
                    lock.read_lock(1, loom::thread::yield_now);
                    lock.read_unlock(1);
                })
            };
            lock.read_lock(0, loom::thread::yield_now);
            lock.read_unlock(0);
            other.join().unwrap();
            assert_eq!(
                lock.state(),
                LockState {
                    refcount: 0,
                    writer: None,
                    waiters: 0
                }
            );
        });
    }
}
