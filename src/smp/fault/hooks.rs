//! The state machine's hooks for faults only the CPU itself can commit: not arriving (for
//! a while or for good), not taking its death request, taking it too late; and the
//! injector's hotplug callback, which refuses a DOWN_PREPARE. Each hook does nothing
//! unless its fault is armed.

use super::{FAULTS, Fault};
use crate::arch::cpu;
use crate::drivers::timer;
use crate::smp::handshake::Request;
use crate::smp::hotplug::{CallbackError, HotplugCallbacks};
use crate::smp::state::slot;

/// Hook, at a started CPU's entry: with `no_arrival` armed, holds the CPU there until the
/// controller has given up on its boot (it then finds its ticket withdrawn); with
/// `never_arrives`, halts it there for good.
pub fn at_arrival(cpu: usize) {
    if FAULTS.take(Fault::NeverArrives, cpu) {
        crate::pr_notice!("fault injected: {}", Fault::NeverArrives);
        cpu::halt();
    }
    if FAULTS.take(Fault::NoArrival, cpu) {
        crate::pr_notice!("fault injected: {}", Fault::NoArrival);
        while slot(cpu).pending_boot().is_some() {
            core::hint::spin_loop();
        }
    }
}

/// Hook, when `cpu` (interrupts masked) sees its death `request`: false if `no_death`
/// made it ignore the request, which it has then done, serving interrupts, until the
/// controller withdrew it; with `death_taken_late`, true only once the controller's
/// deadline for it has passed.
pub fn at_death_request(cpu: usize, request: Request) -> bool {
    if FAULTS.take(Fault::NoDeath, cpu) {
        cpu::enable_irqs();
        crate::pr_notice!("fault injected: {}", Fault::NoDeath);
        while slot(cpu).pending_death() == Some(request) {
            core::hint::spin_loop();
        }
        return false;
    }
    if FAULTS.take(Fault::DeathTakenLate, cpu) {
        crate::pr_notice!("fault injected: {}", Fault::DeathTakenLate);
        let deadline = slot(cpu).death_deadline();
        while timer::ticks() < deadline {
            core::hint::spin_loop();
        }
    }
    true
}

/// The injector's place in the hotplug state machine: it refuses a DOWN_PREPARE when
/// `down_prepare_refused` is armed for the CPU.
pub static CALLBACKS: HotplugCallbacks = HotplugCallbacks {
    name: "fault injection",
    // Nearest OFFLINE, so that going down its DOWN_PREPARE runs last: one it refuses
    // comes after every other one succeeded, and DOWN_FAILED must undo them all.
    order: 0,
    up_prepare: None,
    up_canceled: None,
    online: None,
    down_prepare: Some(refuse_down_prepare),
    down_failed: None,
    dead: None,
};

fn refuse_down_prepare(cpu: usize) -> Result<(), CallbackError> {
    if FAULTS.take(Fault::DownPrepareRefused, cpu) {
        crate::pr_notice!("cpu{cpu}: fault injected: {}", Fault::DownPrepareRefused);
        return Err(CallbackError("down_prepare_refused was injected"));
    }
    Ok(())
}
