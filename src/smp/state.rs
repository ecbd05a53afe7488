//! Who the CPUs are and where each stands: the possible, present and online sets, and one
//! slot per logical CPU holding its hotplug state and the protocol between the CPU and
//! its controller. The state machine's edges are one table here ([`EDGES`]), and the one
//! function that moves a state ([`CpuSlot::transition`]) refuses anything else.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use num_enum::TryFromPrimitive;

use super::cpumask::{AtomicCpuMask, CpuMask};
use super::handshake::{Handshake, Request, Stage};
use super::percpu::{NoMemory, PerCpu};

/// Where a CPU is in the hotplug state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, TryFromPrimitive)]
#[repr(u8)]
pub enum HotplugState {
    Offline = 0,
    UpPrepare,
    Booting,
    Online,
    DownPrepare,
    Dying,
    Dead,
}

impl HotplugState {
    pub const ALL: [HotplugState; 7] = [
        HotplugState::Offline,
        HotplugState::UpPrepare,
        HotplugState::Booting,
        HotplugState::Online,
        HotplugState::DownPrepare,
        HotplugState::Dying,
        HotplugState::Dead,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HotplugState::Offline => "offline",
            HotplugState::UpPrepare => "up-prepare",
            HotplugState::Booting => "booting",
            HotplugState::Online => "online",
            HotplugState::DownPrepare => "down-prepare",
            HotplugState::Dying => "dying",
            HotplugState::Dead => "dead",
        }
    }
}

impl fmt::Display for HotplugState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The edges of the hotplug state machine, each with what takes it: every change of a
/// CPU's state is one of these, and [`CpuSlot::transition`] refuses any other.
pub const EDGES: [(HotplugState, HotplugState, &str); 11] = {
    use HotplugState::*;
    [
        (
            Offline,
            UpPrepare,
            "bring-up begins: the UP_PREPARE steps run",
        ),
        (
            UpPrepare,
            Booting,
            "every UP_PREPARE step succeeded: the enable method starts it",
        ),
        (
            Booting,
            Online,
            "it took its boot ticket: the ONLINE steps run",
        ),
        (
            Online,
            DownPrepare,
            "teardown begins: the DOWN_PREPARE steps run",
        ),
        (
            DownPrepare,
            Dying,
            "every DOWN_PREPARE step agreed: its death is requested",
        ),
        (
            Dying,
            Dead,
            "its death is confirmed (or, PSCI 0.1, taken on its word): the DEAD steps run",
        ),
        (Dead, Offline, "the DEAD steps ran"),
        (
            UpPrepare,
            Offline,
            "UP_CANCELED: an UP_PREPARE step refused",
        ),
        (
            Booting,
            Offline,
            "UP_CANCELED: the enable method failed, or it did not arrive in time",
        ),
        (
            DownPrepare,
            Online,
            "DOWN_FAILED: a DOWN_PREPARE step refused",
        ),
        (
            Dying,
            Online,
            "DOWN_FAILED: its death request was withdrawn at the deadline",
        ),
    ]
};

/// What takes a CPU from `from` to `to`, or `None` if that is no edge of the state machine.
pub fn edge(from: HotplugState, to: HotplugState) -> Option<&'static str> {
    EDGES
        .iter()
        .find(|&&(f, t, _)| (f, t) == (from, to))
        .map(|&(_, _, why)| why)
}

/// A move of `cpu`'s state that is no edge of the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IllegalEdge {
    pub cpu: usize,
    pub from: HotplugState,
    pub to: HotplugState,
}

impl fmt::Display for IllegalEdge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cpu{}: hotplug state {} -> {} is no edge of the state machine",
            self.cpu, self.from, self.to
        )
    }
}

/// Whether `cpu` may go from `from` to `to`.
pub fn check_edge(cpu: usize, from: HotplugState, to: HotplugState) -> Result<(), IllegalEdge> {
    match edge(from, to) {
        Some(_) => Ok(()),
        None => Err(IllegalEdge { cpu, from, to }),
    }
}

