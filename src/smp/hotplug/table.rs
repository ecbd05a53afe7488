//! The table of hotplug steps between OFFLINE and ONLINE (Linux's `cpuhp_hp_states`),
//! what each step does going up and going down and what undoes it, and the walk of one
//! CPU through it: forwards to bring it up, backwards to take it down, each step that
//! fails undone by `smp::steps`, the CPU's state moved along the way by its slot's one
//! transition function.
//!
//! | row, nearest OFFLINE first | up (state) | undone by | down (state) | undone by |
//! |---|---|---|---|---|
//! | each subsystem's prepare row | UP_PREPARE (UP_PREPARE) | UP_CANCELED | DEAD (DEAD) | no way back |
//! | the enable method | start the CPU (BOOTING) | nothing left to undo | confirm it off (DYING) | no way back |
//! | the handshake | it takes its boot ticket (BOOTING) | no way back | it takes its death request (DYING) | no way back |
//! | each subsystem's online row | ONLINE (ONLINE) | no way back | DOWN_PREPARE (DOWN_PREPARE) | DOWN_FAILED |
//!
//! Going up, a step that fails (up to the handshake: nothing after it can) has every step
//! before it undone; going down, a refused DOWN_PREPARE or a death request not taken has
//! the DOWN_PREPAREs before it undone, and a death unconfirmed, past the handshake, undoes
//! nothing: the CPU stays where it stopped.
//!
//! Subsystems' rows are in their registration `order`, so lower orders are prepared first
//! going up and torn down last going down. A walk that ends is in its goal (ONLINE,
//! OFFLINE); one whose steps were all undone is back where it began (UP_CANCELED: OFFLINE;
//! DOWN_FAILED: ONLINE); one that stopped past a step with no way back stays there (a
//! death unconfirmed: DYING), and bringing the CPU up walks the rest of its teardown first.

use arrayvec::ArrayVec;

use super::{
    BOOT_TIMEOUT_US, DEATH_TIMEOUT_US, HotplugCallbacks, HotplugError, MAX_SUBSYSTEMS, NoArrival,
    RECONFIRM_TIMEOUT_US, callbacks,
};
use crate::arch::stack::CpuStacks;
use crate::arch::{cpu, smp as arch_smp};
use crate::drivers::gic;
use crate::drivers::timer::Deadline;
use crate::mm::region::PhysAddr;
use crate::smp::cpu_ops::{CpuOps, Death, mpidr, ops};
use crate::smp::cpumask::CpuMask;
use crate::smp::handshake::Stage;
use crate::smp::state::{HotplugState, slot};
use crate::smp::steps::{self, Walk};
use crate::sync::lockdep;

/// How long a controller spins for a booting CPU (a warm bring-up arrives well within it)
/// before it sleeps, and how long it then sleeps between looks if not kicked awake.
const ARRIVAL_SPIN_US: u64 = 100;
const ARRIVAL_POLL_US: u64 = 1_000;

/// One row of the table of steps between OFFLINE and ONLINE, nearest OFFLINE first
/// (Linux's `cpuhp_hp_states`). Each does one thing going up and one going down, and says
/// what undoes each.
#[derive(Clone, Copy)]
pub(super) enum Row {
    /// A registered subsystem's work before the CPU runs: up, UP_PREPARE, undone by
    /// UP_CANCELED; down, once the CPU is gone, DEAD.
    Prepare(&'static HotplugCallbacks),
    /// The enable method: up, it starts the CPU, its boot ticket requested; down, it
    /// confirms the CPU is off.
    Power,
    /// The handshake: up, the CPU takes its boot ticket and joins the online set; down, it
    /// takes its death request and leaves it. Past it there is no way back.
    Handshake,
    /// A registered subsystem's work while the CPU runs: up, ONLINE; down, DOWN_PREPARE,
    /// undone by DOWN_FAILED.
    Online(&'static HotplugCallbacks),
}

/// Every registered subsystem has a row on each side of the CPU's start.
pub(super) type Table = ArrayVec<Row, { 2 * MAX_SUBSYSTEMS + 2 }>;

/// The table, from the registered callbacks in order. Stable while the caller holds the
/// hotplug lock's write side.
pub(super) fn table() -> Table {
    let registered = callbacks();
    let mut rows = Table::new();
    rows.extend(registered.iter().copied().map(Row::Prepare));
    rows.extend([Row::Power, Row::Handshake]);
    rows.extend(registered.iter().copied().map(Row::Online));
    rows
}

/// Up walks the table forwards, from OFFLINE to ONLINE; down walks it backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

impl Direction {
    /// The states a CPU passes going this way, in order.
    fn path(self) -> &'static [HotplugState] {
        use HotplugState::*;
        match self {
            Direction::Up => &[Offline, UpPrepare, Booting, Online],
            Direction::Down => &[Online, DownPrepare, Dying, Dead, Offline],
        }
    }

    /// The state a walk this way ends in.
    fn goal(self) -> HotplugState {
        self.path()[self.path().len() - 1]
    }

    /// The state a CPU is in while `row` runs this way.
    fn state_during(self, row: Row) -> HotplugState {
        use HotplugState::*;
        match (self, row) {
            (Direction::Up, Row::Prepare(_)) => UpPrepare,
            (Direction::Up, Row::Power | Row::Handshake) => Booting,
            (Direction::Up, Row::Online(_)) => Online,
            (Direction::Down, Row::Online(_)) => DownPrepare,
            (Direction::Down, Row::Handshake | Row::Power) => Dying,
            (Direction::Down, Row::Prepare(_)) => Dead,
        }
    }
}

/// Moves `cpu` along `dir`'s path, one edge at a time, until it is in `to`. A move that is
/// not forwards along the path is one transition, which refuses it unless it is an edge.
fn enter(cpu: usize, dir: Direction, to: HotplugState) {
    let s = slot(cpu);
    let path = dir.path();
    let at = |state| path.iter().position(|&p| p == state);
    loop {
        let now = s.state();
        if now == to {
            return;
        }
        let next = match (at(now), at(to)) {
            (Some(i), Some(j)) if i < j => path[i + 1],
            _ => to,
        };
        s.transition(cpu, next);
    }
}

/// One CPU's walk through the table, one way.
struct CpuWalk<'t> {
    cpu: usize,
    dir: Direction,
    rows: &'t [Row],
    ops: &'static dyn CpuOps,
    /// A teardown taken up again: its death went unconfirmed, and is asked about again
    /// (briefly) before the CPU is reused.
    resumed: bool,
}

