//! Each secondary CPU's stack, allocated from the page allocator by the first UP_PREPARE
//! and kept for the CPU's later lives (a parked spin-table core still runs on it).

use core::ops::Range;
use core::sync::atomic::Ordering;

use super::hotplug::{CallbackError, HotplugCallbacks};
use super::state::slot;
use crate::mm::page_alloc::PAGE_SIZE;

pub const STACK_PAGES: usize = 4;

pub static CALLBACKS: HotplugCallbacks = HotplugCallbacks {
    name: "stacks",
    // First: everything after may run on the new CPU, which needs its stack.
    order: 10,
    up_prepare: Some(prepare),
    up_canceled: None,
    online: None,
    down_prepare: None,
    down_failed: None,
    dead: None,
};

/// The stack `cpu` runs on: the boot stack until it has one of its own (the boot CPU
/// keeps the boot stack), for backtraces.
pub fn stack_of(cpu: usize) -> Range<u64> {
    let boot = crate::arch::layout::boot_stack_region();
    match slot(cpu).stack_top.load(Ordering::Acquire) {
        top if top == 0 || top == boot.end() => boot.base..boot.end(),
        top => top - STACK_PAGES as u64 * PAGE_SIZE..top,
    }
}

fn prepare(cpu: usize) -> Result<(), CallbackError> {
    let s = slot(cpu);
    if s.stack_top.load(Ordering::Acquire) != 0 {
        return Ok(());
    }
    let base = crate::mm::alloc_pages(STACK_PAGES, 1)
        .ok_or(CallbackError("no memory for the CPU's stack"))?;
    s.stack_top
        .store(base + STACK_PAGES as u64 * PAGE_SIZE, Ordering::Release);
    Ok(())
}
