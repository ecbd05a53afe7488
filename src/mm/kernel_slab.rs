//! The kernel's slab allocator: the one `Slab` instance over the page allocator, its
//! hotplug callbacks, the 2004 switches (`slab.hotplug_lock`, `slab.race_window_us`), the
//! race reports, `slab_debug` (red zones and poison on every cache) and its corruption
//! reports, and the check of every cache.
//!
//! Started after SMP bring-up, on the boot CPU, under the hotplug lock: the CPUs online
//! then are the ones whose arrays every cache starts with; later CPUs get theirs from the
//! UP_PREPARE callback. Caches are reached as the allocator lets safe code reach them
//! (`slab::allocator`): through their handles, or under the chain's lock.

use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arrayvec::ArrayString;

use super::slab::cache::NAME_MAX;
use super::slab::lifecycle::Violation;
use super::slab::{self as core_slab, ArrayCount, Ctor, HotplugEnv, Race, SlabError, SlabFlags};
use super::slab::{Checked, Corruption, Inconsistency, SlabPlatform, geometry::PAGE_SIZE};
use crate::arch::cpu::{self, IrqContext};
use crate::drivers::timer::Deadline;
use crate::smp::call::{self, CallError};
use crate::smp::cpumask::CpuMask;
use crate::smp::hotplug::{self, CallbackError, HotplugCallbacks};
use crate::smp::percpu::PerCpu;
use crate::smp::state;
use crate::sync::IrqSpinLock;
use crate::{pr_err, pr_notice, pr_warn};

/// The kernel's slab types: the portable ones over the kernel's platform.
pub type Slab = core_slab::Slab<KernelPages>;
pub type Cache = core_slab::Cache<KernelPages>;
pub type CacheHandle = core_slab::CacheHandle<KernelPages>;
pub type SharedCache = core_slab::SharedCache<KernelPages>;
pub type OwnedObject = core_slab::OwnedObject<KernelPages>;

static SLAB: spin::Once<&'static Slab> = spin::Once::new();
static PAGES: KernelPages = KernelPages;
static ENV: KernelEnv = KernelEnv;

/// `slab.hotplug_lock`: create and destroy take the hotplug lock (the 2004 fix).
static HOTPLUG_LOCK: AtomicBool = AtomicBool::new(true);
/// `slab.lock_order=inverted`: create takes the chain's lock before the hotplug lock.
static LOCK_ORDER_INVERTED: AtomicBool = AtomicBool::new(false);
/// `slab.race_window_us`: the pause between the two steps of create and destroy.
static RACE_WINDOW_US: AtomicU64 = AtomicU64::new(0);
/// Races met since boot: [race 1, race 2].
static RACES: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

/// What the slab allocator needs of the kernel: pages, the running CPU, interrupt masking.
pub struct KernelPages;

// SAFETY: `cpu` is the running CPU's logical id, which only a possible CPU has (ids are
// given from the device tree's order within the possible count), and `cpus` is that count:
// the possible CPUs are 0 to it, fixed before the allocator starts.
unsafe impl SlabPlatform for KernelPages {
    fn alloc_pages(&self, pages: usize) -> Option<NonNull<u8>> {
        // Memory is identity-mapped: a physical address is the pointer.
        super::alloc_pages(pages, pages).and_then(|addr| NonNull::new(addr as *mut u8))
    }

    unsafe fn free_pages(&self, base: NonNull<u8>, pages: usize) {
        if let Err(e) = super::free_pages(base.as_ptr() as u64, pages) {
            panic!("slab: returning {pages} page(s) at {base:p}: {e:?}");
        }
    }

    fn owns(&self, addr: usize, len: usize) -> bool {
        crate::boot::platform()
            .memory
            .iter()
            .any(|m| m.contains(addr as u64) && (addr as u64).saturating_add(len as u64) <= m.end())
    }

    fn cpu(&self) -> usize {
        cpu::id()
    }

    fn cpus(&self) -> usize {
        // The possible CPUs are 0 to their count, fixed before the allocator starts.
        crate::smp::state::possible().len()
    }

    type IrqGuard = cpu::IrqsMasked;

    fn mask_irqs(&self) -> cpu::IrqsMasked {
        cpu::mask_irqs()
    }

    fn array_missing(&self, cache: &str, cpu: usize) {
        ENV.report(Race::CreateVsUp, cpu, cache);
    }

    fn corrupted(&self, report: &Corruption<'_>) {
        pr_err!("{report}");
    }
}

