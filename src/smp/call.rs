//! Cross-CPU function calls, delivered by SGI: `smp_call_function_single` and
//! `on_each_cpu`.
//!
//! Every (target, caller) pair has one mailbox; a caller writes the function and argument
//! into its mailbox on each target, marks it pending there, and sends the call SGI. The
//! mailboxes, possible CPUs squared of them, are allocated when the possible CPUs are
//! known ([`init`]): 16 at 4 CPUs, 262,144 at 512 (Linux's per-CPU `call_function_data`
//! has a `call_single_data` for every CPU too). The
//! target's interrupt handler runs every pending call and stamps each mailbox with the
//! call's number, which is what a waiting caller watches. A caller that gives up on a call
//! nobody has started takes it back, so a late target can never run it; a call already
//! running is waited for.
//!
//! Callers wait with interrupts enabled, so two CPUs calling each other both get served.

use core::fmt;
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use super::cpumask::{AtomicCpuMask, CpuMask};
use super::state;
use crate::arch::cpu::{self, IrqContext};
use crate::drivers::gic;
use crate::drivers::timer::Deadline;
use crate::sync::lockdep::{self, DoingWork};
use crate::sync::lockup::Watch;
use crate::sync::{AtomicFn, LockClass, SpinLock};

/// How long a caller waits for a target to pick a call up.
pub const TIMEOUT_US: u64 = 5_000_000;

/// A caller's wait for its call's handlers, as the lock validator knows it: the handlers'
/// locks are ordered after whatever the caller holds while it waits.
static CALL_WAIT: &LockClass = crate::wait_class!("cross-call wait");

/// A function run on another CPU, in interrupt context (interrupts masked, which the token
/// it is given proves): short, no locks that a caller might hold while waiting, no waiting
/// for other CPUs.
pub type CallFn = fn(u64, IrqContext<'_>);

const FREE: u8 = 0;
const QUEUED: u8 = 1;
const RUNNING: u8 = 2;

/// One (target, caller) pair's mailbox: its entries in the tables' columns.
struct Mailbox<'t> {
    state: &'t AtomicU8,
    /// The function. The state protocol gives caller and target turns (the state's
    /// Release and Acquire order it).
    function: &'t AtomicFn,
    /// Its argument, written and read in the same turns as `number`.
    argument: &'t AtomicU64,
    /// The number of the call in the mailbox.
    number: &'t AtomicU64,
    /// The number of the last call that finished.
    done: &'t AtomicU64,
}

/// The tables of the calls, for `cpus` possible CPUs.
///
/// The mailboxes are kept as columns, one table per field, each `[target * cpus +
/// caller]`, because each column's entries are values the compiler writes in place
/// (zeroes, or a 16-byte lock): a 48-byte mailbox would be built on the stack and copied
/// into each of 262,144 entries at 512 CPUs, most of the boot CPU's work in bringing the
/// others up.
struct Tables {
    cpus: usize,
    states: &'static [AtomicU8],
    functions: &'static [AtomicFn],
    arguments: &'static [AtomicU64],
    numbers: &'static [AtomicU64],
    done: &'static [AtomicU64],
    /// Per target: the callers with a queued call.
    pending: &'static [AtomicCpuMask],
    /// Per caller: the number of its last call.
    last_call: &'static [AtomicU64],
}

impl Tables {
    fn mailbox(&self, target: usize, caller: usize) -> Mailbox<'_> {
        let at = target * self.cpus + caller;
        Mailbox {
            state: &self.states[at],
            function: &self.functions[at],
            argument: &self.arguments[at],
            number: &self.numbers[at],
            done: &self.done[at],
        }
    }
}

static TABLES: spin::Once<Tables> = spin::Once::new();

fn tables() -> &'static Tables {
    TABLES
        .get()
        .expect("a cross-call before smp::call::init sized its tables")
}

/// Why the call tables could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoMemory {
    pub bytes: usize,
}

/// Makes the tables for `cpus` possible CPUs (once, at boot, before the first call).
pub fn init(cpus: usize) -> Result<(), NoMemory> {
    fn table<T>(entries: usize, make: impl FnMut(usize) -> T) -> Result<&'static [T], NoMemory> {
        crate::mm::table::leak(entries, make).ok_or(NoMemory {
            bytes: entries * size_of::<T>(),
        })
    }
    let pairs = cpus * cpus;
    let tables = Tables {
        cpus,
        states: table(pairs, |_| AtomicU8::new(FREE))?,
        functions: table(pairs, |_| AtomicFn::none())?,
        arguments: table(pairs, |_| AtomicU64::new(0))?,
        numbers: table(pairs, |_| AtomicU64::new(0))?,
        done: table(pairs, |_| AtomicU64::new(0))?,
        pending: table(cpus, |_| AtomicCpuMask::new())?,
        last_call: table(cpus, |_| AtomicU64::new(0))?,
    };
    TABLES.call_once(|| tables);
    Ok(())
}
/// Targets that did not answer a call in time, since boot.
static TIMEOUTS: AtomicU64 = AtomicU64::new(0);

/// How many times a target did not answer a call in time, since boot (what `stress all`
/// counts as failures: an online CPU must always answer).
pub fn timeouts() -> u64 {
    TIMEOUTS.load(Ordering::Relaxed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// These targets are not online.
    Offline(CpuMask),
    /// These targets did not pick the call up in time; it was taken back.
    Timeout(CpuMask),
    /// Waiting was asked for with interrupts masked, which could deadlock.
    InterruptsMasked,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Offline(m) => write!(f, "cpu {m} offline"),
            CallError::Timeout(m) => {
                write!(f, "cpu {m} did not answer within {} ms", TIMEOUT_US / 1000)
            }
            CallError::InterruptsMasked => {
                write!(f, "cannot wait for a call with interrupts masked")
            }
        }
    }
}

