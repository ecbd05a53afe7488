//! Slab commands: `slabinfo`, `slab create|alloc|free|destroy|shrink|check|set|misuse`.
//!
//! Caches made with `slab create` belong to the shell, which keeps the objects it
//! allocated from them, so `slab free` and `slab destroy` work by name; the kernel's own
//! caches are shown but not handed out.

use alloc::vec::Vec;

use super::{CmdError, CmdResult};
use crate::console::shell::args::Args;
use crate::console::shell::raw::Value;
use crate::dt::bootargs::{MAX_RACE_WINDOW_US, parse_on_off};
use crate::mm::kernel_slab as slab;
use crate::mm::kernel_slab::{CacheHandle, OwnedObject};
use crate::mm::slab::{SlabFlags, cache::valid_name, geometry::MAX_OBJECT_SIZE};
use crate::println;
use crate::sync::SpinLock;

mod misuse;

/// The most objects one `slab alloc` or `slab free` moves.
const MAX_COUNT: u64 = 100_000;

struct ShellCache {
    handle: CacheHandle,
    /// The objects the shell holds, newest last.
    objects: Vec<OwnedObject>,
}

static SHELL_CACHES: SpinLock<Vec<ShellCache>> =
    SpinLock::new(crate::lock_class!("shell caches"), Vec::new());

/// `slabinfo [--raw]`: every cache, in /proc/slabinfo's layout or as `key=value` lines
/// named as its header names the columns.
pub(super) fn slabinfo<'a>(args: &Args<'a>) -> CmdResult<'a> {
    let raw = args.only_option("--raw")?;
    if !raw {
        println!("slabinfo - version: 2.1");
        println!(
            "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> \
             : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> \
             <num_slabs> <sharedavail>"
        );
    }
    slab::for_each_cache(|c| {
        let s = c.stats();
        let g = c.geometry();
        let (limit, batch) = if c.per_cpu() {
            (g.limit, g.batch)
        } else {
            (0, 0)
        };
        if raw {
            println!(
                "cache={} active_objs={} num_objs={} objsize={} objperslab={} pagesperslab={} \
                 limit={limit} batchcount={batch} sharedfactor=0 active_slabs={} num_slabs={} \
                 sharedavail=0",
                Value(c.name()),
                s.active_objs,
                s.num_objs,
                g.stride,
                g.objects,
                g.pages,
                s.active_slabs,
                s.num_slabs
            );
            return;
        }
        println!(
            "{:<17} {:>6} {:>6} {:>6} {:>4} {:>4} : tunables {:>4} {:>4} {:>4} : slabdata {:>6} {:>6} {:>6}",
            c.name(),
            s.active_objs,
            s.num_objs,
            g.stride,
            g.objects,
            g.pages,
            limit,
            batch,
            0,
            s.active_slabs,
            s.num_slabs,
            0
        );
    });
    Ok(())
}

pub(super) fn slab_command<'a>(args: &Args<'a>) -> CmdResult<'a> {
    let action = args.choice(
        0,
        &[
            "create", "alloc", "free", "destroy", "shrink", "check", "set", "misuse",
        ],
        "create, alloc, free, destroy, shrink, check, set or misuse",
    )?;
    match action {
        "create" => create(args),
        "alloc" => alloc(args),
        "free" => free(args),
        "destroy" => destroy(args),
        "shrink" => shrink(args),
        "check" => check(args),
        "misuse" => misuse::misuse(args),
        _ => set(args),
    }
}

fn name_arg<'a>(args: &Args<'a>) -> Result<&'a str, CmdError<'a>> {
    let name = args.word(1, "a cache name")?;
    if !valid_name(name) {
        return Err(CmdError::failed(format_args!(
            "'{name}': {}",
            crate::mm::slab::SlabError::BadName
        )));
    }
    Ok(name)
}

