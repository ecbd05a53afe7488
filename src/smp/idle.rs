//! What a CPU does when it is not running a command: its life from the secondary entry,
//! and the idle loop every online CPU returns to, where it sleeps in WFI, serves
//! interrupts, runs jobs handed to it (`work`), runs the foreground (the shell, when the
//! console moves to it), and leaves when told to die.

use super::fault;
use super::{hotplug, state::slot};
use crate::arch::cpu;
use crate::drivers::timer;

/// What an idle CPU runs when it is its turn: the shell, on the console's CPU. The
/// console registers it; the idle loop names nothing above it.
pub struct Foreground {
    /// Whether `cpu` should run it now.
    pub wants: fn(usize) -> bool,
    /// Runs it, with interrupts enabled, until it gives the CPU back.
    pub run: fn(),
}

static FOREGROUND: spin::Once<Foreground> = spin::Once::new();

/// Sets what idle CPUs run in the foreground (once, at boot).
pub fn set_foreground(foreground: Foreground) {
    FOREGROUND.call_once(|| foreground);
}

/// A secondary CPU's first Rust code with its MMU on and its own stack.
pub fn secondary_started(cpu: usize) -> ! {
    fault::at_arrival(cpu);
    if !hotplug::arrive(cpu) {
        // The controller gave up on this boot: go back where we came from. Masked since
        // the entry; the guard gives the token that says so.
        let masked = cpu::mask_irqs();
        let ops = hotplug::leave(cpu, masked.context());
        ops.die(cpu)
    }
    idle_loop(cpu)
}

/// The loop every online CPU runs when it has nothing else to do.
pub fn idle_loop(cpu: usize) -> ! {
    // A CPU arrives here with interrupts masked (from its entry, or from a park); jobs
    // must run with them enabled, or the CPU would answer no cross-call while a job runs.
    cpu::enable_irqs();
    loop {
        if super::work::busy(cpu) {
            super::work::run_pending(cpu);
        }
        cpu::disable_irqs();
        if super::work::busy(cpu) {
            // A job arrived just now: run it before anything else, dying included.
            cpu::enable_irqs();
            continue;
        }
        if let Some(request) = slot(cpu).pending_death() {
            if !fault::at_death_request(cpu, request) {
                continue;
            }
            if slot(cpu).take_death(request) {
                // Masked above; the guard gives the token that says so.
                let masked = cpu::mask_irqs();
                let ops = hotplug::leave(cpu, masked.context());
                ops.die(cpu);
            }
            // The controller gave up first: this CPU stays online.
            cpu::enable_irqs();
            continue;
        }
        if let Some(foreground) = FOREGROUND.get().filter(|f| (f.wants)(cpu)) {
            cpu::enable_irqs();
            (foreground.run)();
            continue;
        }
        // Wakes on any pending interrupt, even masked; the handler runs once unmasked.
        cpu::wait_for_interrupt();
        cpu::enable_irqs();
    }
}

/// Unless `done()`, sleeps until an interrupt (the kick of whoever makes it true) or
/// `max_us` pass. Under emulation a spinning waiter holds a host core the CPU it waits for
/// may need to run at all; on hardware it saves power. Spins where no interrupt could end
/// the sleep.
pub fn doze_unless(done: impl Fn() -> bool, max_us: u64) {
    if crate::smp::private_interrupts().is_empty() {
        core::hint::spin_loop();
        return;
    }
    // Masked, a pending interrupt still ends WFI (it is taken at the restore); a kick
    // taken before the mask is why `done` is asked again here.
    let _masked = cpu::mask_irqs();
    if !done() {
        timer::arm_oneshot_us(max_us);
        cpu::wait_for_interrupt();
        timer::disarm();
    }
}
