//! Report symbolisation. The kernel's reports give code addresses where the image runs
//! (`Call trace:` frames, the `lr` register, lock sites), then a line saying where the
//! image is and where it was linked:
//!
//! ```text
//! Oops: cpu0: synchronous exception from EL1: data abort (...) at 0x0
//!   ESR 0x96000007  FAR 0x0000000000000000  ELR 0x0000000040096a60  SPSR 0x60000345
//!   ...  fp  0x0000000040145910 lr  0x0000000040089a1c
//! Call trace:
//!   #0  0x0000000040096a60
//!   #1  0x0000000040089a18
//! Kernel image at 0x40080000 (linked at 0x40080000); addresses above are where it runs
//! ```
//!
//! A report opens with a line holding `Oops: ` (an Oops or a panic), a line `cpuN
//! backtrace:` (one CPU's part of `backtrace`, every CPU's backtrace), or a line starting
//! `WARNING: ` or `BUG: ` (a lock report's header, e.g. `WARNING: inconsistent lock
//! state`, `BUG: lockup: ...`); inside one, a line with the word `at:` and a hex address
//! after it names a lock site (`holding (&lock), at: 0x0000000040081234`). Lines may
//! carry the kernel log's `[seconds.micros] cpuN: ` prefix.
//!
//! [`ReportScanner`] picks those out of a console stream line by line; [`Symbolizer`] moves
//! each address back to the link address and names the function, inlined callers
//! included, with file:line from the ELF's DWARF.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use addr2line::Loader;

/// One code address a report names: a call-trace frame (`#3`), a register (`lr`), or a
/// lock site (labelled with what the line says before `, at:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub label: String,
    /// As the report prints it.
    pub value: u64,
    /// The instruction to look up: the frame's address, or for `lr` and a lock site (the
    /// return address of the call that took the lock) the call before it (the call-trace
    /// frames are already printed that way).
    pub probe: u64,
}

/// The code addresses of one complete report, and where the image ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub addresses: Vec<Address>,
    pub image_base: u64,
    pub link_address: u64,
}

impl Report {
    /// `runtime` as an address of the linked ELF.
    pub fn link_time(&self, runtime: u64) -> u64 {
        runtime
            .wrapping_sub(self.image_base)
            .wrapping_add(self.link_address)
    }
}

/// Follows a console stream one line at a time and hands back each report when its
/// closing `Kernel image at` line arrives.
#[derive(Default)]
pub struct ReportScanner {
    /// The frames seen since the last `Oops:`; `None` outside a report.
    current: Option<Vec<Address>>,
    /// The link register of the report's register dump, listed after the frames.
    lr: Option<Address>,
}

impl ReportScanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one line (without its line ending); returns the report it completes, if any.
    pub fn line(&mut self, line: &str) -> Option<Report> {
        let body = log_body(line);
        if opens_report(line, body) {
            // A new report, or a nested one ("fault while reporting a fault"): start over.
            self.current = Some(Vec::new());
            self.lr = None;
            return None;
        }
        let addresses = self.current.as_mut()?;
        if let Some((image_base, link_address)) = image_line(line) {
            let mut addresses = self.current.take().unwrap_or_default();
            addresses.extend(self.lr.take());
            return Some(Report {
                addresses,
                image_base,
                link_address,
            });
        }
        if let Some(frame) = frame_line(body) {
            addresses.push(frame);
        } else if let Some(site) = lock_site(body) {
            addresses.push(site);
        } else if let Some(lr) = register(body, "lr") {
            self.lr = Some(Address {
                label: "lr".into(),
                value: lr,
                probe: lr.wrapping_sub(4),
            });
        }
        None
    }
}

/// Whether `line` (`body` without its log prefix) opens a report.
fn opens_report(line: &str, body: &str) -> bool {
    line.contains("Oops: ")
        || backtrace_header(body)
        || body.starts_with("WARNING: ")
        || body.starts_with("BUG: ")
}

/// `cpu2 backtrace:`, a CPU's part of every CPU's backtrace.
fn backtrace_header(body: &str) -> bool {
    body.trim_end()
        .strip_suffix(" backtrace:")
        .is_some_and(cpu_name)
}

