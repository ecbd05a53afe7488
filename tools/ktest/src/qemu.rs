//! Running one case: QEMU started with the case's machine, kernel, tree and boot
//! arguments, its serial output gathered (and the case's keystrokes typed at the first
//! prompt) until it exits, reaches its `until` text or times out, then the output
//! symbolised and checked against the case.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use symbolize::Symbolizer;

use crate::case::{Case, Chain, Kernel};
use crate::checks::{missing_and_unexpected, verdict};

/// Writes the Image with text_offset 0x480000 next to it.
pub fn relocated_copy(image: &Path) -> std::io::Result<PathBuf> {
    let mut bytes = std::fs::read(image)?;
    if bytes.len() < 64 || &bytes[56..60] != b"ARM\x64" {
        return Err(std::io::Error::other("not an arm64 Image"));
    }
    bytes[8..16].copy_from_slice(&0x48_0000u64.to_le_bytes());
    let path = image.with_file_name("Image.relocated");
    std::fs::write(&path, bytes)?;
    Ok(path)
}

/// Boots `kernel` as `case` says and checks what it printed (twice, and the two runs'
/// facts against each other, if the case says `same_twice`); `Err` says what was wrong,
/// with the whole output.
pub fn run(case: &Case, kernel: &Path, symbolizer: &Symbolizer) -> Result<(), String> {
    let first = run_once(case, kernel, symbolizer)?;
    let Some(facts) = case.same_twice else {
        return Ok(());
    };
    let second = run_once(case, kernel, symbolizer)?;
    let (a, b) = (facts(&first)?, facts(&second)?);
    if a == b {
        Ok(())
    } else {
        Err(format!(
            "two runs differ:\n  first:  {a}\n  second: {b}\n----- second output -----\n\
             {second}\n------------------"
        ))
    }
}

/// One boot of `case`, checked; its symbolised output.
fn run_once(case: &Case, kernel: &Path, symbolizer: &Symbolizer) -> Result<String, String> {
    let mut qemu = Command::new("qemu-system-aarch64");
    qemu.args(["-M", case.machine, "-nic", "none"]);
    if case.machine.starts_with("raspi") {
        // A fixed board. Its two UARTs (PL011, mini UART) both print here, through one mux:
        // the test reads whichever the device tree makes the console, and types at the
        // last one attached, the mini UART. Behind TF-A, which makes the PL011 the
        // console, the PL011 alone.
        qemu.args(["-display", "none", "-monitor", "none"])
            .args(["-chardev", "stdio,id=con,mux=on,signal=off"])
            .args(["-serial", "chardev:con", "-serial"]);
        match case.kernel {
            Kernel::Through(chain) if chain.has_tf_a() => qemu.arg("null"),
            _ => qemu.arg("chardev:con"),
        };
    } else {
        qemu.args(["-cpu", case.cpu, "-m", case.memory, "-nographic"])
            .args(["-smp", &format!("{}{}", case.smp, case.topology)]);
    }
    if case.semihosting {
        qemu.args(["-semihosting-config", "enable=on,target=native"]);
    }
    boot_options(&mut qemu, case, kernel)?;
    qemu.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    qemu.args(case.qemu_args);
    let mut child = qemu
        .spawn()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let mut stdin = child.stdin.take().expect("piped");

    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let out_tx = tx.clone();
    thread::spawn(move || pump(&mut stdout, out_tx));
    thread::spawn(move || pump(&mut stderr, tx));

    let deadline = Instant::now() + case.timeout;
    let mut output = Vec::new();
    let mut typist = Typist::new(case.typed);
    let status = loop {
        let before = output.len();
        while let Ok(chunk) = rx.try_recv() {
            output.extend_from_slice(&chunk);
        }
        typist.look(&output, output.len() != before, &mut stdin);
        if let Some((text, times)) = case.until
            && count(&output, text) >= times
        {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    thread::sleep(Duration::from_millis(50));
    while let Ok(chunk) = rx.try_recv() {
        output.extend_from_slice(&chunk);
    }
    let text = symbolizer.annotate(&String::from_utf8_lossy(&output));
    let mut problems = Vec::new();
    match (status, case.until) {
        (_, Some((text, times))) => {
            if count(&output, text) < times {
                problems.push(format!(
                    "{text:?} seen fewer than {times} times within {} s",
                    case.timeout.as_secs()
                ));
            }
        }
        (None, None) => problems.push(format!("no exit within {} s", case.timeout.as_secs())),
        (Some(s), None) if s.code() != Some(case.exit_code) => problems.push(format!(
            "QEMU exited with {:?}, expected {}",
            s.code(),
            case.exit_code
        )),
        (Some(_), None) => {}
    }
    problems.extend(missing_and_unexpected(&text, case.expect, case.forbid));
    if let Some(check) = case.check
        && let Err(why) = check(&text)
    {
        problems.push(why);
    }
    verdict(
        &problems,
        &format!("----- output -----\n{text}\n------------------"),
    )?;
    Ok(text)
}

/// Where QEMU finds the kernel, its tree and its bootargs: given directly, or through the
/// case's Raspberry Pi 4 boot chain (build/ holds what the chain needs).
fn boot_options(qemu: &mut Command, case: &Case, kernel: &Path) -> Result<(), String> {
    let build = kernel.parent().unwrap_or(Path::new("."));
    let dtb = case.dtb.map(|dtb| build.join("dts").join(dtb));
    let Kernel::Through(chain) = case.kernel else {
        qemu.arg("-kernel")
            .arg(kernel)
            .args(["-append", case.bootargs]);
        if let Some(dtb) = dtb {
            qemu.arg("-dtb").arg(dtb);
        }
        return Ok(());
    };
    let dtb = dtb.ok_or("a boot chain needs the case's device tree")?;
    let next = match chain {
        Chain::TfA => kernel.to_path_buf(),
        Chain::UBoot | Chain::TfAUBoot => build.join("firmware/u-boot.bin"),
    };
    if chain.has_tf_a() {
        // What the VideoCore firmware does with an ARM stub, as `make run` does it.
        let script = build.with_file_name("tools").join("rpi4-armstub.sh");
        let out = build.join("ktest").join(case.name);
        let made = Command::new(&script)
            .arg(&out)
            .arg(build.join("firmware/bl31.bin"))
            .arg(&dtb)
            .arg(&next)
            .arg(case.bootargs)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !made.status.success() {
            return Err(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&made.stderr).trim()
            ));
        }
        qemu.args(String::from_utf8_lossy(&made.stdout).split_whitespace());
    } else {
        qemu.arg("-dtb").arg(&dtb).arg("-kernel").arg(&next);
    }
    if let Some(card) = chain.card() {
        // The card as `make sdcard` wrote it, its writes kept out of the file.
        qemu.arg("-drive").arg(format!(
            "if=sd,format=raw,snapshot=on,file={}",
            build.join(card).display()
        ));
    }
    Ok(())
}

