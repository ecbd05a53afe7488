//! The comparison: Markdown tables of the kernel against Linux and against the peer
//! allocators, each ratio next to its goal, plus the results as CSV and JSON.

use std::fmt::Write;

use crate::results::{Run, System};

/// A ratio goal: `ours` must be at least `times` better (or, for `at_most`, within).
struct Goal {
    times: f64,
    at_most: bool,
}

const BOOT: Goal = Goal {
    times: 100.0,
    at_most: false,
};
const HOTPLUG: Goal = Goal {
    times: 500.0,
    at_most: false,
};
const SLAB: Goal = Goal {
    times: 10.0,
    at_most: false,
};
const LOCK: Goal = Goal {
    times: 1.5,
    at_most: true,
};

impl Goal {
    fn verdict(&self, ratio: f64) -> &'static str {
        let met = if self.at_most {
            ratio <= self.times
        } else {
            ratio >= self.times
        };
        if met { "met" } else { "**missed**" }
    }

    fn text(&self) -> String {
        if self.at_most {
            format!("<= {}x", self.times)
        } else {
            format!(">= {}x", self.times)
        }
    }
}

fn find<'a>(runs: &'a [Run], system: System, machine: &str, cpus: u32) -> Option<&'a Run> {
    runs.iter()
        .find(|r| r.system == system && r.machine == machine && r.cpus == cpus)
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
        None => "n/a".into(),
    }
}