/// One CPU's hotplug bookkeeping, and the protocol between the CPU and whoever controls
/// it: the controller moves its state (only along [`EDGES`]) and makes its requests; the
/// CPU answers them and says how far it got. Outside `smp` it can only be read.
///
/// The controller is the CPU holding the hotplug lock's write side, so one at a time
/// moves a CPU's state; everything the CPU itself and the controller both touch is an
/// atomic, or one of the two handshakes, which exactly one side settles.
pub struct CpuSlot {
    state: AtomicU8,
    /// The boot ticket: the controller requests a boot, the arriving CPU takes it when it
    /// is ready to go online; a controller that gave up withdraws it first, and a CPU
    /// arriving late finds it withdrawn and turns itself off again.
    boot: Handshake,
    /// The death request: the controller requests it, the CPU takes it from its idle loop
    /// and dies; a controller that gave up withdraws it first, and the CPU stays online.
    death: Handshake,
    /// When the controller gives up on the boot ticket (counter ticks).
    boot_deadline: AtomicU64,
    /// When the controller gives up on the death request (counter ticks).
    death_deadline: AtomicU64,
    /// Set by the dying CPU once it is off the online set with interrupts masked: only the
    /// enable method's last step is left (PSCI: the GIC interface off, then CPU_OFF;
    /// spin-table: the park, with one SGI left enabled to release it).
    dying: AtomicBool,
    /// A spin-table CPU waiting in its park loop.
    parked: AtomicBool,
    /// Set by the controller to release a parked CPU.
    release: AtomicBool,
    /// Set once the CPU has run kernel code (spin-table: it left the firmware's pen).
    ever_started: AtomicBool,
    /// Its last death could not be confirmed (the method cannot ask, PSCI 0.1): it is
    /// offline as far as the kernel can know. Cleared when it is started again.
    off_unconfirmed: AtomicBool,
    /// The CPU running this one's bring-up, which the arriving CPU wakes.
    controller: AtomicUsize,
}

impl Default for CpuSlot {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuSlot {
    pub const fn new() -> Self {
        Self {
            state: AtomicU8::new(HotplugState::Offline as u8),
            boot: Handshake::new(),
            death: Handshake::new(),
            boot_deadline: AtomicU64::new(0),
            death_deadline: AtomicU64::new(0),
            dying: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            release: AtomicBool::new(false),
            ever_started: AtomicBool::new(false),
            off_unconfirmed: AtomicBool::new(false),
            controller: AtomicUsize::new(0),
        }
    }

    /// Where the CPU stands. A value that names no state is memory corruption.
    pub fn state(&self) -> HotplugState {
        let v = self.state.load(Ordering::Acquire);
        HotplugState::try_from(v).unwrap_or_else(|bad| {
            panic!(
                "a CPU's hotplug state reads {}, which is no state",
                bad.number
            )
        })
    }

    /// Whether it waits in the spin table's park loop (offline, not powered down).
    pub fn parked(&self) -> bool {
        self.parked.load(Ordering::Acquire)
    }

    /// Whether its last death was taken on its own word: its method cannot confirm it.
    pub fn off_unconfirmed(&self) -> bool {
        self.off_unconfirmed.load(Ordering::Relaxed)
    }
}

// The protocol's moves, for `smp` alone (only its kernel half makes most of them).
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
impl CpuSlot {
    // The controller's side.

    /// Moves `cpu` (this slot's CPU, named in the report) to `to`. Anything but an edge
    /// of [`EDGES`] is a broken invariant: the code driving the state machine lost its way.
    pub(in crate::smp) fn transition(&self, cpu: usize, to: HotplugState) {
        let from = self.state();
        if let Err(illegal) = check_edge(cpu, from, to) {
            panic!("{illegal}");
        }
        // Only the controller moves a state; another mover is a broken invariant too.
        if let Err(now) =
            self.state
                .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
        {
            panic!(
                "cpu{cpu}: hotplug state {from} -> {to}: it changed under us (to {})",
                HotplugState::try_from(now).map_or("no state", |s| s.name())
            );
        }
    }

    /// The boot CPU is online from the start (Linux's `boot_cpu_hotplug_init`): not an
    /// edge, where its life begins. Only a slot that never ran anything can begin so.
    pub(in crate::smp) fn begin_online(&self, cpu: usize) {
        let state = self.state();
        assert!(
            state == HotplugState::Offline && !self.ever_started.load(Ordering::Acquire),
            "cpu{cpu}: only a CPU that never ran can begin online (it is {state})"
        );
        self.ever_started.store(true, Ordering::Release);
        self.state
            .store(HotplugState::Online as u8, Ordering::Release);
    }

    /// Opens a new life: not dying, no death unconfirmed, `controller` to be woken on
    /// arrival, and the boot ticket requested (published last, with all of that).
    pub(in crate::smp) fn request_boot(&self, controller: usize) -> Request {
        self.dying.store(false, Ordering::Relaxed);
        self.off_unconfirmed.store(false, Ordering::Relaxed);
        self.controller.store(controller, Ordering::Relaxed);
        self.boot.request()
    }

