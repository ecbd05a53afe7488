//! Every CPU's backtrace on demand (`backtrace`, Linux's sysrq-l): each online CPU prints
//! its own, one after another, each part symbolised, on virt with either GIC and on
//! raspi4b; and a CPU spinning with interrupts masked is named as not answering, prints
//! nothing when it takes the SGI late, and answers the next time.

use crate::case::{Board, Case};

/// What the output shows of `backtrace`, line by line in order: `N` for cpuN's part
/// (`N!` where it had no frame, or no symbolised block after its image line), and
/// `N silent` where cpuN was named as not answering.
fn events(output: &str) -> Vec<String> {
    let mut events = Vec::new();
    // The part being read: its CPU, frames seen, and whether its image line has come.
    let mut part: Option<(String, usize, bool)> = None;
    for line in output.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some((cpu, frames, imaged)) = part.take() {
            if imaged {
                let whole = frames > 0 && line.starts_with("Symbolised from ");
                events.push(if whole { cpu } else { format!("{cpu}!") });
            } else {
                let mut words = line.split_whitespace();
                let frame = words.next().is_some_and(|w| w.starts_with('#'))
                    && words.next().is_some_and(|w| w.starts_with("0x"));
                let imaged = line.starts_with("Kernel image at ");
                part = Some((cpu, frames + usize::from(frame), imaged));
                continue;
            }
        }
        if let Some(cpu) = line
            .strip_suffix(" backtrace:")
            .and_then(|l| l.strip_prefix("cpu"))
        {
            part = Some((cpu.to_string(), 0, false));
        } else if let Some(cpu) = line
            .strip_prefix("cpu")
            .and_then(|l| l.split_once(": no backtrace within "))
        {
            events.push(format!("{} silent", cpu.0));
        }
    }
    events.extend(part.map(|(cpu, _, _)| format!("{cpu}!")));
    events
}

/// The CPUs online at the end of boot, from `N of M CPUs online: ...`.
fn online_at_boot(output: &str) -> Result<usize, String> {
    output
        .lines()
        .find_map(|l| l.split_once(" CPUs online: "))
        .and_then(|(count, _)| {
            count
                .rsplit(": ")
                .next()?
                .split(" of ")
                .next()?
                .parse()
                .ok()
        })
        .ok_or_else(|| "no `N of M CPUs online` line in the boot log".into())
}

fn expect_events(output: &str, expected: &[String]) -> Result<(), String> {
    let seen = events(output);
    if seen == expected {
        Ok(())
    } else {
        Err(format!(
            "backtrace parts in order {seen:?}, expected {expected:?} (`N!`: a part without \
             frames or without its symbolised block)"
        ))
    }
}

/// One `backtrace`: every online CPU's part once, the asking CPU's first, each with frames
/// and symbolised.
fn every_cpu_once(output: &str) -> Result<(), String> {
    let cpus = online_at_boot(output)?;
    let expected: Vec<String> = (0..cpus).map(|c| c.to_string()).collect();
    expect_events(output, &expected)
}

/// `crash masked-spin` on cpu1, `backtrace`, `ipi 1` (which waits out the spin),
/// `backtrace`: cpu1 named the first time, printing nothing when it takes that SGI late,
/// and answering the second time.
fn masked_cpu_named_then_answers(output: &str) -> Result<(), String> {
    let expected = ["0", "1 silent", "2", "3", "0", "1", "2", "3"].map(String::from);
    expect_events(output, &expected)
}

pub fn cases(base: Case) -> Vec<Case> {
    let every_cpu = Case {
        about: "`backtrace`: the shell's CPU prints its backtrace, then each other online CPU, \
                asked by SGI, prints its own from the interrupt, one after another; every part \
                is symbolised (the shell's command, the others' idle loop).",
        bootargs: "run=\"backtrace; poweroff\"",
        expect: &[
            "cpu0 backtrace:",
            "cpu1 backtrace:",
            "in hotslab::console::shell::commands::cpu::backtrace at src/console/shell/commands/cpu.rs:",
            "in hotslab::smp::idle::idle_loop at src/smp/idle.rs:",
        ],
        forbid: &["Oops:", "no backtrace"],
        check: Some(every_cpu_once),
        ..base
    };
    vec![
        every_cpu.on(&Board::VIRT_GICV2_4CPUS, "backtrace-every-cpu-gicv2-4cpus"),
        every_cpu.on(&Board::VIRT_GICV3_8CPUS, "backtrace-every-cpu-gicv3-8cpus"),
        every_cpu.on(&Board::RPI4, "rpi4-backtrace-every-cpu"),
        Case {
            name: "backtrace-cpu-with-interrupts-masked",
            about: "`backtrace` while cpu1 spins with interrupts masked (`crash masked-spin`): \
                    cpu1 is named as not answering within 100 ms, the others print theirs, the \
                    command fails naming it and the kernel goes on; the SGI cpu1 takes late \
                    prints nothing, and the next `backtrace` has its part.",
            bootargs: "run=\"crash masked-spin; backtrace; ipi 1; backtrace; poweroff\"",
            expect: &[
                "crash masked-spin: cpu1 spins with interrupts masked for ",
                "cpu1: no backtrace within 100 ms (interrupts masked?)",
                "backtrace: no backtrace from cpu 1 of the 3 other CPUs asked",
                "ipi 1: 100 round trips",
            ],
            check: Some(masked_cpu_named_then_answers),
            ..base
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const PART: &str = "cpu2 backtrace:\n  pc  0x1 lr  0x2 sp  0x3\nCall trace:\n  #0  0x1\n\
                        Kernel image at 0x1 (linked at 0x1); addresses above are where it runs\n\
                        Symbolised from build/kernel.elf (image at 0x1, linked at 0x1):\n  #0  \
                        0x1 in f\n";

    #[test]
    fn parts_and_silent_cpus_are_read_in_order() {
        let text = format!("cpu1: no backtrace within 100 ms (interrupts masked?)\n{PART}");
        assert_eq!(events(&text), ["1 silent", "2"]);
    }

    #[test]
    fn a_part_without_frames_or_symbols_is_marked() {
        assert_eq!(events(&PART.replace("  #0  0x1\nK", "K")), ["2!"]);
        assert_eq!(
            events(&PART.replace("Symbolised from", "Something")),
            ["2!"]
        );
        assert_eq!(events("cpu2 backtrace:\nCall trace:\n"), ["2!"]);
    }

    #[test]
    fn the_online_count_comes_from_the_boot_log() {
        let log = "[    0.048422] cpu0: 4 of 4 CPUs online: 0-3\n";
        assert_eq!(online_at_boot(log), Ok(4));
        assert!(online_at_boot("nothing").is_err());
    }
}
