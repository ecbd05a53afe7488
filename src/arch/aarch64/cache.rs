//! Data cache maintenance by virtual address, to the point of coherency: for memory one
//! core touches with its MMU (and so its caches) off while another has them on.

use core::arch::asm;

/// The smallest data cache line of the system, from CTR_EL0.DminLine.
fn dcache_line() -> usize {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    4 << ((ctr >> 16) & 0xf)
}

/// Writes back dirty lines of `[start, start+len)` to memory, so a core with its caches
/// off reads what this core wrote.
pub fn clean_to_poc(start: u64, len: u64) {
    for_each_line(start, len, |line| {
        // SAFETY: DC CVAC only writes back; every address in the range is mapped.
        unsafe { asm!("dc cvac, {}", in(reg) line, options(nostack)) }
    });
}

/// Discards cached copies of `[start, start+len)`, so this core sees what a core with its
/// caches off (or this core, before its MMU was on) wrote to memory.
///
/// # Safety
/// Dirty lines in the range are lost: nothing in it may have been written through the cache
/// since it was last cleaned.
pub unsafe fn invalidate_to_poc(start: u64, len: u64) {
    for_each_line(start, len, |line| {
        // SAFETY: the caller guarantees there are no dirty lines worth keeping.
        unsafe { asm!("dc ivac, {}", in(reg) line, options(nostack)) }
    });
}

/// Writes back and discards cached copies of `[start, start+len)`: what this core wrote
/// reaches memory, and its next read comes from memory (what a core with its caches off
/// wrote there). Nothing is lost, so this is safe wherever the range is mapped.
pub fn clean_invalidate_to_poc(start: u64, len: u64) {
    for_each_line(start, len, |line| {
        // SAFETY: DC CIVAC writes dirty data back before discarding; the range is mapped.
        unsafe { asm!("dc civac, {}", in(reg) line, options(nostack)) }
    });
}

fn for_each_line(start: u64, len: u64, mut op: impl FnMut(u64)) {
    let line = dcache_line() as u64;
    let mut addr = start & !(line - 1);
    let end = start.saturating_add(len);
    while addr < end {
        op(addr);
        addr += line;
    }
    // SAFETY: a barrier has no memory-safety effects.
    unsafe { asm!("dsb sy", options(nostack)) };
}

/// Invalidates the whole instruction cache of this core.
pub fn invalidate_icache() {
    // SAFETY: IC IALLU only drops cached instructions, which are refetched.
    unsafe { asm!("ic iallu", "dsb nsh", "isb", options(nostack)) };
}
