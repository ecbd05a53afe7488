//! Spin locks that mask interrupts on the holding core, so an interrupt handler on the
//! same core can never spin on a lock its own core holds.
//!
//! Built on `spin::Mutex` (load/store-exclusive): take one only with the MMU and caches on.

use core::ops::{Deref, DerefMut};

use crate::arch::cpu::{self, IrqsMasked};

pub struct IrqSpinLock<T> {
    inner: spin::Mutex<T>,
}

pub struct IrqSpinLockGuard<'a, T> {
    /// Always `Some` until `drop` releases it, before interrupts are restored.
    guard: Option<spin::MutexGuard<'a, T>>,
    /// Interrupts masked on this core until it drops, after the lock is released.
    _masked: IrqsMasked,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
        }
    }

    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        let masked = cpu::mask_irqs();
        IrqSpinLockGuard {
            guard: Some(self.inner.lock()),
            _masked: masked,
        }
    }

    /// The lock if it is free now; used where waiting could deadlock (reporting a crash).
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T>> {
        let masked = cpu::mask_irqs();
        // Not taken: `masked` drops, and interrupts are as they were.
        self.inner.try_lock().map(|guard| IrqSpinLockGuard {
            guard: Some(guard),
            _masked: masked,
        })
    }
}

impl<T> Deref for IrqSpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("lock guard used after release")
    }
}

impl<T> DerefMut for IrqSpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("lock guard used after release")
    }
}

impl<T> Drop for IrqSpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // Release the lock first; interrupts come back after, when `_masked` drops.
        drop(self.guard.take());
    }
}
