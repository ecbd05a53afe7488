//! Symmetric multiprocessing: CPU sets, the hotplug lock, and (in the kernel) per-CPU
//! state, enable methods, the hotplug state machine and cross-CPU calls.

pub mod cpumask;
pub mod hotplug_lock;
