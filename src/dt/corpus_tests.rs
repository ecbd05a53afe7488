//! The reader against every real device tree at hand: the 576 arm64 trees of Debian's
//! Linux 6.1 package (`make unit` fetches them into build/dts/linux/) and the four of Linux
//! 6.12 (bookworm-backports) whose PSCI is 0.1 alone (build/dts/linux-6.12/), each
//! compared with an independent reading of the same blob by libfdt
//! (tools/dt-reference/libfdt_reading.py, written to build/dts/linux.reading and
//! linux-6.12.reading). The two must agree on every line: memory, reservations, CPUs,
//! their enable methods and their places in /cpus/cpu-map, the GIC, PSCI (0.1 with its
//! function numbers, or 0.2+), the timer, the UARTs and the console; a blob either reader
//! refuses must be refused by both, for the same reason. Prints the count of each outcome.
//! Ignored in a plain `cargo test` (they need the fetched trees): `make unit` runs them
//! with `--ignored`, and each skips loudly when its trees could not be fetched.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::*;

/// Our reading of `blob`, in the reference's line format.
fn our_reading(blob: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let p = match Platform::read_tree(blob, 0) {
        Ok(p) => p,
        Err(e) => return vec![format!("refused malformed {e}")],
    };
    if let Err(DtError::NoMemory) = Platform::parse(blob, 0) {
        lines.push("refused no-memory".to_string());
    }
    for m in &p.memory {
        lines.push(format!("memory {:#x} {:#x}", m.base, m.size));
    }
    for r in &p.reservations {
        let no_map = if r.no_map { " no-map" } else { "" };
        lines.push(format!(
            "reserved {:#x} {:#x}{no_map}",
            r.region.base, r.region.size
        ));
    }
    for c in &p.cpus {
        let method = match c.enable_method {
            EnableMethod::Psci => "psci".to_string(),
            EnableMethod::SpinTable { release_addr } => format!("spin-table {release_addr:#x}"),
            EnableMethod::Unsupported(m) => format!("unsupported:{m}"),
            EnableMethod::None => "none".to_string(),
        };
        lines.push(format!("cpu {:#x} {method}", c.mpidr));
    }
    if p.cpus_left_out > 0 {
        lines.push(format!("cpus-left-out {}", p.cpus_left_out));
    }
    for c in &p.cpus {
        if let Some(place) = c.topology {
            lines.push(format!("topology {:#x} {place}", c.mpidr));
        }
    }
    match &p.gic {
        Some(Gic::V2 {
            distributor: d,
            cpu_interface: c,
        }) => lines.push(format!(
            "gic v2 {:#x} {:#x} {:#x} {:#x}",
            d.base, d.size, c.base, c.size
        )),
        Some(Gic::V3 {
            distributor: d,
            redistributors,
        }) => {
            let mut line = format!("gic v3 {:#x} {:#x}", d.base, d.size);
            for r in redistributors {
                let _ = write!(line, " {:#x} {:#x}", r.base, r.size);
            }
            lines.push(line);
        }
        None => {}
    }
    if let Some(PsciNode { method, functions }) = p.psci {
        let method = match method {
            PsciMethod::Hvc => "hvc",
            PsciMethod::Smc => "smc",
        };
        match functions {
            PsciFunctions::Standard => lines.push(format!("psci 0.2+ {method}")),
            PsciFunctions::V0_1(ids) => {
                let mut line = format!("psci 0.1 {method}");
                for (name, id) in ids.numbered() {
                    let _ = write!(line, " {name}={id:#x}");
                }
                lines.push(line);
            }
        }
    }
    if let Some(t) = p.timer {
        lines.push(format!("timer {} {}", t.phys_irq, t.virt_irq));
    }
    for u in &p.uarts {
        let kind = match u.kind {
            UartKind::Pl011 => "pl011",
            UartKind::MiniUart => "mini",
        };
        lines.push(format!(
            "uart {kind} {:#x} {:#x} {}",
            u.region.base, u.region.size, u.name
        ));
    }
    if let Some(c) = p.console {
        lines.push(format!("console {:#x}", c.region.base));
    }
    lines
}

/// The reference reading: blob name -> its lines.
fn reference(path: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (make unit writes it)", path.display()));
    let mut readings = BTreeMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            readings.extend(current.take());
            current = Some((name.to_string(), Vec::new()));
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line.to_string());
        }
    }
    readings.extend(current);
    readings
}

fn blobs(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            blobs(&path, found);
        } else if path.extension().is_some_and(|e| e == "dtb") {
            found.push(path);
        }
    }
}

/// What comparing one directory of trees with libfdt's reading of it found.
struct Comparison {
    blobs: usize,
    outcomes: BTreeMap<String, usize>,
    mismatches: Vec<String>,
    /// Blob name -> (our lines, libfdt's lines), for checks of particular trees.
    readings: BTreeMap<String, (Vec<String>, Vec<String>)>,
}

