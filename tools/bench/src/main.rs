//! `make bench`: boots the kernel's `bench` on QEMU virt with 2, 4 and 8 CPUs and on
//! raspi4b, and the Linux peer (tools/linux-peer) on virt with the same flags, both with
//! `quiet` on their command lines; then the kernel on virt with a GICv3 at 4, 64, 256 and
//! 512 CPUs (what grows with the CPU count: boot, bring-up against its floor, one CPU's
//! offline and online, the hotplug lock's writer, a cross-call to all, a cache's drain),
//! the kernel on virt with 4 CPUs booted with `lockdep` (what lock validation costs),
//! and, with `--linux-at-64`, Linux there at 64 (one boot to init: 3 to over 10 minutes
//! on a 2-core host, so not by default). It prints one report with the
//! ratios against the goals, and writes it with the raw results as CSV and JSON and a
//! chart of latency against CPU count (SVG).
//!
//! A boot is one sample, and emulated boots swing by 2x with the host's scheduling, so
//! each configuration of each system is booted [`BOOTS`] times in all (the others only
//! to boot) and the boot time reported is the median boot, with its phases.
//!
//! Each configuration of the kernel is booted once more under the counting plugin
//! (tools/counts), whose guest instructions, loads and stores per operation do not move
//! with the host; the first is counted twice, and the report says whether the two agree.
//! The timed boots run without the plugin, which slows the emulator.
//!
//! Usage: bench [--image build/Image] [--rpi4-dtb build/dts/rpi4.dtb]
//!              [--peer build/linux-peer] [--out build/bench] [--cycles N]
//!              [--plugin target/release/libcounts.so] [--linux-at-64 yes]

mod chart;
mod qemu;
mod report;
mod results;
mod scale;
mod validation;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use results::{Run, System};

const VIRT_CPUS: [u32; 3] = [2, 4, 8];
/// The CPU counts of the GICv3 runs, up to QEMU's most.
const SCALE_CPUS: [u32; 4] = [4, 64, 256, 512];
/// The machine name of the GICv3 runs in the results.
pub const SCALE_MACHINE: &str = "virt-gicv3";
/// Where Linux boots once on the GICv3, against the kernel's boot there (`--linux-at-64`).
const LINUX_SCALE_CPUS: u32 = 64;
/// How long that boot may take.
const LINUX_SCALE_TIMEOUT: Duration = Duration::from_secs(1800);
const TIMEOUT: Duration = Duration::from_secs(600);
/// Boots per configuration whose median is the boot time.
const BOOTS: usize = 5;

struct Options {
    image: PathBuf,
    rpi4_dtb: PathBuf,
    peer: PathBuf,
    out: PathBuf,
    cycles: u32,
    plugin: PathBuf,
    linux_at_64: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        image: "build/Image".into(),
        rpi4_dtb: "build/dts/rpi4.dtb".into(),
        peer: "build/linux-peer".into(),
        out: "build/bench".into(),
        cycles: 20,
        plugin: "target/release/libcounts.so".into(),
        linux_at_64: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--image" => o.image = value.into(),
            "--rpi4-dtb" => o.rpi4_dtb = value.into(),
            "--peer" => o.peer = value.into(),
            "--out" => o.out = value.into(),
            "--cycles" => o.cycles = value.parse().map_err(|_| "--cycles needs a number")?,
            "--plugin" => o.plugin = value.into(),
            "--linux-at-64" => {
                o.linux_at_64 = match value.as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err("--linux-at-64 takes yes or no".into()),
                }
            }
            _ => return Err(format!("unknown option '{flag}'")),
        }
    }
    Ok(o)
}

fn virt_flags(cpus: u32) -> Vec<String> {
    machine_flags("virt,gic-version=2", "512M", cpus)
}

/// QEMU's virt with a GICv3 (which 512 CPUs need) and room for their stacks and tables.
fn gicv3_flags(cpus: u32) -> Vec<String> {
    machine_flags("virt,gic-version=3", "2G", cpus)
}

