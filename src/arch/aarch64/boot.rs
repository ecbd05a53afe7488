//! The boot CPU from the first Rust instruction to a running console: reading the device
//! tree with the MMU off, building the page tables from it, turning the MMU and caches on,
//! and handing the console UART and the free memory to their owners. Then
//! [`crate::boot::kernel_main`] takes over, in safe code.
//!
//! Until the MMU is on, memory is Device memory to this core: no exclusive (locked)
//! accesses, so no locks and no atomic read-modify-writes, and nothing unaligned.

use core::fmt::{self, Write};

use super::layout;
use super::mmu::{self, Attributes, Builder};
use super::{cache, count_marker, cpu, semihosting, stack};
use crate::drivers::timer;
use crate::drivers::uart::Uart;
use crate::dt::{EnableMethod, Platform, Reservation, TreeReader};
use crate::mm::page_alloc::PAGE_SIZE;
use crate::mm::region::PhysRegion;

/// Linux's limit for a device tree blob; a header claiming more is garbage.
const MAX_DTB_SIZE: usize = 2 << 20;

/// What the entry code learned, for the boot log.
#[derive(Clone, Copy, Debug)]
pub struct EntryInfo {
    pub entry_el: u64,
    /// Where the image runs minus where it was linked.
    pub relocation: u64,
    pub page_tables: usize,
    /// The first interrupt controller region the page tables could not map, and how many
    /// more failed: the kernel runs on, and the GIC driver leaves each such region alone.
    pub unmapped_gic: Option<Unmapped>,
    pub more_unmapped_gic: usize,
    pub ticks: EarlyTicks,
}

/// A device region left out of the page tables, and why.
#[derive(Clone, Copy, Debug)]
pub struct Unmapped {
    pub region: PhysRegion,
    pub error: mmu::MapError,
}

/// The counter at the ends of the boot phases before the console (see `bench boot`).
#[derive(Clone, Copy, Debug)]
pub struct EarlyTicks {
    /// The first Rust instruction: what the loader and firmware took since machine start.
    pub entry: u64,
    /// The device tree parsed.
    pub device_tree: u64,
    /// Page tables built and the MMU and caches on.
    pub mmu: u64,
    /// The free memory handed to the page allocator.
    pub memory: u64,
}

