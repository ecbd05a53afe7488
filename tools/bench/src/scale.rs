//! The report's section on the GICv3 runs at 4 to 512 CPUs: the boot against the floor of
//! bringing up every other CPU and against Linux's, and what grows with the CPU count,
//! in time and in counts, with the growth from the fewest CPUs to the most next to its
//! goal.

use std::fmt::Write;

use crate::SCALE_MACHINE;
use crate::report::{BOOT_PHASES, Goal, cost, cost_text, find, num};
use crate::results::{Run, System};

/// Boot to the prompt at the most CPUs against the floor of bringing up the others.
const BOOT_FLOOR: Goal = Goal::at_most(2.0);
/// Linux's boot to init against the kernel's boot to its prompt, at 64 CPUs.
const BOOT_LINUX: Goal = Goal::at_least(100.0);
/// One CPU's offline and online at the most CPUs against at the fewest.
const GROWTH: Goal = Goal::at_most(2.0);

/// The operations of `bench scale` (and the cross-call of `bench ipi`'s), as the RESULT
/// lines name them, their unit, and the table's head.
const OPERATIONS: [(&str, &str, &str, &str); 7] = [
    ("scale", "offline", "us", "one CPU offline"),
    ("scale", "floor_offline", "us", "its floor"),
    ("scale", "online", "us", "one CPU online"),
    ("scale", "floor_online", "us", "its floor"),
    ("scale", "write_lock", "ns", "hotplug lock, write side"),
    ("scale", "on_each_cpu", "us", "cross-call to all"),
    ("scale", "drain", "us", "a cache's drain"),
];
/// Whose growth is a goal.
const GOALS_ON: [&str; 2] = ["offline", "online"];

