//! The per-CPU fast path against an interrupt on its own CPU, under loom: the real
//! allocator, CPU 1 allocating and freeing on its array with interrupts enabled, CPU 0
//! sending it a cross-call (shrink's drain) and then shrinking. CPU 1 takes the interrupt
//! at whichever of its interrupt points (`SlabPlatform::may_interrupt`: each step of the
//! fast path, the two halves of an array push or pop included) it first finds it
//! pending, so loom, which tries CPU 0's send before each of them, delivers it at every
//! step. The handler allocates and frees an object of the same cache, as an interrupt
//! handler may, and runs the drain.
//!
//! What must hold: no object is handed out twice, and afterwards the cache's lists and
//! marks agree, nothing is live, and destroy returns every page; and the interrupt was
//! taken at every one of the points (checked over all executions). Without the guard's
//! check (`PerCpu::try_enter` entering whatever it finds), or with the drain not skipped
//! over a running fast path, loom finds the slab lists broken: an object given back to
//! its slab twice, once by the handler and once by the code it interrupted.
//!
//! The slab lists' spin lock is never seen taken by the other thread: loom switches
//! threads only at its own operations, and none runs under that lock.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use loom::sync::atomic::{AtomicBool, Ordering};

use super::host_memory::{HostMemory, pages_from_host_memory};
use super::lifecycle::Race;
use super::*;
use crate::smp::cpumask::CpuMask;

type Cache = super::Cache<Machine>;

const INTERRUPTED: usize = 1;
const SENDER: usize = 0;

loom::thread_local! {
    static CPU: Cell<usize> = Cell::new(0);
    static MASKED: Cell<bool> = Cell::new(false);
    static IN_HANDLER: Cell<bool> = Cell::new(false);
    /// Interrupts are delivered: the setup is done.
    static ARMED: Cell<bool> = Cell::new(false);
    /// Interrupt points CPU 1 has passed since it was armed.
    static POINTS: Cell<usize> = Cell::new(0);
}

/// Over all of a model's executions: the interrupt points of CPU 1's sequence, and at
/// which of them the interrupt was taken in some execution.
#[derive(Default)]
struct Coverage {
    points: usize,
    taken_at: BTreeSet<usize>,
}

fn on_cpu(cpu: usize) {
    CPU.with(|c| c.set(cpu));
}

/// Two CPUs, host pages, and the cross-call from CPU 0 to CPU 1.
struct Machine {
    memory: HostMemory,
    /// The cross-call's SGI is pending at CPU 1.
    pending: AtomicBool,
    /// CPU 1's handler has run.
    handled: AtomicBool,
    /// The cache the handler works on.
    cache: Mutex<Option<SharedCache<Machine>>>,
    /// Objects handed out and not yet freed, by anyone.
    out: Mutex<Vec<usize>>,
    coverage: Arc<Mutex<Coverage>>,
}

impl Machine {
    fn handed_out(&self, object: NonNull<u8>) {
        let mut out = self.out.lock().unwrap();
        let address = object.as_ptr() as usize;
        assert!(!out.contains(&address), "{address:#x} handed out twice");
        out.push(address);
    }

    fn given_back(&self, object: NonNull<u8>) {
        self.out
            .lock()
            .unwrap()
            .retain(|&a| a != object.as_ptr() as usize);
    }

    fn alloc(&self, cache: &Cache) -> NonNull<u8> {
        let object = cache.alloc().expect("memory for the model");
        self.handed_out(object);
        object
    }

    fn free(&self, cache: &Cache, object: NonNull<u8>) {
        self.given_back(object);
        // SAFETY: an object this model allocated and frees once, used by nothing else.
        unsafe { cache.free(object) }.expect("a free of an object handed out");
    }

    /// CPU 1's interrupt handler: an allocation and a free of the cache, then the drain.
    fn interrupt(&self) {
        let cache = self
            .cache
            .lock()
            .unwrap()
            .clone()
            .expect("the cache, while the model runs");
        let object = self.alloc(&cache);
        self.free(&cache, object);
        cache.drain_local();
        self.handled.store(true, Ordering::Release);
    }
}

/// The model CPU's interrupts masked until dropped, which puts back what it found.
struct Masked {
    was_masked: bool,
}

impl Drop for Masked {
    fn drop(&mut self) {
        MASKED.with(|m| m.set(self.was_masked));
    }
}

// SAFETY: the model runs CPUs 0 and 1 (`on_cpu` is only given those), and `cpus` is 2.
unsafe impl SlabPlatform for Machine {
    pages_from_host_memory!();

    fn cpu(&self) -> usize {
        CPU.with(|c| c.get())
    }

    fn cpus(&self) -> usize {
        2
    }
    type IrqGuard = Masked;

    fn mask_irqs(&self) -> Masked {
        Masked {
            was_masked: MASKED.with(|m| m.replace(true)),
        }
    }
    fn array_missing(&self, cache: &str, cpu: usize) {
        panic!("cache '{cache}' has no array for cpu{cpu}");
    }
    fn corrupted(&self, report: &Corruption<'_>) {
        panic!("{report}");
    }
    fn may_interrupt(&self) {
        let here = self.cpu() == INTERRUPTED;
        let deliverable = ARMED.with(Cell::get) && !MASKED.with(Cell::get);
        if !here || !deliverable || IN_HANDLER.with(Cell::get) {
            return;
        }
        // A look before the swap: a swap on every poll would be a store on every
        // poll, and loom would never see the idle loop as waiting.
        let point = POINTS.with(|p| p.replace(p.get() + 1));
        if self.pending.load(Ordering::Acquire) && self.pending.swap(false, Ordering::AcqRel) {
            self.coverage.lock().unwrap().taken_at.insert(point);
            IN_HANDLER.with(|h| h.set(true));
            self.interrupt();
            IN_HANDLER.with(|h| h.set(false));
        }
    }
}

