//! CPU hotplug: bringing CPUs up (`cpu_up`, `cpus_up`) and taking them down (`cpu_down`)
//! by walking one table of steps forwards and backwards (`table`, modern Linux's
//! `cpuhp_step` table), the callbacks subsystems register as rows of it, the CPU's own
//! halves of its two handshakes (`arrive`, `leave`), and the hotplug lock's kernel face.
//!
//! Up: OFFLINE -> UP_PREPARE (callbacks) -> BOOTING (enable method; the CPU sets up its GIC
//! interface and joins the online set) -> ONLINE (callbacks). Down: ONLINE -> DOWN_PREPARE
//! (callbacks) -> DYING (on the dying CPU: leave the online set, serve calls already
//! queued, interrupts masked, then the enable method's end: GIC interface off and CPU_OFF,
//! or the park) -> DEAD (on the controller, once its death is confirmed: callbacks) ->
//! OFFLINE. Every move is checked against the state machine's edges (`state::EDGES`).
//!
//! A step that fails has the steps before it undone, last first, and the CPU goes back
//! where it was: a refused UP_PREPARE, an enable-method error or a CPU that does not take
//! its boot ticket in time runs UP_CANCELED and leaves it OFFLINE, to be tried again (a
//! late CPU finds its ticket withdrawn and turns itself off, which is waited for); a
//! refused DOWN_PREPARE or a CPU that does not take its death request in time runs
//! DOWN_FAILED, and it stays ONLINE and working. Once the CPU took its death request
//! nothing is undone: one whose death the enable method cannot confirm stays DYING,
//! keeping what it had, and bringing it up walks the rest of its teardown first, once the
//! method confirms it. A method that cannot ask whether a CPU is off at all (PSCI 0.1,
//! without AFFINITY_INFO) waits for the CPU's last call instead and calls the death
//! unconfirmable: the CPU is buried, as Linux buries it, and its slot says so to `cpus`
//! and `cpu off`. A method that cannot take a CPU down at all refuses before anything is
//! done. Both directions run under the hotplug lock's write side, so `cpus_read_lock`
//! keeps the online set still. Each of these failures can be injected on demand
//! (`smp::fault`).

mod table;

use core::fmt;
use core::sync::atomic::{AtomicUsize, Ordering};

use arrayvec::ArrayVec;

use super::cpu_ops::{CpuOps, Death, OpsError, Stuck, ops};
use super::cpumask::CpuMask;
use super::hotplug_lock::{HotplugLock, LockState};
use super::state::{self, HotplugState, slot};
use crate::MAX_CPUS;
use crate::arch::cpu::{self, IrqContext};
use crate::drivers::gic;
use crate::drivers::timer;
use crate::sync::lockdep::{self, DoingWork, Mode};
use crate::sync::lockup::{LOCKUP_MS, Watch};
use crate::sync::{LockClass, SpinLock};

/// A controller's wait for a CPU coming up, and for one going down, as the lock
/// validator knows them (Linux's `cpuhp_state-up` and `cpuhp_state-down`): what the CPU
/// does on its way is ordered after what the controller holds while it waits.
pub static CPU_UP_WAIT: &LockClass = crate::wait_class!("cpuhp_state-up");
pub static CPU_DOWN_WAIT: &LockClass = crate::wait_class!("cpuhp_state-down");

/// How long a booting CPU has to come online, and a dying one to confirm it is off.
pub const BOOT_TIMEOUT_US: u64 = 5_000_000;
pub const DEATH_TIMEOUT_US: u64 = 5_000_000;
/// How long bringing up a CPU whose death went unconfirmed asks the method again.
const RECONFIRM_TIMEOUT_US: u64 = 100_000;

static LOCK: HotplugLock<MAX_CPUS> = HotplugLock::new();
/// The hotplug lock's class for the lock validator: both sides are one lock, as Linux's
/// `cpu_hotplug_lock`.
static LOCK_CLASS: &LockClass = crate::lock_class!("cpu_hotplug_lock");
/// Where each CPU last took the read side (a nested read moves it in), and where the
/// writer took the write side: what a wait for them that goes on too long reports.
static READ_SITES: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];
static WRITE_SITE: AtomicUsize = AtomicUsize::new(0);

