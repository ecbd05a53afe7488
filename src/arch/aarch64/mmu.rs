//! The kernel's page tables and turning the MMU on.
//!
//! One identity map (virtual = physical) through TTBR0_EL1 with 4 KiB granules and 48-bit
//! addresses, shared by every core: RAM is Normal write-back inner-shareable memory, device
//! registers are Device-nGnRE, and the kernel image is mapped by section: text read-only
//! executable, read-only data read-only, data and BSS read-write; nothing else executes.
//! Blocks of 1 GiB and 2 MiB are used where alignment allows, pages elsewhere.
//!
//! The tables are built by the boot CPU with its MMU off, in the image's BSS; so before
//! the caches come on, the image's lines are invalidated (a loader's stale lines must not
//! shadow what was written around the cache). One more range gets its tables then, down to
//! pages, with nothing mapped: the window CPU stacks are mapped into later, while the MMU
//! is on ([`map_page_live`]). Filling an empty entry needs no break-before-make and no TLB
//! maintenance (a translation fault is never cached), so that is the only change ever made
//! to live tables.

use core::fmt;

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{
    ID_AA64MMFR0_EL1, MAIR_EL1, ReadWriteable, Readable, SCTLR_EL1, TCR_EL1, TTBR0_EL1, Writeable,
};

use crate::mm::region::PhysRegion;

const ENTRIES: usize = 512;
const POOL_TABLES: usize = 64;
const PAGE: u64 = 4096;

/// How a range is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attributes {
    /// RAM the kernel reads and writes, never executes.
    Data,
    /// Kernel code: read-only, executable.
    Code,
    /// Read-only data.
    ReadOnly,
    /// Device registers: Device-nGnRE, never executed.
    Device,
    /// Not mapped (reserved `no-map` memory, guard pages).
    Unmapped,
    /// Not mapped yet, with tables down to pages so that pages can be mapped into it while
    /// the MMU is on (the stack window).
    Window,
}

// MAIR_EL1 slots.
const MAIR_DEVICE: u64 = 0;
const MAIR_NORMAL: u64 = 1;

// Descriptor bits.
const VALID: u64 = 1 << 0;
const TABLE_OR_PAGE: u64 = 1 << 1;
const AP_READ_ONLY: u64 = 1 << 7;
const SH_INNER: u64 = 3 << 8;
const AF: u64 = 1 << 10;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;
const ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;

impl Attributes {
    /// The descriptor bits of a block or page with these attributes.
    fn bits(self) -> u64 {
        let normal = (MAIR_NORMAL << 2) | SH_INNER | AF | UXN;
        match self {
            Attributes::Data => normal | PXN,
            Attributes::Code => normal | AP_READ_ONLY,
            Attributes::ReadOnly => normal | AP_READ_ONLY | PXN,
            Attributes::Device => (MAIR_DEVICE << 2) | AF | PXN | UXN,
            Attributes::Unmapped | Attributes::Window => 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The table pool is exhausted.
    OutOfTables,
    /// The range lies beyond what the map can hold: the 48-bit address space (2^47 for
    /// identity-mapped physical addresses, whose upper half holds aliases).
    OutOfRange(PhysRegion),
    /// A live mapping outside the window whose tables boot made.
    NotInWindow(u64),
    /// A live mapping over one already there.
    AlreadyMapped(u64),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::OutOfTables => write!(f, "page table pool ({POOL_TABLES} tables) exhausted"),
            MapError::OutOfRange(r) => {
                write!(
                    f,
                    "{r} is beyond the addresses the kernel maps (below 2^47)"
                )
            }
            MapError::NotInWindow(va) => {
                write!(
                    f,
                    "{va:#x} is outside the window mapped while the MMU is on"
                )
            }
            MapError::AlreadyMapped(va) => write!(f, "{va:#x} is mapped already"),
        }
    }
}

#[repr(C, align(4096))]
struct Table([u64; ENTRIES]);

