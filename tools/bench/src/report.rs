//! The comparison: Markdown tables of the kernel against Linux, against the emulator's
//! floor for each hot path, and against the peer allocators, each ratio next to its goal;
//! the same paths in guest instructions and memory accesses (the counting plugin's), with
//! the goals judged on those; plus the results as CSV and JSON.

use std::fmt::Write;

use crate::results::{Run, System};

/// A ratio goal: `ours` must be at least `times` better (or, for `at_most`, within).
pub struct Goal {
    times: f64,
    at_most: bool,
}

const BOOT: Goal = Goal::at_least(100.0);
const HOTPLUG: Goal = Goal::at_least(500.0);
/// The slab pair against the bare per-CPU array (`floor_ns`).
const SLAB_FLOOR: Goal = Goal::at_most(1.5);
/// The slab pair against each peer: faster.
const SLAB_PEERS: Goal = Goal::at_least(1.0);
/// Throughput from one core to two, judged on the 2-CPU machine (a 2-core host can give
/// it two whole cores, not more).
const SCALING: Goal = Goal::at_least(1.8);
/// raspi4b's hotplug against virt's at 4 CPUs.
const RPI4_HOTPLUG: Goal = Goal::at_most(2.0);
const LOCK: Goal = Goal::at_most(1.5);

/// `bench boot`'s phases, in boot order, as its RESULT line names them (`<phase>_ms`,
/// and under the counting plugin `<phase>_insns`...) and as the tables head them; then
/// the whole boot.
pub const BOOT_PHASES: [(&str, &str); 8] = [
    ("loader", "loader"),
    ("device_tree", "device tree"),
    ("mmu", "page tables + MMU"),
    ("memory", "page allocator"),
    ("log", "boot log"),
    ("cpus", "secondary CPUs"),
    ("shell", "slab, kmalloc, shell"),
    ("boot", "total"),
];

impl Goal {
    pub const fn at_least(times: f64) -> Goal {
        Goal {
            times,
            at_most: false,
        }
    }

    pub const fn at_most(times: f64) -> Goal {
        Goal {
            times,
            at_most: true,
        }
    }

    pub fn verdict(&self, ratio: f64) -> &'static str {
        let met = if self.at_most {
            ratio <= self.times
        } else {
            ratio >= self.times
        };
        if met { "met" } else { "**missed**" }
    }

    pub fn text(&self) -> String {
        if self.at_most {
            format!("<= {}x", self.times)
        } else {
            format!(">= {}x", self.times)
        }
    }
}

pub fn find<'a>(runs: &'a [Run], system: System, machine: &str, cpus: u32) -> Option<&'a Run> {
    runs.iter()
        .find(|r| r.system == system && r.machine == machine && r.cpus == cpus)
}

