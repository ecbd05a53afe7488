//! Bringing SMP up at boot, and the interrupt handler every CPU shares.

use super::cpu_ops;
use super::cpumask::CpuMask;
use super::hotplug;
use super::psci_ops::PsciOps;
use super::state::{self, slot};
use crate::arch::{cpu, exceptions, psci::Psci};
use crate::drivers::{gic, timer};
use crate::dt::Platform;
use crate::dt::bootargs::BootOptions;
use crate::{MAX_CPUS, pr_err, pr_info, pr_warn};

/// The EL1 physical timer's interrupt, from the device tree (`init`).
static TIMER_IRQ: spin::Once<Option<u32>> = spin::Once::new();

fn timer_irq() -> Option<u32> {
    TIMER_IRQ.get().copied().flatten()
}

/// The per-CPU interrupts every CPU enables: the EL1 physical timer's.
pub fn private_interrupts() -> arrayvec::ArrayVec<u32, 1> {
    timer_irq().into_iter().collect()
}

fn handle_irq(interrupted: &exceptions::TrapFrame, irqs: cpu::IrqContext<'_>) {
    let _in_handler = crate::sync::lockdep::Hardirq::enter();
    let timer_irq = timer_irq();
    while let Some(irq) = gic::acknowledge() {
        match irq.id() {
            gic::SGI_CALL => super::call::run_pending(irqs),
            gic::SGI_KICK => {}
            gic::SGI_BACKTRACE => super::backtrace::answer(interrupted),
            gic::SGI_STOP => {
                gic::end(irq);
                super::stop::stop_this_cpu()
            }
            id if Some(id) == timer_irq => timer::disarm(),
            id => pr_warn!("spurious interrupt {id}"),
        }
        gic::end(irq);
    }
}

/// Sets up the interrupt controller and brings the device tree's CPUs online (as far as
/// `maxcpus=`/`nosmp` allow). Without a usable GIC the kernel runs on the boot CPU alone.
pub fn init(platform: &Platform<'static>, options: &BootOptions<'_>) {
    let me = cpu::id();
    let limit = gic::max_cpus(platform).min(MAX_CPUS);
    let count = platform.cpus.len().min(limit);
    if platform.cpus.len() > limit {
        pr_warn!(
            "{} CPUs beyond the {limit} this interrupt controller addresses: left out",
            platform.cpus.len() - limit
        );
    }
    TIMER_IRQ.call_once(|| platform.timer.map(|t| t.phys_irq));
    crate::arch::smp::set_secondary_entry(super::secondary_started);
    for callbacks in [
        &super::stacks::CALLBACKS,
        &super::work::CALLBACKS,
        &super::fault::CALLBACKS,
    ] {
        hotplug::register(callbacks, |_| {});
    }
    let possible = count.max(me + 1);
    state::POSSIBLE.set(CpuMask::first(possible));
    hotplug::limit_lock_to(possible);
    for table in [
        state::init(possible),
        super::work::SLOTS.init(possible),
        super::fault::DECORATED.init(possible),
    ] {
        if let Err(e) = table {
            pr_err!("CPUs: {e}");
        }
    }
    // The cross-calls' mailboxes, one per pair of possible CPUs; without memory for them
    // no other CPU could be called, so this one runs alone.
    let calls_for_all = match super::call::init(possible) {
        Ok(()) => true,
        Err(e) => {
            pr_err!(
                "cross-calls: no memory for the mailboxes of {possible} CPUs ({} bytes); running \
                 on cpu{me} alone",
                e.bytes
            );
            super::call::init(me + 1).is_ok_and(|()| false)
        }
    };
    if let Some(node) = platform.psci {
        PsciOps::init(Psci::new(node), platform.psci_off_by_warm_reset);
    }
    // The boot CPU is present even where the tree does not list it (or any CPU).
    state::PRESENT.insert(me);
    if !cpu_ops::init_cpus(&platform.cpus[..count]) {
        pr_err!("CPUs: no memory for the table of {count} CPUs' operations");
    }
    for c in 0..count {
        match cpu_ops::drivable(c) {
            Ok(()) => state::PRESENT.insert(c),
            Err(why) if c != me => state::set_absence(c, Some(why)),
            Err(_) => {}
        }
    }
    if !calls_for_all {
        for c in state::present().without(me).iter() {
            state::set_absence(c, Some(state::Absence::NoMemory));
        }
        state::PRESENT.set(CpuMask::single(me));
    }
    let services = gic::Services {
        leak: |len, make| crate::mm::table::leak(len, make),
        online: state::online,
    };
    let gic_ready = gic::init(platform, &platform.cpus[..count], &services).and_then(|()| {
        exceptions::set_irq_handler(handle_irq);
        gic::init_cpu(me, &private_interrupts())
    });
    if let Err(e) = &gic_ready {
        // Without interrupts no other CPU can be brought up or called: only this one is.
        pr_err!("interrupt controller: {e}; running on cpu{me} alone");
        for c in state::present().without(me).iter() {
            state::set_absence(c, Some(state::Absence::NoInterruptController));
        }
        state::PRESENT.set(CpuMask::single(me));
    }
    if gic_ready.is_ok() {
        // A CPU the GIC cannot reach must never come online: nothing could call it.
        for c in state::present().without(me).iter() {
            if let Err(e) = gic::reachable(c) {
                pr_err!("cpu{c}: interrupt controller: {e}; it stays offline");
                let why = match e {
                    gic::GicError::NoRangeSelector { .. } => state::Absence::NoRangeSelector,
                    _ => state::Absence::NoRedistributor,
                };
                state::set_absence(c, Some(why));
                state::PRESENT.remove(c);
            }
        }
    }
    slot(me).begin_online(me);
    state::ONLINE.insert(me);
    if gic_ready.is_err() {
        return;
    }
    cpu::enable_irqs();
    if let Some(gic) = gic::description() {
        pr_info!(
            "{gic}; CPUs possible {}, present {}",
            state::possible(),
            state::present()
        );
    }

    let (max_online, why) = match (options.no_smp, options.max_cpus) {
        (true, _) => (1, "nosmp"),
        (false, Some(n)) => (n.max(1), "maxcpus"),
        (false, None) => (MAX_CPUS, ""),
    };
    // Up to the limit, in order; every one of them started at once, then waited for.
    let mut to_start = CpuMask::empty();
    for c in state::present().without(me).iter() {
        if to_start.len() + 1 >= max_online {
            pr_info!("cpu{c}: left offline ({why}); `cpu on {c}` brings it up");
        } else {
            to_start.insert(c);
        }
    }
    hotplug::cpus_up(to_start, |c, result, us| match result {
        Ok(()) => pr_info!(
            "cpu{c}: online ({}, MPIDR {:#x}) in {us} us",
            hotplug::method_name(c),
            cpu_ops::mpidr(c),
        ),
        Err(e) => pr_err!("{e}; cpu{c} stays offline"),
    });
    pr_info!(
        "{} of {} CPUs online: {}",
        state::online().len(),
        state::possible().len(),
        state::online()
    );
}
