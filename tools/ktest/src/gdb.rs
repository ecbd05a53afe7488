//! Running one GDB case: QEMU with its gdbstub on a free port (halted at the first
//! instruction, or booted until the console says the kernel is ready), gdb-multiarch in
//! batch mode with tools/gdb/kernel.gdb and the case's commands, and gdb's output checked.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use symbolize::Symbolizer;

use crate::checks::{missing_and_unexpected, verdict};

const TIMEOUT: Duration = Duration::from_secs(60);

/// One debugging session and what gdb must print in it.
pub struct GdbCase {
    pub name: &'static str,
    /// What the case shows, in a sentence: the line of docs/tests.md.
    pub about: &'static str,
    /// QEMU's `-M`: virt with GICv2, entered at EL1 or (virtualization=on) at EL2.
    pub machine: &'static str,
    /// Start QEMU halted (`-S`) instead of letting the kernel boot first.
    pub halted: bool,
    pub bootargs: &'static str,
    /// Console text that says the kernel is where GDB should find it (running cases).
    pub ready: Option<&'static str>,
    pub commands: &'static [&'static str],
    pub expect: &'static [&'static str],
}

/// Every gdb case runs on four CPUs.
pub const SMP: u32 = 4;

/// A TCP port nobody listens on now.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Runs `case` against `image` with `elf`'s symbols; `Err` says what was wrong.
pub fn run(
    case: &GdbCase,
    image: &Path,
    elf: &Path,
    symbolizer: &Symbolizer,
) -> Result<(), String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let console = std::env::temp_dir().join(format!("ktest-gdb-{port}.log"));
    let mut qemu = Command::new("qemu-system-aarch64");
    qemu.args([
        "-M",
        case.machine,
        "-cpu",
        "cortex-a72",
        "-smp",
        &SMP.to_string(),
    ])
    .args(["-m", "512M", "-display", "none", "-nic", "none"])
    .arg("-serial")
    .arg(format!("file:{}", console.display()))
    .arg("-kernel")
    .arg(image)
    .args(["-append", case.bootargs])
    .args(["-gdb", &format!("tcp:127.0.0.1:{port}")])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if case.halted {
        qemu.arg("-S");
    }
    let mut qemu = qemu
        .spawn()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    // Let the boot script finish (a running kernel), or the stub open (a halted one).
    thread::sleep(Duration::from_millis(500));
    if let Some(ready) = case.ready {
        let deadline = Instant::now() + TIMEOUT;
        while !std::fs::read_to_string(&console).is_ok_and(|t| t.contains(ready)) {
            if Instant::now() > deadline {
                let _ = qemu.kill();
                wait_with_timeout(&mut qemu, Duration::from_secs(5));
                let log = console_log(&console, symbolizer);
                return Err(format!("the kernel never printed {ready:?}{log}"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gdb/kernel.gdb");
    let mut gdb = Command::new("gdb-multiarch");
    gdb.args(["-q", "-batch", "-nx"])
        .arg(elf)
        .arg("-x")
        .arg(&script)
        .env("GDBPORT", port.to_string());
    for c in case.commands {
        gdb.args(["-ex", c]);
    }
    let child = gdb
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start gdb-multiarch: {e}"));
    let result = child.and_then(|child| {
        let pid = child.id();
        let waiter = thread::spawn(move || child.wait_with_output());
        let deadline = Instant::now() + TIMEOUT;
        while !waiter.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        if !waiter.is_finished() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let out = waiter
            .join()
            .map_err(|_| "gdb output lost".to_string())?
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    });
    let _ = qemu.kill();
    wait_with_timeout(&mut qemu, Duration::from_secs(5));
    let log = console_log(&console, symbolizer);
    let text = result.map_err(|e| format!("{e}{log}"))?;
    // A Python error in the commands, or a backtrace that loses its way, fails any case.
    const BROKEN: [&str; 2] = ["Python Exception", "Backtrace stopped"];
    let mut problems = missing_and_unexpected(&text, case.expect, &BROKEN);
    problems.extend(repeated_frame(&text));
    verdict(
        &problems,
        &format!("----- gdb -----\n{text}\n---------------{log}"),
    )
}

/// A backtrace that shows the same frame twice in a row: the unwinder misread a frame.
fn repeated_frame(gdb_output: &str) -> Option<String> {
    fn frame(line: &str) -> Option<&str> {
        let rest = line.strip_prefix('#')?;
        let body = rest.trim_start_matches(|c: char| c.is_ascii_digit());
        (body.len() < rest.len()).then(|| body.trim_start())
    }
    let frames: Vec<&str> = gdb_output.lines().filter_map(frame).collect();
    frames
        .windows(2)
        .find(|pair| pair[0].starts_with("0x") && pair[0] == pair[1])
        .map(|pair| format!("a backtrace repeats the frame {:?}", pair[0]))
}

/// The kernel's console output, symbolised, to show with a failure; the file is removed.
fn console_log(console: &Path, symbolizer: &Symbolizer) -> String {
    let text = std::fs::read(console).unwrap_or_default();
    let _ = std::fs::remove_file(console);
    let text = symbolizer.annotate(&String::from_utf8_lossy(&text));
    format!("\n----- console -----\n{text}\n-------------------")
}
