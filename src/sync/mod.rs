//! Locks and their validation: spin locks that know their class and their holder
//! ([`SpinLock`], and [`IrqSpinLock`], which also masks interrupts on the holding core),
//! the lock validator (`lockdep`, boot argument `lockdep`), and the lockup detector that
//! names a wait gone on too long (`lockup`).
//!
//! Every lock belongs to a [`LockClass`], made where the lock is declared by
//! [`lock_class!`]: a lock in a structure gets its class where the structure's constructor
//! makes it, so every cache's list lock is one class, as Linux's `lock_class_key`.

pub mod class;
pub mod lockdep;
pub mod lockup;
mod machine;
pub mod spinlock;

#[cfg(target_os = "none")]
mod atomic_fn;
#[cfg(target_os = "none")]
mod irq_spinlock;

#[cfg(target_os = "none")]
pub use atomic_fn::AtomicFn;
pub use class::LockClass;
#[cfg(target_os = "none")]
pub use irq_spinlock::{IrqSpinLock, IrqSpinLockGuard};
pub use spinlock::{SpinLock, SpinLockGuard};

/// The class of the locks declared here: `lock_class!("name")` is a `&'static LockClass`
/// of its own for this place in the source.
#[macro_export]
macro_rules! lock_class {
    ($name:expr) => {{
        static CLASS: $crate::sync::LockClass = $crate::sync::LockClass::new($name);
        &CLASS
    }};
}

/// The class of a wait for other CPUs (see `lockdep::graph::ClassKind::Wait`).
#[macro_export]
macro_rules! wait_class {
    ($name:expr) => {{
        static CLASS: $crate::sync::LockClass = $crate::sync::LockClass::wait($name);
        &CLASS
    }};
}