struct KernelEnv;

impl HotplugEnv<&'static Cache> for KernelEnv {
    fn online(&self) -> CpuMask {
        state::online()
    }

    fn protected(&self) -> bool {
        HOTPLUG_LOCK.load(Ordering::Acquire)
    }

    fn lock_order_inverted(&self) -> bool {
        LOCK_ORDER_INVERTED.load(Ordering::Acquire)
    }

    fn cpus_read_lock(&self) {
        hotplug::cpus_read_lock();
    }

    fn cpus_read_unlock(&self) {
        hotplug::cpus_read_unlock();
    }

    fn race_window(&self) {
        let us = RACE_WINDOW_US.load(Ordering::Relaxed);
        if us > 0 {
            let deadline = Deadline::after_us(us);
            while !deadline.passed() {
                core::hint::spin_loop();
            }
        }
    }

    fn drain_online(&self, cache: &&'static Cache) {
        if self.protected() {
            // Destroy took the read side, so the online set cannot change under the drain.
            hotplug::assert_cpus_held();
        }
        loop {
            match on_each_online_cpu(cache, drain_here) {
                // Nothing was sent: a CPU left between reading the set and calling.
                Err(CallError::Offline(_)) => continue,
                Err(e) => pr_err!("slab: draining '{}': {e}", cache.name()),
                Ok(()) => {}
            }
            break;
        }
    }

    fn report(&self, race: Race, cpu: usize, cache: &str) {
        RACES[race.number() as usize - 1].fetch_add(1, Ordering::Relaxed);
        pr_err!("{race}: cpu{cpu}, cache '{cache}'");
    }
}

/// A cache cross-call in flight: the cache, borrowed for as long as its caller waits.
#[derive(Clone, Copy)]
struct CacheCall {
    cache: NonNull<Cache>,
    f: fn(&Cache),
}

// SAFETY: a Cache is Sync; the pointer is only dereferenced while the caller that borrowed
// it waits for the call (see `on_each_online_cpu`).
unsafe impl Send for CacheCall {}

/// Per calling CPU: its cache cross-call in flight. The handlers take it in interrupt
/// context, so its caller masks interrupts while it writes it (one class for every CPU's
/// slot: that a handler never reads its own CPU's slot would be an argument the lock
/// validator cannot check).
static CACHE_CALLS: PerCpu<IrqSpinLock<Option<CacheCall>>> =
    PerCpu::new("slab cross-calls", |_| {
        IrqSpinLock::new(crate::lock_class!("slab cross-call"), None)
    });

/// Runs `f(cache)` on every online CPU (this one included) by cross-call, and waits.
/// Hold the hotplug lock's read side to keep the online set still, or expect
/// `CallError::Offline` when a CPU leaves in between.
pub fn on_each_online_cpu(cache: &Cache, f: fn(&Cache)) -> Result<(), CallError> {
    let me = cpu::id();
    let call = CacheCall {
        cache: NonNull::from(cache),
        f,
    };
    *CACHE_CALLS[me].lock() = Some(call);
    let result = call::on_each_cpu(state::online(), run_cache_call, me as u64, true);
    *CACHE_CALLS[me].lock() = None;
    result
}

fn run_cache_call(caller: u64, _: IrqContext<'_>) {
    let call = *CACHE_CALLS[caller as usize].lock();
    if let Some(CacheCall { cache, f }) = call {
        // SAFETY: the caller borrowed the cache for the length of `on_each_online_cpu`,
        // which returns only once every target has run this or the call was taken back
        // unstarted (`call::on_each_cpu` with `wait`): this runs within that borrow.
        f(unsafe { cache.as_ref() });
    }
}

/// Destroy's drain, on each online CPU.
fn drain_here(cache: &Cache) {
    slab().drain_cpu(&ENV, cache, cpu::id());
}

fn slab() -> &'static Slab {
    SLAB.get()
        .expect("the slab allocator used before mm::kernel_slab::init")
}

