//! Who the CPUs are and where each stands: the possible, present and online sets, and one
//! slot of hotplug state per logical CPU.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use super::cpumask::{AtomicCpuMask, CpuMask};
use crate::MAX_CPUS;

/// Where a CPU is in the hotplug state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    fn from_u8(v: u8) -> Self {
        match v {
            1 => HotplugState::UpPrepare,
            2 => HotplugState::Booting,
            3 => HotplugState::Online,
            4 => HotplugState::DownPrepare,
            5 => HotplugState::Dying,
            6 => HotplugState::Dead,
            _ => HotplugState::Offline,
        }
    }
}

impl fmt::Display for HotplugState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HotplugState::Offline => "offline",
            HotplugState::UpPrepare => "up-prepare",
            HotplugState::Booting => "booting",
            HotplugState::Online => "online",
            HotplugState::DownPrepare => "down-prepare",
            HotplugState::Dying => "dying",
            HotplugState::Dead => "dead",
        })
    }
}

/// How a booting CPU and its controller meet: the controller opens a boot with a fresh
/// ticket; the CPU claims it when it is ready to go online; a controller that gave up
/// cancels it, and a CPU arriving late finds it cancelled and turns itself off again.
pub mod ticket {
    pub const NONE: u64 = 0;
    /// Low two bits: the boot's stage; the rest: its number.
    pub const WAITING: u64 = 1;
    pub const ARRIVED: u64 = 2;
    pub const CANCELLED: u64 = 3;
}

/// One CPU's hotplug bookkeeping.
pub struct CpuSlot {
    state: AtomicU8,
    /// Set by the controller: the CPU leaves at its next look at its flags.
    pub die_requested: AtomicBool,
    /// How many times the controller has asked this CPU to die (tells one request from
    /// the next).
    pub death_requests: AtomicU64,
    /// Set by the dying CPU once it is off the online set, interrupts masked, its GIC
    /// interface off: only the enable method's last step is left.
    pub dying: AtomicBool,
    /// A spin-table CPU waiting in its park loop.
    pub parked: AtomicBool,
    /// Set by the controller to release a parked CPU.
    pub release: AtomicBool,
    /// The boot ticket (see [`ticket`]).
    pub boot_ticket: AtomicU64,
    /// Top of this CPU's stack (0 until it has one).
    pub stack_top: AtomicU64,
    /// Set once the CPU has run kernel code (spin-table: it left the firmware's pen).
    pub ever_started: AtomicBool,
    /// The CPU running this one's bring-up, which the arriving CPU wakes.
    pub controller: AtomicUsize,
}

impl CpuSlot {
    const fn new() -> Self {
        Self {
            state: AtomicU8::new(HotplugState::Offline as u8),
            die_requested: AtomicBool::new(false),
            death_requests: AtomicU64::new(0),
            dying: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            release: AtomicBool::new(false),
            boot_ticket: AtomicU64::new(ticket::NONE),
            stack_top: AtomicU64::new(0),
            ever_started: AtomicBool::new(false),
            controller: AtomicUsize::new(0),
        }
    }

    pub fn state(&self) -> HotplugState {
        HotplugState::from_u8(self.state.load(Ordering::Acquire))
    }

    pub fn set_state(&self, state: HotplugState) {
        self.state.store(state as u8, Ordering::Release);
    }
}

/// Why a possible CPU is not present: what keeps it from ever coming online.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Absence {
    /// The device tree gives it no `enable-method`.
    NoEnableMethod = 1,
    /// `psci`, but the tree has no `/psci` node the kernel can call.
    PsciWithoutNode,
    /// `spin-table` without a release address the kernel can write.
    SpinTableWithoutAddress,
    /// An enable method this kernel does not implement.
    UnknownMethod,
    /// No interrupt controller the kernel drives: it could be started but never called.
    NoInterruptController,
}

impl Absence {
    const ALL: [Absence; 5] = [
        Absence::NoEnableMethod,
        Absence::PsciWithoutNode,
        Absence::SpinTableWithoutAddress,
        Absence::UnknownMethod,
        Absence::NoInterruptController,
    ];
}

impl TryFrom<u8> for Absence {
    type Error = u8;
    fn try_from(v: u8) -> Result<Self, u8> {
        Absence::ALL.into_iter().find(|a| *a as u8 == v).ok_or(v)
    }
}

impl fmt::Display for Absence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Absence::NoEnableMethod => "the device tree gives it no enable-method",
            Absence::PsciWithoutNode => "enable-method psci, but no /psci node the kernel can call",
            Absence::SpinTableWithoutAddress => {
                "enable-method spin-table without a usable cpu-release-addr"
            }
            Absence::UnknownMethod => "an enable-method this kernel does not drive",
            Absence::NoInterruptController => {
                "no interrupt controller this kernel drives (GICv2 or GICv3): it could not be \
                 called"
            }
        })
    }
}

/// Per CPU: 0, or the [`Absence`] that keeps it from being present.
static ABSENCE: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(0) }; MAX_CPUS];

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

static SLOTS: [CpuSlot; MAX_CPUS] = [const { CpuSlot::new() }; MAX_CPUS];

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