impl<'t> CpuWalk<'t> {
    fn new(cpu: usize, dir: Direction, rows: &'t [Row], ops: &'static dyn CpuOps) -> Self {
        Self {
            cpu,
            dir,
            rows,
            ops,
            resumed: false,
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn row(&self, step: usize) -> Row {
        match self.dir {
            Direction::Up => self.rows[step],
            Direction::Down => self.rows[self.rows.len() - 1 - step],
        }
    }

    /// The step at which this walk reaches the row `is` picks.
    fn step_of(&self, is: impl Fn(Row) -> bool) -> usize {
        (0..self.len())
            .find(|&step| is(self.row(step)))
            .expect("the table has its enable method's rows")
    }

    /// Where the CPU stood before `step`: where a walk begun there and undone returns.
    fn state_before(&self, step: usize) -> HotplugState {
        match step {
            0 => self.dir.path()[0],
            _ => self.dir.state_during(self.row(step - 1)),
        }
    }
}

impl Walk for CpuWalk<'_> {
    type Error = HotplugError;

    fn name(&self, step: usize) -> &'static str {
        match (self.dir, self.row(step)) {
            (_, Row::Prepare(cb) | Row::Online(cb)) => cb.name,
            (Direction::Up, Row::Power) => "boot",
            (Direction::Up, Row::Handshake) => "arrival",
            (Direction::Down, Row::Handshake) => "death request",
            (Direction::Down, Row::Power) => "death confirmed",
        }
    }

    fn run(&mut self, step: usize) -> Result<(), HotplugError> {
        let (cpu, row) = (self.cpu, self.row(step));
        enter(cpu, self.dir, self.dir.state_during(row));
        let refused = |name| move |error| HotplugError::Callback { name, error };
        match (self.dir, row) {
            (Direction::Up, Row::Prepare(cb)) => match cb.up_prepare {
                Some(up_prepare) => up_prepare(cpu).map_err(refused(cb.name)),
                None => Ok(()),
            },
            (Direction::Up, Row::Power) => boot(cpu, self.ops),
            (Direction::Up, Row::Handshake) => await_arrival(cpu, self.ops),
            (Direction::Up, Row::Online(cb)) => {
                if let Some(online) = cb.online {
                    online(cpu);
                }
                Ok(())
            }
            (Direction::Down, Row::Online(cb)) => match cb.down_prepare {
                Some(down_prepare) => down_prepare(cpu).map_err(refused(cb.name)),
                None => Ok(()),
            },
            (Direction::Down, Row::Handshake) => request_death(cpu),
            (Direction::Down, Row::Power) => confirm_death(cpu, self.ops, self.resumed),
            (Direction::Down, Row::Prepare(cb)) => {
                if let Some(dead) = cb.dead {
                    dead(cpu);
                }
                Ok(())
            }
        }
    }

    fn undoable(&self, step: usize) -> bool {
        // From the handshake on there is no way back: up, the CPU is online (only a
        // teardown takes it off again); down, it took its death request and is leaving.
        matches!(
            (self.dir, self.row(step)),
            (Direction::Up, Row::Prepare(_) | Row::Power) | (Direction::Down, Row::Online(_))
        )
    }