/// Starts the allocator with arrays for the CPUs online now, and applies the bootargs;
/// with `debug` (`slab_debug`) every cache gets red zones and poison.
pub fn init(
    hotplug_lock: Option<bool>,
    lock_order_inverted: Option<bool>,
    race_window_us: Option<u64>,
    debug: bool,
) {
    if let Some(on) = hotplug_lock {
        set_hotplug_lock(on);
    }
    if let Some(inverted) = lock_order_inverted {
        set_lock_order_inverted(inverted);
    }
    if let Some(us) = race_window_us {
        set_race_window_us(us);
    }
    if debug {
        pr_notice!(
            "slab: slab_debug: red zones and poison on every cache (more memory per object, \
             slower alloc and free)"
        );
    }
    CACHE_CALLS
        .init(crate::smp::state::possible().len())
        .expect("memory for the slab's per-CPU cross-call slots at boot");
    let slab = *SLAB.call_once(|| {
        Slab::new_in_pages(&PAGES, debug).expect("a page for the slab allocator at boot")
    });
    crate::pr_info!(
        "slab: {} bytes per cache for {} possible CPUs (its descriptor and per-CPU slots)",
        slab.bytes_per_cache(),
        crate::smp::state::possible().len()
    );
    // The CPUs online now had no UP_PREPARE of ours; every later one will.
    hotplug::register(&CALLBACKS, |online| slab.track(online));
}

pub fn set_hotplug_lock(on: bool) {
    HOTPLUG_LOCK.store(on, Ordering::Release);
    if !on {
        pr_warn!("slab: create/destroy no longer take the hotplug lock: the 2004 races are open");
    }
}

pub fn hotplug_lock() -> bool {
    HOTPLUG_LOCK.load(Ordering::Acquire)
}

pub fn set_lock_order_inverted(inverted: bool) {
    LOCK_ORDER_INVERTED.store(inverted, Ordering::Release);
    if inverted {
        pr_warn!(
            "slab: create takes the cache chain's lock before the hotplug lock: Linux 5.12's \
             lock inversion is open"
        );
    }
}

pub fn lock_order_inverted() -> bool {
    LOCK_ORDER_INVERTED.load(Ordering::Acquire)
}

pub fn set_race_window_us(us: u64) {
    RACE_WINDOW_US.store(us, Ordering::Relaxed);
}

pub fn race_window_us() -> u64 {
    RACE_WINDOW_US.load(Ordering::Relaxed)
}

/// Races met since boot: (race 1, race 2).
pub fn races() -> (u64, u64) {
    (
        RACES[0].load(Ordering::Relaxed),
        RACES[1].load(Ordering::Relaxed),
    )
}

/// kmem_cache_create.
pub fn kmem_cache_create(
    name: &str,
    size: usize,
    align: usize,
    flags: SlabFlags,
    ctor: Option<Ctor>,
) -> Result<CacheHandle, SlabError> {
    slab().create(&ENV, name, size, align, flags, ctor)
}

/// kmem_cache_destroy: refuses, handing the cache back, while objects are allocated.
pub fn kmem_cache_destroy(cache: CacheHandle) -> Result<(), (CacheHandle, SlabError)> {
    slab().destroy(&ENV, cache)
}

/// kmem_cache_shrink: flushes every online CPU's array, then returns the pages of the
/// cache's free slabs. How many pages.
pub fn kmem_cache_shrink(cache: &Cache) -> usize {
    hotplug::cpus_read_lock();
    let flushed = on_each_online_cpu(cache, Cache::drain_local);
    hotplug::cpus_read_unlock();
    if let Err(e) = flushed {
        pr_err!("slab: shrinking '{}': {e}", cache.name());
    }
    cache.shrink()
}

/// Whether a cache of that name is on the chain.
pub fn contains(name: &str) -> bool {
    slab().contains(name)
}

/// Runs `f` on the chained cache called `name`, which is not destroyed meanwhile; `None` if
/// there is none. The hotplug lock's read side is held around it (the lock order: it
/// comes before the chain's), so `f` may make cross-calls to the online CPUs.
pub fn with_cache<R>(name: &str, f: impl FnOnce(&Cache) -> R) -> Option<R> {
    hotplug::cpus_read_lock();
    let result = slab().with_cache(name, f);
    hotplug::cpus_read_unlock();
    result
}

/// Every cache: the allocator's own first, then the chain in creation order, each looked
/// at under the chain's lock (none is destroyed meanwhile).
pub fn for_each_cache(f: impl FnMut(&Cache)) {
    slab().for_each_cache(f);
}

/// Whether caches have red zones and poison (`slab_debug`).
pub fn debug() -> bool {
    slab().debug()
}

/// The name of the cache whose slab `object` lies in (for `SlabError::WrongCache`).
pub fn owner_name(object: usize) -> Option<ArrayString<NAME_MAX>> {
    slab().owner_name(object)
}

/// A slab error, with the other cache named for `WrongCache`.
pub struct Explained(pub SlabError);

impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SlabError::WrongCache(object) => match owner_name(object) {
                Some(name) => write!(
                    f,
                    "{object:#x} is an object of cache '{name}' (wrong cache)"
                ),
                None => write!(f, "{}", self.0),
            },
            e => write!(f, "{e}"),
        }
    }
}

/// Checks `cache` (see `Cache::check`), its per-CPU arrays drained first on every online
/// CPU so that every free object is looked at.
pub fn check_cache(cache: &Cache) -> Result<Checked, Inconsistency> {
    if cache.per_cpu() {
        hotplug::cpus_read_lock();
        let drained = on_each_online_cpu(cache, Cache::drain_local);
        hotplug::cpus_read_unlock();
        if let Err(e) = drained {
            pr_err!("slab: draining '{}' for a check: {e}", cache.name());
        }
    }
    cache.check()
}

/// Checks every cache, the allocator's own first; `each` gets each result. The hotplug
/// lock comes before the chain's (the lock order), and the drains' cross-calls take
/// neither.
pub fn check_caches(mut each: impl FnMut(&Cache, Result<Checked, Inconsistency>)) {
    hotplug::cpus_read_lock();
    slab().for_each_cache(|cache| each(cache, check_cache(cache)));
    hotplug::cpus_read_unlock();
}

/// The per-CPU arrays out of their cache against the chain's need, with CPUs held
/// still: exact while no cache is being created or destroyed.
pub fn arrays() -> ArrayCount {
    hotplug::cpus_read_lock();
    let count = slab().arrays();
    hotplug::cpus_read_unlock();
    count
}

/// Objects with users over every cache, less the per-CPU arrays the CPUs up need, with
/// CPUs held still (`Slab::objects_in_use`).
pub fn objects_in_use() -> usize {
    hotplug::cpus_read_lock();
    let count = slab().objects_in_use();
    hotplug::cpus_read_unlock();
    count
}

/// Pages held by every cache's slabs.
pub fn slab_pages() -> usize {
    let mut pages = 0;
    for_each_cache(|c| pages += c.stats().num_slabs * c.geometry().pages);
    pages
}

/// How the per-CPU arrays failed to match the CPUs' states.
#[derive(Debug)]
pub enum InvariantBreak {
    /// A cache lacks the array of a CPU between its UP_PREPARE and DEAD.
    Missing(Violation),
    /// An offline CPU still has arrays: a failed bring-up or a death was not cleaned up.
    Leftover { cpu: usize },
}

impl fmt::Display for InvariantBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvariantBreak::Missing(v) => write!(f, "{v}"),
            InvariantBreak::Leftover { cpu } => write!(
                f,
                "cpu{cpu} is offline but its arrays were never freed (UP_CANCELED or DEAD missed)"
            ),
        }
    }
}

/// Checks the invariant with CPUs held still: every cache has an array for every CPU
/// from UP_PREPARE to DEAD, and no offline CPU still has arrays.
pub fn check_invariant() -> Result<(), InvariantBreak> {
    hotplug::cpus_read_lock();
    let slab = slab();
    let result = slab
        .check_chain()
        .map_err(InvariantBreak::Missing)
        .and_then(|()| {
            match slab
                .tracked()
                .iter()
                .find(|&cpu| state::slot(cpu).state() == state::HotplugState::Offline)
            {
                Some(cpu) => Err(InvariantBreak::Leftover { cpu }),
                None => Ok(()),
            }
        });
    hotplug::cpus_read_unlock();
    result
}

/// The slab allocator's place in the hotplug state machine.
pub static CALLBACKS: HotplugCallbacks = HotplugCallbacks {
    name: "slab",
    // After the stacks: a CPU gets its arrays before it runs.
    order: 20,
    up_prepare: Some(up_prepare),
    up_canceled: Some(up_canceled),
    online: None,
    down_prepare: None,
    down_failed: None,
    dead: Some(dead),
};

// The callbacks are registered by `init` once the allocator exists, so each finds it.

fn up_prepare(cpu: usize) -> Result<(), CallbackError> {
    hotplug::assert_cpus_held();
    slab()
        .up_prepare(cpu)
        .map_err(|_| CallbackError("no memory for the CPU's slab arrays"))
}

fn up_canceled(cpu: usize) {
    slab().up_canceled(cpu);
}

fn dead(cpu: usize) {
    hotplug::assert_cpus_held();
    slab().dead(&ENV, cpu);
}

const _: () = assert!(PAGE_SIZE as u64 == super::page_alloc::PAGE_SIZE);