/// The tables: table 0 is the level 0 root. Written only by the boot CPU before any other
/// core runs, read by every core's table walker afterwards.
struct Pool {
    tables: [Table; POOL_TABLES],
    used: usize,
}

// All zero, so it lives in BSS rather than in the image file.
static mut POOL: Pool = Pool {
    tables: [const { Table([0; ENTRIES]) }; POOL_TABLES],
    used: 0,
};

/// Exclusive access to the page tables while they are being built.
pub struct Builder {
    pool: &'static mut Pool,
}

impl Builder {
    /// # Safety
    /// Only the boot CPU calls this, once, before any other core runs and before the MMU
    /// uses the tables.
    pub unsafe fn new() -> Self {
        // SAFETY: the caller guarantees this is the only reference to POOL.
        let pool_ptr = &raw mut POOL;
        // SAFETY: as above.
        let pool = unsafe { &mut *pool_ptr };
        // Table 0 is the root.
        pool.used = 1;
        Self { pool }
    }

    /// Maps `region` (identity) with `attributes`, replacing whatever mapped it before.
    /// Physical addresses from 2^47 up are refused: the aliases below live there.
    pub fn map(&mut self, region: PhysRegion, attributes: Attributes) -> Result<(), MapError> {
        if region.base.saturating_add(region.size) > RELEASE_ALIAS {
            return Err(MapError::OutOfRange(region));
        }
        self.map_at(region.base, region, attributes)
    }

    /// Maps `region` at virtual address `va` (rounded like the region to pages).
    pub fn map_at(
        &mut self,
        va: u64,
        region: PhysRegion,
        attributes: Attributes,
    ) -> Result<(), MapError> {
        let pages = region.page_aligned_outward(PAGE);
        let va = va & !(PAGE - 1);
        if va.saturating_add(pages.size) > 1 << 48 {
            return Err(MapError::OutOfRange(region));
        }
        let pa_minus_va = pages.base.wrapping_sub(va);
        self.map_level(0, 0, va, va + pages.size, pa_minus_va, attributes)
    }

    fn map_level(
        &mut self,
        table: usize,
        level: u32,
        start: u64,
        end: u64,
        pa_minus_va: u64,
        attributes: Attributes,
    ) -> Result<(), MapError> {
        let shift = 39 - 9 * level;
        let block = 1u64 << shift;
        let mut addr = start;
        while addr < end {
            let index = ((addr >> shift) & 0x1ff) as usize;
            let block_start = addr & !(block - 1);
            let next = (block_start + block).min(end);
            // A block also needs its physical address aligned.
            let pa = block_start.wrapping_add(pa_minus_va);
            let whole =
                addr == block_start && next == block_start + block && pa.is_multiple_of(block);
            let entry = self.pool.tables[table].0[index];
            // A page at level 3; a 1 GiB or 2 MiB block where it covers the whole block
            // and no finer mapping sits there already.
            let block_fits = whole
                && (level == 1 || level == 2)
                && !is_table(entry, level)
                && attributes != Attributes::Window;
            if level == 3 || block_fits {
                self.pool.tables[table].0[index] = leaf(pa, attributes, level);
            } else {
                let child = self.child_table(table, index, level)?;
                self.map_level(child, level + 1, addr, next, pa_minus_va, attributes)?;
            }
            addr = next;
        }
        Ok(())
    }

