//! The right to ask every other CPU for something no two CPUs may ask for at once (every
//! CPU's backtrace, whose parts would interleave). One CPU holds it at a time; a second,
//! or the holder again from an interrupt, is refused with the holder named, at once: the
//! right is one atomic word, never waited for, so a CPU spinning with interrupts masked
//! may try for it.

use core::sync::atomic::{AtomicUsize, Ordering};

/// No CPU holds the right.
const NOBODY: usize = usize::MAX;

/// The right, and who holds it.
pub struct Asker {
    holder: AtomicUsize,
}

/// Another CPU holds the right (or this one, asking again from an interrupt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy {
    pub holder: usize,
}

/// The right, held by one CPU until dropped.
pub struct Asking<'a> {
    asker: &'a Asker,
}

impl Asker {
    pub const fn new() -> Self {
        Self {
            holder: AtomicUsize::new(NOBODY),
        }
    }

    /// Takes the right for `cpu`, unless someone holds it.
    pub fn begin(&self, cpu: usize) -> Result<Asking<'_>, Busy> {
        self.holder
            .compare_exchange(NOBODY, cpu, Ordering::Acquire, Ordering::Relaxed)
            .map(|_| Asking { asker: self })
            .map_err(|holder| Busy { holder })
    }
}

impl Default for Asker {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        self.asker.holder.store(NOBODY, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cpu_asks_at_a_time_and_a_second_is_told_who() {
        let asker = Asker::new();
        let first = asker.begin(2).expect("nobody holds it");
        assert_eq!(asker.begin(5).err(), Some(Busy { holder: 2 }));
        assert_eq!(
            asker.begin(2).err(),
            Some(Busy { holder: 2 }),
            "the holder again, from an interrupt"
        );
        drop(first);
        let second = asker.begin(5).expect("given back when dropped");
        assert_eq!(asker.begin(0).err(), Some(Busy { holder: 5 }));
        drop(second);
        assert!(asker.begin(0).is_ok());
    }
}
