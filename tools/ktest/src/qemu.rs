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

use crate::case::Case;
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
        // the test reads whichever the device tree makes the console.
        qemu.args(["-display", "none", "-monitor", "none"])
            .args(["-chardev", "stdio,id=con,mux=on,signal=off"])
            .args(["-serial", "chardev:con", "-serial", "chardev:con"]);
    } else {
        qemu.args(["-cpu", case.cpu, "-m", case.memory, "-nographic"])
            .args(["-smp", &format!("{}{}", case.smp, case.topology)]);
    }
    if case.semihosting {
        qemu.args(["-semihosting-config", "enable=on,target=native"]);
    }
    qemu.arg("-kernel")
        .arg(kernel)
        .args(["-append", case.bootargs])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    qemu.args(case.qemu_args);
    if let Some(dtb) = case.dtb {
        qemu.arg("-dtb").arg(kernel.with_file_name("dts").join(dtb));
    }
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
    let mut typed = false;
    let status = loop {
        while let Ok(chunk) = rx.try_recv() {
            output.extend_from_slice(&chunk);
        }
        if !typed && !case.typed.is_empty() && contains(&output, "hotslab> ") {
            // Type slowly enough for the UART's receive FIFO.
            for chunk in case.typed.chunks(8) {
                let _ = stdin.write_all(chunk);
                let _ = stdin.flush();
                thread::sleep(Duration::from_millis(50));
            }
            typed = true;
        }
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

/// Forwards what `from` gives until it closes.
fn pump(from: &mut impl Read, to: mpsc::Sender<Vec<u8>>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.send(buf[..n].to_vec()).is_err() {
            break;
        }
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &str) -> bool {
    count(haystack, needle) > 0
}

/// How often `needle` occurs in `haystack`.
fn count(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}