/// `cpu2`.
fn cpu_name(word: &str) -> bool {
    word.strip_prefix("cpu")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `line` without the kernel log's `[    1.234567] cpu2: ` prefix, if it has one.
fn log_body(line: &str) -> &str {
    let Some((stamp, rest)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) else {
        return line;
    };
    if stamp.trim().is_empty()
        || !stamp
            .bytes()
            .all(|b| b == b' ' || b == b'.' || b.is_ascii_digit())
    {
        return line;
    }
    match rest.split_once(": ") {
        Some((cpu, text)) if cpu_name(cpu) => text,
        _ => rest,
    }
}

/// `holding (&lock), at: 0x0000000040081234` as a lock site labelled `holding (&lock)`
/// (`at` when nothing comes before). The kernel prints a lock site as the address of the
/// code that took the lock itself (not a return address), so it is looked up as it is.
fn lock_site(body: &str) -> Option<Address> {
    let mut words = body.split_whitespace();
    words.find(|w| *w == "at:")?;
    let digits = words.next()?.strip_prefix("0x")?;
    let end = digits
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(digits.len());
    let value = u64::from_str_radix(&digits[..end], 16).ok()?;
    let before = match body.split_once(", at:") {
        Some((before, _)) => before.trim(),
        None => "",
    };
    Some(Address {
        label: if before.is_empty() { "at" } else { before }.into(),
        value,
        probe: value,
    })
}

fn hex(word: &str) -> Option<u64> {
    u64::from_str_radix(word.strip_prefix("0x")?, 16).ok()
}

/// `  #3  0x0000000040089a18` as frame `#3`.
fn frame_line(line: &str) -> Option<Address> {
    let mut words = line.split_whitespace();
    let label = words.next().filter(|w| {
        w.strip_prefix('#')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })?;
    let value = hex(words.next()?)?;
    words.next().is_none().then(|| Address {
        label: label.into(),
        value,
        probe: value,
    })
}

/// The value after register `name` in a register-dump line.
fn register(line: &str, name: &str) -> Option<u64> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == name)?;
    hex(words.next()?)
}

/// `Kernel image at 0x80000 (linked at 0x40080000); ...` as (image base, link address).
fn image_line(line: &str) -> Option<(u64, u64)> {
    let rest = &line[line.find("Kernel image at ")? + "Kernel image at ".len()..];
    let (base, rest) = rest.split_once(' ')?;
    let link = rest.strip_prefix("(linked at ")?.split(')').next()?;
    Some((hex(base)?, hex(link)?))
}

/// A function an address is in: the innermost first, then each caller it was inlined into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.function.as_deref().unwrap_or("??"))?;
        if let Some(file) = &self.file {
            write!(f, " at {file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
        }
        Ok(())
    }
}

/// The kernel's ELF, read for symbols and line tables.
pub struct Symbolizer {
    elf: PathBuf,
    loader: Loader,
    /// Source paths under this directory are shown relative to it.
    source_root: Option<PathBuf>,
}

impl Symbolizer {
    pub fn open(elf: &Path) -> Result<Self, String> {
        let loader = Loader::new(elf).map_err(|e| format!("cannot read {}: {e}", elf.display()))?;
        Ok(Self {
            elf: elf.to_path_buf(),
            loader,
            source_root: std::env::current_dir().ok(),
        })
    }

    /// Where the link-time address `address` is: empty when it is outside the kernel.
    pub fn places(&self, address: u64) -> Vec<Place> {
        let mut places = Vec::new();
        if let Ok(mut frames) = self.loader.find_frames(address) {
            while let Ok(Some(frame)) = frames.next() {
                places.push(Place {
                    function: frame
                        .function
                        .as_ref()
                        .and_then(|f| f.demangle().ok())
                        .map(Cow::into_owned),
                    file: frame
                        .location
                        .as_ref()
                        .and_then(|l| l.file)
                        .map(|f| self.short_path(f)),
                    line: frame.location.as_ref().and_then(|l| l.line),
                });
            }
        }
        if places.first().is_none_or(|p| p.function.is_none())
            && let Some(symbol) = self.loader.find_symbol(address)
        {
            let name = addr2line::demangle_auto(symbol.into(), None).into_owned();
            match places.first_mut() {
                Some(first) => first.function = Some(name),
                None => places.push(Place {
                    function: Some(name),
                    file: None,
                    line: None,
                }),
            }
        }
        places
    }

    /// The report's addresses, each with its function and file:line, as lines of text.
    pub fn describe(&self, report: &Report) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Symbolised from {} (image at {:#x}, linked at {:#x}):",
            self.elf.display(),
            report.image_base,
            report.link_address
        );
        for address in &report.addresses {
            let places = self.places(report.link_time(address.probe));
            let _ = write!(out, "  {:<3} {:#018x} in ", address.label, address.value);
            match places.split_first() {
                None => {
                    let _ = writeln!(out, "?? (not in the kernel image)");
                }
                Some((innermost, callers)) => {
                    let _ = writeln!(out, "{innermost}");
                    for caller in callers {
                        let _ = writeln!(out, "        inlined into {caller}");
                    }
                }
            }
        }
        out
    }

