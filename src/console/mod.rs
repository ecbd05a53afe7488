//! The console: the kernel log (timestamped lines kept in a ring buffer and written to the
//! UART), plain shell output, the emergency path a crash report takes, and the shell.

pub mod level;
pub mod line;
pub mod ring;
pub mod shell;

pub use level::Level;

#[cfg(target_os = "none")]
mod output;
#[cfg(target_os = "none")]
pub use output::*;

/// Logs a line at `level`: `[seconds.micros] cpuN: message`, into the ring buffer, and
/// onto the UART if the console log level lets it through (`console::level`).
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)*) => {
        $crate::console::log_line($crate::console::Level::$level, format_args!($($arg)*))
    };
}

/// A log line at level `Err`: something failed.
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! pr_err {
    ($($arg:tt)*) => { $crate::log!(Err, $($arg)*) };
}

/// A log line at level `Warning`: something is wrong but was worked around.
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! pr_warn {
    ($($arg:tt)*) => { $crate::log!(Warning, $($arg)*) };
}

/// A log line at level `Notice`: normal but worth noting (a setting, an injected fault).
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! pr_notice {
    ($($arg:tt)*) => { $crate::log!(Notice, $($arg)*) };
}

/// A log line at level `Info`: what boot found and did.
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! pr_info {
    ($($arg:tt)*) => { $crate::log!(Info, $($arg)*) };
}

/// A log line at level `Debug`: the steps of what the kernel does, shown with `debug`.
#[cfg(target_os = "none")]
#[macro_export]
macro_rules! pr_debug {
    ($($arg:tt)*) => { $crate::log!(Debug, $($arg)*) };
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