/// How long a wait for the hotplug lock goes before it is reported: longer than the
/// writer holds it by design at most (a bring-up waits for its CPU to arrive, then for it
/// to be off, each bounded), by a lockup's own bound.
const LOCK_WAIT_BOUND_MS: u64 = (BOOT_TIMEOUT_US + DEATH_TIMEOUT_US) / 1000 + LOCKUP_MS;

/// A wait for the hotplug lock's watch.
type LockWatch = Watch<LOCK_WAIT_BOUND_MS>;

/// Waits for the lock with interrupts enabled (cross-calls keep being served), reporting
/// a lockup once if the wait goes on too long.
fn relax(watch: &mut LockWatch) {
    debug_assert!(
        !cpu::irqs_masked(),
        "waiting for the hotplug lock with interrupts masked"
    );
    core::hint::spin_loop();
    watch.spin(describe_wait);
}

/// What a waiter for the hotplug lock waits for, and on whom.
fn describe_wait(out: &mut dyn fmt::Write) -> fmt::Result {
    let me = cpu::id();
    let state = LOCK.state();
    match state.writer {
        Some(writer) if writer == me => {
            writeln!(out, "for (cpu_hotplug_lock)'s readers to leave:")?;
            for reader in LOCK.readers() {
                let pc = READ_SITES[reader].load(Ordering::Relaxed);
                writeln!(out, " held (read) by cpu{reader}, at: {pc:#018x}")?;
                lockdep::write_held_by(out, reader)?;
            }
            Ok(())
        }
        Some(writer) => {
            let pc = WRITE_SITE.load(Ordering::Relaxed);
            writeln!(out, "for (cpu_hotplug_lock):")?;
            writeln!(out, " held (write) by cpu{writer}, at: {pc:#018x}")?;
            lockdep::write_held_by(out, writer)
        }
        None => writeln!(
            out,
            "for (cpu_hotplug_lock), queued behind {} other waiter(s)",
            state.waiters.saturating_sub(1)
        ),
    }
}

/// Only CPUs below `cpus` (the possible ones) will take the hotplug lock: its writer looks
/// at their reader counts alone. Once, at boot.
pub fn limit_lock_to(cpus: usize) {
    LOCK.limit_to(cpus);
}

fn instance() -> usize {
    &raw const LOCK as usize
}

/// Keeps CPUs from coming or going until [`cpus_read_unlock`]. Nests: a CPU already
/// inside (or the writer) never waits, which the validator knows as a recursive read.
#[inline(always)]
pub fn cpus_read_lock() {
    let pc = cpu::program_counter();
    let me = cpu::id();
    if lockdep::enabled() {
        validate_read(me, pc);
    }
    // The watch moves into the wait, which only the slow path starts.
    let mut watch = LockWatch::new();
    LOCK.read_lock(me, move || relax(&mut watch));
    READ_SITES[me].store(pc, Ordering::Relaxed);
}

/// Tells the validator of a read: recursive when this CPU is inside already (or is the
/// writer), for then it cannot wait.
#[inline(never)]
fn validate_read(me: usize, pc: usize) {
    let mode = if LOCK.held_by(me) {
        Mode::RecursiveRead
    } else {
        Mode::Read
    };
    lockdep::acquire(LOCK_CLASS, instance(), mode, pc, false);
}

#[inline(always)]
pub fn cpus_read_unlock() {
    LOCK.read_unlock(cpu::id());
    lockdep::release(LOCK_CLASS, instance(), cpu::program_counter());
}

/// The write side: held by CPU up and down.
#[inline(always)]
pub fn cpu_hotplug_begin() {
    let pc = cpu::program_counter();
    lockdep::acquire(LOCK_CLASS, instance(), Mode::Write, pc, false);
    let mut watch = LockWatch::new();
    LOCK.write_lock(cpu::id(), move || relax(&mut watch));
    WRITE_SITE.store(pc, Ordering::Relaxed);
}

