//! The CPU hotplug state machine, its callbacks, and the hotplug lock's kernel face.
//!
//! Up:   OFFLINE -> UP_PREPARE (callbacks) -> BOOTING (enable method; the CPU sets up its
//!       GIC interface and joins the online set) -> ONLINE (callbacks).
//! Down: ONLINE -> DOWN_PREPARE (callbacks) -> DYING (on the dying CPU: leave the online
//!       set, serve calls already queued, interrupts masked, then the enable method's
//!       end: GIC interface off and CPU_OFF, or the park) -> DEAD (on the controller, after death is confirmed: callbacks) -> OFFLINE.
//!
//! The controller and the CPU meet through two handshakes (`smp::handshake`), the boot
//! ticket and the death request: the CPU takes the request, or the controller, giving up
//! at its deadline, withdraws it, each by compare-and-swap, so exactly one side acts.
//!
//! A failing UP_PREPARE callback, an enable-method error, or a CPU that does not take its
//! boot ticket in time runs UP_CANCELED for every callback whose UP_PREPARE succeeded, in
//! reverse order, and returns the error; the CPU can be tried again (a late CPU finds its
//! ticket withdrawn and turns itself off; the controller waits for that before returning).
//! A refused DOWN_PREPARE, or a CPU that does not take its death request in time, runs
//! DOWN_FAILED for every callback whose DOWN_PREPARE succeeded, in reverse, as the 2.6
//! notifier chain's CPU_DOWN_FAILED did, and the CPU stays ONLINE and keeps working. One
//! whose death the enable method cannot confirm stays DYING, keeping what it had; bringing
//! it up asks the method again, and once confirmed the DEAD callbacks run first. A method
//! that cannot ask whether a CPU is off at all (PSCI 0.1, without AFFINITY_INFO) waits
//! for the CPU's last call instead and calls the death unconfirmable: the CPU is buried,
//! as Linux buries it, and `off_unconfirmed` says so to `cpus` and `cpu off`. A method
//! that cannot take a CPU down at all refuses before DOWN_PREPARE. Both
//! directions run under the hotplug lock's write side, so `cpus_read_lock` keeps the
//! online set still. Each of these failures can be injected on demand (`smp::fault`).

use core::fmt;
use core::sync::atomic::Ordering;

use arrayvec::ArrayVec;

use super::cpu_ops::{CpuOps, Death, OpsError, mpidr, ops};
use super::cpumask::CpuMask;
use super::hotplug_lock::{HotplugLock, LockState};
use super::state::{self, HotplugState, slot};
use crate::MAX_CPUS;
use crate::arch::stack::CpuStacks;
use crate::arch::{cpu, smp as arch_smp};
use crate::drivers::gic;
use crate::drivers::timer::{self, Deadline};
use crate::mm::region::PhysAddr;

/// How long a booting CPU has to come online, and a dying one to confirm it is off.
pub const BOOT_TIMEOUT_US: u64 = 5_000_000;
pub const DEATH_TIMEOUT_US: u64 = 5_000_000;
/// How long bringing up a CPU whose death went unconfirmed asks the method again.
const RECONFIRM_TIMEOUT_US: u64 = 100_000;

static LOCK: HotplugLock<MAX_CPUS> = HotplugLock::new();

/// How long a controller spins for a booting CPU (a warm bring-up arrives well within it)
/// before it sleeps, and how long it then sleeps between looks if not kicked awake.
const ARRIVAL_SPIN_US: u64 = 100;
const ARRIVAL_POLL_US: u64 = 1_000;

/// Unless `done()`, sleeps until an interrupt (the kick of whoever makes it true) or
/// `max_us` pass. Under emulation a spinning waiter holds a host core the CPU it waits for
/// may need to run at all; on hardware it saves power. Spins where no interrupt could end
/// the sleep.
fn doze_unless(done: impl Fn() -> bool, max_us: u64) {
    if super::private_interrupts().is_empty() {
        core::hint::spin_loop();
        return;
    }
    // Masked, a pending interrupt still ends WFI (it is taken at the restore); a kick
    // taken before the mask is why `done` is asked again here.
    let saved = cpu::irq_save();
    if !done() {
        timer::arm_oneshot_us(max_us);
        cpu::wait_for_interrupt();
        timer::disarm();
    }
    cpu::irq_restore(saved);
}