/// The section, and the goals it missed.
pub fn markdown(runs: &[Run]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut missed = Vec::new();
    let scaled: Vec<&Run> = runs
        .iter()
        .filter(|r| r.system == System::Hotslab && r.machine == SCALE_MACHINE)
        .collect();
    let _ = writeln!(
        out,
        "\n### Up to 512 CPUs (virt, GICv3, 2 GiB)\n\n\
         Boot to the prompt (median of 5 boots) against the floor of bringing up every \
         other CPU (`bench bringup`: CPU_ON to each, to a stub that only says it arrived), \
         measured in the same boot, and against Linux's boot to init.\n"
    );
    if scaled.is_empty() {
        let _ = writeln!(out, "No GICv3 runs in this run.");
        return (out, missed);
    }
    let _ = writeln!(
        out,
        "| CPUs | boot (ms) | of it: loader | secondary CPUs | bring-up, kernel | bring-up, floor | boot / floor | goal | Linux to init | Linux / boot | goal |\n\
         |---|---|---|---|---|---|---|---|---|---|---|"
    );
    let most = scaled.iter().map(|r| r.cpus).max().unwrap_or(0);
    for r in &scaled {
        let boot = r.get("boot.boot_ms");
        let floor = r.get("bringup.floor_ms");
        let over_floor = ratio(boot, floor);
        let floor_verdict = judged(&BOOT_FLOOR, over_floor, r.cpus == most);
        if floor_verdict == "**missed**" {
            missed.push(format!(
                "boot against the bring-up floor at {} CPUs",
                r.cpus
            ));
        }
        let linux =
            find(runs, System::Linux, SCALE_MACHINE, r.cpus).and_then(|l| l.get("boot.boot_ms"));
        let against_linux = ratio(linux, boot);
        let linux_verdict = judged(&BOOT_LINUX, against_linux, linux.is_some());
        if linux_verdict == "**missed**" {
            missed.push(format!("boot against Linux at {} CPUs", r.cpus));
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} {floor_verdict} | {} | {} | {} {linux_verdict} |",
            r.cpus,
            num(boot),
            num(r.get("boot.loader_ms")),
            num(r.get("boot.cpus_ms")),
            num(r.get("bringup.kernel_ms")),
            num(floor),
            times(over_floor),
            if r.cpus == most {
                BOOT_FLOOR.text()
            } else {
                "-".into()
            },
            num(linux),
            times(against_linux),
            if linux.is_some() {
                BOOT_LINUX.text()
            } else {
                "-".into()
            },
        );
    }

    if !runs
        .iter()
        .any(|r| r.system == System::Linux && r.machine == SCALE_MACHINE)
    {
        let _ = writeln!(
            out,
            "\nLinux was not booted on the GICv3 in this run (`make bench LINUX_AT_64=1` \
             adds its boot at 64 CPUs, 3 to over 10 minutes here)."
        );
    }

    let fewest = scaled.iter().min_by_key(|r| r.cpus).copied();
    let largest = scaled.iter().max_by_key(|r| r.cpus).copied();
    let heads: Vec<String> = OPERATIONS
        .iter()
        .map(|(_, _, unit, head)| format!("{head} ({unit})"))
        .collect();
    let _ = writeln!(
        out,
        "\nWhat could grow with the CPU count, each on one CPU or one cache (`bench scale`, \
         medians): time, then the same operations in instructions / memory accesses on the \
         calling CPU (the counting plugin's, waits for other CPUs left out). The last row \
         is the growth from the fewest CPUs to the most.\n"
    );
    let _ = writeln!(
        out,
        "| CPUs | {} |\n|---|{}",
        heads.join(" | "),
        "---|".repeat(heads.len())
    );
    for r in &scaled {
        let cells: Vec<String> = OPERATIONS
            .iter()
            .map(|(part, name, unit, _)| num(r.get(&format!("{part}.{name}_{unit}"))))
            .collect();
        let _ = writeln!(out, "| {} | {} |", r.cpus, cells.join(" | "));
    }
    if let (Some(a), Some(b)) = (fewest, largest) {
        let cells: Vec<String> = OPERATIONS
            .iter()
            .map(|(part, name, unit, _)| {
                let key = format!("{part}.{name}_{unit}");
                times(ratio(b.get(&key), a.get(&key)))
            })
            .collect();
        let _ = writeln!(out, "| {} / {} | {} |", b.cpus, a.cpus, cells.join(" | "));
    }
    // The floors are the emulator's work, not the guest's: they have no counts here.
    let counted: Vec<_> = OPERATIONS
        .iter()
        .filter(|(_, name, _, _)| !name.starts_with("floor_"))
        .collect();
    let _ = writeln!(
        out,
        "| CPUs | {} |\n|---|{}",
        counted
            .iter()
            .map(|(_, _, _, head)| *head)
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(counted.len())
    );
    for r in &scaled {
        let cells: Vec<String> = counted
            .iter()
            .map(|(part, name, _, _)| cost_text(cost(r, part, name)))
            .collect();
        let _ = writeln!(out, "| {} | {} |", r.cpus, cells.join(" | "));
    }
    if let (Some(a), Some(b)) = (fewest, largest) {
        let cells: Vec<String> = counted
            .iter()
            .map(|(part, name, _, _)| {
                let growth = match (cost(b, part, name), cost(a, part, name)) {
                    (Some((bi, bm)), Some((ai, am))) if ai > 0.0 && am > 0.0 => {
                        Some((bi / ai, bm / am))
                    }
                    _ => None,
                };
                let Some((i, m)) = growth else {
                    return "n/a".to_string();
                };
                if !GOALS_ON.contains(name) {
                    return format!("{i:.2}x / {m:.2}x");
                }
                let verdict = if GROWTH.verdict(i) == "met" && GROWTH.verdict(m) == "met" {
                    "met"
                } else {
                    missed.push(format!(
                        "{name} growth from {} to {} CPUs in counts",
                        a.cpus, b.cpus
                    ));
                    "**missed**"
                };
                format!("{i:.2}x / {m:.2}x ({} {verdict})", GROWTH.text())
            })
            .collect();
        let _ = writeln!(out, "| {} / {} | {} |", b.cpus, a.cpus, cells.join(" | "));
    }
    let labels: Vec<&str> = BOOT_PHASES.iter().map(|(_, label)| *label).collect();
    let _ = writeln!(
        out,
        "\nThe boot CPU's boot by phase, thousands of instructions / accesses, and what each \
         CPU more adds (from the fewest CPUs to the most).\n\n| CPUs | {} |\n|---|{}",
        labels.join(" | "),
        "---|".repeat(labels.len())
    );
    let phase = |r: &Run, p: &str| cost(r, "boot", p).map(|(i, m)| (i / 1000.0, m / 1000.0));
    for r in &scaled {
        let cells: Vec<String> = BOOT_PHASES
            .iter()
            .map(|(p, _)| cost_text(phase(r, p)))
            .collect();
        let _ = writeln!(out, "| {} | {} |", r.cpus, cells.join(" | "));
    }
    if let (Some(a), Some(b)) = (fewest, largest)
        && b.cpus > a.cpus
    {
        let added = f64::from(b.cpus - a.cpus);
        let cells: Vec<String> = BOOT_PHASES
            .iter()
            .map(|(p, _)| match (cost(b, "boot", p), cost(a, "boot", p)) {
                (Some((bi, bm)), Some((ai, am))) => {
                    format!(
                        "{} / {}",
                        num(Some((bi - ai) / added)),
                        num(Some((bm - am) / added))
                    )
                }
                _ => "n/a".into(),
            })
            .collect();
        let _ = writeln!(out, "| each CPU more, in units | {} |", cells.join(" | "));
    }
    (out, missed)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn times(r: Option<f64>) -> String {
    r.map_or("n/a".into(), |r| format!("{r:.2}x"))
}

/// The goal's verdict on `r` where it applies, else a dash.
fn judged(goal: &Goal, r: Option<f64>, applies: bool) -> &'static str {
    match (applies, r) {
        (true, Some(r)) => goal.verdict(r),
        (true, None) => "n/a",
        (false, _) => "",
    }
}