#[inline(always)]
pub fn cpu_hotplug_done() {
    LOCK.write_unlock(cpu::id());
    lockdep::release(LOCK_CLASS, instance(), cpu::program_counter());
}

/// States that the caller needs the online set held still (checked in debug builds).
#[track_caller]
pub fn assert_cpus_held() {
    debug_assert!(
        LOCK.held_by(cpu::id()),
        "cpus_read_lock or cpu_hotplug_begin needed here"
    );
}

pub fn lock_state() -> LockState {
    LOCK.state()
}

/// A subsystem's steps in the table; each is optional. The first three are its row before
/// the CPU runs, the last three its row while it runs.
pub struct HotplugCallbacks {
    pub name: &'static str,
    /// Where its rows are among the registered ones (Linux's cpuhp state numbers): lower
    /// nearer OFFLINE, so lower first going up and last going down; what undoes a step
    /// runs in reverse of the steps it undoes.
    pub order: u8,
    /// Before the CPU boots: allocate what it will need. May fail.
    pub up_prepare: Option<fn(usize) -> Result<(), CallbackError>>,
    /// The boot failed after `up_prepare` succeeded: undo it.
    pub up_canceled: Option<fn(usize)>,
    /// The CPU is online.
    pub online: Option<fn(usize)>,
    /// Before the CPU goes: may refuse.
    pub down_prepare: Option<fn(usize) -> Result<(), CallbackError>>,
    /// The CPU did not go after `down_prepare` succeeded: undo it.
    pub down_failed: Option<fn(usize)>,
    /// The CPU is confirmed dead (or taken as dead): reclaim what it had.
    pub dead: Option<fn(usize)>,
}

/// What is known of a CPU that was started and never came online.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoArrival {
    /// It is off again (a late CPU turns itself off when it finds its boot cancelled), or,
    /// under PSCI 0.1, went into CPU_OFF.
    Off(Death),
    /// It is not confirmed off; what its enable method can say of where it is.
    Stuck(Stuck),
}

impl fmt::Display for NoArrival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoArrival::Off(Death::Confirmed) => f.write_str("it is off again"),
            NoArrival::Off(Death::Unconfirmable) => {
                f.write_str("it turned itself off, not confirmed: PSCI 0.1 has no AFFINITY_INFO")
            }
            NoArrival::Stuck(stuck) => write!(f, "{stuck}"),
        }
    }
}

/// A callback's refusal, with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackError(pub &'static str);

/// The most subsystems that can register hotplug callbacks.
const MAX_SUBSYSTEMS: usize = 8;

/// The registered callbacks, by `order` (Linux's cpuhp states: the core names none).
static REGISTERED: SpinLock<ArrayVec<&'static HotplugCallbacks, MAX_SUBSYSTEMS>> =
    SpinLock::new(crate::lock_class!("cpuhp callbacks"), ArrayVec::new_const());

/// Adds a subsystem's callbacks, running `with_online` with the CPUs online at that
/// moment, as one step against hotplug (it holds the hotplug lock's write side): a CPU
/// that comes up later runs the callbacks, and one online already is in the set
/// `with_online` gets.
pub fn register(callbacks: &'static HotplugCallbacks, with_online: impl FnOnce(CpuMask)) {
    cpu_hotplug_begin();
    {
        let mut registered = REGISTERED.lock();
        let at = registered
            .iter()
            .position(|r| r.order > callbacks.order)
            .unwrap_or(registered.len());
        assert!(
            registered.len() < MAX_SUBSYSTEMS,
            "hotplug: no room to register '{}' (at most {MAX_SUBSYSTEMS} subsystems)",
            callbacks.name
        );
        registered.insert(at, callbacks);
    }
    with_online(state::online());
    cpu_hotplug_done();
}

