//! Symmetric multiprocessing: CPU sets, the hotplug lock, each CPU's state and its edges,
//! and the walk through a table of steps (portable, host-tested), and in the kernel: the
//! enable methods (`psci`, `spin-table`), the hotplug steps and their callbacks,
//! cross-CPU calls, every CPU's backtrace on demand, and the idle loop.

pub mod asker;
pub mod cpumask;
pub mod fault;
pub mod handshake;
pub mod hotplug_lock;
// Its slots' handshakes are loom's under `cfg(loom)`, which cannot be built in a static.
#[cfg(not(loom))]
pub mod state;
pub mod steps;

#[cfg(target_os = "none")]
pub mod backtrace;
#[cfg(target_os = "none")]
pub mod call;
#[cfg(target_os = "none")]
pub mod cpu_ops;
#[cfg(target_os = "none")]
pub mod hotplug;
#[cfg(target_os = "none")]
mod idle;
#[cfg(target_os = "none")]
mod kernel;
pub mod percpu;
#[cfg(target_os = "none")]
pub mod psci_ops;
#[cfg(target_os = "none")]
pub mod spin_table;
#[cfg(target_os = "none")]
pub mod stacks;
#[cfg(target_os = "none")]
pub mod stop;
#[cfg(target_os = "none")]
pub mod work;

#[cfg(target_os = "none")]
pub use idle::{Foreground, doze_unless, idle_loop, secondary_started, set_foreground};
#[cfg(target_os = "none")]
pub use kernel::{init, private_interrupts};
