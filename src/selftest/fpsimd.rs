//! `stress fpsimd`: do exceptions leave the vector registers alone? Every online CPU at
//! once alternates two phases until the time is up: it holds known patterns in all 32
//! vector registers, FPCR and FPSR for 1-3 ms with interrupts enabled (one assembly
//! routine, so nothing but an exception can change them), then checks every one; and it
//! floods the other CPUs with cross-calls whose handlers do what real handlers do: format
//! text with padding and width (`core::fmt`), copy and clear memory. A hold some call's
//! handler ran in counts as interrupted; a run in which no hold was interrupted proved
//! nothing and fails too.

use core::fmt::Write;
use core::hint::black_box;
use core::sync::atomic::{AtomicU64, Ordering};

use arrayvec::ArrayString;

use super::{FailureText, Failures};
use crate::MAX_CPUS;
use crate::arch::cpu::{self, IrqContext};
use crate::arch::fpsimd::{self, FPCR_CONTROL_BITS, VectorFile};
use crate::drivers::timer;
use crate::rng::Rng;
use crate::smp::cpumask::{AtomicCpuMask, CpuMask};
use crate::smp::{call, state, work};

/// How long one hold lasts, at least and at most.
const HOLD_US: (u64, u64) = (1_000, 3_000);
/// Cross-calls a CPU sends each other CPU between two of its holds.
const CALLS_PER_TARGET: usize = 16;

static UNTIL: AtomicU64 = AtomicU64::new(0);
static CPUS: AtomicCpuMask = AtomicCpuMask::new();
static HOLDS: AtomicU64 = AtomicU64::new(0);
static INTERRUPTED_HOLDS: AtomicU64 = AtomicU64::new(0);
static CALLS_SENT: AtomicU64 = AtomicU64::new(0);
static CORRUPTED: AtomicU64 = AtomicU64::new(0);
/// Per CPU: the cross-call handlers it has run.
static SERVED: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static FAILURES: Failures = Failures::new();

/// What the run did, for the RESULT line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub passed: bool,
    pub seconds: u64,
    pub cpus: usize,
    pub holds: u64,
    pub interrupted_holds: u64,
    pub calls: u64,
    pub corrupted: u64,
}

/// A cross-call's work, as handlers do it: text formatted with width, fill and alignment
/// (`Formatter::pad` counts characters), memory copied and cleared.
fn chatter(from: u64, _: IrqContext<'_>) {
    let me = cpu::id();
    let mut text = ArrayString::<160>::new();
    let _ = write!(
        text,
        "{:>10}|{:<8}|{:^12}|{:#018x}|{:>6}",
        "cpu→cpu",
        from,
        "vector ✓",
        timer::ticks(),
        me
    );
    let source = black_box([0x5a_u8; 512]);
    let mut copy = [0_u8; 512];
    copy.copy_from_slice(black_box(&source));
    copy[..text.len()].copy_from_slice(text.as_bytes());
    black_box(&copy);
    SERVED[me].fetch_add(1, Ordering::Relaxed);
}

/// Patterns that tell every register and byte apart, different for each hold.
fn patterns(rng: &mut Rng) -> VectorFile {
    let mut file = VectorFile::zeroed();
    for v in file.v.iter_mut() {
        *v = u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64());
    }
    // Rounding mode and the flush/default-NaN bits; FPSR starts clear and must stay so
    // (nothing in a hold computes).
    file.fpcr = rng.next_u64() & FPCR_CONTROL_BITS;
    file.fpsr = 0;
    file
}

/// One hold on this CPU, checked.
fn hold(rng: &mut Rng) {
    let me = cpu::id();
    let expected = patterns(rng);
    let length = HOLD_US.0 + rng.next_u64() % (HOLD_US.1 - HOLD_US.0);
    let served_before = SERVED[me].load(Ordering::Relaxed);
    let until = timer::ticks() + timer::us_to_ticks(length);
    let seen = fpsimd::hold_vector_registers(&expected, until);
    let served = SERVED[me].load(Ordering::Relaxed) - served_before;
    HOLDS.fetch_add(1, Ordering::Relaxed);
    if served > 0 {
        INTERRUPTED_HOLDS.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(difference) = expected.first_difference(&seen) {
        CORRUPTED.fetch_add(1, Ordering::Relaxed);
        FAILURES.record(format_args!(
            "cpu{me}: {difference} (a {length} us hold that served {served} call(s))"
        ));
    }
}

/// Cross-calls to every other CPU of the run, without waiting for each.
fn flood() {
    let me = cpu::id();
    let targets = CPUS.get().without(me);
    for _ in 0..CALLS_PER_TARGET {
        for target in targets.iter() {
            match call::smp_call_function_single(target, chatter, me as u64, false) {
                Ok(()) => {
                    CALLS_SENT.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => FAILURES.record(format_args!("cpu{me}: a call to cpu{target}: {e}")),
            }
        }
    }
}

/// Every participant's loop, until the time is up.
fn participate(seed: u64) {
    let mut rng = Rng::new(seed);
    while timer::ticks() < UNTIL.load(Ordering::Acquire) {
        hold(&mut rng);
        flood();
    }
}

/// Runs the torture on every online CPU for `seconds`; `Err` if it cannot start.
pub fn run(seconds: u64) -> Result<(Report, Option<FailureText>), &'static str> {
    let me = cpu::id();
    let cpus = state::online();
    let others = cpus.without(me);
    if others.is_empty() {
        return Err("needs at least 2 online CPUs (one to hold, one to interrupt it)");
    }
    for counter in [&HOLDS, &INTERRUPTED_HOLDS, &CALLS_SENT, &CORRUPTED] {
        counter.store(0, Ordering::Relaxed);
    }
    FAILURES.clear();
    CPUS.set(cpus);
    UNTIL.store(
        timer::ticks() + timer::us_to_ticks(seconds * 1_000_000),
        Ordering::Release,
    );
    crate::println!(
        "stress fpsimd: {seconds} s on cpu {cpus}: each holds patterns in v0-v31, FPCR and \
         FPSR while the others send it cross-calls"
    );
    let mut started = CpuMask::empty();
    for cpu in others.iter() {
        match work::start_on(cpu, participate, timer::ticks() ^ cpu as u64) {
            Ok(()) => started.insert(cpu),
            Err(e) => FAILURES.record(format_args!("cannot start on cpu{cpu}: {e}")),
        }
    }
    participate(timer::ticks() ^ me as u64);
    super::wind_down(started, CpuMask::empty(), |args| FAILURES.record(args));
    let report = Report {
        passed: false,
        seconds,
        cpus: cpus.len(),
        holds: HOLDS.load(Ordering::Relaxed),
        interrupted_holds: INTERRUPTED_HOLDS.load(Ordering::Relaxed),
        calls: CALLS_SENT.load(Ordering::Relaxed),
        corrupted: CORRUPTED.load(Ordering::Relaxed),
    };
    if report.interrupted_holds == 0 {
        FAILURES.record(format_args!(
            "no hold was interrupted by a call: the run proved nothing"
        ));
    }
    let passed = FAILURES.count() == 0;
    Ok((Report { passed, ..report }, FAILURES.first()))
}