    fn undo(&mut self, step: usize) {
        let cpu = self.cpu;
        match (self.dir, self.row(step)) {
            (Direction::Up, Row::Prepare(cb)) => {
                if let Some(up_canceled) = cb.up_canceled {
                    up_canceled(cpu);
                }
            }
            (Direction::Down, Row::Online(cb)) => {
                if let Some(down_failed) = cb.down_failed {
                    down_failed(cpu);
                }
            }
            // The start leaves nothing to undo: the step after it that failed withdrew
            // the boot ticket and waited for a late CPU to turn itself off.
            _ => {}
        }
    }
}

/// Runs steps `done..to` of `walk` (steps `start..done` ran already). At the end of the
/// table the CPU is in the walk's goal (ONLINE, OFFLINE); a step that fails has the steps
/// before it undone, last first, and the CPU back where the walk began (UP_CANCELED,
/// DOWN_FAILED), or, where one could not be undone, left where it stopped (DYING).
fn drive(walk: &mut CpuWalk<'_>, start: usize, done: usize, to: usize) -> Result<(), HotplugError> {
    let cpu = walk.cpu;
    match steps::advance(walk, start, done, to) {
        Ok(()) => {
            if to == walk.len() {
                enter(cpu, walk.dir, walk.dir.goal());
            }
            Ok(())
        }
        Err(stopped) => {
            crate::log!(
                Debug,
                "cpu{cpu}: {:?} stopped at step '{}' ({}); {} undone",
                walk.dir,
                walk.name(stopped.failed),
                stopped.error,
                if stopped.kept == start {
                    "every step"
                } else {
                    "not every step"
                }
            );
            let back = walk.state_before(start);
            if stopped.kept == start && slot(cpu).state() != back {
                slot(cpu).transition(cpu, back);
            }
            Err(stopped.error)
        }
    }
}

/// Walks `cpu` up to its handshake: the CPU runs towards its arrival, its boot ticket
/// requested and its deadline in its slot. One whose death went unconfirmed finishes its
/// teardown first, if its method now confirms it (DEAD).
pub(super) fn start_up(
    cpu: usize,
    ops: &'static dyn CpuOps,
    rows: &[Row],
) -> Result<(), HotplugError> {
    let s = slot(cpu);
    match s.state() {
        HotplugState::Offline => {}
        HotplugState::Dying if s.is_dying() => {
            let mut down = CpuWalk::new(cpu, Direction::Down, rows, ops);
            down.resumed = true;
            let confirm = down.step_of(|row| matches!(row, Row::Power));
            let end = down.len();
            drive(&mut down, confirm, confirm, end)?;
        }
        state => return Err(HotplugError::WrongState { cpu, state }),
    }
    let mut up = CpuWalk::new(cpu, Direction::Up, rows, ops);
    let arrival = up.step_of(|row| matches!(row, Row::Handshake));
    drive(&mut up, 0, 0, arrival)
}

/// Walks `cpu`, whose boot ticket is settled, from its handshake on: ONLINE, or rolled
/// back (UP_CANCELED).
pub(super) fn finish_up(cpu: usize, rows: &[Row]) -> Result<(), HotplugError> {
    let ops = ops(cpu).expect("a CPU that was started has an enable method");
    let mut up = CpuWalk::new(cpu, Direction::Up, rows, ops);
    let arrival = up.step_of(|row| matches!(row, Row::Handshake));
    let end = up.len();
    drive(&mut up, 0, arrival, end)
}

/// Walks `cpu` down the whole table: OFFLINE, or back ONLINE (DOWN_FAILED), or DYING if
/// its death goes unconfirmed.
pub(super) fn take_down(
    cpu: usize,
    ops: &'static dyn CpuOps,
    rows: &[Row],
) -> Result<(), HotplugError> {
    let mut down = CpuWalk::new(cpu, Direction::Down, rows, ops);
    let end = down.len();
    drive(&mut down, 0, 0, end)
}

/// Whether `cpu`'s boot ticket is settled: taken, or withdrawn (here, at its deadline,
/// unless the CPU takes it first: then the withdrawal fails and a later look finds it
/// taken).
fn boot_settled(cpu: usize) -> bool {
    let s = slot(cpu);
    match s.boot_ticket() {
        (ticket, Stage::Requested) => {
            Deadline::at_ticks(s.boot_deadline()).passed() && s.withdraw_boot(ticket)
        }
        _ => true,
    }
}

