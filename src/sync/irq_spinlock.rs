//! Spin locks that mask interrupts on the holding core, so an interrupt handler on the
//! same core can never spin on a lock its own core holds.

use core::ops::{Deref, DerefMut};

use super::class::LockClass;
use super::spinlock::{SpinLock, SpinLockGuard};
use crate::arch::cpu::{self, IrqsMasked};

pub struct IrqSpinLock<T> {
    inner: SpinLock<T>,
}

/// Fields drop in order: the lock is released first, then interrupts come back.
pub struct IrqSpinLockGuard<'a, T> {
    guard: SpinLockGuard<'a, T>,
    /// Interrupts masked on this core until it drops, after the lock is released.
    _masked: IrqsMasked,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(class: &'static LockClass, value: T) -> Self {
        Self {
            inner: SpinLock::new(class, value),
        }
    }

    #[inline(always)]
    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        let masked = cpu::mask_irqs();
        IrqSpinLockGuard {
            guard: self.inner.lock(),
            _masked: masked,
        }
    }

    /// The lock if it is free now; used where waiting could deadlock (reporting a crash).
    #[inline(always)]
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T>> {
        let masked = cpu::mask_irqs();
        // Not taken: `masked` drops, and interrupts are as they were.
        self.inner.try_lock().map(|guard| IrqSpinLockGuard {
            guard,
            _masked: masked,
        })
    }

    /// The CPU holding it and where it took it, if it is held.
    pub fn holder(&self) -> Option<(usize, usize)> {
        self.inner.holder()
    }
}

impl<T> Deref for IrqSpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqSpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}
