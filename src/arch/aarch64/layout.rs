//! Where the running image sits, from the symbols linker.ld defines.

use crate::mm::region::PhysRegion;

unsafe extern "C" {
    static __image_start: u8;
    static __rodata_start: u8;
    static __data_start: u8;
    static __image_end: u8;
    static _start: u8;
}

/// The address linker.ld links the image at.
pub const LINK_ADDRESS: u64 = 0x4008_0000;

fn addr(sym: *const u8) -> u64 {
    sym as u64
}

/// The whole image, BSS included, where it runs (identity-mapped: physical = virtual).
pub fn image() -> PhysRegion {
    let start = addr(&raw const __image_start);
    PhysRegion::new(start, addr(&raw const __image_end) - start)
}

/// Code: mapped read-only and executable.
pub fn text() -> PhysRegion {
    let start = addr(&raw const __image_start);
    PhysRegion::new(start, addr(&raw const __rodata_start) - start)
}

/// Read-only data, relocated GOT and relocation table: read-only, never executable.
pub fn rodata() -> PhysRegion {
    let start = addr(&raw const __rodata_start);
    PhysRegion::new(start, addr(&raw const __data_start) - start)
}

/// Data and BSS: read-write, never executable.
pub fn data() -> PhysRegion {
    let start = addr(&raw const __data_start);
    PhysRegion::new(start, addr(&raw const __image_end) - start)
}

/// The physical address of the image's entry point.
pub fn entry_point() -> u64 {
    addr(&raw const _start)
}

unsafe extern "C" {
    static boot_stack_guard: u8;
    static boot_stack: u8;
    static boot_stack_top: u8;
}

/// The boot CPU's first stack.
pub fn boot_stack_region() -> PhysRegion {
    let start = addr(&raw const boot_stack);
    PhysRegion::new(start, addr(&raw const boot_stack_top) - start)
}

/// The page under the boot CPU's first stack, left unmapped.
pub fn boot_stack_guard_page() -> PhysRegion {
    let start = addr(&raw const boot_stack_guard);
    PhysRegion::new(start, addr(&raw const boot_stack) - start)
}