/// Waits until every CPU of `booting` has its boot ticket settled, calling `on_settled`
/// for each as it is. Spins briefly, then sleeps until an arriving CPU's kick.
pub(super) fn wait_for_arrivals(booting: CpuMask, mut on_settled: impl FnMut(usize)) {
    lockdep::wait_for(super::CPU_UP_WAIT, cpu::program_counter());
    let stop_spinning = Deadline::after_us(ARRIVAL_SPIN_US);
    let mut waiting = booting;
    loop {
        for cpu in waiting.iter() {
            if boot_settled(cpu) {
                waiting.remove(cpu);
                on_settled(cpu);
            }
        }
        if waiting.is_empty() {
            return;
        }
        // Awake as soon as any CPU arrived: its kick may have come before the doze.
        let arrival = || {
            waiting
                .iter()
                .any(|cpu| slot(cpu).boot_ticket().1 == Stage::Taken)
        };
        if stop_spinning.passed() {
            crate::smp::doze_unless(arrival, ARRIVAL_POLL_US);
        } else {
            core::hint::spin_loop();
        }
    }
}

/// Up, the enable method's step: open the boot ticket and start the CPU.
fn boot(cpu: usize, ops: &'static dyn CpuOps) -> Result<(), HotplugError> {
    let s = slot(cpu);
    let ticket = s.request_boot(cpu::id());
    arch_smp::prepare(cpu, mpidr(cpu), &CpuStacks::of(cpu));
    if let Err(error) = ops.boot(cpu, mpidr(cpu), PhysAddr(arch_smp::entry_point())) {
        // Nothing runs that could take it: withdrawing only closes it.
        s.withdraw_boot(ticket);
        return Err(HotplugError::Ops { cpu, error });
    }
    s.set_boot_deadline(Deadline::after_us(BOOT_TIMEOUT_US).ticks());
    Ok(())
}

/// Up, the handshake: the CPU took its ticket, or the deadline withdrew it. A CPU that is
/// merely late finds it withdrawn and turns itself off; that is waited for, so that trying
/// again does not find it still on.
fn await_arrival(cpu: usize, ops: &'static dyn CpuOps) -> Result<(), HotplugError> {
    wait_for_arrivals(CpuMask::single(cpu), |_| {});
    if slot(cpu).boot_ticket().1 == Stage::Taken {
        return Ok(());
    }
    let after = match ops.confirm_dead(cpu, mpidr(cpu), DEATH_TIMEOUT_US) {
        Ok(death) => NoArrival::Off(death),
        Err(_) => NoArrival::Stuck(ops.stuck(cpu, mpidr(cpu))),
    };
    slot(cpu).note_off_unconfirmed(after == NoArrival::Off(Death::Unconfirmable));
    Err(HotplugError::BootTimeout { cpu, after })
}

/// Down, the handshake: ask the CPU to die, and wait until it takes the request or the
/// deadline withdraws it (then it is still online and working).
fn request_death(cpu: usize) -> Result<(), HotplugError> {
    let s = slot(cpu);
    let deadline = Deadline::after_us(DEATH_TIMEOUT_US);
    lockdep::wait_for(super::CPU_DOWN_WAIT, cpu::program_counter());
    let request = s.request_death(deadline.ticks());
    gic::send_sgi(gic::SGI_KICK, CpuMask::single(cpu));
    // Once the CPU takes the request it leaves; until then the deadline can withdraw it.
    while !s.death_taken(request) {
        if deadline.passed() && s.withdraw_death(request) {
            return Err(HotplugError::DyingTimeout(cpu));
        }
        core::hint::spin_loop();
    }
    Ok(())
}

/// Down, the enable method's step: the CPU, which took its death request, is off (or,
/// where the method cannot tell, went into its last call: `Death::Unconfirmable`, which
/// is all its method can know, and the CPU is buried as Linux buries it). Unconfirmed,
/// the CPU stays DYING keeping what it had; `resumed`, that was so, and the method is
/// asked again briefly.
fn confirm_death(cpu: usize, ops: &'static dyn CpuOps, resumed: bool) -> Result<(), HotplugError> {
    let s = slot(cpu);
    let dying = Deadline::after_us(DEATH_TIMEOUT_US);
    while !s.is_dying() && !dying.passed() {
        core::hint::spin_loop();
    }
    let timeout_us = if resumed {
        RECONFIRM_TIMEOUT_US
    } else {
        DEATH_TIMEOUT_US
    };
    let death = ops
        .confirm_dead(cpu, mpidr(cpu), timeout_us)
        .map_err(|error| HotplugError::Ops { cpu, error })?;
    match (resumed, death) {
        (true, Death::Confirmed) => crate::pr_info!("cpu{cpu}: now confirmed off"),
        (true, Death::Unconfirmable) => crate::pr_info!("cpu{cpu}: {death}"),
        (false, Death::Unconfirmable) => crate::log!(Debug, "cpu{cpu}: {death}; taken as dead"),
        (false, Death::Confirmed) => {}
    }
    s.note_off_unconfirmed(death == Death::Unconfirmable);
    Ok(())
}
