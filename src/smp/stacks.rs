//! Each CPU's stacks: the pages come from the page allocator when the CPU is first
//! prepared (UP_PREPARE; the boot CPU's as boot moves it off its first stack), are mapped
//! into its slot of the stack window with unmapped guard pages around them
//! (`arch::stack`), and stay for the CPU's later lives (a parked spin-table core still runs
//! on its stack). Each is painted when it is mapped, so its high-water mark can be read.

use core::ops::Range;
use core::sync::atomic::{AtomicBool, Ordering};

use super::hotplug::{CallbackError, HotplugCallbacks};
use crate::MAX_CPUS;
use crate::arch::stack::{self, CpuStacks};
use crate::mm::page_alloc::PAGE_SIZE;

pub static CALLBACKS: HotplugCallbacks = HotplugCallbacks {
    name: "stacks",
    // Before every other UP_PREPARE: everything after may run on the new CPU, which
    // needs its stack.
    order: 10,
    up_prepare: Some(prepare),
    up_canceled: None,
    online: None,
    down_prepare: None,
    down_failed: None,
    dead: None,
};

/// Which CPUs have their stacks mapped.
static MAPPED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// Why a CPU has no stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    NoMemory,
    Map(crate::arch::mmu::MapError),
}

impl core::fmt::Display for StackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StackError::NoMemory => write!(
                f,
                "no memory for the CPU's stacks ({} KiB)",
                (stack::STACK_SIZE + stack::OVERFLOW_STACK_SIZE) >> 10
            ),
            StackError::Map(e) => write!(f, "mapping the CPU's stacks: {e}"),
        }
    }
}

/// Gives `cpu` its stacks if it has none yet, and says where they are.
pub fn provide(cpu: usize) -> Result<CpuStacks, StackError> {
    let stacks = CpuStacks::of(cpu);
    if MAPPED[cpu].load(Ordering::Acquire) {
        return Ok(stacks);
    }
    let stack_pages = crate::mm::alloc_pages(CpuStacks::STACK_PAGES, 1);
    let overflow_pages = crate::mm::alloc_pages(CpuStacks::OVERFLOW_PAGES, 1);
    let (Some(stack_pa), Some(overflow_pa)) = (stack_pages, overflow_pages) else {
        for (pa, count) in [
            (stack_pages, CpuStacks::STACK_PAGES),
            (overflow_pages, CpuStacks::OVERFLOW_PAGES),
        ] {
            if let Some(pa) = pa {
                crate::mm::free_pages(pa, count).expect("pages allocated just now");
            }
        }
        return Err(StackError::NoMemory);
    };
    // SAFETY: the pages were allocated just now and are never freed: they are this CPU's
    // stacks from now on. Its slot is empty (MAPPED is false, and only the hotplug writer
    // or the boot CPU before any other runs gets here for a CPU).
    unsafe { stack::map(cpu, stack_pa, overflow_pa) }.map_err(StackError::Map)?;
    stack::paint(&stacks);
    MAPPED[cpu].store(true, Ordering::Release);
    Ok(stacks)
}

/// The stack `cpu` runs on, for backtraces: its slot's, or, before it has one (the boot
/// CPU at first), the boot stack.
pub fn stack_of(cpu: usize) -> Range<u64> {
    if MAPPED.get(cpu).is_some_and(|m| m.load(Ordering::Acquire)) {
        CpuStacks::of(cpu).stack
    } else {
        crate::arch::layout::boot_stack_region().range()
    }
}

/// How much of `cpu`'s stack and overflow stack was ever used, in bytes, if it has them.
pub fn high_water(cpu: usize) -> Option<(u64, u64)> {
    MAPPED.get(cpu)?.load(Ordering::Acquire).then(|| {
        let stacks = CpuStacks::of(cpu);
        (
            stack::high_water(&stacks.stack),
            stack::high_water(&stacks.overflow),
        )
    })
}

fn prepare(cpu: usize) -> Result<(), CallbackError> {
    match provide(cpu) {
        Ok(_) => Ok(()),
        Err(StackError::NoMemory) => Err(CallbackError("no memory for the CPU's stacks")),
        Err(StackError::Map(_)) => Err(CallbackError("its stack slot could not be mapped")),
    }
}

const _: () = assert!(stack::STACK_SIZE.is_multiple_of(PAGE_SIZE));
