//! The GDB cases: gdb-multiarch in batch mode, with tools/gdb/kernel.gdb, against QEMU's
//! gdbstub: attached to a running kernel (every vCPU a thread; kcpus, kslabinfo finding a
//! cache the boot script made, kdmesg, khotplug), from a halted start to a breakpoint in
//! the secondary entry, which must be hit on the thread of the CPU brought up, and stepping
//! from the first instruction through the EL2 to EL1 drop to Rust with the MMU on.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use symbolize::Symbolizer;

const TIMEOUT: Duration = Duration::from_secs(60);

pub struct GdbCase {
    pub name: &'static str,
    /// QEMU's `-M`: virt with GICv2, entered at EL1 or (virtualization=on) at EL2.
    machine: &'static str,
    /// Start QEMU halted (`-S`) instead of letting the kernel boot first.
    halted: bool,
    bootargs: &'static str,
    /// Console text that says the kernel is where GDB should find it (running cases).
    ready: Option<&'static str>,
    commands: &'static [&'static str],
    expect: &'static [&'static str],
}

pub fn cases() -> Vec<GdbCase> {
    vec![
        GdbCase {
            name: "gdb-attach-running-kernel",
            machine: "virt,gic-version=2",
            halted: false,
            bootargs: "run=\"slab create gdbprobe 200; slab alloc gdbprobe 3; cpu off 2\"",
            ready: Some("cpu off 2: done in"),
            commands: &["info threads", "kcpus", "kslabinfo", "kdmesg", "khotplug"],
            expect: &[
                "hotslab: 4 vCPU(s) as GDB threads 1-4; symbols at offset 0x0",
                "Thread 1.4 (CPU#3",
                "  0  0x0          psci         online            yes     1",
                "  2  0x2          psci         offline           no      3",
                "  3  0x3          psci         online            yes     4",
                "gdbprobe                     200",
                "kmalloc-64",
                "cpu0: hotslab 0.1.0 on linux,dummy-virt",
                "slab create gdbprobe",
                "readers:   0 inside",
                "writer:    none",
            ],
        },
        GdbCase {
            name: "gdb-halted-start-secondary-entry",
            machine: "virt,gic-version=2",
            halted: true,
            // One secondary at boot: the others, started at once with it, could reach the
            // breakpoint first.
            bootargs: "maxcpus=2",
            ready: None,
            commands: &[
                "kcpus",
                "kdmesg",
                "hbreak secondary_entry",
                "continue",
                "kcpus",
            ],
            expect: &[
                "kcpus: the kernel is too early in boot",
                "kdmesg: the kernel is too early in boot",
                // (Where the linker puts it among the entry code varies from build to build.)
                "Thread 2 hit Breakpoint 1, 0x00000000400",
                " in secondary_entry ()",
                "  1  0x1          psci         booting",
            ],
        },
        GdbCase {
            // What the README walks a new user through: from the first instruction at EL2,
            // a step into the entry code, through the drop to EL1, to Rust with the MMU on,
            // then running, stopped with Ctrl-C (SIGINT to gdb), and the kernel commands.
            name: "gdb-step-from-entry-into-rust-then-interrupt",
            machine: "virt,gic-version=2,virtualization=on",
            halted: true,
            bootargs: "run=\"slab create stepprobe 100\"",
            ready: None,
            commands: &[
                "hbreak *0x40080000",
                "continue",
                "stepi",
                "print/x $cpsr & 0xc",
                "print/x $SCTLR & 1",
                "hbreak cpu_early_setup",
                "continue",
                "print/x $cpsr & 0xc",
                "hbreak hotslab::boot::kernel_main",
                "continue",
                "print/x $SCTLR & 1",
                "backtrace",
                "delete",
                "python import os, signal, threading; \
                 threading.Timer(3, os.kill, (os.getpid(), signal.SIGINT)).start()",
                "continue",
                "kcpus",
                "kslabinfo",
                "kdmesg",
                "khotplug",
            ],
            expect: &[
                "Thread 1 hit Breakpoint 1, 0x0000000040080000 in _start ()",
                "in primary_entry ()",
                // CurrentEL 2 at entry, with the MMU off.
                "$1 = 0x8",
                "$2 = 0x0",
                "Thread 1 hit Breakpoint 2, 0x",
                "in cpu_early_setup ()",
                // After the eret: EL1.
                "$3 = 0x4",
                "Thread 1 hit Breakpoint 3, hotslab::boot::kernel_main (",
                // In Rust, with the MMU on; the backtrace ends cleanly at the entry code.
                "$4 = 0x1",
                "in hotslab::arch::aarch64::boot::boot_primary (",
                "in primary_entry ()\n",
                "received signal SIGINT, Interrupt.",
                "  1  0x1          psci         online            yes     2",
                "stepprobe                    100",
                "cpu0: entered at EL2, now EL1",
                "writer:    none",
            ],
        },
    ]
}

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

pub fn run(
    case: &GdbCase,
    image: &Path,
    elf: &Path,
    symbolizer: &Symbolizer,
) -> Result<(), String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let console = std::env::temp_dir().join(format!("ktest-gdb-{port}.log"));
    let mut qemu = Command::new("qemu-system-aarch64");
    qemu.args(["-M", case.machine, "-cpu", "cortex-a72", "-smp", "4"])
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
    let problems: Vec<String> = case
        .expect
        .iter()
        .filter(|e| !text.contains(*e))
        .map(|e| format!("missing {e:?}"))
        .chain(
            BROKEN
                .iter()
                .filter(|b| text.contains(*b))
                .map(|b| format!("unexpected {b:?}")),
        )
        .chain(repeated_frame(&text))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n----- gdb -----\n{text}\n---------------{log}",
            problems.join("; ")
        ))
    }
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