/// The whole report, as Markdown.
pub fn markdown(runs: &[Run]) -> String {
    let mut out = String::new();
    let mut goals_missed = Vec::new();
    let mut configs: Vec<(&str, u32)> = runs
        .iter()
        .filter(|r| r.system == System::Hotslab)
        .map(|r| (r.machine, r.cpus))
        .collect();
    configs.dedup();

    let _ = writeln!(
        out,
        "### Against Linux 6.1 in the same QEMU (virt, cortex-a72, GICv2)\n"
    );
    let _ = writeln!(
        out,
        "| CPUs | measure | hotslab | Linux | ratio | goal | |\n|---|---|---|---|---|---|---|"
    );
    for &(machine, cpus) in configs.iter().filter(|(m, _)| *m == "virt") {
        let ours = find(runs, System::Hotslab, machine, cpus);
        let linux = find(runs, System::Linux, machine, cpus);
        for (label, key, goal) in [
            (
                "boot to prompt / init, median of 5 boots (ms)",
                "boot.boot_ms",
                &BOOT,
            ),
            ("CPU offline, median (us)", "hotplug.offline_us", &HOTPLUG),
            ("CPU online, median (us)", "hotplug.online_us", &HOTPLUG),
        ] {
            let o = ours.and_then(|r| r.get(key));
            let l = linux.and_then(|r| r.get(key));
            let (ratio, verdict) = match (o, l) {
                (Some(o), Some(l)) if o > 0.0 => {
                    let ratio = l / o;
                    let verdict = goal.verdict(ratio);
                    if verdict != "met" {
                        goals_missed.push(format!("{label} on {cpus} CPUs"));
                    }
                    (format!("{ratio:.0}x"), verdict)
                }
                _ => ("n/a".into(), "no peer"),
            };
            let _ = writeln!(
                out,
                "| {cpus} | {label} | {} | {} | {ratio} | {} | {verdict} |",
                num(o),
                num(l),
                goal.text()
            );
        }
    }

    let _ = writeln!(
        out,
        "\n### Slab against the allocators a Rust kernel would otherwise pick\n\n\
         One 64-byte alloc+free pair with 32 objects held, ns (one core); then every online \
         core at once, million pairs per second.\n"
    );
    let _ = writeln!(
        out,
        "| machine | CPUs | slab | linked_list | buddy | vs linked_list | vs buddy | goal | all cores: slab | linked_list | buddy |\n\
         |---|---|---|---|---|---|---|---|---|---|---|"
    );
    for &(machine, cpus) in &configs {
        let Some(r) = find(runs, System::Hotslab, machine, cpus) else {
            continue;
        };
        let slab = r.get("slab.slab_ns").unwrap_or(0.0).max(1.0);
        let ll = r.get("slab.linked_list_ns");
        let buddy = r.get("slab.buddy_ns");
        let vs_ll = ll.map(|l| l / slab).unwrap_or(0.0);
        let vs_buddy = buddy.map(|b| b / slab).unwrap_or(0.0);
        let verdict = SLAB.verdict(vs_ll.min(vs_buddy));
        if verdict != "met" {
            goals_missed.push(format!("slab pair on {machine} with {cpus} CPUs"));
        }
        let _ = writeln!(
            out,
            "| {machine} | {cpus} | {} | {} | {} | {vs_ll:.2}x | {vs_buddy:.2}x | {} {verdict} | {} | {} | {} |",
            num(Some(slab)),
            num(ll),
            num(buddy),
            SLAB.text(),
            num(r.get("slab.slab_all_mops")),
            num(r.get("slab.linked_list_all_mops")),
            num(r.get("slab.buddy_all_mops")),
        );
    }

    let _ = writeln!(
        out,
        "\n### Against the CPU count\n\nMedians (p99 in brackets), microseconds; the lock in ns.\n"
    );
    let _ = writeln!(
        out,
        "| machine | CPUs | offline | online | SGI round trip | cross-call to all | cache create | cache destroy | read lock / spin (ns) |\n\
         |---|---|---|---|---|---|---|---|---|"
    );
    for &(machine, cpus) in &configs {
        let Some(r) = find(runs, System::Hotslab, machine, cpus) else {
            continue;
        };
        let pair =
            |median: &str, p99: &str| format!("{} ({})", num(r.get(median)), num(r.get(p99)));
        let read = r.get("lock.read_lock_ns");
        let spin = r.get("lock.spin_ns");
        let lock_ratio = match (read, spin) {
            (Some(a), Some(b)) if b > 0.0 => a / b,
            _ => f64::INFINITY,
        };
        let verdict = LOCK.verdict(lock_ratio);
        if verdict != "met" {
            goals_missed.push(format!("read lock on {machine} with {cpus} CPUs"));
        }
        let _ = writeln!(
            out,
            "| {machine} | {cpus} | {} | {} | {} | {} | {} | {} | {} / {} = {lock_ratio:.2}x ({} {verdict}) |",
            pair("hotplug.offline_us", "hotplug.offline_p99_us"),
            pair("hotplug.online_us", "hotplug.online_p99_us"),
            pair("ipi.roundtrip_us", "ipi.roundtrip_p99_us"),
            pair("ipi.on_each_cpu_us", "ipi.on_each_cpu_p99_us"),
            pair("cache.create_us", "cache.create_p99_us"),
            pair("cache.destroy_us", "cache.destroy_p99_us"),
            num(read),
            num(spin),
            LOCK.text(),
        );
    }
    let _ = writeln!(
        out,
        "\n### Where the kernel's boot goes\n\nMilliseconds from machine start to the prompt, by phase (`bench boot`), of the median boot.\n"
    );
    let _ = writeln!(
        out,
        "| machine | CPUs | loader | device tree | page tables + MMU | page allocator | boot log | secondary CPUs | slab, kmalloc, shell | total |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for &(machine, cpus) in &configs {
        let Some(r) = find(runs, System::Hotslab, machine, cpus) else {
            continue;
        };
        let phases: Vec<String> = [
            "loader",
            "device_tree",
            "mmu",
            "memory",
            "log",
            "cpus",
            "shell",
            "boot",
        ]
        .iter()
        .map(|phase| num(r.get(&format!("boot.{phase}_ms"))))
        .collect();
        let _ = writeln!(out, "| {machine} | {cpus} | {} |", phases.join(" | "));
    }
    let _ = writeln!(
        out,
        "\nGoals missed in this run: {}",
        if goals_missed.is_empty() {
            "none".to_string()
        } else {
            goals_missed.join("; ")
        }
    );
    out
}

/// One line per value: `system,machine,cpus,key,value`.
pub fn csv(runs: &[Run]) -> String {
    let mut out = String::from("system,machine,cpus,key,value\n");
    for r in runs {
        for (key, value) in &r.values {
            let _ = writeln!(
                out,
                "{},{},{},{key},{value}",
                r.system.name(),
                r.machine,
                r.cpus
            );
        }
    }
    out
}

pub fn json(runs: &[Run]) -> String {
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            serde_json::json!({
                "system": r.system.name(),
                "machine": r.machine,
                "cpus": r.cpus,
                "values": r.values,
            })
        })
        .collect();
    serde_json::to_string_pretty(&runs).unwrap_or_default()
}
