//! The floor of a PSCI CPU_ON and CPU_OFF (`hotplug_floor.s`): a mailbox shared with a
//! core whose MMU and caches are off, and the stub's physical entry point. Every access
//! to the mailbox from this side goes past the caches (clean and invalidate to the point
//! of coherency), as a real core with its caches off needs.

use core::sync::atomic::{AtomicU64, Ordering};

use super::cache;
use crate::dt::PsciMethod;

core::arch::global_asm!(include_str!("hotplug_floor.s"));

unsafe extern "C" {
    fn hotplug_floor_entry();
}

/// Read and written by the stub with its MMU off: one cache line of its own.
#[repr(C, align(64))]
pub struct FloorMailbox {
    arrived: AtomicU64,
    die: AtomicU64,
    conduit: AtomicU64,
    /// What CPU_OFF returned, if it did.
    off_error: AtomicU64,
    /// The GICv2 CPU interface's physical address, or 0: the stub polls.
    gicc: AtomicU64,
}

impl FloorMailbox {
    pub const fn new() -> Self {
        Self {
            arrived: AtomicU64::new(0),
            die: AtomicU64::new(0),
            conduit: AtomicU64::new(0),
            off_error: AtomicU64::new(0),
            gicc: AtomicU64::new(0),
        }
    }

    /// The physical address of the stub, and of this mailbox (its `x0`), for CPU_ON.
    /// Readies the mailbox for one start through `method`; with `gicc`, a GICv2 CPU
    /// interface, the stub sleeps in WFI until an SGI between its checks for the request.
    /// The kernel runs identity mapped, so addresses are physical.
    pub fn arm(&self, method: PsciMethod, gicc: Option<u64>) -> (u64, u64) {
        self.gicc.store(gicc.unwrap_or(0), Ordering::Relaxed);
        self.arrived.store(0, Ordering::Relaxed);
        self.die.store(0, Ordering::Relaxed);
        self.off_error.store(0, Ordering::Relaxed);
        let conduit = match method {
            PsciMethod::Hvc => 0,
            PsciMethod::Smc => 1,
        };
        self.conduit.store(conduit, Ordering::Relaxed);
        self.through_to_memory();
        (
            hotplug_floor_entry as *const () as u64,
            self as *const Self as u64,
        )
    }

    /// Whether the started core said it arrived.
    pub fn arrived(&self) -> bool {
        self.through_to_memory();
        self.arrived.load(Ordering::Relaxed) != 0
    }

    /// Tells the started core to call CPU_OFF (the caller sends the SGI that wakes it).
    pub fn tell_to_die(&self) {
        self.die.store(1, Ordering::Relaxed);
        self.through_to_memory();
    }

    /// The error CPU_OFF returned to the stub, if it returned.
    pub fn off_error(&self) -> Option<i32> {
        self.through_to_memory();
        match self.off_error.load(Ordering::Relaxed) {
            0 => None,
            e => Some(e as i32),
        }
    }

    fn bounds(&self) -> (u64, u64) {
        (self as *const Self as u64, size_of::<Self>() as u64)
    }

    /// This side's stores out to memory, where the stub reads, and this side's cached
    /// copy dropped, so that the next load reads what the stub wrote there.
    fn through_to_memory(&self) {
        let (start, len) = self.bounds();
        cache::clean_invalidate_to_poc(start, len);
    }
}

impl Default for FloorMailbox {
    fn default() -> Self {
        Self::new()
    }
}
