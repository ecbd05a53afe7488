//! `stress`: the scenarios of `selftest`, each ending with its `RESULT` line:
//! `slab-hotplug` (the 2004 races), `all` (the soak) and `fpsimd` (vector registers across
//! exceptions).

use super::{CmdError, CmdResult};
use crate::console::shell::args::Args;
use crate::println;
use crate::selftest::{fpsimd, slab_hotplug, stress_all};

pub(super) fn stress<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(2)?;
    let scenario = args.choice(
        0,
        &["slab-hotplug", "all", "fpsimd"],
        "slab-hotplug, all or fpsimd",
    )?;
    let seconds = args.number_or(1, 10, "a number of seconds")?;
    if seconds == 0 || seconds > 3600 {
        return Err(CmdError::failed(format_args!(
            "{seconds} s: give 1 to 3600"
        )));
    }
    match scenario {
        "all" => return stress_all(seconds),
        "fpsimd" => return stress_fpsimd(seconds),
        _ => {}
    }
    let (r, failure) =
        slab_hotplug::run(seconds).map_err(|e| CmdError::failed(format_args!("{e}")))?;
    if let Some(why) = failure {
        println!("stress slab-hotplug: {why}");
    }
    println!(
        "RESULT stress-slab-hotplug {} seconds={} lock={} window_us={} cycles={} hotplug_ops={} \
         objects={} race1={} race2={} invariant_breaks={} pages_leaked={} objects_leaked={}",
        if r.passed { "PASS" } else { "FAIL" },
        r.seconds,
        if r.lock { "on" } else { "off" },
        r.window_us,
        r.cycles,
        r.hotplug_ops,
        r.objects,
        r.race1,
        r.race2,
        r.invariant_breaks,
        r.pages_leaked,
        r.objects_leaked
    );
    Ok(())
}

fn stress_all<'a>(seconds: u64) -> CmdResult<'a> {
    let (r, failure) =
        stress_all::run(seconds).map_err(|e| CmdError::failed(format_args!("{e}")))?;
    if let Some(why) = failure {
        println!("stress all: first failure: {why}");
    }
    println!(
        "RESULT stress-all {} seconds={} hotplug_ops={} caches={} objects={} failures={} \
         pages_leaked={} objects_leaked={}",
        if r.passed { "PASS" } else { "FAIL" },
        r.seconds,
        r.hotplug_ops,
        r.caches,
        r.objects,
        r.failures,
        r.pages_leaked,
        r.objects_leaked
    );
    Ok(())
}

fn stress_fpsimd<'a>(seconds: u64) -> CmdResult<'a> {
    let (r, failure) = fpsimd::run(seconds).map_err(|e| CmdError::failed(format_args!("{e}")))?;
    if let Some(why) = failure {
        println!("stress fpsimd: first failure: {why}");
    }
    println!(
        "RESULT stress-fpsimd {} seconds={} cpus={} holds={} interrupted_holds={} calls={} \
         corrupted={}",
        if r.passed { "PASS" } else { "FAIL" },
        r.seconds,
        r.cpus,
        r.holds,
        r.interrupted_holds,
        r.calls,
        r.corrupted
    );
    Ok(())
}
