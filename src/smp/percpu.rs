//! Per-CPU tables: one entry per possible CPU, made when the possible CPUs are known (at
//! boot, from the device tree: Linux's `nr_cpu_ids`), in memory kept for good. A machine
//! with 4 CPUs pays for 4 entries and one with 512 for 512; the ceiling
//! ([`crate::MAX_CPUS`]) costs nothing.

use core::ops::Index;

/// A table of one `T` per possible CPU, indexed by logical CPU id.
pub struct PerCpu<T: 'static> {
    /// What the table holds, for messages.
    name: &'static str,
    make: fn(usize) -> T,
    table: spin::Once<&'static [T]>,
}

/// The page allocator could not give a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoMemory {
    pub name: &'static str,
    pub bytes: usize,
}

impl core::fmt::Display for NoMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "no memory for {} ({} bytes)", self.name, self.bytes)
    }
}

impl<T: 'static> PerCpu<T> {
    /// A table of `name`s, each made by `make(cpu)` once [`PerCpu::init`] runs.
    pub const fn new(name: &'static str, make: fn(usize) -> T) -> Self {
        Self {
            name,
            make,
            table: spin::Once::new(),
        }
    }

    /// Makes the table for `cpus` possible CPUs (once, at boot).
    pub fn init(&self, cpus: usize) -> Result<(), NoMemory> {
        let table = leak(cpus, self.make).ok_or(NoMemory {
            name: self.name,
            bytes: cpus * size_of::<T>(),
        })?;
        self.table.call_once(|| table);
        Ok(())
    }

    /// `cpu`'s entry, if the table is made and `cpu` is a possible CPU.
    pub fn get(&self, cpu: usize) -> Option<&T> {
        self.table.get()?.get(cpu)
    }
}

/// The kernel's tables come from the page allocator.
#[cfg(target_os = "none")]
fn leak<T>(len: usize, make: fn(usize) -> T) -> Option<&'static [T]> {
    crate::mm::table::leak(len, make)
}

/// The host tests' from the heap.
#[cfg(not(target_os = "none"))]
fn leak<T>(len: usize, make: fn(usize) -> T) -> Option<&'static [T]> {
    Some(alloc::boxed::Box::leak((0..len).map(make).collect()))
}

impl<T: 'static> Index<usize> for PerCpu<T> {
    type Output = T;

    /// `cpu`'s entry. Only possible CPUs are ever named, and only after boot made the
    /// tables: anything else is a broken invariant, said with the table's name.
    fn index(&self, cpu: usize) -> &T {
        match self.table.get() {
            Some(table) => table.get(cpu).unwrap_or_else(|| {
                panic!(
                    "per-CPU {}: cpu{cpu} is not one of the {} possible CPUs",
                    self.name,
                    table.len()
                )
            }),
            None => panic!(
                "per-CPU {} used for cpu{cpu} before boot made it",
                self.name
            ),
        }
    }
}