#[unsafe(no_mangle)]
extern "C" fn boot_primary(dtb: u64, entry_el: u64, relocation: u64) -> ! {
    let entry_ticks = timer::ticks();
    count_marker::checkpoint(count_marker::phase::ENTRY);
    let blob = match dtb_blob(dtb) {
        Ok(blob) => blob,
        Err(e) => fail_without_console(format_args!("{e}")),
    };
    // Read without demanding RAM first, so that a tree without any can be reported on
    // the console it names; into a static, where the platform stays for good.
    let reader = &raw mut READER;
    // SAFETY: the only reference to READER ever made, by the boot CPU before any other
    // core runs.
    let reader = unsafe { &mut *reader };
    let platform: &'static Platform<'static> = match reader.read(blob, dtb) {
        Ok(p) => p,
        Err(e) => fail_without_console(format_args!("device tree at {dtb:#x}: {e}")),
    };
    let Some(console) = platform.console else {
        fail_without_console(format_args!(
            "the device tree at {dtb:#x} names no UART this kernel drives (PL011, BCM2835 mini UART); no console"
        ))
    };
    if platform.memory.is_empty() {
        // SAFETY: the DT names this UART; with the MMU off every access is Device.
        let uart = unsafe { Uart::from_dt(&console) };
        let _ = writeln!(
            UartFmt(&uart),
            "hotslab: cannot boot: device tree at {dtb:#x}: {}",
            crate::dt::DtError::NoMemory
        );
        stop(1)
    }
    // The DT's CPU list decides logical ids; an unlisted boot CPU still runs as CPU 0.
    cpu::set_id(platform.cpu_index_of(cpu::mpidr()).unwrap_or(0));
    let device_tree_ticks = timer::ticks();
    count_marker::checkpoint(count_marker::phase::DEVICE_TREE);

    let tables = match build_page_tables(platform) {
        Ok(tables) => tables,
        Err(e) => {
            // SAFETY: the DT names this UART; with the MMU off every access is Device.
            let uart = unsafe { Uart::from_dt(&console) };
            uart.write_str("hotslab: cannot map memory: ");
            let _ = write!(UartFmt(&uart), "{e}");
            uart.write_str("\n");
            stop(1)
        }
    };
    let image = layout::image();
    // SAFETY: everything this core wrote so far went around the (off) caches into memory;
    // stale lines from the loader must not shadow it once they are on. Nothing in the
    // image has been written through a cache.
    unsafe { cache::invalidate_to_poc(image.base, image.size) };
    cache::invalidate_icache();
    // SAFETY: the tables map the image, its stack and BSS, the DT and the console.
    unsafe { mmu::enable() };
    let mmu_ticks = timer::ticks();
    count_marker::checkpoint(count_marker::phase::MMU);
    // Fatal exceptions go to the kernel's crash report from the first moment a lock (the
    // handler's `Once`) may be taken, so an Oops while the console and the memory are set
    // up is reported as later ones are (on the UART once the console exists).
    crate::arch::exceptions::set_fatal_handler(crate::panic::die);
    // Asynchronous aborts are reported from now on, as every other exception is.
    cpu::unmask_serror();
    super::entry::set_entry_el(entry_el);

    // SAFETY: mapped as Device memory just now, and the console is its only driver.
    crate::console::init(unsafe { Uart::from_dt(&console) }, console.clock_hz);
    let reserved = reserved_ranges(platform);
    for region in &platform.memory {
        // SAFETY: RAM from the DT minus every range anything else uses (image, DTB, the
        // DT's reservations, page 0).
        if let Err(e) = unsafe { crate::mm::add_memory(*region, &reserved) } {
            crate::pr_warn!("memory {region} not used: {e}");
        }
    }
    let memory_ticks = timer::ticks();
    count_marker::checkpoint(count_marker::phase::MEMORY);
    ENTRY.call_once(|| EntryInfo {
        entry_el,
        relocation,
        page_tables: tables.used,
        unmapped_gic: tables.unmapped_gic,
        more_unmapped_gic: tables.more_unmapped_gic,
        ticks: EarlyTicks {
            entry: entry_ticks,
            device_tree: device_tree_ticks,
            mmu: mmu_ticks,
            memory: memory_ticks,
        },
    });
    crate::boot::keep_platform(platform);
    // Off the boot stack, onto this CPU's slot of the stack window, with its guard pages
    // and overflow stack, for good.
    let me = cpu::id();
    match crate::smp::stacks::provide(me) {
        // SAFETY: the stacks were mapped for this CPU just now and nothing runs on them.
        Ok(stacks) => unsafe { stack::switch_to(&stacks, boot_on_own_stack) },
        Err(e) => {
            crate::pr_err!("cpu{me}: {e}; it stays on its boot stack, with no overflow stack");
            boot_on_own_stack()
        }
    }
}

/// The device tree reader, and the platform it reads, kept for good: too big for the boot
/// stack (see `dt::TreeReader`).
static mut READER: TreeReader<'static> = TreeReader::new();

/// What the entry code learned, kept while the boot CPU changes stacks.
static ENTRY: spin::Once<EntryInfo> = spin::Once::new();

extern "C" fn boot_on_own_stack() -> ! {
    crate::boot::kernel_main(
        *ENTRY
            .get()
            .expect("the entry info is kept before the switch"),
    )
}

/// The blob at `addr`, checked only as far as its size (the parser does the rest).
fn dtb_blob(addr: u64) -> Result<&'static [u8], DtbError> {
    if addr == 0 {
        return Err(DtbError::NoPointer);
    }
    if !addr.is_multiple_of(8) {
        return Err(DtbError::Unaligned(addr));
    }
    // SAFETY: the loader passed this address for a DTB; the first 8 bytes are read as
    // bytes (no alignment needed) to learn whether it is one.
    let header = unsafe { core::slice::from_raw_parts(addr as *const u8, 8) };
    let Some(size) = crate::dt::blob_size(header) else {
        return Err(DtbError::BadMagic(addr));
    };
    if !(40..=MAX_DTB_SIZE).contains(&size) {
        return Err(DtbError::BadSize { addr, size });
    }
    // SAFETY: the header says the blob is `size` bytes, which is plausible; the blob stays
    // in place (reserved from the page allocator) for the kernel's lifetime.
    Ok(unsafe { core::slice::from_raw_parts(addr as *const u8, size) })
}

