//! The lock validator and the lockup detector: a clean validated run of the stress
//! scenarios and the soak, Linux 5.12's inversion reported before it deadlocks, the same
//! inversion deadlocking for real without the validator and named by the lockup detector,
//! and the interrupt rule broken on purpose.

use std::time::Duration;

use crate::case::{Board, Case};
use crate::checks::field;

/// The validator ran, saw the kernel's locks, and found nothing.
fn validated_and_clean(output: &str) -> Result<(), String> {
    let line = output
        .lines()
        .find(|l| l.starts_with("lockdep enabled="))
        .ok_or("no `lockdep --raw` line")?;
    let number = |key| -> Result<u64, String> {
        field(line, key)
            .and_then(|v| v.parse().ok())
            .ok_or(format!("no {key}= in: {line}"))
    };
    if number("enabled")? != 1 {
        return Err(format!("validation was off: {line}"));
    }
    for key in ["problems", "reported", "lockups", "full"] {
        if number(key)? != 0 {
            return Err(format!("{key} is not 0: {line}"));
        }
    }
    // The hotplug lock, the slab's locks and the waits were all validated.
    for class in [
        "cpu_hotplug_lock",
        "slab_mutex",
        "&cache->lists",
        "zone->lock",
        "cross-call wait",
        "cpuhp_state-up",
        "cpuhp_state-down",
    ] {
        let named = format!("name=\"{class}\"");
        if !output
            .lines()
            .any(|l| l.starts_with("class ") && l.contains(&named))
        {
            return Err(format!("class {class} never validated"));
        }
    }
    if number("dependencies")? < 10 {
        return Err(format!(
            "too few dependencies to have seen the kernel: {line}"
        ));
    }
    Ok(())
}

pub fn cases(base: Case) -> Vec<Case> {
    let mut cases = Vec::new();
    for (board, seconds) in [(Board::VIRT_GICV2_4CPUS, 10), (Board::VIRT_GICV3_8CPUS, 15)] {
        let clean = Case {
            about: "Every lock validated through the 2004 scenario, the soak and hotplug: \
                    no report, no lockup, and the hotplug lock, the slab's locks and the \
                    waits for cross-calls and CPUs all seen.",
            bootargs: format!(
                "lockdep run=\"stress slab-hotplug 5; stress all {seconds}; hotplug 2; \
                 lockdep --raw; poweroff\""
            )
            .leak(),
            expect: &[
                "lockdep: validating every lock's order and context",
                "RESULT stress-slab-hotplug PASS",
                "RESULT stress-all PASS",
                "RESULT hotplug PASS",
            ],
            forbid: &["Oops:", "WARNING:", "BUG:"],
            check: Some(validated_and_clean),
            timeout: Duration::from_secs(150),
            ..base
        };
        cases.push(clean.on(&board, format!("lockdep-clean-{}", board.label).leak()));
    }
    cases.extend([
        Case {
            name: "lockdep-inversion-reported",
            about: "Linux 5.12's inversion (create takes the cache chain's lock before the \
                    hotplug lock) reported by the validator the first time both orders \
                    are seen, in Linux's words, with the two-CPU scenario.",
            bootargs: "lockdep slab.lock_order=inverted run=\"stress slab-hotplug 10; \
                       poweroff\"",
            expect: &[
                "lock_order=inverted",
                "WARNING: possible circular locking dependency detected",
                "is trying to acquire lock:",
                "but cpu",
                "which lock already depends on the new lock.",
                "the existing dependency chain (in reverse order) is:",
                "(slab_mutex){+}",
                "(cpu_hotplug_lock){+}",
                "Possible unsafe locking scenario:",
                "lock(slab_mutex);",
                "*** DEADLOCK ***",
                "held by cpu",
                "#0: (",
            ],
            forbid: &["Oops:", "inconsistent lock state"],
            // The inversion may also deadlock for real once reported: the report, which
            // ends with the image line, is what is checked.
            until: Some(("addresses above are where it runs", 1)),
            timeout: Duration::from_secs(90),
            ..base
        },
        Case {
            name: "lockup-inversion-deadlocks",
            about: "The same inversion without the validator, the race window holding the \
                    gap between the two locks open: a real deadlock, each side reported by \
                    the lockup detector with the lock, its holder and where it was taken, \
                    and every CPU's backtrace.",
            bootargs: "slab.lock_order=inverted slab.race_window_us=20000 \
                       run=\"stress slab-hotplug 30; poweroff\"",
            expect: &[
                "lock_order=inverted, race_window_us=20000",
                "spinning on (slab_mutex)",
                // The holder's site, symbolised: the inverted create.
                "Chain<C,_>::create_inverted",
                "for (cpu_hotplug_lock):",
                " held (write) by cpu",
                // Every CPU's backtrace, each from the CPU itself.
                "cpu0 backtrace:",
                "cpu1 backtrace:",
                "Call trace:",
            ],
            forbid: &["Oops:", "WARNING:"],
            // The reader's report comes once the writer has held the lock past its own
            // bounded waits (13 s); its holder line is the last text checked.
            until: Some((" held (write) by cpu", 1)),
            timeout: Duration::from_secs(120),
            ..base
        },
        Case {
            name: "lockdep-irq-inversion",
            about: "A plain lock taken with interrupts on and then in a cross-call handler: \
                    Linux's inconsistent-usage report, once, and the kernel goes on.",
            bootargs: "lockdep run=\"lockdep violate irq; lockdep violate irq; lockdep --raw; \
                       poweroff\"",
            expect: &[
                "WARNING: inconsistent lock state",
                "inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage.",
                "(in hardirq) takes:",
                "(lockdep demo lock){?}, at: 0x",
                "{HARDIRQ-ON-W} state was registered on cpu0 at: 0x",
                "<Interrupt>",
                "lockdep violate irq: and in a cross-call handler on cpu1",
                "reported=1",
            ],
            forbid: &["Oops:", "circular"],
            ..base
        },
    ]);
    cases
}
