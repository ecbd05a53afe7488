//! The floor of `bench hotplug`: a CPU online and offline under this emulator with
//! nothing of the kernel's done, measured in the same run on the same CPUs, so that the
//! report can say what QEMU costs and what the kernel adds.
//!
//! - `psci`: CPU_ON to a stub that only says it arrived (`arch::hotplug_floor`) and, when
//!   told, calls CPU_OFF. Online: from CPU_ON to the arrival seen. Offline: from the
//!   request (a flag and an SGI to the stub asleep in WFI, as the kernel's idle cores
//!   sleep; it polls under a GICv3) to AFFINITY_INFO saying OFF, the confirmation the
//!   kernel waits for too. It runs while the kernel has the CPU offline.
//! - `spin-table`: a job on the online CPU, asleep in WFI with interrupts masked, is told
//!   by a flag and an SGI to park, and parks as the kernel parks a core (its GIC
//!   interface left with the release SGI alone, WFI); released by a flag and that SGI, it
//!   says it arrived. Offline: from the request to the core parked. Online: from the
//!   release to the arrival seen.

use core::sync::atomic::{AtomicBool, Ordering};

use super::counts;
use super::stats::Samples;
use crate::arch::cpu;
use crate::arch::hotplug_floor::FloorMailbox;
use crate::arch::psci::Psci;
use crate::drivers::gic;
use crate::drivers::timer::{self, Deadline};
use crate::dt::{EnableMethod, Gic, Mpidr};
use crate::smp::cpumask::CpuMask;
use crate::smp::{private_interrupts, work};

/// How long one step of the floor may take before the floor is given up.
const STEP_TIMEOUT_US: u64 = 1_000_000;

/// Online and offline times of the floor, in nanoseconds, added to by each CPU's cycles;
/// the count bracket tags of the kept cycles' steps.
pub struct Floor<const N: usize> {
    pub online: Samples<N>,
    pub offline: Samples<N>,
    pub online_tag: u64,
    pub offline_tag: u64,
    /// The warm-up cycles' brackets.
    warm_up_tag: u64,
}

impl<const N: usize> Floor<N> {
    pub fn new() -> Self {
        Self {
            online: Samples::new(),
            offline: Samples::new(),
            online_tag: counts::new_tag(),
            offline_tag: counts::new_tag(),
            warm_up_tag: counts::new_tag(),
        }
    }

    /// The (online, offline) tags for a cycle kept or not.
    fn tags(&self, keep: bool) -> (u64, u64) {
        if keep {
            (self.online_tag, self.offline_tag)
        } else {
            (self.warm_up_tag, self.warm_up_tag)
        }
    }

    /// Whether `cpu`'s floor runs while the kernel has it offline (PSCI: the floor starts
    /// it itself) rather than online (spin-table: the floor parks it from a job).
    pub fn runs_offline(cpu: usize) -> bool {
        matches!(
            crate::boot::platform().cpus[cpu].enable_method,
            EnableMethod::Psci
        )
    }

    /// `cycles` floor cycles on `cpu`, by its enable method, offline or online as
    /// [`Floor::runs_offline`] says; kept only if `keep` (not a warm-up).
    pub fn cycles(&mut self, cpu: usize, cycles: usize, keep: bool) -> Result<(), &'static str> {
        let platform = crate::boot::platform();
        match platform.cpus[cpu].enable_method {
            EnableMethod::Psci => {
                let psci = Psci::new(platform.psci.ok_or("psci-without-a-conduit")?);
                if !psci.has_standard_functions() {
                    // The floor's offline time ends at AFFINITY_INFO saying OFF.
                    return Err("psci-0.1-has-no-affinity-info");
                }
                let mpidr = platform.cpus[cpu].mpidr;
                self.psci_cycles(cpu, psci, mpidr, cycles, keep)
            }
            EnableMethod::SpinTable { .. } => {
                for _ in 0..cycles {
                    let (offline, online) = spin_table_cycle(cpu, self.tags(keep))?;
                    if keep {
                        self.offline.push(offline);
                        self.online.push(online);
                    }
                }
                Ok(())
            }
            _ => Err("no-enable-method"),
        }
    }

    fn psci_cycles(
        &mut self,
        cpu: usize,
        psci: Psci,
        mpidr: Mpidr,
        cycles: usize,
        keep: bool,
    ) -> Result<(), &'static str> {
        let gicc = match crate::boot::platform().gic {
            Some(Gic::V2 { cpu_interface, .. }) => Some(cpu_interface.base),
            _ => None,
        };
        let (online_tag, offline_tag) = self.tags(keep);
        for _ in 0..cycles {
            let (entry, mailbox) = MAILBOX.arm(psci.method(), gicc);
            let start = timer::ticks();
            counts::bracket(online_tag, || {
                psci.cpu_on(mpidr, entry, mailbox)
                    .map_err(|_| "floor-cpu-on-refused")?;
                wait_until(|| MAILBOX.arrived())
            })?;
            let arrived = timer::ticks();
            let result = counts::bracket(offline_tag, || {
                MAILBOX.tell_to_die();
                gic::send_sgi(gic::SGI_KICK, CpuMask::single(cpu));
                if crate::smp::psci_ops::wait_until_off(
                    &psci,
                    mpidr,
                    &Deadline::after_us(STEP_TIMEOUT_US),
                ) {
                    Ok(())
                } else {
                    Err("floor-step-timed-out")
                }
            });
            let dead = timer::ticks();
            if MAILBOX.off_error().is_some() {
                return Err("floor-cpu-off-refused");
            }
            result?;
            if keep {
                self.online.push(timer::ticks_to_ns(arrived - start));
                self.offline.push(timer::ticks_to_ns(dead - arrived));
            }
        }
        Ok(())
    }
}