/// The registered callbacks, in order. Stable while the caller holds the hotplug lock's
/// write side (every state change does), which `register` takes too.
fn callbacks() -> ArrayVec<&'static HotplugCallbacks, MAX_SUBSYSTEMS> {
    REGISTERED.lock().clone()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotplugError {
    NoSuchCpu(usize),
    /// The CPU is not in the state the operation starts from.
    WrongState {
        cpu: usize,
        state: HotplugState,
    },
    /// The CPU can never come online here, and why.
    NotPresent(usize, Option<state::Absence>),
    LastCpu(usize),
    /// A CPU cannot take itself down: another CPU must control it.
    IsCaller(usize),
    /// The enable method cannot take this CPU offline at all, and why.
    CannotGoOffline(usize, &'static str),
    Callback {
        name: &'static str,
        error: CallbackError,
    },
    /// The enable method failed; the CPU is back where it started.
    Ops {
        cpu: usize,
        error: OpsError,
    },
    /// The CPU was started but never came online; `after`: what the enable method has
    /// since said of it.
    BootTimeout {
        cpu: usize,
        after: NoArrival,
    },
    /// The CPU was asked to die and never said it was dying.
    DyingTimeout(usize),
}

impl fmt::Display for HotplugError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HotplugError::NoSuchCpu(c) => write!(f, "there is no cpu{c}"),
            HotplugError::WrongState { cpu, state } => write!(f, "cpu{cpu} is {state}"),
            HotplugError::NotPresent(c, Some(why)) => write!(f, "cpu{c} cannot come online: {why}"),
            HotplugError::NotPresent(c, None) => write!(f, "cpu{c} cannot come online"),
            HotplugError::LastCpu(c) => write!(f, "cpu{c} is the last online CPU"),
            HotplugError::IsCaller(c) => write!(f, "cpu{c} cannot take itself down"),
            HotplugError::CannotGoOffline(c, why) => {
                write!(f, "cpu{c} cannot be taken offline: {why}")
            }
            HotplugError::Callback { name, error } => {
                write!(f, "the {name} callback refused: {}", error.0)
            }
            HotplugError::Ops { cpu, error } => write!(f, "cpu{cpu}: {error}"),
            HotplugError::BootTimeout { cpu, after } => write!(
                f,
                "cpu{cpu} did not come online within {} ms ({after})",
                BOOT_TIMEOUT_US / 1000
            ),
            HotplugError::DyingTimeout(c) => write!(
                f,
                "cpu{c} did not start dying within {} ms",
                DEATH_TIMEOUT_US / 1000
            ),
        }
    }
}

pub fn method_name(cpu: usize) -> &'static str {
    ops(cpu).map_or("none", |o| o.name())
}

/// Brings `cpu` online. Takes the hotplug lock's write side.
pub fn cpu_up(cpu: usize) -> Result<(), HotplugError> {
    can_come_up(cpu)?;
    let mut result = Ok(());
    cpus_up(CpuMask::single(cpu), |_, outcome, _| result = outcome);
    result
}

/// Brings every CPU of `cpus` online at once, as boot does (Linux 6.5's parallel
/// bring-up): each walks the table up to its handshake (UP_PREPARE, then the start), then
/// all are waited for, so their starts overlap, and each walks on as it settles; one that
/// fails is rolled back alone. Takes the write side once, and tells `settled` each CPU's
/// outcome, with how long it took from the first start (us), as it is known.
pub fn cpus_up(cpus: CpuMask, mut settled: impl FnMut(usize, Result<(), HotplugError>, u64)) {
    let began = timer::now_ns();
    let mut booting = CpuMask::empty();
    cpu_hotplug_begin();
    let rows = table::table();
    for cpu in cpus.iter() {
        match can_come_up(cpu).and_then(|ops| table::start_up(cpu, ops, &rows)) {
            Ok(()) => booting.insert(cpu),
            Err(e) => settled(cpu, Err(e), 0),
        }
    }
    table::wait_for_arrivals(booting, |cpu| {
        let outcome = table::finish_up(cpu, &rows);
        settled(cpu, outcome, timer::now_ns().saturating_sub(began) / 1000)
    });
    cpu_hotplug_done();
}

