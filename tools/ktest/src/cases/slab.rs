//! The slab allocator and the 2004 races: the README's walk-through by hand and every way to
//! get it wrong, the stress run with the hotplug lock on (no race, nothing lost) and off
//! (both races caught, named, nothing lost), on each virt board, and the same switches
//! thrown from the shell.

use std::time::Duration;

use crate::case::{Board, Case};
use crate::checks::both_races_caught;

/// Where each virt board's stress run puts its loaders, controller and cycled CPUs.
const ROLES: [&str; 2] = [
    "loaders cpu0, controller cpu1, cycled cpu 2-3",
    "loaders cpu0 cpu1, controller cpu2, cycled cpu 3-7",
];

pub fn cases(base: Case) -> Vec<Case> {
    let mut cases = vec![
        Case {
            name: "slab-by-hand",
            about: "The slab walk-through of docs/slab.md by hand (create, allocate, a CPU off, \
                    slabinfo, destroy refused then done), and every way to get it wrong.",
            bootargs: "run=\"slab create inode_cache 192; slab alloc inode_cache 1000; \
                       slabinfo --raw; cpu off 3; slabinfo; cpu on 3; slab destroy inode_cache; \
                       slab free inode_cache 1000; slab destroy inode_cache; slab check; \
                       slab create inode_cache 192; slab create inode_cache 64; \
                       slab create bad/name 64; slab create big 999999; slab create odd 64 3; \
                       slab alloc nosuch 1; slab alloc kmalloc-64 1; slab alloc inode_cache 0; \
                       slab free inode_cache 5; slab set hotplug_lock maybe; \
                       slab set race_window_us 999999; slab frob; stress slab-hotplug 0; \
                       slab shrink kmalloc-32; slab destroy inode_cache; poweroff\"",
            expect: &[
                "slab create inode_cache: 192-byte objects",
                "slab alloc inode_cache: 1000 objects, 1000 held",
                "slabinfo - version: 2.1",
                "<active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> \
                 <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>",
                "cache=inode_cache active_objs=1020 num_objs=1020 objsize=192 objperslab=20 \
                 pagesperslab=1 limit=120 batchcount=60 sharedfactor=0 active_slabs=51 num_slabs=51 \
                 sharedavail=0",
                "cache=kmalloc-4096 ",
                "cpu off 3: done in",
                "slab: 'inode_cache': refused: 1000 object(s) still allocated; the cache is unchanged",
                "slab free inode_cache: 1000 objects, 0 held",
                "slab destroy inode_cache: done",
                "slab check: every cache has an array for every CPU from UP_PREPARE to DEAD",
                "slab: 'inode_cache': a cache of that name exists",
                "slab: 'bad/name': a cache name is 1 to 24 letters, digits",
                "slab: 'big': object size 999999 is not in 1..=16384",
                "slab: 'odd': alignment 3 is not a power of two up to 4096",
                "slab: no cache 'nosuch' (make one with `slab create nosuch SIZE`)",
                "slab: 'kmalloc-64' is the kernel's",
                "slab: count 0: give 1 to 100000",
                "slab: 'inode_cache': the shell holds 0 object(s), not 5",
                "slab: argument 3 'maybe': expected on or off",
                "slab: race_window_us 999999: give 0 to 100000",
                "slab: argument 1 'frob': expected create, alloc, free, destroy, shrink, check, set or misuse",
                "stress: 0 s: give 1 to 3600",
                "slab shrink kmalloc-32:",
            ],
            forbid: &["Oops:", "race 1", "race 2"],
            ..base
        },
        Case {
            name: "slab-by-hand-gicv3-8cpus",
            about: "The slab walk-through on eight CPUs with a GICv3: a CPU off with objects \
                    held, a destroy refused while objects live, then done.",
            machine: "virt,gic-version=3,virtualization=on",
            smp: 8,
            bootargs: "run=\"slab create inode_cache 192; slab alloc inode_cache 1000; \
                       cpu off 7; slabinfo --raw; cpu on 7; slab destroy inode_cache; \
                       slab free inode_cache 1000; slab destroy inode_cache; slab check; poweroff\"",
            expect: &[
                "cache=inode_cache active_objs=1020 num_objs=1020 objsize=192 objperslab=20 \
                 pagesperslab=1 ",
                "cpu off 7: done in",
                "refused: 1000 object(s) still allocated",
                "slab destroy inode_cache: done",
                "slab check: every cache has an array for every CPU",
            ],
            forbid: &["Oops:", "race 1", "race 2"],
            ..base
        },
        Case {
            name: "stress-shell-switches",
            about: "The lock and race-window switches thrown from the shell: open the races, see them, close them \
                    again.",
            bootargs: "run=\"slab set hotplug_lock off; slab set race_window_us 200; \
                       stress slab-hotplug 60; slab set hotplug_lock on; stress slab-hotplug 5; \
                       poweroff\"",
            expect: &[
                "slab.hotplug_lock=off",
                "slab.race_window_us=200",
                "RESULT stress-slab-hotplug FAIL seconds=",
                "slab.hotplug_lock=on",
                "RESULT stress-slab-hotplug PASS seconds=",
            ],
            check: Some(both_races_caught),
            timeout: Duration::from_secs(150),
            ..base
        },
    ];
    for (board, roles) in Board::VIRT.iter().zip(ROLES) {
        let name = format!("stress-locked-{}", board.label).leak();
        let expect = [
            roles,
            "hotplug_lock=on, lock_order=normal, race_window_us=200",
            "RESULT stress-slab-hotplug PASS",
            "race1=0 race2=0 invariant_breaks=0 pages_leaked=0 objects_leaked=0",
        ];
        let locked = Case {
            about: "The 2004 scenario with the fix on: creates and destroys racing CPU \
                    hotplug for 10 s, no race, every array where it belongs, nothing lost.",
            bootargs: "slab.race_window_us=200 run=\"stress slab-hotplug 10; slab check; \
                       poweroff\"",
            expect: Vec::from(expect).leak(),
            forbid: &["Oops:", "race 1", "race 2", "BROKEN"],
            timeout: Duration::from_secs(120),
            ..base
        };
        cases.push(locked.on(board, name));
    }
    // The reproducer keeps its teeth: with the lock off, each run must catch both races.
    for board in &Board::VIRT {
        for run in 1..=3 {
            // A name per run, for the report; the suite runs once per process.
            let name = format!("stress-unlocked-{}-{run}", board.label).leak();
            let unlocked = Case {
                about: "The 2004 scenario with the fix off: both races caught and named in \
                        60 s, nothing lost (three runs, so a reproducer that lost its teeth \
                        shows).",
                bootargs: "slab.hotplug_lock=off slab.race_window_us=200 \
                           run=\"stress slab-hotplug 60; poweroff\"",
                expect: &[
                    "race 1 (kmem_cache_create vs ",
                    "race 2 (kmem_cache_destroy vs CPU_UP): the drain cross-call found no array",
                    "RESULT stress-slab-hotplug FAIL",
                ],
                check: Some(both_races_caught),
                timeout: Duration::from_secs(150),
                ..base
            };
            cases.push(unlocked.on(board, name));
        }
    }
    cases
}