    /// When the controller gives up on the current boot ticket (counter ticks).
    pub(in crate::smp) fn set_boot_deadline(&self, ticks: u64) {
        self.boot_deadline.store(ticks, Ordering::Relaxed);
    }

    pub(in crate::smp) fn boot_deadline(&self) -> u64 {
        self.boot_deadline.load(Ordering::Relaxed)
    }

    /// The current boot ticket and where it stands.
    pub(in crate::smp) fn boot_ticket(&self) -> (Request, Stage) {
        self.boot.read()
    }

    /// Gives up on boot `ticket`, unless the CPU took it first (false).
    pub(in crate::smp) fn withdraw_boot(&self, ticket: Request) -> bool {
        self.boot.withdraw(ticket)
    }

    /// Asks the CPU to die, giving up at `deadline_ticks` (published with the request).
    pub(in crate::smp) fn request_death(&self, deadline_ticks: u64) -> Request {
        self.death_deadline.store(deadline_ticks, Ordering::Release);
        self.death.request()
    }

    /// Whether the CPU took death `request`: it is leaving.
    pub(in crate::smp) fn death_taken(&self, request: Request) -> bool {
        self.death.taken(request)
    }

    /// Gives up on death `request`, unless the CPU took it first (false).
    pub(in crate::smp) fn withdraw_death(&self, request: Request) -> bool {
        self.death.withdraw(request)
    }

    /// Whether the CPU said it is past the online set, interrupts masked, with only the
    /// enable method's last step left.
    pub(in crate::smp) fn is_dying(&self) -> bool {
        self.dying.load(Ordering::Acquire)
    }

    /// Records whether its death (or its turning off after a boot given up on) was taken
    /// on its own word, for `cpus` and `cpu off` to say.
    pub(in crate::smp) fn note_off_unconfirmed(&self, unconfirmed: bool) {
        self.off_unconfirmed.store(unconfirmed, Ordering::Relaxed);
    }

    /// Releases a parked CPU (spin-table); it is woken separately.
    pub(in crate::smp) fn release(&self) {
        self.release.store(true, Ordering::Release);
    }

    /// Whether it has run kernel code before (a spin-table CPU is then parked, not in
    /// the firmware's pen).
    pub(in crate::smp) fn ever_started(&self) -> bool {
        self.ever_started.load(Ordering::Acquire)
    }

    // The CPU's own side.

    /// The CPU runs kernel code.
    pub(in crate::smp) fn confirm_started(&self) {
        self.ever_started.store(true, Ordering::Release);
    }

    /// The boot ticket it is to answer, if one is open.
    pub(in crate::smp) fn pending_boot(&self) -> Option<Request> {
        self.boot.pending()
    }

    /// Takes boot `ticket`, unless the controller withdrew it first (false).
    pub(in crate::smp) fn take_boot(&self, ticket: Request) -> bool {
        self.boot.take(ticket)
    }

    /// The CPU waiting for this one to arrive.
    pub(in crate::smp) fn controller(&self) -> usize {
        self.controller.load(Ordering::Relaxed)
    }

    /// The death request it is to answer, if one is open.
    pub(in crate::smp) fn pending_death(&self) -> Option<Request> {
        self.death.pending()
    }

    /// When the controller gives up on the current death request (counter ticks).
    pub(in crate::smp) fn death_deadline(&self) -> u64 {
        self.death_deadline.load(Ordering::Acquire)
    }

    /// Takes death `request`, unless the controller withdrew it first (false).
    pub(in crate::smp) fn take_death(&self, request: Request) -> bool {
        self.death.take(request)
    }

    /// The CPU is off the online set, interrupts masked: only its method's end is left.
    pub(in crate::smp) fn mark_dying(&self) {
        self.dying.store(true, Ordering::Release);
    }

    /// The CPU waits in its park loop (spin-table).
    pub(in crate::smp) fn park(&self) {
        self.parked.store(true, Ordering::Release);
    }

    /// The parked CPU takes its release, if it was given one (true).
    pub(in crate::smp) fn take_release(&self) -> bool {
        self.release.swap(false, Ordering::AcqRel)
    }

