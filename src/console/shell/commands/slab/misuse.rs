//! `slab misuse double-free|foreign|wrong-cache|overrun|use-after-free [CACHE]`: provokes
//! one misuse of a cache (`mm::slab::misuse`), says what caught it or that nothing did,
//! and shows the cache consistent afterwards.
//!
//! CACHE is one the shell made with `slab create`; without it, the command works on a
//! scratch cache of 64-byte objects it makes and destroys again (its quarantined objects
//! go back with it). `wrong-cache` also makes a scratch cache like CACHE to free into.

use super::{CmdError, CmdResult, with_shell_cache};
use crate::console::shell::args::Args;
use crate::mm::kernel_slab::{self as slab, Explained};
use crate::mm::kernel_slab::{Cache, OwnedObject};
use crate::mm::slab::misuse::{self, Refusal};
use crate::mm::slab::{SlabError, SlabFlags};
use crate::println;

const KINDS: [&str; 5] = [
    "double-free",
    "foreign",
    "wrong-cache",
    "overrun",
    "use-after-free",
];
const SCRATCH: &str = "misuse";
const OTHER: &str = "misuse-other";
const SCRATCH_SIZE: usize = 64;

pub(super) fn misuse<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(3)?;
    let kind = args.choice(
        1,
        &KINDS,
        "double-free, foreign, wrong-cache, overrun or use-after-free",
    )?;
    match args.get(2) {
        Some(name) => with_shell_cache(name, |caches, at| {
            provoke(kind, caches[at].handle.cache())?;
            report_consistency(caches[at].handle.cache())
        }),
        None => with_scratch(SCRATCH, SCRATCH_SIZE, 0, |cache| provoke(kind, cache)),
    }
}

/// Runs `f` on a scratch cache made for it, then checks and destroys the cache.
fn with_scratch<'a>(
    name: &str,
    size: usize,
    align: usize,
    f: impl FnOnce(&Cache) -> CmdResult<'a>,
) -> CmdResult<'a> {
    let handle = slab::kmem_cache_create(name, size, align, SlabFlags::NONE, None)
        .map_err(|e| CmdError::failed(format_args!("scratch cache '{name}': {e}")))?;
    let result = f(handle.cache()).and_then(|()| report_consistency(handle.cache()));
    let quarantined = handle.stats().quarantined;
    match slab::kmem_cache_destroy(handle) {
        Ok(()) if quarantined > 0 => println!(
            "slab misuse: scratch cache '{name}' destroyed; its {quarantined} quarantined \
             object(s) went back with its slabs"
        ),
        Ok(()) => println!("slab misuse: scratch cache '{name}' destroyed"),
        // Only if a misuse above kept an object. The cache stays on the chain, whole, and
        // `slabinfo` shows it; its name stays taken.
        Err((_, e)) => {
            return Err(CmdError::failed(format_args!(
                "scratch cache '{name}' not destroyed: {e}; it stays on the chain"
            )));
        }
    }
    result
}

fn failed<'a>(cache: &Cache, e: SlabError) -> CmdError<'a> {
    CmdError::failed(format_args!("'{}': {e}", cache.name()))
}

fn provoke<'a>(kind: &str, cache: &Cache) -> CmdResult<'a> {
    let name = cache.name();
    match kind {
        "double-free" => {
            let r = misuse::double_free(cache).map_err(|e| failed(cache, e))?;
            refused(
                kind,
                name,
                r,
                format_args!("second free of {:#x}", r.pointer),
            );
        }
        "foreign" => {
            let [inside, stack] = misuse::foreign(cache).map_err(|e| failed(cache, e))?;
            refused(
                kind,
                name,
                inside,
                format_args!(
                    "free of {:#x} ({} byte into object {:#x})",
                    inside.pointer,
                    inside.pointer - inside.object,
                    inside.object
                ),
            );
            refused(
                kind,
                name,
                stack,
                format_args!("free of {:#x} (a variable on the stack)", stack.pointer),
            );
        }
        "wrong-cache" => {
            let g = *cache.geometry();
            with_scratch(OTHER, g.object_size, g.align, |other| {
                let r = misuse::wrong_cache(cache, other).map_err(|e| failed(cache, e))?;
                refused(
                    kind,
                    other.name(),
                    r,
                    format_args!("free of object {:#x} of cache '{name}'", r.pointer),
                );
                Ok(())
            })?;
        }
        "overrun" => overrun(cache)?,
        _ => use_after_free(cache)?,
    }
    Ok(())
}