fn count_arg<'a>(args: &Args<'a>) -> Result<usize, CmdError<'a>> {
    let n = args.number(2, "an object count")?;
    if n == 0 || n > MAX_COUNT {
        return Err(CmdError::failed(format_args!(
            "count {n}: give 1 to {MAX_COUNT}"
        )));
    }
    Ok(n as usize)
}

/// Runs `f` on the shell's cache `name`.
fn with_shell_cache<'a, R>(
    name: &str,
    f: impl FnOnce(&mut Vec<ShellCache>, usize) -> Result<R, CmdError<'a>>,
) -> Result<R, CmdError<'a>> {
    let mut caches = SHELL_CACHES.lock();
    match caches.iter().position(|c| c.handle.name() == name) {
        Some(at) => f(&mut caches, at),
        None if slab::contains(name) => Err(CmdError::failed(format_args!(
            "'{name}' is the kernel's; the shell uses only caches it made with `slab create`"
        ))),
        None => Err(CmdError::failed(format_args!(
            "no cache '{name}' (make one with `slab create {name} SIZE`)"
        ))),
    }
}

fn create<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(4)?;
    let name = name_arg(args)?;
    let size = args.number(2, "an object size in bytes")?;
    let align = args.number_or(3, 0, "an alignment in bytes")?;
    if size == 0 || size > MAX_OBJECT_SIZE as u64 {
        return Err(CmdError::failed(format_args!(
            "'{name}': object size {size} is not in 1..={MAX_OBJECT_SIZE}"
        )));
    }
    let cache = slab::kmem_cache_create(
        name,
        size as usize,
        align.min(1 << 20) as usize,
        SlabFlags::NONE,
        None,
    )
    .map_err(|e| CmdError::failed(format_args!("'{name}': {e}")))?;
    let g = *cache.geometry();
    SHELL_CACHES.lock().push(ShellCache {
        handle: cache,
        objects: Vec::new(),
    });
    println!(
        "slab create {name}: {}-byte objects ({} with alignment), {} per {}-page slab, per-CPU arrays of {} (batch {})",
        g.object_size, g.stride, g.objects, g.pages, g.limit, g.batch
    );
    Ok(())
}

fn alloc<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(3)?;
    let name = name_arg(args)?;
    let n = count_arg(args)?;
    with_shell_cache(name, |caches, at| {
        let c = &mut caches[at];
        c.objects
            .try_reserve(n)
            .map_err(|_| CmdError::failed(format_args!("no memory to track {n} more objects")))?;
        for i in 0..n {
            match OwnedObject::alloc(&c.handle) {
                Ok(o) => c.objects.push(o),
                Err(e) => {
                    return Err(CmdError::failed(format_args!(
                        "'{name}': object {} of {n}: {e} ({} held)",
                        i + 1,
                        c.objects.len()
                    )));
                }
            }
        }
        println!("slab alloc {name}: {n} objects, {} held", c.objects.len());
        Ok(())
    })
}

fn free<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(3)?;
    let name = name_arg(args)?;
    let n = count_arg(args)?;
    with_shell_cache(name, |caches, at| {
        let c = &mut caches[at];
        if n > c.objects.len() {
            return Err(CmdError::failed(format_args!(
                "'{name}': the shell holds {} object(s), not {n}",
                c.objects.len()
            )));
        }
        for _ in 0..n {
            let object = c.objects.pop().expect("counted above");
            if let Err(e) = object.free() {
                return Err(CmdError::failed(format_args!("'{name}': {e}")));
            }
        }
        println!("slab free {name}: {n} objects, {} held", c.objects.len());
        Ok(())
    })
}

fn destroy<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(2)?;
    let name = name_arg(args)?;
    with_shell_cache(name, |caches, at| {
        let c = caches.remove(at);
        match slab::kmem_cache_destroy(c.handle) {
            Ok(()) => {
                println!("slab destroy {name}: done");
                Ok(())
            }
            Err((handle, e)) => {
                caches.insert(
                    at,
                    ShellCache {
                        handle,
                        objects: c.objects,
                    },
                );
                Err(CmdError::failed(format_args!(
                    "'{name}': refused: {e}; the cache is unchanged"
                )))
            }
        }
    })
}

