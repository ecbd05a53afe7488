//! The kernel shell on the serial console: reads lines with the line editor, runs the
//! commands of `commands/`, and first runs the bootarg `run="cmd; cmd"` script.

pub mod args;
#[cfg(target_os = "none")]
mod commands;
pub mod raw;

#[cfg(target_os = "none")]
pub use kernel::{hand_over_and_take_down, run, start};

#[cfg(target_os = "none")]
mod kernel {
    use super::args::Args;
    use super::commands::{self, CmdError};
    use crate::arch::cpu;
    use crate::console::line::{Edit, LineEditor};
    use crate::sync::IrqSpinLock;
    use crate::{print, println};

    pub const PROMPT: &str = "hotslab> ";

    /// What is left of the bootarg script (it survives the shell moving between CPUs).
    static SCRIPT: IrqSpinLock<&'static str> =
        IrqSpinLock::new(crate::lock_class!("shell script"), "");
    /// A CPU to take down once the shell has moved off it (`cpu off` of the shell's CPU).
    static TAKE_DOWN: IrqSpinLock<Option<usize>> =
        IrqSpinLock::new(crate::lock_class!("shell take-down"), None);

    /// Sets the commands (separated by `;`) to run before the first prompt.
    pub fn start(script: Option<&'static str>) {
        *SCRIPT.lock() = script.unwrap_or("");
    }

    fn next_script_command() -> Option<&'static str> {
        let mut script = SCRIPT.lock();
        let (command, rest) = super::args::next_command(*script).unwrap_or(("", ""));
        *script = rest;
        (!command.is_empty()).then_some(command)
    }

    /// Moves the shell to `to`, and has it take `cpu` (this CPU) down from there.
    pub fn hand_over_and_take_down(cpu: usize, to: usize) {
        *TAKE_DOWN.lock() = Some(cpu);
        crate::console::set_console_cpu(to);
        crate::drivers::gic::send_sgi(
            crate::drivers::gic::SGI_KICK,
            crate::smp::cpumask::CpuMask::single(to),
        );
    }

    /// Runs the shell on this CPU until it moves elsewhere: first the rest of the bootarg
    /// script, then commands typed at the prompt.
    pub fn run() {
        let me = cpu::id();
        let pending = TAKE_DOWN.lock().take();
        if let Some(old) = pending {
            commands::finish_cpu_off(old);
        }
        while let Some(command) = next_script_command() {
            println!("{PROMPT}{command}");
            crate::boot::mark_ready();
            execute(command);
            if !crate::console::is_console_cpu(me) {
                return;
            }
        }
        let mut editor = LineEditor::new();
        loop {
            print!("{PROMPT}");
            crate::boot::mark_ready();
            read_line(&mut editor);
            execute(editor.line());
            editor.clear();
            if !crate::console::is_console_cpu(me) {
                return;
            }
        }
    }
    /// Feeds typed bytes to the editor, echoing, until a line is submitted.
    fn read_line(editor: &mut LineEditor) {
        loop {
            let Some(byte) = crate::console::read_byte() else {
                crate::console::wait_for_input();
                continue;
            };
            match editor.feed(byte) {
                Edit::None => {}
                Edit::Echo(c) => print!("{c}"),
                Edit::Erase(n) => {
                    for _ in 0..n {
                        print!("\x08 \x08");
                    }
                }
                Edit::Bell => print!("\x07"),
                Edit::Cancel => print!("^C\n{PROMPT}"),
                Edit::Submit => {
                    println!();
                    return;
                }
            }
        }
    }

    /// Runs one command line.
    pub fn execute(line: &str) {
        let Some((name, args)) = Args::split(line) else {
            return;
        };
        let Some(command) = commands::find(name) else {
            println!("{name}: unknown command (try 'help')");
            return;
        };
        match (command.run)(&args) {
            Ok(()) => {}
            Err(CmdError::Usage(e)) => {
                println!("{name}: {e}");
                println!("usage: {} {}", command.name, command.args);
            }
            Err(CmdError::Failed(message)) => println!("{name}: {message}"),
        }
    }
}