/// Waits for the lock with interrupts enabled: cross-calls keep being served.
fn relax() {
    debug_assert!(
        !cpu::irqs_masked(),
        "waiting for the hotplug lock with interrupts masked"
    );
    core::hint::spin_loop();
}

/// Keeps CPUs from coming or going until [`cpus_read_unlock`]. Nests.
pub fn cpus_read_lock() {
    LOCK.read_lock(cpu::id(), relax);
}

pub fn cpus_read_unlock() {
    LOCK.read_unlock(cpu::id());
}

/// The write side: held by CPU up and down.
pub fn cpu_hotplug_begin() {
    LOCK.write_lock(cpu::id(), relax);
}

pub fn cpu_hotplug_done() {
    LOCK.write_unlock(cpu::id());
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

/// A subsystem's steps in the state machine; each is optional.
pub struct HotplugCallbacks {
    pub name: &'static str,
    /// Where these run among the registered ones: lower first, going up and going down;
    /// the cancel and failure steps run in reverse (Linux's cpuhp state numbers).
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
    /// The CPU is confirmed dead: reclaim what it had.
    pub dead: Option<fn(usize)>,
}

/// A callback's refusal, with its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackError(pub &'static str);

/// The most subsystems that can register hotplug callbacks.
const MAX_SUBSYSTEMS: usize = 8;

/// The registered callbacks, by `order` (Linux's cpuhp states: the core names none).
static REGISTERED: spin::Mutex<ArrayVec<&'static HotplugCallbacks, MAX_SUBSYSTEMS>> =
    spin::Mutex::new(ArrayVec::new_const());

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
    /// The CPU was started but never came online; `off`: what the enable method has since
    /// said of it (a late CPU turns itself off when it finds its boot cancelled), `None`
    /// if nothing: then it may be stuck outside the kernel.
    BootTimeout {
        cpu: usize,
        off: Option<Death>,
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
            HotplugError::BootTimeout { cpu, off } => write!(
                f,
                "cpu{cpu} did not come online within {} ms ({})",
                BOOT_TIMEOUT_US / 1000,
                match off {
                    Some(Death::Confirmed) => "it is off again",
                    Some(Death::Unconfirmable) =>
                        "it turned itself off, not confirmed: PSCI 0.1 has no AFFINITY_INFO",
                    None => "and is not confirmed off: it may be stuck outside the kernel",
                }
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
/// bring-up): each is prepared (UP_PREPARE) and started, then all are waited for, so their
/// starts overlap; one that fails is rolled back alone. Takes the write side once, and
/// tells `settled` each CPU's outcome, with how long it took from the first start (us),
/// as it is known.
pub fn cpus_up(cpus: CpuMask, mut settled: impl FnMut(usize, Result<(), HotplugError>, u64)) {
    let began = timer::now_ns();
    let mut booting = CpuMask::empty();
    cpu_hotplug_begin();
    for cpu in cpus.iter() {
        match can_come_up(cpu).and_then(|ops| start(cpu, ops)) {
            Ok(()) => booting.insert(cpu),
            Err(e) => settled(cpu, Err(e), 0),
        }
    }
    wait_for_arrivals(booting, |cpu, outcome| {
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

/// UP_PREPARE, then the enable method's start: the CPU runs towards its arrival, its boot
/// ticket requested and its deadline in its slot.
fn start(cpu: usize, ops: &'static dyn CpuOps) -> Result<(), HotplugError> {
    let s = slot(cpu);
    match s.state() {
        HotplugState::Offline => {}
        // A CPU whose death was never confirmed: ask the method again before reusing it.
        HotplugState::Dying if s.dying.load(Ordering::Acquire) => {
            let death = ops
                .confirm_dead(cpu, mpidr(cpu), RECONFIRM_TIMEOUT_US)
                .map_err(|error| HotplugError::Ops { cpu, error })?;
            match death {
                Death::Confirmed => crate::pr_info!("cpu{cpu}: now confirmed off"),
                Death::Unconfirmable => crate::pr_info!("cpu{cpu}: {death}"),
            }
            bury(cpu, death);
        }
        state => return Err(HotplugError::WrongState { cpu, state }),
    }
    s.set_state(HotplugState::UpPrepare);
    for (i, cb) in callbacks().iter().enumerate() {
        if let Some(prepare) = cb.up_prepare
            && let Err(error) = prepare(cpu)
        {
            cancel(cpu, &callbacks()[..i]);
            return Err(HotplugError::Callback {
                name: cb.name,
                error,
            });
        }
    }
    s.set_state(HotplugState::Booting);
    s.dying.store(false, Ordering::Relaxed);
    s.off_unconfirmed.store(false, Ordering::Relaxed);
    s.controller.store(cpu::id(), Ordering::Relaxed);
    let ticket = s.boot.request();
    arch_smp::prepare(cpu, mpidr(cpu), &CpuStacks::of(cpu));
    if let Err(e) = ops.boot(cpu, mpidr(cpu), PhysAddr(arch_smp::entry_point())) {
        // Nothing runs that could take it: withdrawing only closes it.
        s.boot.withdraw(ticket);
        cancel(cpu, &callbacks());
        return Err(HotplugError::Ops { cpu, error: e });
    }
    s.boot_deadline.store(
        Deadline::after_us(BOOT_TIMEOUT_US).ticks(),
        Ordering::Relaxed,
    );
    Ok(())
}

/// Waits until every CPU of `booting` took its ticket (it is online: ONLINE callbacks
/// run) or its deadline withdrew it (rolled back: UP_CANCELED, and the late CPU's own
/// turning off waited for), telling `settled` each outcome. Spins briefly, then sleeps
/// until an arriving CPU's kick.
fn wait_for_arrivals(booting: CpuMask, mut settled: impl FnMut(usize, Result<(), HotplugError>)) {
    let stop_spinning = Deadline::after_us(ARRIVAL_SPIN_US);
    // The ticket `start` requested: only this controller requests, so it is the current.
    let ticket = |cpu: usize| slot(cpu).boot.read().0;
    let mut waiting = booting;
    loop {
        for cpu in waiting.iter() {
            let s = slot(cpu);
            let arrived = s.boot.taken(ticket(cpu));
            // At the deadline the ticket is withdrawn, unless the CPU takes it first
            // (then the withdrawal fails and the next pass finds it taken).
            let deadline = Deadline::at_ticks(s.boot_deadline.load(Ordering::Relaxed));
            let withdrawn = !arrived && deadline.passed() && s.boot.withdraw(ticket(cpu));
            if !arrived && !withdrawn {
                continue;
            }
            waiting.remove(cpu);
            if arrived {
                s.set_state(HotplugState::Online);
                for cb in callbacks() {
                    if let Some(online) = cb.online {
                        online(cpu);
                    }
                }
                settled(cpu, Ok(()));
            } else {
                cancel(cpu, &callbacks());
                // A CPU that is merely late finds its ticket withdrawn and turns itself
                // off; wait for that, so that trying again does not find it still on.
                let off =
                    ops(cpu).and_then(|o| o.confirm_dead(cpu, mpidr(cpu), DEATH_TIMEOUT_US).ok());
                slot(cpu)
                    .off_unconfirmed
                    .store(off == Some(Death::Unconfirmable), Ordering::Relaxed);
                settled(cpu, Err(HotplugError::BootTimeout { cpu, off }));
            }
        }
        if waiting.is_empty() {
            return;
        }
        // Awake as soon as any CPU arrived: its kick may have come before the doze.
        let arrival = || waiting.iter().any(|cpu| slot(cpu).boot.taken(ticket(cpu)));
        if stop_spinning.passed() {
            doze_unless(arrival, ARRIVAL_POLL_US);
        } else {
            core::hint::spin_loop();
        }
    }
}

/// Runs DOWN_FAILED for `prepared`, last first, and leaves `cpu` online.
fn down_failed(cpu: usize, prepared: &[&HotplugCallbacks]) {
    for cb in prepared.iter().rev() {
        if let Some(failed) = cb.down_failed {
            failed(cpu);
        }
    }
    slot(cpu).set_state(HotplugState::Online);
}

/// Runs UP_CANCELED for `prepared`, last first, and leaves `cpu` offline.
fn cancel(cpu: usize, prepared: &[&HotplugCallbacks]) {
    for cb in prepared.iter().rev() {
        if let Some(canceled) = cb.up_canceled {
            canceled(cpu);
        }
    }
    slot(cpu).set_state(HotplugState::Offline);
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

fn take_down(cpu: usize) -> Result<(), HotplugError> {
    let s = slot(cpu);
    match s.state() {
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
    s.set_state(HotplugState::DownPrepare);
    for (i, cb) in callbacks().iter().enumerate() {
        if let Some(prepare) = cb.down_prepare
            && let Err(error) = prepare(cpu)
        {
            down_failed(cpu, &callbacks()[..i]);
            return Err(HotplugError::Callback {
                name: cb.name,
                error,
            });
        }
    }
    s.set_state(HotplugState::Dying);
    let deadline = Deadline::after_us(DEATH_TIMEOUT_US);
    s.death_deadline.store(deadline.ticks(), Ordering::Release);
    let request = s.death.request();
    gic::send_sgi(gic::SGI_KICK, CpuMask::single(cpu));
    // Once the CPU takes the request it leaves; until then the deadline can withdraw it.
    while !s.death.taken(request) {
        if deadline.passed() && s.death.withdraw(request) {
            // It never took it: it is still online and working.
            down_failed(cpu, &callbacks());
            return Err(HotplugError::DyingTimeout(cpu));
        }
        core::hint::spin_loop();
    }
    let dying = Deadline::after_us(DEATH_TIMEOUT_US);
    while !s.dying.load(Ordering::Acquire) && !dying.passed() {
        core::hint::spin_loop();
    }
    let death = match ops.confirm_dead(cpu, mpidr(cpu), DEATH_TIMEOUT_US) {
        Ok(death) => death,
        // Off the online set and past its last instruction of ours, but the method cannot
        // tell whether it is off: it stays DYING, what it had is kept, and bringing it up
        // asks the method again first.
        Err(e) => return Err(HotplugError::Ops { cpu, error: e }),
    };
    if death == Death::Unconfirmable {
        crate::log!(Debug, "cpu{cpu}: {death}; taken as dead");
    }
    bury(cpu, death);
    Ok(())
}

/// The CPU is off, or (`Death::Unconfirmable`) went into its last call, which is all its
/// method can know: DEAD callbacks reclaim what it had, and it is offline.
fn bury(cpu: usize, death: Death) {
    let s = slot(cpu);
    s.off_unconfirmed
        .store(death == Death::Unconfirmable, Ordering::Relaxed);
    s.set_state(HotplugState::Dead);
    for cb in callbacks() {
        if let Some(dead) = cb.dead {
            dead(cpu);
        }
    }
    s.set_state(HotplugState::Offline);
}

/// On a CPU that just started (MMU on, own stack): claim the boot ticket, set up the GIC
/// interface, join the online set. Returns false if the controller gave up on this boot.
pub fn arrive(cpu: usize) -> bool {
    let s = slot(cpu);
    s.ever_started.store(true, Ordering::Release);
    if let Err(e) = gic::init_cpu(cpu, &super::private_interrupts()) {
        crate::pr_err!("cpu{cpu}: interrupt controller: {e}");
        return false;
    }
    let Some(ticket) = s.boot.pending() else {
        return false;
    };
    // Online before the controller can see the ticket taken; out again if it was
    // withdrawn meanwhile (a call queued in between is served on the way out).
    state::ONLINE.insert(cpu);
    if !s.boot.take(ticket) {
        state::ONLINE.remove(cpu);
        return false;
    }
    gic::send_sgi(
        gic::SGI_KICK,
        CpuMask::single(s.controller.load(Ordering::Relaxed)),
    );
    true
}

/// On the dying CPU, interrupts masked: everything but the enable method's last step
/// (which also decides what becomes of the CPU's GIC interface).
pub fn leave(cpu: usize) -> &'static dyn CpuOps {
    state::ONLINE.remove(cpu);
    super::call::run_pending();
    timer::disarm();
    slot(cpu).dying.store(true, Ordering::Release);
    ops(cpu).expect("a CPU that came up has an enable method")
}
