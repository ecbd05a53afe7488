//! Short runs of the soak (`stress all`): traffic on every CPU, cache churn and random
//! hotplug, every check on. The 10-minute runs the README reports use the same command.

use std::time::Duration;

use super::{Case, field};

/// The soak passed and its counts say it did something and lost nothing.
fn soak_passed(output: &str) -> Result<(), String> {
    let line = output
        .lines()
        .find(|l| l.starts_with("RESULT stress-all "))
        .ok_or("no RESULT stress-all line")?;
    let count = |key| field(line, key).and_then(|v| v.parse::<i64>().ok());
    let ok = line.starts_with("RESULT stress-all PASS")
        && count("hotplug_ops").is_some_and(|n| n > 0)
        && count("caches").is_some_and(|n| n > 0)
        && count("objects").is_some_and(|n| n > 0)
        && count("failures") == Some(0)
        && count("pages_leaked") == Some(0)
        && count("objects_leaked") == Some(0);
    if ok {
        Ok(())
    } else {
        Err(format!("the soak failed or did nothing: {line}"))
    }
}

pub fn cases(base: &Case) -> Vec<Case> {
    vec![
        Case {
            name: "soak-gicv3-8cpus-slab-debug",
            machine: "virt,gic-version=3,virtualization=on",
            smp: 8,
            bootargs: "slab_debug run=\"stress all 20; slab check; poweroff\"",
            expect: &[
                "RESULT stress-all PASS",
                "slab check: every cache has an array",
            ],
            check: Some(soak_passed),
            timeout: Duration::from_secs(120),
            ..*base
        },
        Case {
            name: "rpi4-soak",
            machine: "raspi4b",
            dtb: Some("rpi4.dtb"),
            bootargs: "slab_debug run=\"stress all 15; slab check; poweroff\"",
            expect: &[
                "RESULT stress-all PASS",
                "slab check: every cache has an array",
            ],
            check: Some(soak_passed),
            timeout: Duration::from_secs(120),
            ..*base
        },
    ]
}
