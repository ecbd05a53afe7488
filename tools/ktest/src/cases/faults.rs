//! Fault-injection cases: PSCI CPU_ON errors, a CPU that never comes online, one that
//! never starts dying, one whose death is never confirmed, one that takes its death
//! request just as the controller gives up (`fault=` and `fault`). Each failure must be
//! reported, roll the CPU back, free what was made for it (the free page count is the same
//! at every `mem`), leave the other CPUs working, and let the CPU be tried again.

use std::time::Duration;

use crate::case::{Board, Case};
use crate::checks::free_pages_unchanged;

/// Each injected timeout costs 5 s of the kernel's patience.
const TIMEOUT: Duration = Duration::from_secs(90);

/// The script of one round of `death_taken_late` on cpu2.
const LATE_ROUND: &str =
    "fault death_taken_late 2; cpu off 2; cpus --raw; ipi 2; slab check; cpu on 2";

/// What a round shows when cpu2 took its death request: offline, no calls reach it, the
/// slab kept no array for it (its DEAD callbacks ran), and it comes back.
const TAKEN: [&str; 4] = [
    "cpu=2 mpidr=0x2 method=psci state=offline",
    "ipi: cpu 2 offline",
    "slab check: every cache has an array for every CPU",
    "cpu on 2: done in",
];

/// What a round shows when the controller withdrew the request in time: cpu2 online and
/// answering calls.
const WITHDRAWN: [&str; 4] = [
    "cpu=2 mpidr=0x2 method=psci state=online",
    "ipi 2: 100 round trips",
    "slab check: every cache has an array for every CPU",
    "cpu: cpu2 is online",
];

/// Each round of `death_taken_late`: exactly one side won, and cpu2 is where the winner
/// says: the controller gave up and cpu2 is online and answers calls, or cpu2 took the
/// request and is offline, its DEAD callbacks run (the slab keeps no array for it) and it
/// comes back with `cpu on`. Never both, never lost.
fn death_taken_late_consistent(output: &str) -> Result<(), String> {
    let rounds: Vec<&str> = output
        .split("hotslab> fault death_taken_late 2")
        .skip(1)
        .collect();
    if rounds.is_empty() {
        return Err("no death_taken_late round".into());
    }
    let (mut withdrawn, mut taken) = (0, 0);
    for (n, round) in rounds.iter().enumerate() {
        let round = round.split("hotslab> hotplug").next().unwrap_or(round);
        let has = |text: &str| round.contains(text);
        let off_ok = has("cpu off 2: done in");
        let gave_up = has("cpu: cpu2 did not start dying within 5000 ms; cpu2 is online now");
        let where_the_winner_says = match (off_ok, gave_up) {
            (true, false) => {
                taken += 1;
                Some(&TAKEN)
            }
            (false, true) => {
                withdrawn += 1;
                Some(&WITHDRAWN)
            }
            _ => None,
        };
        let consistent = where_the_winner_says.is_some_and(|texts| texts.iter().all(|t| has(t)));
        if !consistent {
            return Err(format!(
                "round {}: cpu2 is not where the side that won says it is:{round}",
                n + 1
            ));
        }
    }
    println!("     death_taken_late: {taken} taken by the CPU, {withdrawn} withdrawn in time");
    Ok(())
}

