//! A lock class: what the validator knows a lock by. One is made per place a lock is
//! declared (`lock_class!`); it gets its index in the validator's graph the first time a
//! lock of it is taken with validation on.

use core::sync::atomic::{AtomicU16, Ordering};

use super::lockdep::graph::{ClassId, ClassKind};

pub struct LockClass {
    pub name: &'static str,
    pub kind: ClassKind,
    /// The graph's index plus one; 0 until registered.
    id: AtomicU16,
}

impl LockClass {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            kind: ClassKind::Lock,
            id: AtomicU16::new(0),
        }
    }

    /// A wait for other CPUs, validated as a lock the waiter takes for a moment and the
    /// CPUs doing the work hold while they do it.
    pub const fn wait(name: &'static str) -> Self {
        Self {
            name,
            kind: ClassKind::Wait,
            id: AtomicU16::new(0),
        }
    }

    /// Its index in the graph, if it has one yet.
    pub fn id(&self) -> Option<ClassId> {
        self.id.load(Ordering::Acquire).checked_sub(1)
    }

    /// Records its index (under the graph's lock, once).
    pub(super) fn set_id(&self, id: ClassId) {
        self.id.store(id + 1, Ordering::Release);
    }
}
