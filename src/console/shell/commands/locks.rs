//! `lockdep`: what the lock validator knows (Linux's /proc/lockdep_stats and
//! /proc/lockdep): its counts, every class with its usage and how often it was taken and
//! waited for, and every dependency with where it was first made.

use super::CmdResult;
use crate::console::shell::args::Args;
use crate::println;
use crate::sync::lockdep::{self, graph};
use crate::sync::lockup;

pub fn lockdep<'a>(args: &Args<'a>) -> CmdResult<'a> {
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
