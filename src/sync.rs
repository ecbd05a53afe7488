//! Spin locks that mask interrupts on the holding core, so an interrupt handler on the
//! same core can never spin on a lock its own core holds.
//!
//! Built on `spin::Mutex` (load/store-exclusive): take one only with the MMU and caches on.

use core::ops::{Deref, DerefMut};

use crate::arch::cpu::{self, IrqState};

pub struct IrqSpinLock<T> {
    inner: spin::Mutex<T>,
}

pub struct IrqSpinLockGuard<'a, T> {
    /// Always `Some` until `drop` releases it, before interrupts are restored.
    guard: Option<spin::MutexGuard<'a, T>>,
    irq: IrqState,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
        }
    }

    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        let irq = cpu::irq_save();
        IrqSpinLockGuard {
            guard: Some(self.inner.lock()),
            irq,
        }
    }

    /// The lock if it is free now; used where waiting could deadlock (reporting a crash).
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T>> {
        let irq = cpu::irq_save();
        match self.inner.try_lock() {
            Some(guard) => Some(IrqSpinLockGuard {
                guard: Some(guard),
                irq,
            }),
            None => {
                cpu::irq_restore(irq);
                None
            }
        }
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
        // Release the lock first, then let interrupts in again.
        drop(self.guard.take());
        cpu::irq_restore(self.irq);
    }
}