/// Why `cpu` cannot be brought up at all, before anything is done; else its method.
fn can_come_up(cpu: usize) -> Result<&'static dyn CpuOps, HotplugError> {
    if !state::possible().contains(cpu) {
        return Err(HotplugError::NoSuchCpu(cpu));
    }
    // An online CPU (the boot CPU of a machine without an enable method too) is that first.
    if let state @ (HotplugState::Online | HotplugState::Booting | HotplugState::UpPrepare) =
        slot(cpu).state()
    {
        return Err(HotplugError::WrongState { cpu, state });
    }
    ops(cpu)
        .filter(|_| state::present().contains(cpu))
        .ok_or(HotplugError::NotPresent(cpu, state::absence(cpu)))
}

/// Takes `cpu` offline, from another CPU. Takes the hotplug lock's write side.
pub fn cpu_down(cpu: usize) -> Result<(), HotplugError> {
    if !state::possible().contains(cpu) {
        return Err(HotplugError::NoSuchCpu(cpu));
    }
    if cpu == cpu::id() {
        return Err(HotplugError::IsCaller(cpu));
    }
    cpu_hotplug_begin();
    let result = take_down(cpu);
    cpu_hotplug_done();
    result
}

/// Whether `cpu`'s enable method can take it offline at all (asked again by `cpu_down`).
pub fn can_go_offline(cpu: usize) -> Result<(), HotplugError> {
    match ops(cpu) {
        Some(ops) => ops
            .can_go_offline(cpu)
            .map_err(|why| HotplugError::CannotGoOffline(cpu, why)),
        None => Err(HotplugError::NotPresent(cpu, state::absence(cpu))),
    }
}

/// Walks `cpu` down the whole table, once nothing refuses it before anything is done.
fn take_down(cpu: usize) -> Result<(), HotplugError> {
    match slot(cpu).state() {
        HotplugState::Online => {}
        state => return Err(HotplugError::WrongState { cpu, state }),
    }
    if state::online().without(cpu).is_empty() {
        return Err(HotplugError::LastCpu(cpu));
    }
    let Some(ops) = ops(cpu) else {
        return Err(HotplugError::NotPresent(cpu, state::absence(cpu)));
    };
    ops.can_go_offline(cpu)
        .map_err(|why| HotplugError::CannotGoOffline(cpu, why))?;
    table::take_down(cpu, ops, &table::table())
}

/// On a CPU that just started (MMU on, own stack): claim the boot ticket, set up the GIC
/// interface, join the online set. Returns false if the controller gave up on this boot.
pub fn arrive(cpu: usize) -> bool {
    // A CPU that starts holds nothing, whatever it held when it last went down.
    lockdep::cpu_starting(cpu);
    let _controller_waits = DoingWork::begin(CPU_UP_WAIT);
    let s = slot(cpu);
    s.confirm_started();
    if let Err(e) = gic::init_cpu(cpu, &super::private_interrupts()) {
        crate::pr_err!("cpu{cpu}: interrupt controller: {e}");
        return false;
    }
    let Some(ticket) = s.pending_boot() else {
        return false;
    };
    // Online before the controller can see the ticket taken; out again if it was
    // withdrawn meanwhile (a call queued in between is served on the way out).
    state::ONLINE.insert(cpu);
    if !s.take_boot(ticket) {
        state::ONLINE.remove(cpu);
        return false;
    }
    gic::send_sgi(gic::SGI_KICK, CpuMask::single(s.controller()));
    true
}

/// On the dying CPU, interrupts masked (`irqs`): everything but the enable method's last
/// step (which also decides what becomes of the CPU's GIC interface).
pub fn leave(cpu: usize, irqs: IrqContext<'_>) -> &'static dyn CpuOps {
    let _controller_waits = DoingWork::begin(CPU_DOWN_WAIT);
    state::ONLINE.remove(cpu);
    super::call::run_pending(irqs);
    timer::disarm();
    slot(cpu).mark_dying();
    ops(cpu).expect("a CPU that came up has an enable method")
}