/// Both CPUs online, the lock taken (the lifecycle is not what this model is about), a
/// drain run on each CPU in turn.
struct Env(&'static Slab<Machine>);

impl HotplugEnv<&'static Cache> for Env {
    fn online(&self) -> CpuMask {
        CpuMask::from_low_word(0b11)
    }
    fn protected(&self) -> bool {
        true
    }
    fn cpus_read_lock(&self) {}
    fn cpus_read_unlock(&self) {}
    fn race_window(&self) {}
    fn drain_online(&self, cache: &&'static Cache) {
        let me = CPU.with(|c| c.get());
        for cpu in self.online().iter() {
            on_cpu(cpu);
            self.0.drain_cpu(self, cache, cpu);
        }
        on_cpu(me);
    }
    fn report(&self, race: Race, cpu: usize, cache: &str) {
        panic!("{race}: cpu{cpu}, cache '{cache}'");
    }
}

/// CPU 1 starts with `cached` objects in its array (at most its limit) and one object
/// of its own, allocates two, frees them and its own (the last free overflows a full
/// array; an empty one is refilled by the first allocation).
fn interrupted_at_every_step(cached: impl Fn(usize) -> usize + Sync + Send + 'static) {
    let coverage = Arc::new(Mutex::new(Coverage::default()));
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    let seen = coverage.clone();
    model.check(move || {
        on_cpu(INTERRUPTED);
        let machine: &'static Machine = Box::leak(Box::new(Machine {
            memory: HostMemory::default(),
            pending: AtomicBool::new(false),
            handled: AtomicBool::new(false),
            cache: Mutex::new(None),
            out: Mutex::new(Vec::new()),
            coverage: seen.clone(),
        }));
        let slab: &'static Slab<Machine> =
            Slab::new_in_pages(machine, false).expect("pages for the allocator");
        // The allocator's own descriptor, kept for good.
        let own_pages = machine.memory.pages_out();
        slab.track(CpuMask::from_low_word(0b11));
        let env = Env(slab);
        let handle = slab
            .create(&env, "model", 2048, 0, SlabFlags::NONE, None)
            .unwrap();
        let cache = handle.share();
        *machine.cache.lock().unwrap() = Some(cache.clone());

        let filled = cached(cache.geometry().limit);
        let warm: Vec<_> = (0..=filled).map(|_| machine.alloc(&cache)).collect();
        let (own, into_array) = warm.split_last().unwrap();
        // Empty, so that the frees below leave exactly `filled` in it.
        cache.drain_local();
        for &object in into_array.iter().rev() {
            machine.free(&cache, object);
        }

        ARMED.with(|a| a.set(true));
        let sender = loom::thread::spawn(move || {
            on_cpu(SENDER);
            let cache = machine.cache.lock().unwrap().clone().unwrap();
            machine.pending.store(true, Ordering::Release);
            while !machine.handled.load(Ordering::Acquire) {
                loom::thread::yield_now();
            }
            cache.shrink();
        });

        let x = machine.alloc(&cache);
        let y = machine.alloc(&cache);
        machine.free(&cache, x);
        machine.free(&cache, y);
        machine.free(&cache, *own);
        let points = POINTS.with(Cell::get);
        let mut c = machine.coverage.lock().unwrap();
        c.points = c.points.max(points);
        drop(c);
        // Idle: the cross-call still arrives if it has not yet.
        while !machine.handled.load(Ordering::Acquire) {
            machine.may_interrupt();
            loom::thread::yield_now();
        }
        sender.join().unwrap();
        ARMED.with(|a| a.set(false));

        assert!(machine.out.lock().unwrap().is_empty());
        assert_eq!(cache.live_objects(), 0);
        cache.check().expect("lists and marks agree");
        drop(cache);
        *machine.cache.lock().unwrap() = None;
        slab.destroy(&env, handle).map_err(|(_, e)| e).unwrap();
        // The allocator's own caches hold nothing more: every page but its own is back.
        for own in slab.own_caches() {
            own.shrink();
        }
        assert_eq!(machine.memory.pages_out(), own_pages);
    });
    let c = coverage.lock().unwrap();
    let missed: Vec<_> = (0..c.points).filter(|p| !c.taken_at.contains(p)).collect();
    assert!(
        c.points > 0 && missed.is_empty(),
        "of {} interrupt points, none taken at {missed:?}",
        c.points
    );
    eprintln!(
        "an interrupt at each of {} points (and in the idle loop after them)",
        c.points
    );
}

#[test]
fn interrupts_at_every_step_with_the_array_full() {
    interrupted_at_every_step(|limit| limit);
}

#[test]
fn interrupts_at_every_step_with_the_array_empty() {
    interrupted_at_every_step(|_| 0);
}

#[test]
fn interrupts_at_every_step_with_the_array_half_full() {
    interrupted_at_every_step(|limit| limit / 2);
}