fn shrink<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(2)?;
    let name = name_arg(args)?;
    let pages = slab::with_cache(name, slab::kmem_cache_shrink)
        .ok_or_else(|| CmdError::failed(format_args!("no cache '{name}'")))?;
    println!("slab shrink {name}: {pages} page(s) returned");
    Ok(())
}

fn check<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(1)?;
    let (race1, race2) = slab::races();
    match slab::check_invariant() {
        Ok(()) => println!(
            "slab check: every cache has an array for every CPU from UP_PREPARE to DEAD \
             (races met since boot: race1={race1} race2={race2})"
        ),
        Err(v) => {
            println!("slab check: BROKEN: {v} (races met since boot: race1={race1} race2={race2})")
        }
    }
    check_arrays();
    check_objects();
    Ok(())
}

/// The per-CPU arrays out of their cache against the chain's need: one fewer is an array
/// freed twice or never made, one more a leak.
fn check_arrays() {
    let count = slab::arrays();
    let verdict = if count.out == count.needed() {
        "as needed"
    } else {
        "BROKEN: not as needed"
    };
    println!(
        "slab check: {} per-CPU arrays out, {verdict} ({} caches x {} CPUs)",
        count.out, count.caches, count.cpus
    );
}

/// Every cache's lists and counts, and with `slab_debug` every object's red zone and every
/// free object's poison (corrupted objects are reported as they are found).
fn check_objects() {
    let (mut caches, mut objects, mut painted, mut corrupted, mut broken) = (0, 0, 0, 0, 0);
    let mut quarantined = 0;
    slab::check_caches(|cache, result| {
        caches += 1;
        match result {
            Ok(c) => {
                objects += c.census.objects;
                painted += c.painted;
                corrupted += c.corrupted;
                quarantined += c.census.quarantined;
            }
            Err(e) => {
                broken += 1;
                println!("slab check: BROKEN: cache '{}': {e}", cache.name());
            }
        }
    });
    let lists = if broken == 0 {
        "consistent"
    } else {
        "NOT consistent"
    };
    println!(
        "slab check: {caches} caches' slab lists and counts {lists} ({objects} objects, \
         {quarantined} quarantined)"
    );
    if !slab::debug() {
        println!("slab check: red zones and poison: off (boot with slab_debug to check them)");
    } else if corrupted == 0 {
        println!("slab check: red zones and poison: {painted} objects intact");
    } else {
        println!(
            "slab check: red zones and poison: {corrupted} of {painted} objects CORRUPTED              (reported above)"
        );
    }
}

fn set<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(3)?;
    let knob = args.choice(
        1,
        &["hotplug_lock", "lock_order", "race_window_us"],
        "hotplug_lock, lock_order or race_window_us",
    )?;
    if knob == "lock_order" {
        let inverted = args.choice(2, &["normal", "inverted"], "normal or inverted")? == "inverted";
        slab::set_lock_order_inverted(inverted);
        println!(
            "slab.lock_order={}",
            if inverted { "inverted" } else { "normal" }
        );
    } else if knob == "hotplug_lock" {
        let word = args.word(2, "on or off")?;
        let on = parse_on_off(word).ok_or(CmdError::Usage(
            crate::console::shell::args::ArgError::Invalid {
                index: 3,
                got: word,
                expected: "on or off",
            },
        ))?;
        slab::set_hotplug_lock(on);
        println!("slab.hotplug_lock={}", if on { "on" } else { "off" });
    } else {
        let us = args.number(2, "microseconds")?;
        if us > MAX_RACE_WINDOW_US {
            return Err(CmdError::failed(format_args!(
                "race_window_us {us}: give 0 to {MAX_RACE_WINDOW_US}"
            )));
        }
        slab::set_race_window_us(us);
        println!("slab.race_window_us={us}");
    }
    Ok(())
}
