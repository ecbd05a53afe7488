//! The validator's reports, in Linux's words and shape (`print_circular_bug`,
//! `print_usage_bug`, `print_deadlock_bug`, `print_unlock_imbalance_bug`), so that a
//! reader who knows Linux's splats reads these at once. Code addresses are printed as
//! `at: 0x...`, which `tools/symbolize` turns into functions and lines.

use core::fmt::{self, Write};

use super::graph::{Acquire, ClassId, ClassKind, Edge, Graph, Held, Mode, Problem};

/// A class as Linux names it in a report: `(name){usage}`.
struct Name<'g>(&'g Graph, ClassId);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = self.0.class(self.1);
        match class.kind {
            ClassKind::Lock => write!(f, "({}){{{}}}", class.name, class.usage_char()),
            ClassKind::Wait => write!(f, "({})", class.name),
        }
    }
}

fn rule(out: &mut dyn Write, c: char, n: usize) -> fmt::Result {
    for _ in 0..n {
        out.write_char(c)?;
    }
    out.write_char('\n')
}

fn header(out: &mut dyn Write, title: &str) -> fmt::Result {
    let width = title.len();
    rule(out, '=', width)?;
    writeln!(out, "{title}")?;
    rule(out, '-', width)
}

fn held_line(out: &mut dyn Write, graph: &Graph, n: usize, h: &Held) -> fmt::Result {
    let mode = match h.mode {
        Mode::Write => "",
        Mode::Read => " (read)",
        Mode::RecursiveRead => " (recursive read)",
    };
    let irq = if h.hardirq { " in hardirq" } else { "" };
    writeln!(
        out,
        " #{n}: {}{mode}{irq}, at: {:#018x}",
        Name(graph, h.class),
        h.pc
    )
}

/// Linux's `lockdep_print_held_locks`.
pub fn write_held(out: &mut dyn Write, graph: &Graph, cpu: usize, held: &[Held]) -> fmt::Result {
    match held.len() {
        0 => writeln!(out, "no locks held by cpu{cpu}."),
        1 => writeln!(out, "1 lock held by cpu{cpu}:"),
        n => writeln!(out, "{n} locks held by cpu{cpu}:"),
    }?;
    for (n, h) in held.iter().enumerate() {
        held_line(out, graph, n, h)?;
    }
    Ok(())
}

/// A lock and where it was taken: ` (name){usage}, at: 0x...`.
fn lock_line(out: &mut dyn Write, graph: &Graph, class: ClassId, pc: usize) -> fmt::Result {
    writeln!(out, " {}, at: {pc:#018x}", Name(graph, class))
}

fn acquiring(out: &mut dyn Write, graph: &Graph, new: &Acquire) -> fmt::Result {
    writeln!(out, "cpu{} is trying to acquire lock:", new.cpu)?;
    lock_line(out, graph, new.held.class, new.held.pc)
}

fn already_holding(out: &mut dyn Write, graph: &Graph, cpu: u16, held: &Held) -> fmt::Result {
    writeln!(out, "\nbut cpu{cpu} is already holding lock:")?;
    lock_line(out, graph, held.class, held.pc)
}

