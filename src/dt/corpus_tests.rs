//! The reader against every real device tree at hand: the 576 arm64 trees of Debian's
//! Linux package (`make unit` fetches them into build/dts/linux/), each compared with an
//! independent reading of the same blob by libfdt (tools/dt-reference/libfdt_reading.py,
//! written to build/dts/linux.reading). The two must agree on every line: memory,
//! reservations, CPUs and their enable methods, the GIC, PSCI, the timer, the UARTs and
//! the console; a blob either reader refuses must be refused by both, for the same
//! reason. Prints the count of each outcome. Ignored in a plain `cargo test` (it needs the
//! fetched trees): `make unit` runs it with `--ignored`, and it skips loudly when the trees
//! could not be fetched.

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
    match p.psci {
        Some(PsciMethod::Hvc) => lines.push("psci hvc".into()),
        Some(PsciMethod::Smc) => lines.push("psci smc".into()),
        None => {}
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

#[test]
#[ignore = "needs the trees `make unit` fetches; it runs this with --ignored"]
fn every_linux_arm64_tree_reads_as_libfdt_reads_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("build/dts");
    let dir = root.join("linux");
    let mut found = Vec::new();
    blobs(&dir, &mut found);
    if found.is_empty() {
        println!(
            "\n*** SKIPPED: no device trees under {}: Debian's linux-image-arm64 could not \
             be fetched; the comparison with libfdt did NOT run ***\n",
            dir.display()
        );
        return;
    }
    found.sort();
    let reference = reference(&root.join("linux.reading"));
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut mismatches = Vec::new();
    for path in &found {
        let name = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let blob = std::fs::read(path).unwrap();
        let ours = our_reading(&blob);
        let Some(theirs) = reference.get(&name) else {
            mismatches.push(format!("{name}: not in the reference reading"));
            continue;
        };
        let outcome = match ours.first().map(String::as_str) {
            Some(l) if l.starts_with("refused malformed") => "refused as malformed",
            Some("refused no-memory") => "refused: no usable memory (a bootloader fills it in)",
            _ => "read",
        };
        if ours == *theirs {
            *outcomes.entry(outcome.to_string()).or_default() += 1;
        } else {
            *outcomes
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
            mismatches.push(diff);
        }
    }
    println!(
        "\ndevice trees of Debian's linux-image-arm64: {} blobs, compared with libfdt's reading",
        found.len()
    );
    for (outcome, count) in &outcomes {
        println!("  {count:>4}  {outcome}");
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} trees read otherwise than libfdt reads them:\n{}",
        mismatches.len(),
        found.len(),
        mismatches.join("\n")
    );
}