pub fn cases(base: Case) -> Vec<Case> {
    let faulty = Case {
        forbid: &["Oops:", "BROKEN"],
        timeout: TIMEOUT,
        ..base
    };
    vec![
        Case {
            name: "fault-psci-cpu-on-errors",
            about: "Each PSCI CPU_ON error injected (denied, already on, invalid parameters): \
                    reported by name, the CPU rolled back, nothing leaked, the CPU brought up \
                    after.",
            bootargs: "fault=cpu_on_denied@2 run=\"slab check; cpu on 2; cpu off 2; mem --raw; \
                       fault cpu_on_already_on 2; cpu on 2; slab check; mem --raw; \
                       fault cpu_on_invalid 2; cpu on 2; slab check; mem --raw; \
                       fault cpu_on_denied 2; fault; cpu on 2; slab check; mem --raw; cpu on 2; \
                       hotplug 2; cpu off 2; mem --raw; slab check; poweroff\"",
            expect: &[
                "cpu2: fault injected: cpu_on_denied",
                "cpu2: PSCI CPU_ON for MPIDR 0x2 failed: PSCI call denied; cpu2 stays offline",
                "3 of 4 CPUs online: 0-1,3",
                "failed: Core already on; cpu2 is offline now",
                "failed: Invalid parameters to PSCI call (does the device tree name a core that exists?); cpu2 is offline now",
                "cpu2: cpu_on_denied",
                "failed: PSCI call denied; cpu2 is offline now",
                "RESULT hotplug PASS cycles=2 ops=12 cpus=3",
                "slab check: every cache has an array for every CPU",
            ],
            check: Some(free_pages_unchanged),
            ..faulty
        },
        Case {
            name: "fault-cpu-never-arrives",
            about: "A CPU that never reaches the kernel: the controller gives up after 5 s, \
                    turns it off again, frees its stack, and it comes up when tried again.",
            bootargs: "fault=no_arrival@3 run=\"slab check; cpu on 3; cpu off 3; mem --raw; \
                       fault no_arrival 3; cpu on 3; slab check; mem --raw; cpu on 3; hotplug 2; \
                       cpu off 3; mem --raw; slab check; poweroff\"",
            expect: &[
                "cpu3: fault injected: no_arrival",
                "cpu3 did not come online within 5000 ms (it is off again); cpu3 stays offline",
                "cpu on 3: done in",
                "cpu: cpu3 did not come online within 5000 ms (it is off again); cpu3 is offline now",
                "RESULT hotplug PASS cycles=2 ops=12 cpus=3",
                "slab check: every cache has an array for every CPU",
            ],
            check: Some(free_pages_unchanged),
            ..faulty
        },
        Case {
            name: "fault-cpu-hangs-before-arriving",
            about: "A CPU that hangs for good before it arrives: the firmware goes on saying ON \
                    (AFFINITY_INFO), and the error says so; its arrays go back once, and \
                    CPU_ON of it is refused from then on without harm.",
            bootargs: "run=\"cpu off 3; fault never_arrives 3; cpu on 3; slab check; cpu on 3; \
                       slab check; hotplug 2; cpus --raw; poweroff\"",
            expect: &[
                "cpu3: fault injected: never_arrives",
                "cpu: cpu3 did not come online within 5000 ms (the firmware says ON \
                 (AFFINITY_INFO): the core left the firmware but never arrived in the kernel); \
                 cpu3 is offline now",
                "slab check: 24 per-CPU arrays out, as needed (8 caches x 3 CPUs)",
                "cpu: cpu3: PSCI CPU_ON for MPIDR 0x3 failed: Core already on; cpu3 is offline \
                 now",
                "RESULT hotplug PASS cycles=2 ops=8 cpus=2",
                "cpu=3 mpidr=0x3 method=psci state=offline",
            ],
            forbid: &["Oops:", "BROKEN", "likely cause"],
            ..faulty
        },
        Case {
            name: "fault-cpu-never-dies-or-is-unconfirmed",
            about: "A CPU that never starts dying stays online and answers calls; one whose \
                    death is never confirmed is marked dying until it is found off.",
            bootargs: "run=\"cpu off 2; mem --raw; cpu on 2; fault no_death 1; cpu off 1; \
                       cpus --raw; slab check; ipi 1; fault death_unconfirmed 2; cpu off 2; \
                       cpus --raw; slab check; cpu on 2; cpu off 2; mem --raw; cpu on 2; \
                       hotplug 2; slab check; poweroff\"",
            expect: &[
                "cpu1: fault injected: no_death",
                "cpu: cpu1 did not start dying within 5000 ms; cpu1 is online now",
                "cpu=1 mpidr=0x1 method=psci state=online",
                "ipi 1: 100 round trips",
                "cpu2: fault injected: death_unconfirmed",
                "cpu: cpu2: the CPU did not confirm it is off; cpu2 is dying now",
                "cpu=2 mpidr=0x2 method=psci state=dying",
                "cpu2: now confirmed off",
                "RESULT hotplug PASS cycles=2 ops=12 cpus=3",
                "slab check: every cache has an array for every CPU",
            ],
            check: Some(free_pages_unchanged),
            ..faulty
        },
        Case {
            name: "fault-down-failed-undoes-down-prepare",
            about: "DOWN_PREPARE refused by the last callback, then a CPU that never takes its \
                    death request: both run DOWN_FAILED for the callbacks that prepared, so the \
                    CPU, still online, takes jobs again (work's DOWN_PREPARE had stopped them).",
            bootargs: "run=\"fault down_prepare_refused 2; cpu off 2; cpus --raw; stress fpsimd 2; \
                       fault no_death 1; cpu off 1; stress fpsimd 2; hotplug 2; slab check; \
                       poweroff\"",
            expect: &[
                "cpu2: fault injected: down_prepare_refused",
                "cpu: the fault injection callback refused: down_prepare_refused was injected; \
                 cpu2 is online now",
                "cpu=2 mpidr=0x2 method=psci state=online",
                "cpu1: fault injected: no_death",
                "cpu: cpu1 did not start dying within 5000 ms; cpu1 is online now",
                "RESULT hotplug PASS cycles=2 ops=12 cpus=3",
                "slab check: every cache has an array for every CPU",
            ],
            check: Some(fpsimd_twice_on_every_cpu),
            forbid: &["Oops:", "BROKEN", "going down"],
            ..faulty
        },
        Case {
            name: "fault-death-taken-late-one-side-wins",
            about: "A CPU takes its death request just as the controller gives up: in each of \
                    three rounds exactly one side wins, and the CPU is where the winner says.",
            bootargs: const_format_rounds(),
            expect: &[
                "cpu2: fault injected: death_taken_late",
                "RESULT hotplug PASS",
            ],
            check: Some(death_taken_late_consistent),
            ..faulty
        },
        Case {
            name: "rpi4-fault-spin-table",
            about: "The arrival and death faults on the spin-table method: a late CPU parks itself, an unconfirmed \
                    one is found parked when asked again.",
            machine: Board::RPI4.machine,
            dtb: Board::RPI4.dtb,
            bootargs: "fault=no_arrival@3 run=\"cpu on 3; fault death_unconfirmed 2; \
                       cpu off 2; cpu on 2; fault no_death 1; cpu off 1; hotplug 2; \
                       slab check; poweroff\"",
            expect: &[
                "cpu3 did not come online within 5000 ms (it is off again); cpu3 stays offline",
                "cpu on 3: done in",
                "cpu: cpu2: the CPU did not confirm it is off; cpu2 is dying now",
                "cpu2: now confirmed off",
                "cpu: cpu1 did not start dying within 5000 ms; cpu1 is online now",
                "RESULT hotplug PASS cycles=2 ops=12 cpus=3",
                "slab check: every cache has an array for every CPU",
            ],
            ..faulty
        },
    ]
}

/// Both `stress fpsimd` runs started on all four CPUs and passed.
fn fpsimd_twice_on_every_cpu(output: &str) -> Result<(), String> {
    let passed = output
        .lines()
        .filter(|l| l.starts_with("RESULT stress-fpsimd PASS seconds=2 cpus=4"))
        .count();
    if passed == 2 {
        Ok(())
    } else {
        Err(format!(
            "{passed} of 2 stress fpsimd runs passed on every CPU"
        ))
    }
}

/// Three rounds of `death_taken_late`, then hotplug cycles over every CPU.
fn const_format_rounds() -> &'static str {
    format!("run=\"{LATE_ROUND}; {LATE_ROUND}; {LATE_ROUND}; hotplug 3; poweroff\"").leak()
}