/// Reads every blob under build/dts/`dir` with our reader and compares it with
/// build/dts/`dir`.reading; `None` (said loudly) when no blob was fetched there.
fn compare(dir: &str, package: &str) -> Option<Comparison> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("build/dts");
    let top = root.join(dir);
    let mut found = Vec::new();
    blobs(&top, &mut found);
    if found.is_empty() {
        println!(
            "\n*** SKIPPED: no device trees under {}: {package} could not be fetched; the \
             comparison with libfdt did NOT run ***\n",
            top.display()
        );
        return None;
    }
    found.sort();
    let reference = reference(&root.join(format!("{dir}.reading")));
    let mut comparison = Comparison {
        blobs: found.len(),
        outcomes: BTreeMap::new(),
        mismatches: Vec::new(),
        readings: BTreeMap::new(),
    };
    for path in &found {
        let name = path
            .strip_prefix(&top)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let blob = std::fs::read(path).unwrap();
        let ours = our_reading(&blob);
        let Some(theirs) = reference.get(&name) else {
            comparison
                .mismatches
                .push(format!("{name}: not in the reference reading"));
            continue;
        };
        let outcome = match ours.first().map(String::as_str) {
            Some(l) if l.starts_with("refused malformed") => "refused as malformed",
            Some("refused no-memory") => "refused: no usable memory (a bootloader fills it in)",
            _ if ours.iter().any(|l| l.starts_with("psci 0.1 ")) => "read, with PSCI 0.1",
            _ => "read",
        };
        if ours == *theirs {
            *comparison.outcomes.entry(outcome.to_string()).or_default() += 1;
        } else {
            *comparison
                .outcomes
                .entry(format!("mismatched ({outcome} by us)"))
                .or_default() += 1;
            let mut diff = format!("{name}:");
            for l in theirs.iter().filter(|l| !ours.contains(l)) {
                let _ = write!(diff, "\n    libfdt only: {l}");
            }
            for l in ours.iter().filter(|l| !theirs.contains(l)) {
                let _ = write!(diff, "\n    ours only:   {l}");
            }
            if theirs.iter().all(|l| ours.contains(l)) && ours.iter().all(|l| theirs.contains(l)) {
                let _ = write!(diff, "\n    same lines, other order");
            }
            comparison.mismatches.push(diff);
        }
        comparison.readings.insert(name, (ours, theirs.clone()));
    }
    println!(
        "\ndevice trees of {package}: {} blobs, compared with libfdt's reading",
        comparison.blobs
    );
    for (outcome, count) in &comparison.outcomes {
        println!("  {count:>4}  {outcome}");
    }
    Some(comparison)
}

#[test]
#[ignore = "needs the trees `make unit` fetches; it runs this with --ignored"]
fn every_linux_arm64_tree_reads_as_libfdt_reads_it() {
    let corpora = [
        ("linux", "Debian's linux-image-arm64 (Linux 6.1)"),
        (
            "linux-6.12",
            "Debian bookworm-backports' linux-image-arm64 (Linux 6.12), its PSCI 0.1 trees",
        ),
    ];
    let mut mismatches = Vec::new();
    let mut blobs = 0;
    for (dir, package) in corpora {
        if let Some(c) = compare(dir, package) {
            blobs += c.blobs;
            mismatches.extend(c.mismatches);
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {blobs} trees read otherwise than libfdt reads them:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Linux 6.12's arm64 trees whose `/psci` is `arm,psci` alone (the Makefile's
/// PSCI_0_1_TREES).
const PSCI_0_1_TREES: [&str; 4] = [
    "exynos/exynos5433-tm2.dtb",
    "exynos/exynos5433-tm2e.dtb",
    "exynos/exynos7-espresso.dtb",
    "exynos/exynos7885-jackpotlte.dtb",
];

#[test]
#[ignore = "needs the trees `make unit` fetches; it runs this with --ignored"]
fn linux_6_12_psci_0_1_trees_are_read_as_psci_0_1_with_their_function_numbers() {
    let Some(c) = compare(
        "linux-6.12",
        "Debian bookworm-backports' linux-image-arm64 (Linux 6.12), its PSCI 0.1 trees",
    ) else {
        return;
    };
    for name in PSCI_0_1_TREES {
        let (ours, theirs) = c
            .readings
            .get(name)
            .unwrap_or_else(|| panic!("{name}: not fetched, or not in libfdt's reading"));
        let psci = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .filter(|l| l.starts_with("psci "))
                .cloned()
                .collect()
        };
        // libfdt says what the tree is: PSCI 0.1, calling CPU_ON and CPU_OFF by numbers
        // the tree gives.
        let libfdt_psci = psci(theirs);
        assert!(
            matches!(libfdt_psci.as_slice(), [l] if l.starts_with("psci 0.1 ")
                && l.contains(" cpu_on=") && l.contains(" cpu_off=")),
            "{name}: libfdt reads its PSCI as {libfdt_psci:?}, not 0.1 with cpu_on and cpu_off"
        );
        assert_eq!(psci(ours), libfdt_psci, "{name}: our PSCI is not libfdt's");
        let cpus: Vec<&String> = ours.iter().filter(|l| l.starts_with("cpu ")).collect();
        assert!(
            !cpus.is_empty() && cpus.iter().all(|l| l.ends_with(" psci")),
            "{name}: every CPU must be started by PSCI: {cpus:?}"
        );
        assert_eq!(ours, theirs, "{name}: read otherwise than libfdt");
        println!("  {name}: {}", libfdt_psci[0]);
    }
}