/// Linux's scenario for one CPU: its steps, then the deadlock.
fn one_cpu_scenario(out: &mut dyn Write, steps: &[fmt::Arguments<'_>]) -> fmt::Result {
    writeln!(out, "\nother info that might help us debug this:")?;
    writeln!(out, " Possible unsafe locking scenario:\n")?;
    writeln!(out, "       CPU0")?;
    writeln!(out, "       ----")?;
    for step in steps {
        writeln!(out, "{step}")?;
    }
    writeln!(out, "\n *** DEADLOCK ***\n")
}

/// Writes `problem`'s report; `held` is the reporting CPU's held locks (the new one not
/// among them).
pub fn write(out: &mut dyn Write, graph: &Graph, problem: &Problem, held: &[Held]) -> fmt::Result {
    match problem {
        Problem::Circular { new, held: h, path } => {
            circular(out, graph, new, h, path)?;
            write_held(out, graph, new.cpu as usize, held)
        }
        Problem::Recursive { new, held: h } => {
            header(out, "WARNING: possible recursive locking detected")?;
            acquiring(out, graph, new)?;
            already_holding(out, graph, new.cpu, h)?;
            let name = graph.class(h.class).name;
            one_cpu_scenario(
                out,
                &[
                    format_args!("  {}({name});", h.mode.verb()),
                    format_args!("  {}({name});", new.held.mode.verb()),
                ],
            )?;
            write_held(out, graph, new.cpu as usize, held)
        }
        Problem::Inconsistent {
            new,
            was,
            was_site,
            was_mode,
            now,
        } => {
            header(out, "WARNING: inconsistent lock state")?;
            let mode = new.held.mode.letter();
            writeln!(
                out,
                "inconsistent {{{}-{}}} -> {{{}-{mode}}} usage.",
                was.name(),
                was_mode.letter(),
                now.name()
            )?;
            let context = if new.held.hardirq {
                "in hardirq"
            } else {
                "interrupts enabled"
            };
            writeln!(out, "cpu{} ({context}) takes:", new.cpu)?;
            lock_line(out, graph, new.held.class, new.held.pc)?;
            writeln!(
                out,
                "{{{}-{}}} state was registered on cpu{} at: {:#018x}",
                was.name(),
                was_mode.letter(),
                was_site.cpu,
                was_site.pc
            )?;
            let name = graph.class(new.held.class).name;
            one_cpu_scenario(
                out,
                &[
                    format_args!("  lock({name});"),
                    format_args!("  <Interrupt>"),
                    format_args!("    lock({name});"),
                ],
            )?;
            write_held(out, graph, new.cpu as usize, held)
        }
        Problem::BadUnlock { class, site } => {
            header(out, "WARNING: bad unlock balance detected!")?;
            writeln!(out, "cpu{} is trying to release lock:", site.cpu)?;
            lock_line(out, graph, *class, site.pc)?;
            writeln!(out, "but there are no more locks to release!")?;
            write_held(out, graph, site.cpu as usize, held)
        }
        Problem::TooDeep { new } => {
            header(out, "BUG: MAX_LOCK_DEPTH too low!")?;
            acquiring(out, graph, new)?;
            writeln!(
                out,
                "with {} locks held already: the newest is not tracked",
                held.len()
            )?;
            write_held(out, graph, new.cpu as usize, held)
        }
        Problem::Full { what } => {
            header(out, "BUG: lockdep: too many lock classes or dependencies")?;
            writeln!(
                out,
                "the graph has no room for more {what}: lock validation stops here"
            )
        }
    }
}

fn circular(
    out: &mut dyn Write,
    graph: &Graph,
    new: &Acquire,
    held: &Held,
    path: &[Edge],
) -> fmt::Result {
    header(
        out,
        "WARNING: possible circular locking dependency detected",
    )?;
    acquiring(out, graph, new)?;
    already_holding(out, graph, new.cpu, held)?;
    writeln!(out, "\nwhich lock already depends on the new lock.\n\n")?;
    writeln!(
        out,
        "the existing dependency chain (in reverse order) is:\n"
    )?;
    // Linux's order: the held lock's edge first, down to #0, the acquisition now.
    for (n, edge) in path.iter().enumerate().rev() {
        writeln!(out, "-> #{} {}:", n + 1, Name(graph, edge.to))?;
        writeln!(
            out,
            "       taken on cpu{}, at: {:#018x}",
            edge.site.cpu, edge.site.pc
        )?;
        writeln!(
            out,
            "       holding {}, at: {:#018x}",
            Name(graph, edge.from),
            edge.from_pc
        )?;
        writeln!(out)?;
    }
    writeln!(out, "-> #0 {}:", Name(graph, new.held.class))?;
    writeln!(
        out,
        "       taken on cpu{}, at: {:#018x}",
        new.cpu, new.held.pc
    )?;
    writeln!(
        out,
        "       holding {}, at: {:#018x}",
        Name(graph, held.class),
        held.pc
    )?;
    writeln!(out, "\nother info that might help us debug this:\n")?;
    // The chain new -> ... -> parent -> held: the two CPUs' scenario (Linux's
    // print_circular_lock_scenario).
    let name = |c: ClassId| graph.class(c).name;
    let (source, target) = (new.held.class, held.class);
    let parent = path.last().map_or(source, |e| e.from);
    let parent_mode = path.last().map_or(new.held.mode, |e| e.from_mode);
    let target_mode_there = path.last().map_or(held.mode, |e| e.to_mode);
    if parent != source {
        write!(out, "Chain exists of:\n  {}", Name(graph, source))?;
        for edge in path {
            write!(out, " --> {}", Name(graph, edge.to))?;
        }
        writeln!(out, "\n")?;
    }
    writeln!(out, " Possible unsafe locking scenario:\n")?;
    writeln!(out, "       CPU0                    CPU1")?;
    writeln!(out, "       ----                    ----")?;
    writeln!(out, "  {}({});", held.mode.verb(), name(target))?;
    writeln!(
        out,
        "                               {}({});",
        parent_mode.verb(),
        name(parent)
    )?;
    writeln!(
        out,
        "                               {}({});",
        target_mode_there.verb(),
        name(target)
    )?;
    writeln!(out, "  {}({});", new.held.mode.verb(), name(source))?;
    let reads = [held.mode, target_mode_there, parent_mode, new.held.mode]
        .iter()
        .filter(|m| **m == Mode::Read)
        .count();
    if reads > 0 {
        writeln!(
            out,
            "\n (an rlock waits while a writer waits: one that comes between makes it wait here)"
        )?;
    }
    writeln!(out, "\n *** DEADLOCK ***\n")
}
