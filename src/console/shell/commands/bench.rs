//! `bench [part ...]`: runs the named parts of the kernel's benchmarks, or all of them.

use super::CmdResult;
use crate::bench::PARTS;
use crate::console::shell::args::Args;

pub(super) fn bench<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(PARTS.len())?;
    // Check every name before running any part.
    for index in 0..args.len() {
        args.choice(index, &PARTS, "boot, hotplug, slab, lock, ipi or cache")?;
    }
    if args.is_empty() {
        PARTS.iter().for_each(|part| crate::bench::run(part));
    } else {
        (0..args.len())
            .filter_map(|i| args.get(i))
            .for_each(crate::bench::run);
    }
    Ok(())
}