/// Prints what the cache said to a free it should refuse.
fn refused(kind: &str, cache: &str, r: Refusal, what: core::fmt::Arguments<'_>) {
    match r.result {
        Err(e) => println!(
            "slab misuse {kind}: cache '{cache}': {what} refused: {}",
            Explained(e)
        ),
        Ok(()) => println!("slab misuse {kind}: cache '{cache}': {what} ACCEPTED: not detected"),
    }
}

fn overrun<'a>(cache: &Cache) -> CmdResult<'a> {
    let name = cache.name();
    let before = cache.corruptions();
    let mut by_check = 0;
    let stray = misuse::overrun(cache, |_| {
        let at_check = cache.corruptions();
        let _ = slab::check_cache(cache);
        by_check = cache.corruptions() - at_check;
    })
    .map_err(|e| failed(cache, e))?;
    let at_free = cache.corruptions() - before - by_check;
    let what = format_args!(
        "{} bytes written past object {:#x} (at +{})",
        stray.bytes, stray.object, stray.offset
    );
    if by_check + at_free == 0 {
        println!(
            "slab misuse overrun: cache '{name}': {what}: NOT detected: no red zones \
             without slab_debug"
        );
    } else {
        println!(
            "slab misuse overrun: cache '{name}': {what}: caught by slab check ({by_check} \
             report) and at free ({at_free} report, object quarantined)"
        );
    }
    Ok(())
}

fn use_after_free<'a>(cache: &Cache) -> CmdResult<'a> {
    let name = cache.name();
    // Seen when the object is next handed out...
    let before = cache.corruptions();
    let stray = stray_write(cache)?;
    let next = OwnedObject::alloc(cache).map_err(|e| failed(cache, e))?;
    let next_address = next.address();
    next.free().map_err(|e| failed(cache, e))?;
    let what = format_args!(
        "{} bytes written into freed object {:#x}",
        stray.bytes, stray.object
    );
    if cache.corruptions() > before {
        println!(
            "slab misuse use-after-free: cache '{name}': {what}: caught at the next \
             allocation (object quarantined, {next_address:#x} handed out instead)"
        );
    } else {
        println!(
            "slab misuse use-after-free: cache '{name}': {what}: NOT detected: the next \
             allocation handed {next_address:#x} out{}; no poison without slab_debug",
            if next_address == stray.object {
                " again, stray bytes and all"
            } else {
                ""
            }
        );
    }
    // ...and by a check before that.
    let before = cache.corruptions();
    let stray = stray_write(cache)?;
    let _ = slab::check_cache(cache);
    let what = format_args!(
        "{} bytes written into freed object {:#x}",
        stray.bytes, stray.object
    );
    if cache.corruptions() > before {
        println!(
            "slab misuse use-after-free: cache '{name}': {what}: caught by slab check \
             (object quarantined)"
        );
    } else {
        println!(
            "slab misuse use-after-free: cache '{name}': {what}: NOT detected by slab \
             check: no poison without slab_debug"
        );
    }
    Ok(())
}

fn stray_write<'a>(cache: &Cache) -> Result<misuse::Stray, CmdError<'a>> {
    misuse::use_after_free(cache)
        .map_err(|e| failed(cache, e))?
        .ok_or_else(|| {
            CmdError::failed(format_args!(
                "'{}' has no per-CPU array on this CPU: not written",
                cache.name()
            ))
        })
}

/// Checks the cache and says whether its lists, counts and objects add up.
fn report_consistency<'a>(cache: &Cache) -> CmdResult<'a> {
    let name = cache.name();
    let checked = slab::check_cache(cache)
        .map_err(|e| CmdError::failed(format_args!("'{name}': INCONSISTENT: {e}")))?;
    let c = checked.census;
    let live = cache.live_objects();
    if c.active != live {
        return Err(CmdError::failed(format_args!(
            "'{name}': INCONSISTENT: {} object(s) marked in use, {live} counted",
            c.active
        )));
    }
    println!(
        "slab misuse: cache '{name}' consistent: {} slab(s), {} object(s): {} free, {} in \
         use, {} in per-CPU arrays, {} quarantined",
        c.slabs, c.objects, c.free, c.active, c.cached, c.quarantined
    );
    Ok(())
}
