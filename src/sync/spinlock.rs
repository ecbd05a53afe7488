//! A spin lock that knows its class and who holds it: `spin::Mutex` (load/store-exclusive,
//! so taken only with the MMU and caches on) with the validator's hooks around it and the
//! lockup detector in its wait.
//!
//! Taking it tells the validator first (when `lockdep` is on), so an order that could
//! deadlock is reported before it does; the holder's CPU and the address it was taken at
//! are kept in the lock for a waiter's lockup report. Interrupts are left as they are:
//! [`super::IrqSpinLock`] masks them too.

use core::fmt::{self, Write};
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use super::class::LockClass;
use super::lockdep::{self, Mode};
use super::lockup::Watch;
use super::machine;

pub struct SpinLock<T> {
    inner: spin::Mutex<T>,
    class: &'static LockClass,
    /// The holder's CPU plus one; 0 when free.
    owner: AtomicU16,
    /// Where the holder took it.
    site: AtomicUsize,
}

pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    /// Always `Some` until `drop` releases it.
    guard: Option<spin::MutexGuard<'a, T>>,
}

impl<T> SpinLock<T> {
    pub const fn new(class: &'static LockClass, value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
            class,
            owner: AtomicU16::new(0),
            site: AtomicUsize::new(0),
        }
    }

    /// Takes the lock, spinning until it is free.
    #[inline(always)]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        let pc = machine::pc();
        lockdep::acquire(self.class, self.instance(), Mode::Write, pc, false);
        let guard = match self.inner.try_lock() {
            Some(guard) => guard,
            None => self.wait(),
        };
        self.held_from(pc, guard)
    }

    /// The lock if it is free now.
    #[inline(always)]
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        let pc = machine::pc();
        let guard = self.inner.try_lock()?;
        lockdep::acquire(self.class, self.instance(), Mode::Write, pc, true);
        Some(self.held_from(pc, guard))
    }

    /// The CPU holding it and where it took it, if it is held.
    pub fn holder(&self) -> Option<(usize, usize)> {
        let owner = self.owner.load(Ordering::Relaxed);
        (owner != 0).then(|| (owner as usize - 1, self.site.load(Ordering::Relaxed)))
    }

    fn instance(&self) -> usize {
        self as *const Self as usize
    }

    #[inline(always)]
    fn held_from<'a>(&'a self, pc: usize, guard: spin::MutexGuard<'a, T>) -> SpinLockGuard<'a, T> {
        self.owner
            .store(machine::cpu_id() as u16 + 1, Ordering::Relaxed);
        self.site.store(pc, Ordering::Relaxed);
        SpinLockGuard {
            lock: self,
            guard: Some(guard),
        }
    }

    /// The contended path: spins (reading, not writing, the lock word) until the lock is
    /// free, and reports a lockup once if that takes too long.
    #[cold]
    #[inline(never)]
    fn wait(&self) -> spin::MutexGuard<'_, T> {
        lockdep::contended(self.class);
        let mut watch: Watch = Watch::new();
        loop {
            while self.inner.is_locked() {
                core::hint::spin_loop();
                watch.spin(|out| self.describe_wait(out));
            }
            if let Some(guard) = self.inner.try_lock() {
                return guard;
            }
        }
    }

    fn describe_wait(&self, out: &mut dyn Write) -> fmt::Result {
        writeln!(out, "spinning on ({})", self.class.name)?;
        match self.holder() {
            Some((cpu, pc)) => {
                writeln!(out, " held by cpu{cpu}, at: {pc:#018x}")?;
                lockdep::write_held_by(out, cpu)
            }
            None => writeln!(out, " held by no CPU now (it changes hands as we look)"),
        }
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("lock guard used after release")
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("lock guard used after release")
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        let pc = machine::pc();
        self.lock.owner.store(0, Ordering::Relaxed);
        drop(self.guard.take());
        lockdep::release(self.lock.class, self.lock.instance(), pc);
    }
}
