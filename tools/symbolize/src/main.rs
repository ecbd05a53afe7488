//! `symbolize`: passes a kernel console stream through unchanged, byte for byte as it
//! arrives, and after each Oops or panic report adds its addresses as function and
//! file:line from the kernel's ELF.
//!
//! ```text
//! symbolize [--elf build/kernel.elf] [LOG...]          a saved log, or standard input
//! symbolize [--elf build/kernel.elf] -- COMMAND ARG... COMMAND's output (e.g. QEMU), whose
//!                                                      exit status it then exits with
//! ```
//!
//! When the ELF cannot be read it says so once and still passes everything through.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use symbolize::{ReportScanner, Symbolizer};

const USAGE: &str =
    "usage: symbolize [--elf ELF] [LOG...]\n       symbolize [--elf ELF] -- COMMAND [ARG...]";

/// Copies `input` to standard output as it comes, feeding whole lines to the scanner.
struct Filter {
    symbolizer: Option<Symbolizer>,
    scanner: ReportScanner,
    line: Vec<u8>,
}

impl Filter {
    fn pass(&mut self, mut input: impl Read) -> io::Result<()> {
        let mut out = io::stdout().lock();
        let mut buf = [0u8; 4096];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            // Bytes go out as they come; a report's symbols go right after its last line.
            let mut written = 0;
            for (i, &byte) in buf[..n].iter().enumerate() {
                if byte != b'\n' {
                    self.line.push(byte);
                    continue;
                }
                let crlf = self.line.last() == Some(&b'\r');
                let text = String::from_utf8_lossy(&self.line);
                if let Some(report) = self.scanner.line(text.trim_end_matches('\r'))
                    && let Some(symbolizer) = &self.symbolizer
                {
                    out.write_all(&buf[written..=i])?;
                    written = i + 1;
                    let described = symbolizer.describe(&report);
                    let newline = if crlf { "\r\n" } else { "\n" };
                    out.write_all(described.replace('\n', newline).as_bytes())?;
                }
                self.line.clear();
            }
            out.write_all(&buf[written..n])?;
            out.flush()?;
        }
    }
}

fn main() -> ExitCode {
    let mut elf = PathBuf::from("build/kernel.elf");
    let mut logs = Vec::new();
    let mut command = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--elf") => match args.next() {
                Some(path) => elf = path.into(),
                None => return usage("--elf needs a path"),
            },
            Some("--") => {
                command = Some(args.by_ref().collect::<Vec<_>>());
                break;
            }
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Some(flag) if flag.starts_with('-') && flag.len() > 1 => {
                return usage(&format!("unknown option '{flag}'"));
            }
            _ => logs.push(PathBuf::from(arg)),
        }
    }
    let symbolizer = Symbolizer::open(&elf)
        .inspect_err(|e| eprintln!("symbolize: {e}; passing the output through unsymbolised"))
        .ok();
    let mut filter = Filter {
        symbolizer,
        scanner: ReportScanner::new(),
        line: Vec::new(),
    };
    match command {
        Some(command) => run(&mut filter, &command),
        None if logs.is_empty() => finish(filter.pass(io::stdin().lock()), "standard input"),
        None => {
            for log in &logs {
                let name = log.display().to_string();
                let passed = File::open(log).and_then(|f| filter.pass(f));
                if finish(passed, &name) != ExitCode::SUCCESS {
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
    }
}

/// Runs `command` with its standard output through the filter; its standard input and
/// error stay the terminal's. Exits as the command did.
fn run(filter: &mut Filter, command: &[std::ffi::OsString]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        return usage("'--' needs a command");
    };
    let name = program.to_string_lossy().into_owned();
    let mut child = match Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("symbolize: cannot run {name}: {e}");
            return ExitCode::from(127);
        }
    };
    let output = child.stdout.take().expect("stdout is piped");
    // The pipe closes when the filter stops, so the command cannot block writing to it.
    // A failure to pass the output on is reported; the exit status stays the command's.
    finish(filter.pass(output), &name);
    match child.wait() {
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            // Killed by a signal: there is no status to pass on.
            None => ExitCode::FAILURE,
        },
        Err(e) => {
            eprintln!("symbolize: waiting for {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn finish(passed: io::Result<()>, what: &str) -> ExitCode {
    match passed {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (e.g. `| head`): nothing more to show.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("symbolize: {what}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("symbolize: {why}\n{USAGE}");
    ExitCode::from(2)
}
