//! The QEMU test suite: boots the kernel image in QEMU's virt and raspi4b boards (and the
//! other machines that have what it needs) in several configurations, drives its shell
//! (through the `run=` bootarg, or typed on the serial line), and checks what it prints and
//! how QEMU exits; then debugs it with gdb. Every run has a timeout. Oops and panic
//! reports in the output are symbolised from the ELF before the checks, so cases can name
//! functions and a failure's output shows where the kernel was.
//!
//! This file is the runner; what a case is lives in `case`, the shared checks in `checks`,
//! the cases by area in `cases/`, and running one in `qemu` and `gdb`.
//!
//! Usage: ktest [--image build/Image] [--elf build/kernel.elf] [--only TEXT]
//!        ktest --list [--markdown]
//!        ktest --write-table docs/tests.md
//! A run ends with `RESULT qemu-suite PASS|FAIL ...` and `N passed, N failed`; `--list`
//! prints every case with its area and board (`--markdown`: the table of docs/tests.md, which
//! `--write-table` rewrites in place).

mod case;
mod cases;
mod checks;
mod gdb;
mod listing;
mod qemu;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use symbolize::Symbolizer;

use case::Kernel;

/// What the command line asked for.
struct Options {
    image: PathBuf,
    elf: PathBuf,
    only: Option<String>,
    list: bool,
    markdown: bool,
    /// A file whose table of cases to rewrite (docs/tests.md).
    write_table: Option<PathBuf>,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            image: PathBuf::from("build/Image"),
            elf: PathBuf::from("build/kernel.elf"),
            only: None,
            list: false,
            markdown: false,
            write_table: None,
        };
        while let Some(arg) = args.next() {
            let mut value = |what: &str| args.next().ok_or(format!("'{arg}' needs {what}"));
            match arg.as_str() {
                "--image" => options.image = value("a path")?.into(),
                "--elf" => options.elf = value("a path")?.into(),
                "--only" => options.only = Some(value("the text of a case name")?),
                "--list" => options.list = true,
                "--markdown" => options.markdown = true,
                "--write-table" => options.write_table = Some(value("a path")?.into()),
                other => {
                    return Err(format!(
                        "unknown argument '{other}' (give --image, --elf, --only, --list, \
                         --markdown or --write-table)"
                    ));
                }
            }
        }
        Ok(options)
    }
}

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(why) => {
            eprintln!("ktest: {why}");
            return ExitCode::from(2);
        }
    };
    if options.markdown && !options.list {
        eprintln!("ktest: '--markdown' goes with '--list'");
        return ExitCode::from(2);
    }
    if options.list {
        let rows = listing::rows();
        let text = if options.markdown {
            listing::markdown(&rows)
        } else {
            listing::plain(&rows)
        };
        print!("{text}");
        return ExitCode::SUCCESS;
    }
    if let Some(path) = &options.write_table {
        return match write_table(path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(why) => {
                eprintln!("ktest: {}: {why}", path.display());
                ExitCode::FAILURE
            }
        };
    }
    run_suite(&options.image, &options.elf, options.only.as_deref())
}

/// Rewrites the table of cases in the file at `path` from the case list.
fn write_table(path: &Path) -> Result<(), String> {
    let doc = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let table = listing::markdown(&listing::rows());
    let new = listing::with_table(&doc, &table).ok_or("no table markers in it")?;
    std::fs::write(path, new).map_err(|e| e.to_string())
}

/// Runs every case whose name contains `only` (all when `None`) and reports each.
fn run_suite(image: &Path, elf: &Path, only: Option<&str>) -> ExitCode {
    let relocated = match qemu::relocated_copy(image) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ktest: cannot read {}: {e}", image.display());
            return ExitCode::from(2);
        }
    };
    let symbolizer = match Symbolizer::open(elf) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ktest: {e}");
            return ExitCode::from(2);
        }
    };
    let chosen = |name: &str| only.is_none_or(|o| name.contains(o));
    let (mut passed, mut failed, mut skipped) = (0u32, 0u32, 0u32);
    for (_, case) in cases::all() {
        if !chosen(case.name) {
            continue;
        }
        let kernel = match case.kernel {
            Kernel::Image => image,
            Kernel::Relocated => &relocated,
            Kernel::Elf => elf,
            Kernel::Through(_) => image,
        };
        if let Kernel::Through(chain) = case.kernel
            && let Some(missing) = chain
                .files()
                .iter()
                .find(|f| !image.with_file_name(f).exists())
        {
            skipped += 1;
            println!(
                "SKIP {}: build/{missing} could not be made (Debian's firmware could not be \
                 fetched: see above); this case did NOT run",
                case.name
            );
            continue;
        }
        if let Some(dtb) = case
            .dtb
            .filter(|d| d.starts_with("upstream/") || d.starts_with("linux/"))
            && !image.with_file_name("dts").join(dtb).exists()
        {
            skipped += 1;
            println!(
                "SKIP {}: build/dts/{dtb} could not be fetched from Debian (see above); \
                 this case did NOT run",
                case.name
            );
            continue;
        }
        let started = Instant::now();
        let result = qemu::run(&case, kernel, &symbolizer);
        report(case.name, started, result, &mut passed, &mut failed);
    }
    for case in cases::gdb::cases() {
        if !chosen(case.name) {
            continue;
        }
        let started = Instant::now();
        let result = gdb::run(&case, image, elf, &symbolizer);
        report(case.name, started, result, &mut passed, &mut failed);
    }
    if let Some(text) = only
        && passed + failed + skipped == 0
    {
        // A typo in `--only` must not pass as a suite that found nothing wrong.
        eprintln!("ktest: no case's name contains '{text}' (`ktest --list` lists them)");
        return ExitCode::from(2);
    }
    let verdict = if failed == 0 { "PASS" } else { "FAIL" };
    println!("RESULT qemu-suite {verdict} passed={passed} failed={failed} skipped={skipped}");
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints one case's verdict with its duration, and counts it.
fn report(
    name: &str,
    started: Instant,
    result: Result<(), String>,
    passed: &mut u32,
    failed: &mut u32,
) {
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
            *passed += 1;
            println!("ok   {name} ({seconds:.1} s)");
        }
        Err(why) => {
            *failed += 1;
            println!("FAIL {name} ({seconds:.1} s): {why}");
        }
    }
}
