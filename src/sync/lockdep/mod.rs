//! The lock validator's kernel face (boot argument `lockdep`): the hooks every lock calls,
//! the locks each CPU holds, the one graph all CPUs teach, and what the shell's `lockdep`
//! shows. The model and its checks are in [`graph`], the reports in [`report`].
//!
//! Off (the default), every hook is one load of a flag and a branch. On, each acquisition
//! masks interrupts on its CPU for the moment it is checked (an interrupt's locks must not
//! find the CPU's held locks half-written), takes the graph's lock, and is checked against
//! what every CPU has taught the graph so far: a problem is reported the first time it is
//! seen, whether or not it deadlocks this time, and the kernel goes on. While a CPU is
//! inside the validator (reporting takes the console's lock), its own acquisitions are not
//! validated, as Linux's `lockdep_recursion`.
//!
//! What is validated: every `SpinLock` and `IrqSpinLock`, the hotplug lock's read and
//! write sides, and the waits that behave like locks (a cross-call's wait for its
//! handlers; a CPU coming up or going down waited for by its controller; a wait for jobs
//! on other CPUs). Not validated:
//! the validator's own locks, the locks of the peer allocators `bench` compares with,
//! `spin::Once`, and the orders between a lock taken in a hardirq handler and one held by
//! the code it interrupted beyond the usage rule (Linux's safe -> unsafe check).

pub mod graph;
pub mod report;
#[cfg(test)]
mod tests;

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use arrayvec::ArrayVec;
pub use graph::Mode;
use graph::{Acquire, Graph, Held, HeldStack, Problem, Site};

use super::class::LockClass;
use super::lockup;
use super::machine;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether locks are being validated.
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// One CPU's part of the validator.
pub struct CpuState {
    /// Inside the validator: acquisitions now are its own (reporting), not validated.
    busy: AtomicBool,
    /// How deep in hardirq handlers the CPU is.
    hardirq: AtomicU32,
    held: spin::Mutex<HeldStack>,
}

impl CpuState {
    pub const fn new() -> Self {
        Self {
            busy: AtomicBool::new(false),
            hardirq: AtomicU32::new(0),
            held: spin::Mutex::new(HeldStack::new()),
        }
    }
}

impl Default for CpuState {
    fn default() -> Self {
        Self::new()
    }
}

static CPUS: spin::Once<&'static [CpuState]> = spin::Once::new();
static GRAPH: spin::Mutex<Graph> = spin::Mutex::new(Graph::new());

/// Turns validation on, with one state per possible CPU. Called once, at boot, on a CPU
/// that holds no lock, before any other CPU runs.
pub fn enable(cpus: &'static [CpuState]) {
    CPUS.call_once(|| cpus);
    ENABLED.store(true, Ordering::Release);
}

/// This CPU's state, marked busy for the guard's life; `None` when validation is off, the
/// CPU is already inside the validator, or it has no state.
struct Inside {
    state: &'static CpuState,
    cpu: usize,
    irqs_enabled: bool,
    /// Interrupts stay masked while the CPU is inside; they come back after `busy` is
    /// cleared (fields drop after `drop` runs).
    _masked: machine::Masked,
}

impl Inside {
    fn enter() -> Option<Inside> {
        let irqs_enabled = machine::irqs_enabled();
        let masked = machine::mask();
        let cpu = machine::cpu_id();
        let state = CPUS.get().and_then(|cpus| cpus.get(cpu))?;
        if state.busy.swap(true, Ordering::Acquire) {
            // Already inside: no second `Inside`, whose drop would clear `busy` under the
            // first; `masked` drops, and interrupts are as they were.
            return None;
        }
        Some(Inside {
            state,
            cpu,
            irqs_enabled,
            _masked: masked,
        })
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        self.state.busy.store(false, Ordering::Release);
    }
}

/// The class's index, registering it on first use.
fn class_id(graph: &mut Graph, class: &'static LockClass) -> Option<graph::ClassId> {
    if let Some(id) = class.id() {
        return Some(id);
    }
    let id = graph.register(class.name, class.kind, &mut write_problem)?;
    class.set_id(id);
    Some(id)
}

fn write_problem(graph: &Graph, problem: &Problem, held: &[Held]) {
    lockup::write_report(&mut |out| {
        let _ = report::write(out, graph, problem, held);
    });
}

/// Called before a lock of `class` at `instance` is taken (or right after a try-lock
/// took it) at `pc`.
#[inline(always)]
pub fn acquire(class: &'static LockClass, instance: usize, mode: Mode, pc: usize, trylock: bool) {
    if enabled() {
        validate_acquire(class, instance, mode, pc, trylock);
    }
}

/// Runs `check` on this CPU's held locks and the graph, with `class` registered; nothing
/// when the CPU is already inside the validator or the graph has no room for the class.
fn inside_with(
    class: &'static LockClass,
    check: impl FnOnce(&Inside, &mut HeldStack, &mut Graph, graph::ClassId),
) {
    let Some(inside) = Inside::enter() else {
        return;
    };
    let mut held = inside.state.held.lock();
    let mut graph = GRAPH.lock();
    if let Some(id) = class_id(&mut graph, class) {
        check(&inside, &mut held, &mut graph, id);
    }
}

