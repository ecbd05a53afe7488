//! Stress scenarios run from the shell.

pub mod slab_hotplug;
pub mod stress_all;
