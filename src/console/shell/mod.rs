//! The kernel shell on the serial console: reads lines with the line editor, runs the
//! commands of `commands.rs`, and first runs the bootarg `run="cmd; cmd"` script.

pub mod args;
#[cfg(target_os = "none")]
mod commands;

#[cfg(target_os = "none")]
pub use kernel::run;

#[cfg(target_os = "none")]
mod kernel {
    use super::args::Args;
    use super::commands::{self, CmdError};
    use crate::console::line::{Edit, LineEditor};
    use crate::{print, println};

    pub const PROMPT: &str = "hotslab> ";

    /// Runs `script` (commands separated by `;`), then reads commands forever.
    pub fn run(script: Option<&str>) -> ! {
        for command in script.unwrap_or("").split(';').map(str::trim) {
            if !command.is_empty() {
                println!("{PROMPT}{command}");
                execute(command);
            }
        }
        let mut editor = LineEditor::new();
        loop {
            print!("{PROMPT}");
            read_line(&mut editor);
            execute(editor.line());
            editor.clear();
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
