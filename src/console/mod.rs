//! The console: the kernel log (timestamped lines kept in a ring buffer and written to the
//! UART), plain shell output, the emergency path a crash report takes, and the shell.

pub mod line;
pub mod ring;
pub mod shell;

#[cfg(target_os = "none")]
mod output;
#[cfg(target_os = "none")]
pub use output::*;

/// Logs a line: `[seconds.micros] cpuN: message`, into the ring buffer and onto the UART.
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => { $crate::console::log_line(format_args!($($arg)*)) };
}

/// Prints to the console without a timestamp and without logging (shell output).
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// [`print!`] with a newline.
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! println {
    () => { $crate::console::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