/// Types a case's keystrokes one line at a time, each once the shell waits at a prompt
/// (the output ends with it and has been still for a while), slowly enough for the
/// UART's receive FIFO (the mini UART's holds 8 bytes).
struct Typist<'a> {
    lines: Vec<&'a [u8]>,
    next: usize,
    /// Prompts seen when the last line was typed: the next waits for a new one.
    prompts_typed_at: usize,
    still_since: Instant,
}

const PROMPT: &str = "hotslab> ";
/// How long the output must be still at a prompt before a line is typed.
const STILL_AT_PROMPT: Duration = Duration::from_millis(200);

impl<'a> Typist<'a> {
    fn new(typed: &'a [u8]) -> Self {
        let mut lines: Vec<&[u8]> = typed.split(|&b| b == b'\r').collect();
        // What follows the last line's return.
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        Typist {
            lines,
            next: 0,
            prompts_typed_at: 0,
            still_since: Instant::now(),
        }
    }

    /// Looks at the output so far (`grew`: since the last look) and types the next line
    /// if the shell waits for it.
    fn look(&mut self, output: &[u8], grew: bool, stdin: &mut impl Write) {
        if grew {
            self.still_since = Instant::now();
        }
        let Some(line) = self.lines.get(self.next) else {
            return;
        };
        let prompts = count(output, PROMPT);
        if prompts <= self.prompts_typed_at
            || !output.ends_with(PROMPT.as_bytes())
            || self.still_since.elapsed() < STILL_AT_PROMPT
        {
            return;
        }
        let mut keys = line.to_vec();
        keys.push(b'\r');
        for chunk in keys.chunks(8) {
            let _ = stdin.write_all(chunk);
            let _ = stdin.flush();
            thread::sleep(Duration::from_millis(50));
        }
        self.next += 1;
        self.prompts_typed_at = prompts;
    }
}

/// Forwards what `from` gives until it closes.
fn pump(from: &mut impl Read, to: mpsc::Sender<Vec<u8>>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.send(buf[..n].to_vec()).is_err() {
            break;
        }
    }
}

/// How often `needle` occurs in `haystack`.
fn count(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}