    /// The next-level table under `table[index]`, created (inheriting a block's mapping
    /// when it splits one) if needed.
    fn child_table(&mut self, table: usize, index: usize, level: u32) -> Result<usize, MapError> {
        let entry = self.pool.tables[table].0[index];
        if is_table(entry, level) {
            let addr = entry & ADDRESS_MASK;
            let base = &raw const self.pool.tables as u64;
            return Ok(((addr - base) / PAGE) as usize);
        }
        if self.pool.used == POOL_TABLES {
            return Err(MapError::OutOfTables);
        }
        let child = self.pool.used;
        self.pool.used += 1;
        if entry & VALID != 0 {
            // Split a block: the children map the same range with the same bits.
            let child_shift = 39 - 9 * (level + 1);
            let attrs = entry & !ADDRESS_MASK & !(VALID | TABLE_OR_PAGE);
            let base = entry & ADDRESS_MASK;
            let page_bit = if level + 1 == 3 { TABLE_OR_PAGE } else { 0 };
            for (i, e) in self.pool.tables[child].0.iter_mut().enumerate() {
                *e = (base + ((i as u64) << child_shift)) | attrs | VALID | page_bit;
            }
        }
        let addr = &raw const self.pool.tables[child] as u64;
        self.pool.tables[table].0[index] = addr | VALID | TABLE_OR_PAGE;
        Ok(child)
    }

    /// How many of the pool's tables are in use.
    pub fn tables_used(&self) -> usize {
        self.pool.used
    }
}

fn is_table(entry: u64, level: u32) -> bool {
    level < 3 && entry & (VALID | TABLE_OR_PAGE) == VALID | TABLE_OR_PAGE
}

fn leaf(addr: u64, attributes: Attributes, level: u32) -> u64 {
    if matches!(attributes, Attributes::Unmapped | Attributes::Window) {
        return 0;
    }
    let kind = if level == 3 { TABLE_OR_PAGE } else { 0 };
    addr | attributes.bits() | VALID | kind
}

/// Where spin-table release addresses are mapped: page 0, where firmware keeps them on a
/// Raspberry Pi, stays unmapped at its own address so null pointers fault. The identity
/// map stays below it, and the stack window (`stack.rs`) above the aliases (release
/// addresses are below 2^46, `dt::MAX_RELEASE_ADDR`).
pub const RELEASE_ALIAS: u64 = 1 << 47;

/// Writes `value` to the spin-table release address `pa` (mapped at [`RELEASE_ALIAS`] by
/// the boot code) and cleans it to the point of coherency, where a core polling with its
/// caches off reads it.
pub fn write_release_address(pa: u64, value: u64) {
    let va = RELEASE_ALIAS + pa;
    // SAFETY: the boot code maps every spin-table CPU's release address at the alias, as
    // Normal memory; it is 8-byte aligned (checked when the DT was read).
    unsafe { (va as *mut u64).write_volatile(value) };
    super::cache::clean_to_poc(va, 8);
}

/// Maps the page at `pa` at `va` with `attributes`, while the MMU is on: `va` must lie in
/// a range boot mapped as [`Attributes::Window`], and not be mapped yet.
///
/// # Safety
/// Nothing else may use the page at `pa` in a way a second mapping would break (it must be
/// RAM the caller owns, mapped with the same attributes as everywhere else).
pub unsafe fn map_page_live(va: u64, pa: u64, attributes: Attributes) -> Result<(), MapError> {
    let mut table = root();
    for level in 0..3 {
        let index = ((va >> (39 - 9 * level)) & 0x1ff) as usize;
        // SAFETY: `table` is a table of the pool (the root, or one a table descriptor of
        // the pool points at), which the boot CPU finished writing before any core ran.
        let entry = unsafe { (table as *const u64).add(index).read_volatile() };
        if !is_table(entry, level) {
            return Err(MapError::NotInWindow(va));
        }
        table = entry & ADDRESS_MASK;
    }
    let index = ((va >> 12) & 0x1ff) as usize;
    // SAFETY: a level 3 table of the pool, made at boot for the window; each entry of it
    // is written by one core only, the one mapping that CPU's stacks.
    let slot = unsafe { (table as *mut u64).add(index) };
    // SAFETY: as above.
    if unsafe { slot.read_volatile() } != 0 {
        return Err(MapError::AlreadyMapped(va));
    }
    // SAFETY: as above; the entry is empty, so no walker can hold a translation of it
    // (translation faults are not cached): filling it needs no break-before-make.
    unsafe { slot.write_volatile(leaf(pa & ADDRESS_MASK, attributes, 3)) };
    // The entry must be visible to every walker before the page is used: DSB to make the
    // store complete (inner shareable: other cores' walkers), ISB so this core's later
    // accesses are translated with it (Arm ARM D8.2.6, "Ordering of translation table
    // updates").
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
    Ok(())
}

