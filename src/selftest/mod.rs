//! Stress scenarios run from the shell.

pub mod slab_hotplug;