pub fn num(v: Option<f64>) -> String {
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
    // The validated run has a section of its own (`validation::markdown`).
    let mut all_configs: Vec<(&str, u32)> = runs
        .iter()
        .filter(|r| r.system == System::Hotslab && r.machine != crate::validation::MACHINE)
        .map(|r| (r.machine, r.cpus))
        .collect();
    all_configs.dedup();
    // The GICv3 runs at up to 512 CPUs run parts of their own: their section is
    // `scale::markdown`, and they join only the table of boot phases here.
    let configs: Vec<(&str, u32)> = all_configs
        .iter()
        .copied()
        .filter(|(m, _)| *m != crate::SCALE_MACHINE)
        .collect();

    let _ = writeln!(
        out,
        "### Against Linux 6.1 in the same QEMU (virt, cortex-a72, GICv2)\n\n\
         Both systems boot with `quiet` (the console shows errors only; the log keeps every \
         line).\n"
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

    let mut report = Report {
        runs,
        configs: &configs,
        out,
        missed: goals_missed,
    };
    report.hotplug_floor_table();
    report.slab_tables();
    report.count_tables();
    let (mut out, mut goals_missed) = (report.out, report.missed);

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
    let labels: Vec<&str> = BOOT_PHASES.iter().map(|(_, label)| *label).collect();
    let _ = writeln!(
        out,
        "| machine | CPUs | {} |\n|---|---|{}",
        labels.join(" | "),
        "---|".repeat(labels.len())
    );
    for &(machine, cpus) in &all_configs {
        let Some(r) = find(runs, System::Hotslab, machine, cpus) else {
            continue;
        };
        let phases: Vec<String> = BOOT_PHASES
            .iter()
            .map(|(phase, _)| num(r.get(&format!("boot.{phase}_ms"))))
            .collect();
        let _ = writeln!(out, "| {machine} | {cpus} | {} |", phases.join(" | "));
    }
    out.push_str(&crate::validation::markdown(runs));
    let (scale, scale_missed) = crate::scale::markdown(runs);
    out.push_str(&scale);
    goals_missed.extend(scale_missed);
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

fn ratio_text(ratio: Option<f64>) -> String {
    ratio.map_or("n/a".into(), |r| format!("{r:.2}x"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// A report being written: the runs it reads, the machine configurations they cover,
/// the Markdown so far, and the goals missed so far.
struct Report<'a> {
    runs: &'a [Run],
    configs: &'a [(&'a str, u32)],
    out: String,
    missed: Vec<String>,
}

impl Report<'_> {
    /// Each hotplug figure next to the emulator's floor for it (`bench hotplug`), and
    /// raspi4b against virt at 4 CPUs.
    fn hotplug_floor_table(&mut self) {
        let _ = writeln!(
            self.out,
            "\n### CPU hotplug against the emulator's floor\n\n\
             Medians (minimums in brackets), microseconds. The floor is the enable method's call \
             and the target's first instructions signalling back, with nothing of the kernel's \
             done, measured in the same run on the same CPUs.\n"
        );
        let _ = writeln!(
            self.out,
            "| machine | CPUs | offline | floor | ratio | online | floor | ratio |\n\
             |---|---|---|---|---|---|---|---|"
        );
        for &(machine, cpus) in self.configs {
            let Some(r) = find(self.runs, System::Hotslab, machine, cpus) else {
                continue;
            };
            let pair = |median: &str, min: &str| {
                format!(
                    "{} ({})",
                    num(r.get(&format!("hotplug.{median}"))),
                    num(r.get(&format!("hotplug.{min}")))
                )
            };
            let over = |what: &str| {
                ratio_text(ratio(
                    r.get(&format!("hotplug.{what}_us")),
                    r.get(&format!("hotplug.floor_{what}_us")),
                ))
            };
            let _ = writeln!(
                self.out,
                "| {machine} | {cpus} | {} | {} | {} | {} | {} | {} |",
                pair("offline_us", "offline_min_us"),
                pair("floor_offline_us", "floor_offline_min_us"),
                over("offline"),
                pair("online_us", "online_min_us"),
                pair("floor_online_us", "floor_online_min_us"),
                over("online"),
            );
        }
        let (Some(pi), Some(virt)) = (
            find(self.runs, System::Hotslab, "raspi4b", 4),
            find(self.runs, System::Hotslab, "virt", 4),
        ) else {
            return;
        };
        let _ = writeln!(
            self.out,
            "\nraspi4b (spin-table, parked in WFI) against virt (PSCI) at 4 CPUs:\n"
        );
        let _ = writeln!(
            self.out,
            "| measure | raspi4b | virt | ratio | goal | |\n|---|---|---|---|---|---|"
        );
        for (label, key) in [
            ("CPU offline, median (us)", "hotplug.offline_us"),
            ("CPU online, median (us)", "hotplug.online_us"),
        ] {
            let r = ratio(pi.get(key), virt.get(key));
            let verdict = r.map_or("n/a", |r| RPI4_HOTPLUG.verdict(r));
            if verdict != "met" {
                self.missed.push(format!("raspi4b {label} against virt"));
            }
            let _ = writeln!(
                self.out,
                "| {label} | {} | {} | {} | {} | {verdict} |",
                num(pi.get(key)),
                num(virt.get(key)),
                ratio_text(r),
                RPI4_HOTPLUG.text()
            );
        }
    }

    /// The slab pair against its floor and the peers on one core, and every core at once.
    fn slab_tables(&mut self) {
        let _ = writeln!(
            self.out,
            "\n### Slab against its floor and the allocators a Rust kernel would otherwise pick\n\n\
             One 64-byte alloc+free pair with 32 objects held, on one core, median ns (minimum in \
             brackets). The floor is the same pair on a bare per-CPU LIFO array: no interrupt \
             masking, no checks, no indirect calls. kmalloc is the global allocator (`Box`), \
             through the kernel's size classes.\n"
        );
        let _ = writeln!(
            self.out,
            "| machine | CPUs | slab | floor | slab / floor | goal | linked_list | buddy | kmalloc | peer / slab | goal |\n\
             |---|---|---|---|---|---|---|---|---|---|---|"
        );
        for &(machine, cpus) in self.configs {
            let Some(r) = find(self.runs, System::Hotslab, machine, cpus) else {
                continue;
            };
            let ns = |name: &str| {
                format!(
                    "{} ({})",
                    num(r.get(&format!("slab.{name}_ns"))),
                    num(r.get(&format!("slab.{name}_min_ns")))
                )
            };
            let slab = r.get("slab.slab_ns");
            let over_floor = ratio(slab, r.get("slab.floor_ns"));
            let floor_verdict = over_floor.map_or("n/a", |x| SLAB_FLOOR.verdict(x));
            if floor_verdict != "met" {
                self.missed.push(format!(
                    "slab pair against its floor on {machine} with {cpus} CPUs"
                ));
            }
            let slowest_peer = ratio(r.get("slab.buddy_ns"), slab)
                .zip(ratio(r.get("slab.linked_list_ns"), slab))
                .map(|(b, l)| b.min(l));
            let peer_verdict = slowest_peer.map_or("n/a", |x| SLAB_PEERS.verdict(x));
            if peer_verdict != "met" {
                self.missed.push(format!(
                    "slab pair against the peers on {machine} with {cpus} CPUs"
                ));
            }
            let _ = writeln!(
                self.out,
                "| {machine} | {cpus} | {} | {} | {} | {} {floor_verdict} | {} | {} | {} | {} | {} {peer_verdict} |",
                ns("slab"),
                ns("floor"),
                ratio_text(over_floor),
                SLAB_FLOOR.text(),
                ns("linked_list"),
                ns("buddy"),
                ns("kmalloc"),
                ratio_text(slowest_peer),
                SLAB_PEERS.text(),
            );
        }
        let _ = writeln!(
            self.out,
            "\nEvery online core allocating at once against one core alone: million pairs per \
             second (median of 7 runs), and how much more all cores do than one. This host has two \
             cores, so the goal is judged on the 2-CPU machine; with more vCPUs than host cores \
             they take turns.\n"
        );
        let _ = writeln!(
            self.out,
            "| machine | CPUs | slab: 1 / all | growth | goal | floor | linked_list | buddy | kmalloc |\n\
             |---|---|---|---|---|---|---|---|---|"
        );
        for &(machine, cpus) in self.configs {
            let Some(r) = find(self.runs, System::Hotslab, machine, cpus) else {
                continue;
            };
            let growth = |name: &str| {
                ratio(
                    r.get(&format!("slab.{name}_all_mops")),
                    r.get(&format!("slab.{name}_1cpu_mops")),
                )
            };
            let cell = |name: &str| {
                format!(
                    "{} / {} = {}",
                    num(r.get(&format!("slab.{name}_1cpu_mops"))),
                    num(r.get(&format!("slab.{name}_all_mops"))),
                    ratio_text(growth(name))
                )
            };
            let judged = machine == "virt" && cpus == 2;
            let slab_growth = growth("slab");
            let peers_flat = ["linked_list", "buddy"]
                .iter()
                .all(|p| growth(p).is_some_and(|g| g < SCALING.times));
            let verdict = match slab_growth {
                Some(g) if judged => {
                    let v = if SCALING.verdict(g) == "met" && peers_flat {
                        "met"
                    } else {
                        "**missed**"
                    };
                    if v != "met" {
                        self.missed.push("slab throughput from 1 to 2 CPUs".into());
                    }
                    v
                }
                _ => "not judged",
            };
            let _ = writeln!(
                self.out,
                "| {machine} | {cpus} | {} / {} | {} | {} (peers below) {verdict} | {} | {} | {} | {} |",
                num(r.get("slab.slab_1cpu_mops")),
                num(r.get("slab.slab_all_mops")),
                ratio_text(slab_growth),
                SCALING.text(),
                cell("floor"),
                cell("linked_list"),
                cell("buddy"),
                cell("kmalloc"),
            );
        }
    }
}

/// Instructions and memory accesses (loads + stores) per operation of `part.name`.
pub fn cost(r: &Run, part: &str, name: &str) -> Option<(f64, f64)> {
    let get = |unit: &str| r.get(&format!("{part}.{name}_{unit}"));
    Some((get("insns")?, get("loads")? + get("stores")?))
}

pub fn cost_text(c: Option<(f64, f64)>) -> String {
    c.map_or("n/a".into(), |(i, m)| {
        format!("{} / {}", num(Some(i)), num(Some(m)))
    })
}

/// `a / b` in instructions and in accesses.
fn cost_ratio(a: Option<(f64, f64)>, b: Option<(f64, f64)>) -> Option<(f64, f64)> {
    let ((ai, am), (bi, bm)) = (a?, b?);
    (bi > 0.0 && bm > 0.0).then(|| (ai / bi, am / bm))
}

fn cost_ratio_text(r: Option<(f64, f64)>) -> String {
    r.map_or("n/a".into(), |(i, m)| format!("{i:.2}x / {m:.2}x"))
}

impl Report<'_> {
    /// The hot paths in guest instructions and memory accesses per operation, from each
    /// configuration's counted boot: the slab goals judged on them, the other paths
    /// against their floors, the boot by phase, and whether two counted boots agreed.
    fn count_tables(&mut self) {
        let counted: Vec<&Run> = self
            .configs
            .iter()
            .filter_map(|&(m, c)| find(self.runs, System::Hotslab, m, c))
            .filter(|r| r.get("slab.slab_insns").is_some())
            .collect();
        let _ = writeln!(
            self.out,
            "\n### The same paths in guest instructions and memory accesses\n\n\
             Per operation, instructions / memory accesses (loads + stores), counted by the \
             counting plugin in a boot of their own: they do not change with the host. The \
             slab pairs and the locks are batches of 1000 with interrupts masked; the rest \
             are the median operation, the rounds of each wait for another CPU left out.\n"
        );
        if counted.is_empty() {
            let _ = writeln!(self.out, "No counts in this run (no counting plugin).");
            return;
        }
        let _ = writeln!(
            self.out,
            "| machine | CPUs | slab | floor | slab / floor | goal | linked_list | buddy | kmalloc | fewer than both peers |\n\
             |---|---|---|---|---|---|---|---|---|---|"
        );
        for r in &counted {
            let slab = cost(r, "slab", "slab");
            let over_floor = cost_ratio(slab, cost(r, "slab", "floor"));
            let floor_verdict = over_floor.map_or("n/a".to_string(), |(i, m)| {
                format!("{} / {}", SLAB_FLOOR.verdict(i), SLAB_FLOOR.verdict(m))
            });
            if let Some((i, m)) = over_floor {
                for (ratio, what) in [(i, "instructions"), (m, "memory accesses")] {
                    if SLAB_FLOOR.verdict(ratio) != "met" {
                        self.missed.push(format!(
                            "slab pair against its floor in {what} on {} with {} CPUs",
                            r.machine, r.cpus
                        ));
                    }
                }
            }
            let peers = ["linked_list", "buddy"].map(|p| cost(r, "slab", p));
            let fewer = match (slab, peers) {
                (Some((si, sm)), [Some((li, lm)), Some((bi, bm))]) => {
                    let met = si < li && si < bi && sm < lm && sm < bm;
                    if !met {
                        self.missed.push(format!(
                            "slab pair against the peers in counts on {} with {} CPUs",
                            r.machine, r.cpus
                        ));
                    }
                    if met { "met" } else { "**missed**" }
                }
                _ => "n/a",
            };
            let _ = writeln!(
                self.out,
                "| {} | {} | {} | {} | {} | {} {floor_verdict} | {} | {} | {} | {fewer} |",
                r.machine,
                r.cpus,
                cost_text(slab),
                cost_text(cost(r, "slab", "floor")),
                cost_ratio_text(over_floor),
                SLAB_FLOOR.text(),
                cost_text(peers[0]),
                cost_text(peers[1]),
                cost_text(cost(r, "slab", "kmalloc")),
            );
        }
        let _ = writeln!(
            self.out,
            "\nCPU hotplug against its floor (the controlling CPU's part: what QEMU does to \
             start or stop a vCPU is no guest instruction), cross-calls, and the hotplug \
             lock's read side against a spin lock.\n"
        );
        let _ = writeln!(
            self.out,
            "| machine | CPUs | offline | floor | ratio | online | floor | ratio | SGI round trip | cross-call to all | read lock | spin lock |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in &counted {
            let c = |part: &str, name: &str| cost(r, part, name);
            let _ = writeln!(
                self.out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.machine,
                r.cpus,
                cost_text(c("hotplug", "offline")),
                cost_text(c("hotplug", "floor_offline")),
                cost_ratio_text(cost_ratio(
                    c("hotplug", "offline"),
                    c("hotplug", "floor_offline")
                )),
                cost_text(c("hotplug", "online")),
                cost_text(c("hotplug", "floor_online")),
                cost_ratio_text(cost_ratio(
                    c("hotplug", "online"),
                    c("hotplug", "floor_online")
                )),
                cost_text(c("ipi", "roundtrip")),
                cost_text(c("ipi", "on_each_cpu")),
                cost_text(c("lock", "read_lock")),
                cost_text(c("lock", "spin")),
            );
        }
        let _ = writeln!(
            self.out,
            "\nThe boot CPU's boot by phase, thousands of instructions / accesses (from its \
             first instruction to each phase's end).\n"
        );
        let labels: Vec<&str> = BOOT_PHASES.iter().map(|(_, label)| *label).collect();
        let _ = writeln!(
            self.out,
            "| machine | CPUs | {} |\n|---|---|{}",
            labels.join(" | "),
            "---|".repeat(labels.len())
        );
        for r in &counted {
            let phases: Vec<String> = BOOT_PHASES
                .iter()
                .map(|(phase, _)| {
                    cost_text(cost(r, "boot", phase).map(|(i, m)| (i / 1000.0, m / 1000.0)))
                })
                .collect();
            let _ = writeln!(
                self.out,
                "| {} | {} | {} |",
                r.machine,
                r.cpus,
                phases.join(" | ")
            );
        }
        for r in &counted {
            let Some(values) = r.get("determinism.values") else {
                continue;
            };
            if r.differing.is_empty() {
                let _ = writeln!(
                    self.out,
                    "\nCounted twice on {} with {} CPUs: all {values} count values agree.",
                    r.machine, r.cpus
                );
            } else {
                let _ = writeln!(
                    self.out,
                    "\nCounted twice on {} with {} CPUs: {} of {values} count values differ \
                     ({}).",
                    r.machine,
                    r.cpus,
                    r.differing.len(),
                    r.differing.join("; ")
                );
            }
        }
    }
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
