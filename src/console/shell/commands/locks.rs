//! `lockdep`: what the lock validator knows (Linux's /proc/lockdep_stats and
//! /proc/lockdep): its counts, every class with its usage and how often it was taken and
//! waited for, and every dependency with where it was first made; and `lockdep violate
//! irq`, a lock used against the interrupt rule on purpose, to see the report.

use super::{CmdError, CmdResult};
use crate::console::shell::args::Args;
use crate::println;
use crate::smp::{call, state};
use crate::sync::lockdep::{self, graph};
use crate::sync::{SpinLock, lockup};

/// The lock `lockdep violate irq` uses wrongly: plain (interrupts left on) and taken in a
/// cross-call handler too.
static IRQ_UNSAFE: SpinLock<u64> = SpinLock::new(crate::lock_class!("lockdep demo lock"), 0);

fn take_in_handler(_: u64, _: crate::arch::cpu::IrqContext<'_>) {
    *IRQ_UNSAFE.lock() += 1;
}

pub fn lockdep<'a>(args: &Args<'a>) -> CmdResult<'a> {
    if args.get(0) == Some("violate") {
        args.at_most(2)?;
        args.choice(1, &["irq"], "irq")?;
        return violate_irq();
    }
    let raw = args.only_option("--raw")?;
    let on = lockdep::enabled();
    let stats = lockdep::with_graph(|g| g.stats());
    let full = lockdep::with_graph(|g| g.is_full());
    if raw {
        println!(
            "lockdep enabled={} classes={} max_classes={} dependencies={} max_dependencies={} \
             acquisitions={} searches={} problems={} reported={} lockups={} full={}",
            u8::from(on),
            stats.classes,
            graph::MAX_CLASSES,
            stats.edges,
            graph::MAX_EDGES,
            stats.acquisitions,
            stats.searches,
            stats.problems,
            stats.reported,
            lockup::lockups(),
            u8::from(full)
        );
    } else {
        if on {
            println!("lockdep: validating (boot argument lockdep)");
        } else {
            println!("lockdep: off (boot with the argument lockdep to validate)");
        }
        println!(
            " lock-classes:          {:>8} [max: {}]",
            stats.classes,
            graph::MAX_CLASSES
        );
        println!(
            " direct dependencies:   {:>8} [max: {}]",
            stats.edges,
            graph::MAX_EDGES
        );
        println!(" acquisitions:          {:>8}", stats.acquisitions);
        println!(" dependency searches:   {:>8}", stats.searches);
        println!(
            " problems found:        {:>8} ({} distinct, each reported once)",
            stats.problems, stats.reported
        );
        println!(" lockups reported:      {:>8}", lockup::lockups());
        if full {
            println!(" the graph is full: validation stopped");
        }
        if stats.classes > 0 {
            println!("classes (usage: . none, + interrupts on, - in a handler, ? both):");
        }
    }
    for id in 0..stats.classes {
        let Some(class) = lockdep::with_graph(|g| g.classes().get(id).copied()) else {
            break;
        };
        let (forward, backward) = lockdep::with_graph(|g| {
            let e = g.edges();
            (
                e.iter().filter(|e| e.from as usize == id).count(),
                e.iter().filter(|e| e.to as usize == id).count(),
            )
        });
        let kind = match class.kind {
            graph::ClassKind::Lock => "lock",
            graph::ClassKind::Wait => "wait",
        };
        if raw {
            println!(
                "class id={id} name=\"{}\" kind={kind} usage={} acquisitions={} contentions={} \
                 forward={forward} backward={backward}",
                class.name,
                class.usage_char(),
                class.acquisitions,
                class.contentions
            );
        } else {
            println!(
                " {:>3} ({}){{{}}} {kind}: taken {}, waited for {}, FD:{forward} BD:{backward}",
                id,
                class.name,
                class.usage_char(),
                class.acquisitions,
                class.contentions
            );
        }
    }
    if !raw && stats.edges > 0 {
        println!("dependencies (the second taken while the first is held):");
    }
    for n in 0..stats.edges {
        let Some((edge, from, to)) = lockdep::with_graph(|g| {
            g.edges()
                .get(n)
                .map(|e| (*e, g.class(e.from).name, g.class(e.to).name))
        }) else {
            break;
        };
        if raw {
            println!(
                "dependency from=\"{from}\" to=\"{to}\" cpu={} at={:#x}",
                edge.site.cpu, edge.site.pc
            );
        } else {
            println!(
                " ({from}) -> ({to}), first on cpu{}, at: {:#018x}",
                edge.site.cpu, edge.site.pc
            );
        }
    }
    Ok(())
}

/// Takes a plain spin lock with interrupts enabled here, then in another CPU's cross-call
/// handler (interrupt context): the two usages Linux calls HARDIRQ-ON-W and IN-HARDIRQ-W.
/// Never at the same time, so nothing deadlocks: the validator reports the rule broken,
/// not a hang. An interrupt arriving here while the lock is held, with a handler that
/// takes it, would spin on this CPU's own lock for good.
fn violate_irq<'a>() -> CmdResult<'a> {
    let me = crate::arch::cpu::id();
    let Some(target) = state::online().without(me).iter().next() else {
        return Err(CmdError::failed(format_args!(
            "lockdep violate irq: needs a second online CPU for the handler"
        )));
    };
    *IRQ_UNSAFE.lock() += 1;
    println!("lockdep violate irq: took (lockdep demo lock) on cpu{me} with interrupts on");
    call::smp_call_function_single(target, take_in_handler, 0, true)
        .map_err(|e| CmdError::failed(format_args!("lockdep violate irq: cpu{target}: {e}")))?;
    println!("lockdep violate irq: and in a cross-call handler on cpu{target}");
    if !lockdep::enabled() {
        println!("lockdep violate irq: boot with lockdep to have it reported");
    }
    Ok(())
}