#[inline(never)]
fn validate_acquire(
    class: &'static LockClass,
    instance: usize,
    mode: Mode,
    pc: usize,
    trylock: bool,
) {
    inside_with(class, |inside, held, graph, id| {
        let new = Acquire {
            held: Held {
                class: id,
                mode,
                instance,
                pc,
                hardirq: inside.state.hardirq.load(Ordering::Relaxed) > 0,
            },
            cpu: inside.cpu as u16,
            irqs_enabled: inside.irqs_enabled,
            trylock,
        };
        graph.acquire(held, new, &mut write_problem);
    });
}

/// Called after a lock of `class` at `instance` was released at `pc`.
#[inline(always)]
pub fn release(class: &'static LockClass, instance: usize, pc: usize) {
    if enabled() {
        validate_release(class, instance, pc);
    }
}

#[inline(never)]
fn validate_release(class: &'static LockClass, instance: usize, pc: usize) {
    inside_with(class, |inside, held, graph, id| {
        let site = Site {
            pc,
            cpu: inside.cpu as u16,
        };
        graph.release(held, id, instance, site, &mut write_problem);
    });
}

/// Counts a wait for a lock of `class`.
pub fn contended(class: &'static LockClass) {
    if !enabled() {
        return;
    }
    if let Some(_inside) = Inside::enter()
        && let Some(id) = class.id()
    {
        GRAPH.lock().contended(id);
    }
}

/// A wait for work other CPUs do (`class` a wait class), about to begin at `pc`: checked
/// as taking and at once releasing a lock, so that what this CPU holds now is ordered
/// before everything the work takes.
#[inline(always)]
pub fn wait_for(class: &'static LockClass, pc: usize) {
    if enabled() {
        validate_acquire(class, 0, Mode::Write, pc, false);
        validate_release(class, 0, pc);
    }
}

/// Work a CPU does for a waiter ([`wait_for`]): held as a lock of `class` until dropped.
pub struct DoingWork {
    class: &'static LockClass,
    pc: usize,
}

impl DoingWork {
    #[inline(always)]
    pub fn begin(class: &'static LockClass) -> Self {
        let pc = machine::pc();
        acquire(class, 0, Mode::Write, pc, false);
        Self { class, pc }
    }
}

impl Drop for DoingWork {
    fn drop(&mut self) {
        release(self.class, 0, self.pc);
    }
}

/// A hardirq handler running on this CPU, from its start to its end: locks it takes are
/// in interrupt context.
pub struct Hardirq(());

impl Hardirq {
    #[inline(always)]
    pub fn enter() -> Self {
        if enabled() {
            adjust_hardirq(1);
        }
        Hardirq(())
    }
}

impl Drop for Hardirq {
    #[inline(always)]
    fn drop(&mut self) {
        if enabled() {
            adjust_hardirq(-1);
        }
    }
}

fn adjust_hardirq(by: i32) {
    if let Some(state) = CPUS.get().and_then(|cpus| cpus.get(machine::cpu_id())) {
        let now = state.hardirq.load(Ordering::Relaxed) as i32 + by;
        state.hardirq.store(now.max(0) as u32, Ordering::Relaxed);
    }
}

/// `cpu` starts (it calls this itself): it holds nothing, and is in no handler, whatever
/// it held when it last went down.
pub fn cpu_starting(cpu: usize) {
    if !enabled() {
        return;
    }
    if let Some(state) = CPUS.get().and_then(|cpus| cpus.get(cpu)) {
        let _masked = machine::mask();
        state.hardirq.store(0, Ordering::Relaxed);
        state.held.lock().locks.clear();
    }
}

/// The locks `cpu` holds now; `None` when validation is off or its state is being changed
/// for longer than a moment.
pub fn held_by(cpu: usize) -> Option<HeldLocks> {
    if !enabled() {
        return None;
    }
    let state = CPUS.get().and_then(|cpus| cpus.get(cpu))?;
    (0..1000).find_map(|_| {
        let held = state.held.try_lock().map(|h| HeldLocks {
            cpu,
            locks: h.locks.clone(),
        });
        if held.is_none() {
            core::hint::spin_loop();
        }
        held
    })
}

/// A CPU's held locks, taken at one moment.
pub struct HeldLocks {
    cpu: usize,
    locks: ArrayVec<Held, { graph::MAX_DEPTH }>,
}

impl HeldLocks {
    /// Writes them as Linux lists held locks.
    pub fn write(&self, out: &mut dyn Write) -> fmt::Result {
        // The graph names the classes; a CPU inside the validator holds its lock.
        let Some(graph) = (0..1000).find_map(|_| GRAPH.try_lock()) else {
            return writeln!(out, "(cpu{} holds locks; the lock graph is busy)", self.cpu);
        };
        report::write_held(out, &graph, self.cpu, &self.locks)
    }
}

/// Writes the locks `cpu` holds (nothing when validation is off).
pub fn write_held_by(out: &mut dyn Write, cpu: usize) -> fmt::Result {
    match held_by(cpu) {
        Some(held) => held.write(out),
        None if enabled() => writeln!(out, "(cpu{cpu}'s held locks are being changed)"),
        None => Ok(()),
    }
}

/// Runs `f` with the graph (for the shell's `lockdep`), with this CPU inside the
/// validator so that what `f` prints is not validated.
pub fn with_graph<R>(f: impl FnOnce(&Graph) -> R) -> R {
    let inside = Inside::enter();
    let graph = GRAPH.lock();
    let result = f(&graph);
    drop(graph);
    drop(inside);
    result
}