static MAILBOX: FloorMailbox = FloorMailbox::new();

fn wait_until(done: impl Fn() -> bool) -> Result<(), &'static str> {
    let deadline = Deadline::after_us(STEP_TIMEOUT_US);
    while !done() {
        if deadline.passed() {
            return Err("floor-step-timed-out");
        }
        core::hint::spin_loop();
    }
    Ok(())
}

/// The spin-table floor's handshake with the parking job.
static STARTED: AtomicBool = AtomicBool::new(false);
static DIE: AtomicBool = AtomicBool::new(false);
static PARKED: AtomicBool = AtomicBool::new(false);
static RELEASE: AtomicBool = AtomicBool::new(false);
static ARRIVED: AtomicBool = AtomicBool::new(false);

/// On the target: waits for the request, parks, and says it arrived once released.
fn park_like_the_kernel(_: u64) {
    let me = cpu::id();
    let ppis = private_interrupts();
    let _masked = cpu::mask_irqs();
    STARTED.store(true, Ordering::Release);
    // Asleep as an idle core is; a pending interrupt ends WFI though masked.
    while !DIE.load(Ordering::Acquire) {
        cpu::wait_for_interrupt();
        while let Some(irq) = gic::acknowledge() {
            gic::end(irq);
        }
    }
    gic::park_cpu(me, &ppis);
    PARKED.store(true, Ordering::Release);
    while !RELEASE.swap(false, Ordering::AcqRel) {
        // As the kernel's park: the DSB puts PARKED out before the core sleeps.
        cpu::wait_for_interrupt_stores_complete();
        while let Some(irq) = gic::acknowledge() {
            gic::end(irq);
        }
    }
    ARRIVED.store(true, Ordering::Release);
    if gic::init_cpu(me, &ppis).is_err() {
        crate::pr_err!("bench hotplug: cpu{me}: the interrupt controller did not come back");
    }
}

/// One spin-table floor cycle on `cpu`, its steps bracketed with the (online, offline)
/// `tags`: (offline, online) nanoseconds.
fn spin_table_cycle(cpu: usize, tags: (u64, u64)) -> Result<(u64, u64), &'static str> {
    let (online_tag, offline_tag) = tags;
    for flag in [&STARTED, &DIE, &PARKED, &RELEASE, &ARRIVED] {
        flag.store(false, Ordering::Release);
    }
    work::start_on(cpu, park_like_the_kernel, 0).map_err(|_| "floor-job-not-started")?;
    // Getting the job going is no part of the floor.
    wait_until(|| STARTED.load(Ordering::Acquire))?;
    let start = timer::ticks();
    let parked = counts::bracket(offline_tag, || {
        DIE.store(true, Ordering::Release);
        gic::send_sgi(gic::SGI_KICK, CpuMask::single(cpu));
        wait_until(|| PARKED.load(Ordering::Acquire))
    });
    let parked_at = timer::ticks();
    let released = parked.and_then(|()| {
        counts::bracket(online_tag, || {
            RELEASE.store(true, Ordering::Release);
            gic::send_sgi(gic::SGI_KICK, CpuMask::single(cpu));
            wait_until(|| ARRIVED.load(Ordering::Acquire))
        })
    });
    let arrived_at = timer::ticks();
    if released.is_err() {
        // Whatever happened, let the job end.
        DIE.store(true, Ordering::Release);
        RELEASE.store(true, Ordering::Release);
        gic::send_sgi(gic::SGI_KICK, CpuMask::single(cpu));
    }
    work::wait_for_jobs(CpuMask::single(cpu), STEP_TIMEOUT_US)
        .map_err(|_| "floor-step-timed-out")?;
    released?;
    Ok((
        timer::ticks_to_ns(parked_at - start),
        timer::ticks_to_ns(arrived_at - parked_at),
    ))
}
