//! Who the CPUs are and where each stands: the possible, present and online sets, and one
//! slot of hotplug state per logical CPU.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use num_enum::TryFromPrimitive;

use super::cpumask::{AtomicCpuMask, CpuMask};
use super::handshake::Handshake;
use crate::MAX_CPUS;

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

/// One CPU's hotplug bookkeeping.
pub struct CpuSlot {
    state: AtomicU8,
    /// The boot ticket: the controller requests a boot, the arriving CPU takes it when it
    /// is ready to go online; a controller that gave up withdraws it first, and a CPU
    /// arriving late finds it withdrawn and turns itself off again.
    pub boot: Handshake,
    /// The death request: the controller requests it, the CPU takes it from its idle loop
    /// and dies; a controller that gave up withdraws it first, and the CPU stays online.
    pub death: Handshake,
    /// When the controller gives up on the boot ticket (counter ticks).
    pub boot_deadline: AtomicU64,
    /// When the controller gives up on the death request (counter ticks).
    pub death_deadline: AtomicU64,
    /// Set by the dying CPU once it is off the online set with interrupts masked: only the
    /// enable method's last step is left (PSCI: the GIC interface off, then CPU_OFF;
    /// spin-table: the park, with one SGI left enabled to release it).
    pub dying: AtomicBool,
    /// A spin-table CPU waiting in its park loop.
    pub parked: AtomicBool,
    /// Set by the controller to release a parked CPU.
    pub release: AtomicBool,
    /// Set once the CPU has run kernel code (spin-table: it left the firmware's pen).
    pub ever_started: AtomicBool,
    /// Its last death could not be confirmed ([`Death::Unconfirmable`]): it is offline as
    /// far as the kernel can know. Cleared when it is started again.
    ///
    /// [`Death::Unconfirmable`]: super::cpu_ops::Death::Unconfirmable
    pub off_unconfirmed: AtomicBool,
    /// The CPU running this one's bring-up, which the arriving CPU wakes.
    pub controller: AtomicUsize,
}

impl CpuSlot {
    const fn new() -> Self {
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

    pub fn set_state(&self, state: HotplugState) {
        self.state.store(state as u8, Ordering::Release);
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
