//! Each secondary CPU's stack, allocated from the page allocator by the first UP_PREPARE
//! and kept for the CPU's later lives (a parked spin-table core still runs on it).

use core::sync::atomic::Ordering;

use super::hotplug::{CallbackError, HotplugCallbacks};
use super::state::slot;
use crate::mm::page_alloc::PAGE_SIZE;

pub const STACK_PAGES: usize = 4;

pub static CALLBACKS: HotplugCallbacks = HotplugCallbacks {
    name: "stacks",
    up_prepare: Some(prepare),
    up_canceled: None,
    online: None,
    down_prepare: None,
    dead: None,
};

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