    /// The CPU leaves its park loop.
    pub(in crate::smp) fn unpark(&self) {
        self.parked.store(false, Ordering::Release);
    }
}

/// Why a possible CPU is not present: what keeps it from ever coming online.
#[derive(Clone, Copy, Debug, PartialEq, Eq, TryFromPrimitive)]
#[repr(u8)]
pub enum Absence {
    /// The device tree gives it no `enable-method`.
    NoEnableMethod = 1,
    /// `psci`, but the tree has no `/psci` node the kernel can call.
    PsciWithoutNode,
    /// `psci`, but the tree's PSCI is 0.1 and numbers no CPU_ON.
    PsciWithoutCpuOn,
    /// `spin-table` without a release address the kernel can write.
    SpinTableWithoutAddress,
    /// An enable method this kernel does not implement.
    UnknownMethod,
    /// No interrupt controller the kernel drives: it could be started but never called.
    NoInterruptController,
    /// No memory for what calling it needs (the cross-calls' mailboxes).
    NoMemory,
    /// The GICv3 has no redistributor of its affinity.
    NoRedistributor,
    /// Its Aff0 is 16 or more and the GIC has no range selectors: no SGI can reach it.
    NoRangeSelector,
}

impl Absence {
    /// The reason as one word, for output that programs read.
    pub fn name(self) -> &'static str {
        match self {
            Absence::NoEnableMethod => "no-enable-method",
            Absence::PsciWithoutNode => "psci-without-node",
            Absence::PsciWithoutCpuOn => "psci-0.1-without-cpu-on",
            Absence::SpinTableWithoutAddress => "spin-table-without-address",
            Absence::UnknownMethod => "unknown-method",
            Absence::NoInterruptController => "no-interrupt-controller",
            Absence::NoMemory => "no-memory",
            Absence::NoRedistributor => "no-redistributor",
            Absence::NoRangeSelector => "no-range-selector",
        }
    }
}

impl fmt::Display for Absence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Absence::NoEnableMethod => "the device tree gives it no enable-method",
            Absence::PsciWithoutNode => "enable-method psci, but no /psci node the kernel can call",
            Absence::PsciWithoutCpuOn => {
                "enable-method psci, but /psci is PSCI 0.1 without a cpu_on function number"
            }
            Absence::SpinTableWithoutAddress => {
                "enable-method spin-table without a usable cpu-release-addr"
            }
            Absence::UnknownMethod => "an enable-method this kernel does not drive",
            Absence::NoInterruptController => {
                "no interrupt controller this kernel drives (GICv2 or GICv3): it could not be \
                 called"
            }
            Absence::NoMemory => "no memory for the cross-call mailboxes it would need",
            Absence::NoRedistributor => {
                "the interrupt controller has no redistributor of its affinity: it could not be \
                 called"
            }
            Absence::NoRangeSelector => {
                "its Aff0 is 16 or more and the interrupt controller has no range selectors: no \
                 SGI can reach it"
            }
        })
    }
}

/// Per CPU: 0, or the [`Absence`] that keeps it from being present.
static ABSENCE: PerCpu<AtomicU8> = PerCpu::new("absence reasons", |_| AtomicU8::new(0));

/// Makes each possible CPU's slot and absence reason (once, at boot, as soon as the
/// possible CPUs are known).
pub fn init(possible: usize) -> Result<(), NoMemory> {
    SLOTS.init(possible)?;
    ABSENCE.init(possible)
}

/// Records why `cpu` is not present (`None`: it is).
pub fn set_absence(cpu: usize, why: Option<Absence>) {
    ABSENCE[cpu].store(why.map_or(0, |a| a as u8), Ordering::Release);
}

/// Why `cpu` is not present, if it is not.
pub fn absence(cpu: usize) -> Option<Absence> {
    ABSENCE
        .get(cpu)
        .and_then(|a| Absence::try_from(a.load(Ordering::Acquire)).ok())
}

/// Each possible CPU's slot, made at boot ([`init`]).
static SLOTS: PerCpu<CpuSlot> = PerCpu::new("hotplug slots", |_| CpuSlot::new());

/// CPUs the kernel manages (device-tree CPUs within the limits).
pub static POSSIBLE: AtomicCpuMask = AtomicCpuMask::new();
/// Possible CPUs with an enable method this kernel can use (and the boot CPU).
pub static PRESENT: AtomicCpuMask = AtomicCpuMask::new();
/// CPUs taking interrupts and cross-calls.
pub static ONLINE: AtomicCpuMask = AtomicCpuMask::new();

pub fn slot(cpu: usize) -> &'static CpuSlot {
    &SLOTS[cpu]
}

pub fn online() -> CpuMask {
    ONLINE.get()
}

pub fn possible() -> CpuMask {
    POSSIBLE.get()
}

pub fn present() -> CpuMask {
    PRESENT.get()
}

