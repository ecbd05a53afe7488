//! `slab_debug` cases: each misuse provoked with red zones and poison on (caught, named
//! with cache and object, the cache consistent after, nothing leaked) and off (the bad
//! frees still refused, the overrun and the use after free missed, as they should be
//! without the protection), and the slab stress run under `slab_debug`.

use std::time::Duration;

use crate::case::Case;
use crate::checks::free_pages_unchanged;

/// Every misuse on the default scratch cache.
macro_rules! misuses {
    () => {
        "slab misuse double-free; slab misuse foreign; slab misuse wrong-cache; \
         slab misuse overrun; slab misuse use-after-free"
    };
}

pub fn cases(base: Case) -> Vec<Case> {
    vec![
        Case {
            name: "slab-debug-misuse",
            about: "The misuses once on a cache of the shell's (the quarantined objects go back \
                    when it is destroyed), then twice on scratch caches, `mem` after each \
                    round: the first round may grow the allocator's own caches, after that \
                    nothing may change.",
            bootargs: concat!(
                "slab_debug run=\"slab create inode_cache 192; slab alloc inode_cache 10; ",
                "slab misuse overrun inode_cache; slab misuse use-after-free inode_cache; ",
                "slab misuse wrong-cache inode_cache; slabinfo --raw; slab free inode_cache 10; ",
                "slab destroy inode_cache; ",
                misuses!(),
                "; mem --raw; ",
                misuses!(),
                "; slab check; slabinfo --raw; mem --raw; poweroff\""
            ),
            expect: &[
                "slab: slab_debug: red zones and poison on every cache",
                "slab misuse double-free: cache 'misuse': second free of 0x",
                " refused: 0x",
                "is already free (double free)",
                "slab misuse foreign: cache 'misuse': free of 0x",
                "(1 byte into object 0x",
                "is not an object of this cache",
                "(a variable on the stack) refused: 0x",
                "slab misuse wrong-cache: cache 'misuse-other': free of object 0x",
                "of cache 'misuse' refused: 0x",
                "is an object of cache 'misuse' (wrong cache)",
                "slab misuse wrong-cache: cache 'misuse-other': free of object 0x",
                "of cache 'inode_cache' refused: 0x",
                "is an object of cache 'inode_cache' (wrong cache)",
                "slab_debug: cache 'misuse': object 0x",
                ": red zone overwritten, 8 byte(s) from +64 (found 0x73, expected 0xbb): a \
                 write past the object; seen by slab check; object in use: quarantined when freed",
                ": red zone overwritten, 8 byte(s) from +64 (found 0x73, expected 0xbb): a \
                 write past the object; seen at free; object quarantined",
                "slab misuse overrun: cache 'misuse': 8 bytes written past object 0x",
                "(at +64): caught by slab check (1 report) and at free (1 report, object \
                 quarantined)",
                ": red zone overwritten, 8 byte(s) from +192 (found 0x73, expected 0xbb)",
                ": poison overwritten, 8 byte(s) from +0 (found 0x73, expected 0x6b): a write \
                 to the object while it was free; seen at allocation; object quarantined",
                ": poison overwritten, 8 byte(s) from +0 (found 0x73, expected 0x6b): a write \
                 to the object while it was free; seen by slab check; object quarantined",
                "slab misuse use-after-free: cache 'misuse': 8 bytes written into freed object \
                 0x",
                ": caught at the next allocation (object quarantined, 0x",
                ": caught by slab check (object quarantined)",
                "slab misuse use-after-free: cache 'inode_cache': 8 bytes written into freed",
                "slab misuse: cache 'misuse' consistent: 2 slab(s), 108 object(s): 106 free, 0 \
                 in use, 0 in per-CPU arrays, 2 quarantined",
                "slab misuse: scratch cache 'misuse' destroyed; its 2 quarantined object(s) \
                 went back with its slabs",
                "slab misuse: cache 'inode_cache' consistent: ",
                "10 in use, 0 in per-CPU arrays, 1 quarantined",
                // 10 held, 3 quarantined; 200-byte stride: 192 and the red zone.
                "cache=inode_cache active_objs=13 num_objs=80 objsize=200 objperslab=20 \
                 pagesperslab=1 ",
                "slab destroy inode_cache: done",
                "slab check: every cache has an array for every CPU from UP_PREPARE to DEAD",
                "caches' slab lists and counts consistent",
                " objects intact",
            ],
            forbid: &[
                "Oops:",
                "ACCEPTED",
                "NOT detected",
                "INCONSISTENT",
                "BROKEN",
                "CORRUPTED",
                "NOT consistent",
                "not destroyed",
            ],
            check: Some(misuse_checks),
            ..base
        },
        Case {
            name: "slab-debug-off-misses",
            about: "Without slab_debug the bad frees are still refused, but nothing looks at \
                    the bytes: the overrun and the use after free go unnoticed.",
            bootargs: concat!(
                "run=\"",
                misuses!(),
                "; slab check; slab misuse bogus; slab misuse overrun kmalloc-64; poweroff\""
            ),
            expect: &[
                "is already free (double free)",
                "is not an object of this cache",
                "is an object of cache 'misuse' (wrong cache)",
                "slab misuse overrun: cache 'misuse': 8 bytes written past object 0x",
                "NOT detected: no red zones without slab_debug",
                "NOT detected: the next allocation handed 0x",
                "out again, stray bytes and all; no poison without slab_debug",
                "NOT detected by slab check: no poison without slab_debug",
                "slab misuse: scratch cache 'misuse' destroyed",
                "caches' slab lists and counts consistent",
                "red zones and poison: off (boot with slab_debug to check them)",
                "slab: argument 2 'bogus': expected double-free, foreign, wrong-cache, overrun \
                 or use-after-free",
                "slab: 'kmalloc-64' is the kernel's; the shell uses only caches it made with \
                 `slab create`",
            ],
            forbid: &[
                "Oops:",
                "slab_debug: cache",
                "caught",
                "ACCEPTED",
                "INCONSISTENT",
            ],
            ..base
        },
        Case {
            name: "slab-debug-stress",
            about: "The 2004 scenario with every object painted and checked: nothing corrupted, \
                    nothing lost, and the check passes after it.",
            bootargs: "slab_debug slab.race_window_us=200 run=\"stress slab-hotplug 10; \
                       slab check; poweroff\"",
            expect: &[
                "slab: slab_debug: red zones and poison on every cache",
                "RESULT stress-slab-hotplug PASS",
                "race1=0 race2=0 invariant_breaks=0 pages_leaked=0 objects_leaked=0",
                "caches' slab lists and counts consistent",
                " objects intact",
            ],
            forbid: &[
                "Oops:",
                "race 1",
                "race 2",
                "BROKEN",
                "slab_debug: cache",
                "CORRUPTED",
            ],
            timeout: Duration::from_secs(120),
            ..base
        },
    ]
}

/// The pages are the same after the second round as after the first, and every object a
/// misuse line names is the one its report names.
fn misuse_checks(output: &str) -> Result<(), String> {
    free_pages_unchanged(output)?;
    let reports: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("slab_debug: cache '"))
        .collect();
    for (line, after, what, seen) in [
        (
            "slab misuse overrun:",
            "past object ",
            "red zone",
            "seen at free",
        ),
        (
            "slab misuse use-after-free:",
            "into freed object ",
            "poison",
            "seen ",
        ),
    ] {
        let lines: Vec<&str> = output.lines().filter(|l| l.starts_with(line)).collect();
        if lines.is_empty() {
            return Err(format!("no {line:?} line"));
        }
        for l in lines {
            let object = l
                .split(after)
                .nth(1)
                .and_then(|rest| rest.split([' ', ':']).next())
                .ok_or(format!("no object in {l:?}"))?;
            let cache = l.split('\'').nth(1).unwrap_or("");
            let named = format!("slab_debug: cache '{cache}': object {object}: {what}");
            if !reports
                .iter()
                .any(|r| r.contains(&named) && r.contains(seen))
            {
                return Err(format!("{l:?}: no report {named:?} ... {seen:?}"));
            }
        }
    }
    Ok(())
}