/// Whether every byte of `[base, base + size)` is mapped now (by valid blocks or pages of
/// the shared tables): for a driver to check a device region the device tree gives before
/// it touches it, since boot maps what it can and reports what it cannot.
pub fn is_range_mapped(base: u64, size: u64) -> bool {
    let Some(end) = base.checked_add(size) else {
        return false;
    };
    let mut addr = base;
    while addr < end {
        match leaf_end(addr) {
            Some(next) => addr = next,
            None => return false,
        }
    }
    true
}

/// The end of the block or page that maps `va`, if one does.
fn leaf_end(va: u64) -> Option<u64> {
    if va >= 1 << 48 {
        return None;
    }
    let mut table = root();
    for level in 0..4 {
        let shift = 39 - 9 * level;
        let index = ((va >> shift) & 0x1ff) as usize;
        // SAFETY: `table` is a table of the pool (the root, or one a table descriptor of
        // the pool points at), identity-mapped; reading an entry has no side effect, and
        // the entries the boot CPU wrote were complete before any core ran.
        let entry = unsafe { (table as *const u64).add(index).read_volatile() };
        if entry & VALID == 0 {
            return None;
        }
        if !is_table(entry, level) {
            return Some((va | ((1 << shift) - 1)) + 1);
        }
        table = entry & ADDRESS_MASK;
    }
    None
}

/// The physical address of the root table, for TTBR0_EL1.
fn root() -> u64 {
    // SAFETY: only the address is taken.
    unsafe { &raw const POOL.tables[0] as u64 }
}

/// Turns this core's MMU and caches on with the shared tables.
///
/// # Safety
/// The tables must map, with suitable attributes, everything this core touches from now
/// on: its code, its stack and the data it uses. Memory written with this core's caches off
/// must have had its cache lines invalidated.
pub unsafe fn enable() {
    MAIR_EL1.write(
        MAIR_EL1::Attr0_Device::nonGathering_nonReordering_EarlyWriteAck
            + MAIR_EL1::Attr1_Normal_Outer::WriteBack_NonTransient_ReadWriteAlloc
            + MAIR_EL1::Attr1_Normal_Inner::WriteBack_NonTransient_ReadWriteAlloc,
    );
    // Output addresses as wide as the core implements, up to 48 bits.
    let pa_range = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange).min(5);
    TCR_EL1.write(
        TCR_EL1::T0SZ.val(16)
            + TCR_EL1::TG0::KiB_4
            + TCR_EL1::SH0::Inner
            + TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::EPD0::EnableTTBR0Walks
            + TCR_EL1::EPD1::DisableTTBR1Walks
            + TCR_EL1::IPS.val(pa_range),
    );
    TTBR0_EL1.set_baddr(root());
    barrier::dsb(barrier::ISH);
    // SAFETY: invalidating this core's TLB is always safe.
    unsafe { core::arch::asm!("tlbi vmalle1", "dsb nsh", options(nostack)) };
    barrier::isb(barrier::SY);
    SCTLR_EL1.modify(
        SCTLR_EL1::M::Enable
            + SCTLR_EL1::C::Cacheable
            + SCTLR_EL1::I::Cacheable
            + SCTLR_EL1::SA::Enable,
    );
    barrier::isb(barrier::SY);
}

/// Whether this core's MMU is on.
pub fn enabled() -> bool {
    SCTLR_EL1.matches_all(SCTLR_EL1::M::Enable)
}