fn machine_flags(machine: &str, memory: &str, cpus: u32) -> Vec<String> {
    [
        "-M",
        machine,
        "-cpu",
        "cortex-a72",
        "-m",
        memory,
        "-nographic",
        "-nic",
        "none",
        "-smp",
        &cpus.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Boots `args`, and reads its RESULT lines.
fn boot(
    system: System,
    machine: &'static str,
    cpus: u32,
    args: &[String],
    timeout: Duration,
) -> Result<Run, String> {
    eprintln!("bench: {} on {machine} with {cpus} CPUs ...", system.name());
    let output = qemu::run(args, timeout)?;
    let values = results::parse(&output).map_err(|e| format!("{e}; output:\n{output}"))?;
    Ok(Run {
        system,
        machine,
        cpus,
        values,
        differing: Vec::new(),
    })
}

/// Boots `boot_only` (a command line that only measures the boot) until `run` has
/// [`BOOTS`] boots, and gives `run` the median one's `boot.*` values, plus `boot.boots`.
fn median_boot(run: &mut Run, boot_only: &[String]) -> Result<(), String> {
    type BootValues = Vec<(String, f64)>;
    let boot_values = |values: &BTreeMap<String, f64>| -> BootValues {
        values
            .iter()
            .filter(|(k, _)| k.starts_with("boot."))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let mut boots = vec![boot_values(&run.values)];
    while boots.len() < BOOTS {
        let output = qemu::run(boot_only, TIMEOUT)?;
        let values = results::parse(&output).map_err(|e| format!("{e}; output:\n{output}"))?;
        boots.push(boot_values(&values));
    }
    let total = |b: &BootValues| {
        b.iter()
            .find(|(k, _)| k == "boot.boot_ms")
            .map_or(f64::INFINITY, |(_, v)| *v)
    };
    boots.sort_by(|a, b| total(a).total_cmp(&total(b)));
    run.values.extend(boots[boots.len() / 2].iter().cloned());
    run.values.insert("boot.boots".into(), boots.len() as f64);
    Ok(())
}

/// The parts of `bench` that count (all but `cache`), under the counting plugin.
const COUNTED_PARTS: &str = "bench boot hotplug slab lock ipi";
/// The parts booted with `lockdep`, timed, and under the counting plugin.
const LOCKDEP_PARTS: &str = "bench lock slab";
/// The parts of the GICv3 runs, timed, and under the counting plugin.
const SCALE_PARTS: &str = "bench boot bringup scale ipi cache";
const SCALE_COUNTED_PARTS: &str = "bench boot scale ipi";

/// Boots `machine_args` (a machine and the kernel, without `-append`) under the counting
/// plugin, writing its records to `records`, and gives the count values it reported.
fn counted_boot(
    plugin: &Path,
    records: &Path,
    machine_args: &[String],
    bootargs: &str,
    parts: &str,
) -> Result<BTreeMap<String, f64>, String> {
    let mut args = machine_args.to_vec();
    args.push("-plugin".into());
    args.push(format!("file={},out={}", path(plugin), path(records)));
    args.push("-append".into());
    args.push(format!(
        "quiet {bootargs} bench.counts={} run=\"{parts}; poweroff\"",
        path(records)
    ));
    let output = qemu::run(&args, TIMEOUT)?;
    let values = results::parse(&output).map_err(|e| format!("{e}; output:\n{output}"))?;
    let counts: BTreeMap<String, f64> = values
        .into_iter()
        .filter(|(k, _)| results::is_count(k))
        .collect();
    if counts.is_empty() {
        return Err(format!("no counts in its RESULT lines; output:\n{output}"));
    }
    Ok(counts)
}

/// Adds the counts of `machine_args`' counted boot to `run` (and, with `twice`, checks a
/// second counted boot against the first, noting how many values agree).
fn add_counts(
    o: &Options,
    run: &mut Run,
    machine_args: &[String],
    bootargs: &str,
    parts: &str,
    twice: bool,
) -> Result<(), String> {
    let records = |n: u32| {
        o.out
            .join(format!("counts-{}-{}cpus-{n}.txt", run.machine, run.cpus))
    };
    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    eprintln!(
        "bench: hotslab on {} with {} CPUs, counted ...",
        run.machine, run.cpus
    );
    let first = counted_boot(&o.plugin, &records(1), machine_args, bootargs, parts)?;
    if twice {
        eprintln!(
            "bench: hotslab on {} with {} CPUs, counted again ...",
            run.machine, run.cpus
        );
        let second = counted_boot(&o.plugin, &records(2), machine_args, bootargs, parts)?;
        let differing = results::differing(&first, &second);
        run.values
            .insert("determinism.values".into(), first.len() as f64);
        run.values
            .insert("determinism.differing".into(), differing.len() as f64);
        run.differing = differing;
    }
    run.values.extend(first);
    Ok(())
}

/// One configuration of the kernel to measure.
struct Kernel {
    /// The machine's name in the results.
    label: &'static str,
    cpus: u32,
    /// QEMU's arguments: the machine and the kernel, without `-append`.
    args: Vec<String>,
    /// Boot arguments besides `quiet` and the script.
    bootargs: &'static str,
}

impl Kernel {
    /// Boots it running `parts` (the shell's `bench ...`), then only to boot until the
    /// median boot is known, then, with `counting`, under the counting plugin running
    /// `counted_parts` (twice with `twice`).
    fn run(
        &self,
        o: &Options,
        parts: &str,
        counted_parts: &str,
        twice: bool,
        counting: bool,
    ) -> Result<Run, String> {
        let with_script = |script: &str| {
            let mut args = self.args.clone();
            args.push("-append".into());
            args.push(format!(
                "quiet {} run=\"{script}; poweroff\"",
                self.bootargs
            ));
            args
        };
        let mut run = boot(
            System::Hotslab,
            self.label,
            self.cpus,
            &with_script(parts),
            TIMEOUT,
        )?;
        median_boot(&mut run, &with_script("bench boot"))?;
        if counting {
            add_counts(o, &mut run, &self.args, self.bootargs, counted_parts, twice)?;
        }
        Ok(run)
    }
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(2);
        }
    };
    let kernel_args = strings(&["-semihosting-config", "enable=on,target=native", "-kernel"]);
    // Both systems boot with `quiet`: the console shows errors only, the log keeps all.
    let mut runs = Vec::new();
    let mut failures = Vec::new();
    let counting = o.plugin.exists();
    if !counting {
        failures.push(format!(
            "no counting plugin at {} (make builds it): no counts",
            o.plugin.display()
        ));
    }
    // Each configuration of the kernel: its machine (the kernel included, no -append).
    let kernel = |mut machine: Vec<String>| {
        machine.extend(kernel_args.iter().cloned());
        machine.push(path(&o.image));
        machine
    };
    for cpus in VIRT_CPUS {
        let machine = Kernel {
            label: "virt",
            cpus,
            args: kernel(virt_flags(cpus)),
            bootargs: "",
        };
        match machine.run(
            &o,
            "bench",
            COUNTED_PARTS,
            counting && cpus == VIRT_CPUS[0],
            counting,
        ) {
            Ok(run) => runs.push(run),
            Err(e) => failures.push(format!("hotslab on virt with {cpus} CPUs: {e}")),
        }
    }
    let validated = Kernel {
        label: validation::MACHINE,
        cpus: validation::CPUS,
        args: kernel(virt_flags(validation::CPUS)),
        bootargs: "lockdep",
    };
    match validated.run(&o, LOCKDEP_PARTS, LOCKDEP_PARTS, false, counting) {
        Ok(run) => runs.push(run),
        Err(e) => failures.push(format!("hotslab on virt with lockdep: {e}")),
    }
    let mut rpi4 = strings(&["-M", "raspi4b", "-display", "none", "-monitor", "none"]);
    rpi4.extend(strings(&["-serial", "stdio", "-serial", "null", "-dtb"]));
    rpi4.push(path(&o.rpi4_dtb));
    let machine = Kernel {
        label: "raspi4b",
        cpus: 4,
        args: kernel(rpi4),
        bootargs: "",
    };
    match machine.run(&o, "bench", COUNTED_PARTS, false, counting) {
        Ok(run) => runs.push(run),
        Err(e) => failures.push(format!("hotslab on raspi4b: {e}")),
    }
    for cpus in SCALE_CPUS {
        let machine = Kernel {
            label: SCALE_MACHINE,
            cpus,
            args: kernel(gicv3_flags(cpus)),
            bootargs: "",
        };
        match machine.run(&o, SCALE_PARTS, SCALE_COUNTED_PARTS, false, counting) {
            Ok(run) => runs.push(run),
            Err(e) => failures.push(format!("hotslab on virt (GICv3) with {cpus} CPUs: {e}")),
        }
    }

    let (vmlinuz, initramfs) = (o.peer.join("vmlinuz"), o.peer.join("initramfs.cpio"));
    let linux_boot = |flags: Vec<String>| {
        let mut args = flags;
        args.extend(strings(&["-kernel"]));
        args.push(path(&vmlinuz));
        args.push("-initrd".into());
        args.push(path(&initramfs));
        args
    };
    if vmlinuz.exists() && initramfs.exists() {
        if o.linux_at_64 {
            // One boot to init, no benchmarks.
            let mut args = linux_boot(gicv3_flags(LINUX_SCALE_CPUS));
            args.push("-append".into());
            args.push("console=ttyAMA0 quiet peer.cycles=0".into());
            match boot(
                System::Linux,
                SCALE_MACHINE,
                LINUX_SCALE_CPUS,
                &args,
                LINUX_SCALE_TIMEOUT,
            ) {
                Ok(run) => runs.push(run),
                Err(e) => failures.push(format!(
                    "Linux on virt (GICv3) with {LINUX_SCALE_CPUS} CPUs: {e}"
                )),
            }
        }
        for cpus in VIRT_CPUS {
            let mut args = linux_boot(virt_flags(cpus));
            let mut boot_only = args.clone();
            args.push("-append".into());
            args.push(format!("console=ttyAMA0 quiet peer.cycles={}", o.cycles));
            boot_only.push("-append".into());
            boot_only.push("console=ttyAMA0 quiet peer.cycles=0".into());
            match boot(System::Linux, "virt", cpus, &args, TIMEOUT)
                .and_then(|mut run| median_boot(&mut run, &boot_only).map(|()| run))
            {
                Ok(run) => runs.push(run),
                Err(e) => failures.push(format!("Linux on virt with {cpus} CPUs: {e}")),
            }
        }
    } else {
        failures.push(format!(
            "no Linux peer in {} (tools/linux-peer/build.sh makes it): no ratios against Linux",
            o.peer.display()
        ));
    }

    let report = report::markdown(&runs);
    println!("{report}");
    if let Err(e) = std::fs::create_dir_all(&o.out)
        .and_then(|()| std::fs::write(o.out.join("report.md"), &report))
        .and_then(|()| std::fs::write(o.out.join("results.csv"), report::csv(&runs)))
        .and_then(|()| std::fs::write(o.out.join("results.json"), report::json(&runs)))
    {
        failures.push(format!("writing {}: {e}", o.out.display()));
    }
    let svg = o.out.join("latency.svg");
    if let Err(e) = chart::draw(&runs, &svg) {
        failures.push(format!("drawing {}: {e}", svg.display()));
    }
    println!(
        "Written: {0}/report.md, {0}/results.csv, {0}/results.json, {0}/latency.svg",
        o.out.display()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            eprintln!("bench: {f}");
        }
        ExitCode::FAILURE
    }
}