    /// `text` with each complete report followed by its symbolised addresses.
    pub fn annotate(&self, text: &str) -> String {
        let mut scanner = ReportScanner::new();
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            out.push_str(line);
            if let Some(report) = scanner.line(line.trim_end_matches(['\r', '\n'])) {
                if !line.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&self.describe(&report));
            }
        }
        out
    }

    /// Source paths as a reader finds them: ours relative to the source tree, crates by
    /// name and version, the Rust library from `library/`.
    fn short_path(&self, path: &str) -> String {
        if let Some(root) = &self.source_root
            && let Ok(relative) = Path::new(path).strip_prefix(root)
        {
            return relative.display().to_string();
        }
        if let Some((_, rest)) = path.split_once("/registry/src/")
            && let Some((_, in_crate)) = rest.split_once('/')
        {
            return in_crate.to_string();
        }
        if let Some(rest) = path.strip_prefix("/rustc/")
            && let Some((_, in_library)) = rest.split_once('/')
        {
            return in_library.to_string();
        }
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OOPS: &str = "\
hotslab> crash null\r
\r
Oops: cpu0: synchronous exception from EL1: data abort (translation fault, level 3, read) at 0x0\r
  ESR 0x96000007  FAR 0x0000000000000000  ELR 0x0000000000096a60  SPSR 0x60000345\r
  x28 0x00000000400b6000 fp  0x0000000040145910 lr  0x0000000000089a1c\r
  sp  0x0000000040145900\r
Call trace:\r
  #0  0x0000000000096a60\r
  #1  0x0000000000089a18\r
  #12 0x000000000008018c\r
Kernel image at 0x80000 (linked at 0x40080000); addresses above are where it runs\r
cpu0: halted (bootarg panic=poweroff or panic=reboot instead)\r
";

    fn scan(text: &str) -> Vec<Report> {
        let mut scanner = ReportScanner::new();
        text.lines()
            .filter_map(|l| scanner.line(l.trim_end_matches('\r')))
            .collect()
    }

    #[test]
    fn a_report_gives_its_frames_and_lr_and_where_the_image_ran() {
        let reports = scan(OOPS);
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        let labels: Vec<_> = r.addresses.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(labels, ["#0", "#1", "#12", "lr"]);
        assert_eq!(r.addresses[0].value, 0x96a60);
        assert_eq!((r.image_base, r.link_address), (0x80000, 0x4008_0000));
        assert_eq!(r.link_time(0x96a60), 0x4009_6a60);
    }

    #[test]
    fn text_outside_a_report_is_never_taken_for_addresses() {
        assert!(scan("  #0  0x40096a60\nKernel image at 0x1 (linked at 0x2)\n").is_empty());
        // A report cut short by a second one keeps only the second's addresses.
        let twice = OOPS.replace(
            "Call trace:",
            "Oops: cpu0: fault while reporting\nCall trace:",
        );
        let reports = scan(&twice);
        assert_eq!(reports.len(), 1);
        assert_eq!(
            reports[0].addresses.len(),
            3,
            "the frames, without the first lr"
        );
    }

    /// `backtrace` on two CPUs, a third named as silent: as the kernel prints it.
    const BACKTRACES: &str = "\
hotslab> backtrace\r
cpu0 backtrace:\r
Call trace:\r
  #0  0x00000000400af548\r
  #1  0x00000000400d56c8\r
Kernel image at 0x40080000 (linked at 0x40080000); addresses above are where it runs\r
cpu1: no backtrace within 100 ms (interrupts masked?)\r
  #9  0x0000000040000000\r
cpu2 backtrace:\r
  pc  0x00000000400a7c58 lr  0x00000000400a7c3c sp  0x0000c0000002ff30\r
Call trace:\r
  #0  0x00000000400a7c58\r
  #1  0x00000000400a7a9c\r
  #2  0x00000000400c07f4\r
Kernel image at 0x40080000 (linked at 0x40080000); addresses above are where it runs\r
";

    fn labels(report: &Report) -> Vec<&str> {
        report.addresses.iter().map(|a| a.label.as_str()).collect()
    }

    #[test]
    fn each_cpus_backtrace_is_a_report_of_its_own() {
        let reports = scan(BACKTRACES);
        assert_eq!(reports.len(), 2, "cpu0's and cpu2's parts");
        assert_eq!(labels(&reports[0]), ["#0", "#1"]);
        assert_eq!(reports[0].addresses[1].value, 0x400d_56c8);
        // The frame between the parts, after the silent CPU's line, belongs to neither.
        assert_eq!(labels(&reports[1]), ["#0", "#1", "#2", "lr"]);
        assert_eq!(reports[1].addresses[3].value, 0x400a_7c3c);
        assert_eq!(reports[1].addresses[3].probe, 0x400a_7c38);
    }

    /// Lock reports' headers, with lock sites, and one line through the kernel log.
    const LOCK_REPORTS: &str = "\
WARNING: possible circular locking dependency detected\r
cpu1 is trying to acquire lock (&b), at: 0x0000000040081234\r
but task is already holding lock:\r
  (&a), at: 0x0000000040082000\r
  #0: (&a), at: 0x0000000040082100,\r
at: 0x0000000040083000\r
Call trace:\r
  #0  0x0000000040090000\r
Kernel image at 0x40080000 (linked at 0x40080000); addresses above are where it runs\r
[    1.234567] cpu3: BUG: lockup: cpu2 stuck for 10 s\r
[    1.234568] cpu3: held (&c), at: 0x0000000040085000\r
[    1.234569] cpu3:   #0  0x0000000040086000\r
[    1.234570] cpu3: Kernel image at 0x40080000 (linked at 0x40080000); addresses above are where it runs\r
WARNING: inconsistent lock state\r
Kernel image at 0x40080000 (linked at 0x40080000); addresses above are where it runs\r
";

    #[test]
    fn lock_reports_give_their_lock_sites_labelled_and_their_frames() {
        let reports = scan(LOCK_REPORTS);
        assert_eq!(reports.len(), 3);
        assert_eq!(
            labels(&reports[0]),
            [
                "cpu1 is trying to acquire lock (&b)",
                "(&a)",
                "#0: (&a)",
                "at",
                "#0"
            ]
        );
        let site = &reports[0].addresses[0];
        assert_eq!((site.value, site.probe), (0x4008_1234, 0x4008_1234));
        assert_eq!(reports[0].addresses[2].value, 0x4008_2100);
        // Through the log: the prefix comes off the header, the sites and the frames.
        assert_eq!(labels(&reports[1]), ["held (&c)", "#0"]);
        assert_eq!(reports[1].addresses[1].value, 0x4008_6000);
        assert!(reports[2].addresses.is_empty());
    }

    #[test]
    fn only_a_headers_own_line_opens_a_report() {
        for not_a_header in [
            "cpu1: no backtrace within 100 ms (interrupts masked?)",
            "cpux backtrace:",
            "cpu backtrace:",
            "see cpu1 backtrace:",
            "a WARNING: inside a line",
            "BUG:without a space",
            "[oops] cpu1: WARNING: not a log stamp",
        ] {
            let text = format!("{not_a_header}\n  #0  0x10\nKernel image at 0x1 (linked at 0x2)\n");
            assert!(scan(&text).is_empty(), "{not_a_header:?} opened a report");
        }
        for header in ["cpu511 backtrace:", "[    0.5] cpu0: WARNING: x", "BUG: y"] {
            let text = format!("{header}\n  #0  0x10\nKernel image at 0x1 (linked at 0x2)\n");
            assert_eq!(scan(&text).len(), 1, "{header:?} opened no report");
        }
    }

    #[test]
    fn lock_sites_outside_a_report_or_malformed_are_not_taken() {
        assert!(scan("(&a), at: 0x40081234\nKernel image at 0x1 (linked at 0x2)\n").is_empty());
        assert_eq!(lock_site("(&a), at: 0xzz"), None);
        assert_eq!(lock_site("(&a), at: 1234"), None);
        assert_eq!(lock_site("(&a), at:0x1234"), None);
        assert_eq!(lock_site("(&a), at:"), None);
        assert_eq!(lock_site("look at: this"), None);
    }

    #[test]
    fn malformed_lines_are_skipped_not_misread() {
        assert_eq!(frame_line("  #0  0xzz"), None);
        assert_eq!(frame_line("  # 0x10"), None);
        assert_eq!(frame_line("  #1  0x10 trailing"), None);
        assert_eq!(image_line("Kernel image at 0x80000 (linked at"), None);
        assert_eq!(register("  fp  0x10 lr", "lr"), None);
        let mut scanner = ReportScanner::new();
        scanner.line("Oops: cpu1: panic");
        assert_eq!(scanner.line("Kernel image at nowhere"), None);
        let report = scanner.line("Kernel image at 0x40080000 (linked at 0x40080000)");
        assert_eq!(report.map(|r| r.addresses.len()), Some(0));
    }
}