#[cfg(test)]
mod tests {
    use super::*;
    use HotplugState::*;

    /// A slot that stands in `state`, however it got there.
    fn at(state: HotplugState) -> CpuSlot {
        let slot = CpuSlot::new();
        slot.state.store(state as u8, Ordering::Relaxed);
        slot
    }

    fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    }

    #[test]
    fn the_edges_are_the_state_machine() {
        let edges: Vec<(HotplugState, HotplugState)> =
            EDGES.iter().map(|&(from, to, _)| (from, to)).collect();
        assert_eq!(
            edges,
            [
                // Up and down, as docs/hotplug.md draws them.
                (Offline, UpPrepare),
                (UpPrepare, Booting),
                (Booting, Online),
                (Online, DownPrepare),
                (DownPrepare, Dying),
                (Dying, Dead),
                (Dead, Offline),
                // UP_CANCELED and DOWN_FAILED.
                (UpPrepare, Offline),
                (Booting, Offline),
                (DownPrepare, Online),
                (Dying, Online),
            ]
        );
    }

    #[test]
    fn every_edge_moves_and_nothing_else_does() {
        let mut refused = 0;
        for from in HotplugState::ALL {
            for to in HotplugState::ALL {
                let legal = EDGES.iter().any(|&(f, t, _)| (f, t) == (from, to));
                assert_eq!(check_edge(7, from, to).is_ok(), legal, "{from} -> {to}");
                if legal {
                    let slot = at(from);
                    slot.transition(7, to);
                    assert_eq!(slot.state(), to);
                } else {
                    refused += 1;
                    assert_eq!(
                        check_edge(7, from, to).unwrap_err().to_string(),
                        format!(
                            "cpu7: hotplug state {from} -> {to} is no edge of the state machine"
                        )
                    );
                }
            }
        }
        // 49 pairs, 11 edges: staying put is no edge either (DYING kept is no move).
        assert_eq!(refused, 38);
    }

    #[test]
    fn a_refused_edge_panics_naming_the_cpu_and_both_states() {
        for (from, to) in [
            (Offline, Online),
            (Online, Booting),
            (Dying, Dying),
            (Dead, Online),
        ] {
            let slot = at(from);
            let panic = std::panic::catch_unwind(|| slot.transition(5, to))
                .expect_err("an illegal edge is taken");
            assert_eq!(
                panic_text(panic),
                format!("cpu5: hotplug state {from} -> {to} is no edge of the state machine")
            );
            assert_eq!(slot.state(), from, "a refused edge leaves the state alone");
        }
    }

    #[test]
    fn no_state_is_a_trap() {
        // From every state some path of edges leads back to OFFLINE and to ONLINE.
        let reaches = |from: HotplugState, goal: HotplugState| {
            let mut seen = vec![from];
            let mut i = 0;
            while i < seen.len() {
                for &(f, t, _) in &EDGES {
                    if f == seen[i] && !seen.contains(&t) {
                        seen.push(t);
                    }
                }
                i += 1;
            }
            seen.contains(&goal)
        };
        for state in HotplugState::ALL {
            assert!(
                reaches(state, Offline),
                "{state} never gets back to offline"
            );
            assert!(reaches(state, Online), "{state} never gets to online");
        }
    }

    #[test]
    fn only_a_cpu_that_never_ran_begins_online() {
        let boot_cpu = CpuSlot::new();
        boot_cpu.begin_online(0);
        assert_eq!(boot_cpu.state(), Online);
        assert!(boot_cpu.ever_started());

        let ran = CpuSlot::new();
        ran.confirm_started();
        let panic = std::panic::catch_unwind(|| ran.begin_online(3)).expect_err("began online");
        assert!(panic_text(panic).starts_with("cpu3: only a CPU that never ran"));
        assert_eq!(ran.state(), Offline);
    }

    #[test]
    fn a_new_boot_clears_the_last_death() {
        let slot = at(Offline);
        slot.mark_dying();
        slot.note_off_unconfirmed(true);
        assert!(slot.is_dying() && slot.off_unconfirmed());
        let ticket = slot.request_boot(2);
        assert!(!slot.is_dying() && !slot.off_unconfirmed());
        assert_eq!(slot.controller(), 2);
        assert_eq!(slot.pending_boot(), Some(ticket));
        assert_eq!(slot.boot_ticket(), (ticket, Stage::Requested));
        assert!(slot.take_boot(ticket));
        assert!(!slot.withdraw_boot(ticket), "taken: not withdrawn");
    }
}