/// Runs `func(arg)` on `cpu`; with `wait`, returns once it has run.
pub fn smp_call_function_single(
    cpu: usize,
    func: CallFn,
    arg: u64,
    wait: bool,
) -> Result<(), CallError> {
    on_each_cpu(CpuMask::single(cpu), func, arg, wait)
}

/// Runs `func(arg)` on every CPU in `targets` (this one included if listed, run here
/// directly); with `wait`, returns once every target has run it.
pub fn on_each_cpu(targets: CpuMask, func: CallFn, arg: u64, wait: bool) -> Result<(), CallError> {
    let me = cpu::id();
    if wait && cpu::irqs_masked() {
        return Err(CallError::InterruptsMasked);
    }
    let offline = targets.minus(state::online());
    if !offline.is_empty() {
        return Err(CallError::Offline(offline));
    }
    let remote = targets.without(me);
    if wait {
        lockdep::wait_for(CALL_WAIT, cpu::program_counter());
    }
    let t = tables();
    let number = t.last_call[me].fetch_add(1, Ordering::Relaxed) + 1;
    let mut failed = CpuMask::empty();
    for target in remote.iter() {
        let mailbox = t.mailbox(target, me);
        // An earlier call without wait may still sit here: let the target take it first.
        let deadline = Deadline::after_us(TIMEOUT_US);
        while mailbox.state.load(Ordering::Acquire) != FREE {
            if deadline.passed() {
                failed.insert(target);
                break;
            }
            core::hint::spin_loop();
        }
        if failed.contains(target) {
            continue;
        }
        mailbox.function.store(func, Ordering::Relaxed);
        mailbox.argument.store(arg, Ordering::Relaxed);
        mailbox.number.store(number, Ordering::Relaxed);
        mailbox.state.store(QUEUED, Ordering::Release);
        t.pending[target].insert(me);
    }
    let sent = remote.minus(failed);
    gic::send_sgi(gic::SGI_CALL, sent);
    if targets.contains(me) {
        let masked = cpu::mask_irqs();
        let _caller_waits = DoingWork::begin(CALL_WAIT);
        func(arg, masked.context());
    }
    if wait {
        for target in sent.iter() {
            if !wait_for(target, me, number) {
                failed.insert(target);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        TIMEOUTS.fetch_add(failed.len() as u64, Ordering::Relaxed);
        Err(CallError::Timeout(failed))
    }
}

/// Waits for call `number` from `me` to finish on `target`; false if it was never started
/// in time (and is now taken back).
fn wait_for(target: usize, me: usize, number: u64) -> bool {
    let t = tables();
    let mailbox = t.mailbox(target, me);
    let deadline = Deadline::after_us(TIMEOUT_US);
    let mut overdue: Watch = Watch::new();
    loop {
        if mailbox.done.load(Ordering::Acquire) >= number {
            return true;
        }
        if deadline.passed() {
            if mailbox
                .state
                .compare_exchange(QUEUED, FREE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                t.pending[target].remove(me);
                return false;
            }
            // Running there past the bound: it cannot be taken back, only waited for.
            overdue.overdue(TIMEOUT_US / 1000, |out| {
                writeln!(
                    out,
                    "for cpu{target} to finish cross-call {number}, still running there"
                )
            });
        }
        core::hint::spin_loop();
    }
}

/// The CPUs that answered the last census.
static ANSWERED: AtomicCpuMask = AtomicCpuMask::new();
/// One census at a time.
static CENSUS: SpinLock<()> = SpinLock::new(crate::lock_class!("census"), ());

fn answer(_: u64, _: IrqContext<'_>) {
    ANSWERED.insert(cpu::id());
}

/// Calls every online CPU, this one included, and returns who answered next to who was
/// online: the two must be equal. Holds the hotplug lock's read side, so the online set
/// cannot change under it. A check of the delivery path, used by the shell's `hotplug`.
pub fn census() -> Result<(CpuMask, CpuMask), CallError> {
    super::hotplug::cpus_read_lock();
    let result = {
        let _one = CENSUS.lock();
        ANSWERED.set(CpuMask::empty());
        let online = state::online();
        on_each_cpu(online, answer, 0, true).map(|()| (ANSWERED.get(), online))
    };
    super::hotplug::cpus_read_unlock();
    result
}

/// Runs every call queued to this CPU, interrupts masked (`irqs`). From the call SGI's
/// handler, and from a dying CPU so calls queued before it left the online set are still
/// served.
pub fn run_pending(irqs: IrqContext<'_>) {
    let me = cpu::id();
    let t = tables();
    for caller in t.pending[me].take().iter() {
        let mailbox = t.mailbox(me, caller);
        if mailbox
            .state
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue; // taken back by a caller that gave up
        }
        let number = mailbox.number.load(Ordering::Relaxed);
        let argument = mailbox.argument.load(Ordering::Relaxed);
        let function = mailbox.function.take(Ordering::Relaxed);
        if let Some(function) = function {
            let _caller_waits = DoingWork::begin(CALL_WAIT);
            function(argument, irqs);
        }
        mailbox.done.store(number, Ordering::Release);
        mailbox.state.store(FREE, Ordering::Release);
    }
}
