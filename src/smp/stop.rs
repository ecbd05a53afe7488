//! Stopping every other CPU when one cannot go on (Linux's `IPI_CPU_STOP`): after an Oops
//! or a panic the others would run on with whatever the dying CPU held (the console, the
//! page allocator, the GIC, slab lists) and half-changed state, and wedge later without a
//! word. The dying CPU sends them [`gic::SGI_STOP`] and waits a bounded time; each that
//! takes it marks itself stopped and halts. One spinning with interrupts masked cannot
//! take it, and is named as not stopped.

use super::cpumask::{AtomicCpuMask, CpuMask};
use super::state;
use crate::arch::cpu;
use crate::drivers::gic;
use crate::drivers::timer::Deadline;

/// How long the dying CPU waits for the others to stop (Linux's `smp_send_stop` waits
/// one second too).
pub const STOP_TIMEOUT_US: u64 = 1_000_000;

/// The CPUs that took their stop.
static STOPPED: AtomicCpuMask = AtomicCpuMask::new();

/// What became of the other CPUs.
pub struct Stopped {
    /// Online (and not this one) when the stop was sent.
    pub asked: CpuMask,
    /// Those that stopped within [`STOP_TIMEOUT_US`].
    pub stopped: CpuMask,
    /// Whether the SGI could be sent at all (no GIC: nothing was asked).
    pub sent: bool,
}

impl Stopped {
    /// Asked and not stopped.
    pub fn running(&self) -> CpuMask {
        self.asked.minus(self.stopped)
    }
}

/// Stops every other online CPU and says which did.
pub fn stop_others() -> Stopped {
    let me = cpu::id();
    let asked = state::online().without(me);
    if asked.is_empty() || gic::version().is_none() {
        return Stopped {
            asked,
            stopped: CpuMask::empty(),
            sent: asked.is_empty(),
        };
    }
    gic::send_sgi_emergency(gic::SGI_STOP, asked);
    let deadline = Deadline::after_us(STOP_TIMEOUT_US);
    let stopped = || STOPPED.get().and(asked);
    while stopped() != asked && !deadline.passed() {
        core::hint::spin_loop();
    }
    Stopped {
        asked,
        stopped: stopped(),
        sent: true,
    }
}

/// This CPU stops for good: interrupts masked, waiting forever. Taken on [`gic::SGI_STOP`],
/// and by a CPU that dies while another is already stopping the machine.
pub fn stop_this_cpu() -> ! {
    cpu::mask_irqs_for_good();
    STOPPED.insert(cpu::id());
    cpu::halt()
}
