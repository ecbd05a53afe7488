//! Oops symbolisation. The kernel's `Oops:` and panic reports give code addresses where
//! the image runs (the `Call trace:` frames and the `lr` register), then a line saying
//! where the image is and where it was linked:
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
//! [`ReportScanner`] picks those out of a console stream line by line; [`Symbolizer`] moves
//! each address back to the link address and names the function, inlined callers
//! included, with file:line from the ELF's DWARF.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use addr2line::Loader;

/// One code address a report names: a call-trace frame (`#3`) or a register (`lr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub label: String,
    /// As the report prints it.
    pub value: u64,
    /// The instruction to look up: the frame's address, or for `lr` the call before the
    /// return address (the call-trace frames are already printed that way).
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
        if line.contains("Oops: ") {
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
        if let Some(frame) = frame_line(line) {
            addresses.push(frame);
        } else if let Some(lr) = register(line, "lr") {
            self.lr = Some(Address {
                label: "lr".into(),
                value: lr,
                probe: lr.wrapping_sub(4),
            });
        }
        None
    }
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