enum DtbError {
    NoPointer,
    Unaligned(u64),
    BadMagic(u64),
    BadSize { addr: u64, size: usize },
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtbError::NoPointer => write!(
                f,
                "no device tree: x0 was 0 at entry (load build/Image, whose header makes \
                 loaders pass one, not the ELF)"
            ),
            DtbError::Unaligned(a) => write!(f, "device tree pointer {a:#x} is not 8-byte aligned"),
            DtbError::BadMagic(a) => write!(f, "no device tree at {a:#x}: bad magic"),
            DtbError::BadSize { addr, size } => write!(
                f,
                "device tree at {addr:#x} claims {size} bytes (at most {MAX_DTB_SIZE} accepted); truncated or corrupt"
            ),
        }
    }
}

/// Everything the page allocator must not hand out.
fn reserved_ranges(platform: &Platform<'_>) -> arrayvec::ArrayVec<PhysRegion, 40> {
    let mut ranges = arrayvec::ArrayVec::new();
    ranges.push(layout::image());
    ranges.push(platform.dtb);
    // Page 0: never mapped, so null pointers fault.
    ranges.push(PhysRegion::new(0, PAGE_SIZE));
    for Reservation { region, .. } in &platform.reservations {
        if ranges.try_push(*region).is_err() {
            break;
        }
    }
    ranges
}

/// What building the page tables came to.
struct Tables {
    used: usize,
    unmapped_gic: Option<Unmapped>,
    more_unmapped_gic: usize,
}

fn build_page_tables(platform: &Platform<'_>) -> Result<Tables, mmu::MapError> {
    // SAFETY: the boot CPU, once, with the MMU off and no other core running.
    let mut tables = unsafe { Builder::new() };
    for region in &platform.memory {
        tables.map(*region, Attributes::Data)?;
    }
    for r in platform.reservations.iter().filter(|r| r.no_map) {
        tables.map(r.region, Attributes::Unmapped)?;
    }
    tables.map(PhysRegion::new(0, PAGE_SIZE), Attributes::Unmapped)?;
    // The image and the DTB are mapped even if the DT's memory missed them.
    tables.map(layout::data(), Attributes::Data)?;
    tables.map(layout::rodata(), Attributes::ReadOnly)?;
    tables.map(layout::text(), Attributes::Code)?;
    tables.map(layout::boot_stack_guard_page(), Attributes::Unmapped)?;
    let window = stack::window();
    tables.map_at(
        window.start,
        PhysRegion::new(window.start, window.end - window.start),
        Attributes::Window,
    )?;
    tables.map(platform.dtb, Attributes::ReadOnly)?;
    if let Some(uart) = &platform.console {
        tables.map(uart.region, Attributes::Device)?;
    }
    if let Some(watchdog) = platform.watchdog {
        tables.map(watchdog, Attributes::Device)?;
    }
    // Every region of the GIC, wherever it lies (QEMU's second redistributor region is at
    // 256 GiB). One that cannot be mapped is kept for the boot log, not fatal: the GIC
    // driver checks each region is mapped before it reads it.
    let (mut unmapped_gic, mut more_unmapped_gic) = (None, 0);
    if let Some(gic) = &platform.gic {
        for region in gic.regions() {
            if let Err(error) = tables.map(region, Attributes::Device) {
                match unmapped_gic {
                    None => unmapped_gic = Some(Unmapped { region, error }),
                    Some(_) => more_unmapped_gic += 1,
                }
            }
        }
    }
    for cpu in &platform.cpus {
        if let EnableMethod::SpinTable { release_addr } = cpu.enable_method {
            let page = PhysRegion::new(release_addr, 8);
            tables.map_at(mmu::RELEASE_ALIAS + release_addr, page, Attributes::Data)?;
        }
    }
    Ok(Tables {
        used: tables.tables_used(),
        unmapped_gic,
        more_unmapped_gic,
    })
}

struct UartFmt<'a>(&'a Uart);

impl Write for UartFmt<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s);
        Ok(())
    }
}

/// Reports a boot failure over semihosting (there is no console) and stops.
fn fail_without_console(args: fmt::Arguments<'_>) -> ! {
    let _ = writeln!(semihosting::Writer, "hotslab: cannot boot: {args}");
    stop(1)
}

/// Ends the emulation with `status` where semihosting can, else waits forever.
fn stop(status: u32) -> ! {
    semihosting::exit(status);
    cpu::halt()
}
