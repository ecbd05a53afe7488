//! Log levels, as Linux's printk has them: every log line has one, the log ring keeps every
//! line whatever its level, and the console shows a line only if its level is below the
//! console log level (`loglevel=N`; `quiet` makes it 4, so errors and worse reach the
//! console and the rest only the ring, as in Linux: `suppress_message_printing` in
//! kernel/printk/printk.c).

use core::fmt;

/// How important a log line is; lower is more important.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Emerg = 0,
    Alert,
    Crit,
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

/// The console log level without `quiet` or `loglevel=`: everything but debug lines.
pub const CONSOLE_LOGLEVEL_DEFAULT: u8 = 7;
pub use crate::dt::bootargs::{CONSOLE_LOGLEVEL_DEBUG, CONSOLE_LOGLEVEL_QUIET};

impl Level {
    /// Whether a line of this level reaches a console at `console_loglevel`.
    pub fn shown_at(self, console_loglevel: u8) -> bool {
        (self as u8) < console_loglevel
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Emerg => "emerg",
            Level::Alert => "alert",
            Level::Crit => "crit",
            Level::Err => "err",
            Level::Warning => "warning",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_reach_the_console_as_in_linux() {
        assert!(Level::Info.shown_at(CONSOLE_LOGLEVEL_DEFAULT));
        assert!(!Level::Debug.shown_at(CONSOLE_LOGLEVEL_DEFAULT));
        assert!(Level::Err.shown_at(CONSOLE_LOGLEVEL_QUIET));
        assert!(!Level::Warning.shown_at(CONSOLE_LOGLEVEL_QUIET));
        assert!(!Level::Emerg.shown_at(0), "loglevel=0 silences the console");
        assert!(Level::Debug.shown_at(CONSOLE_LOGLEVEL_DEBUG));
    }
}
