//! The words of the shell's raw forms (`cpus --raw`, `dt --raw`, `mem --raw`,
//! `slabinfo --raw`): one line per thing, each a run of `key=value` words, so that scripts
//! and tests read facts rather than where a table's columns happen to fall. A value is
//! written bare unless it is empty or holds a space, `"`, `=`, `\` or a control character;
//! then it is quoted, with `"` and `\` escaped by a backslash and control characters
//! escaped as Rust writes them (logfmt's rule, which the `RESULT` lines already follow).

use core::fmt::{self, Write};

/// A text value, quoted when its words would otherwise run into the next key.
pub struct Value<T>(pub T);

impl<T: fmt::Display> fmt::Display for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut scan = NeedsQuotes::default();
        let _ = write!(scan, "{}", self.0);
        if !scan.empty && !scan.special {
            return write!(f, "{}", self.0);
        }
        f.write_char('"')?;
        write!(Escaping(f), "{}", self.0)?;
        f.write_char('"')
    }
}

/// An optional value: the value, or `none`.
pub struct OrNone<T>(pub Option<T>);

impl<T: fmt::Display> fmt::Display for OrNone<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(value) => write!(f, "{value}"),
            None => f.write_str("none"),
        }
    }
}

/// A yes-or-no fact as its word.
pub fn yes_no(fact: bool) -> &'static str {
    if fact { "yes" } else { "no" }
}

/// Whether a value needs quotes: it is empty, or holds a character that would end it.
struct NeedsQuotes {
    empty: bool,
    special: bool,
}

impl Default for NeedsQuotes {
    fn default() -> Self {
        Self {
            empty: true,
            special: false,
        }
    }
}

impl Write for NeedsQuotes {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.empty &= s.is_empty();
        self.special |= s
            .chars()
            .any(|c| matches!(c, ' ' | '"' | '=' | '\\') || c.is_control());
        Ok(())
    }
}

/// Writes through to a formatter, escaping what would end a quoted value or the line.
struct Escaping<'a, 'f>(&'a mut fmt::Formatter<'f>);

impl Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '"' | '\\' => {
                    self.0.write_char('\\')?;
                    self.0.write_char(c)?;
                }
                c if c.is_control() => write!(self.0, "{}", c.escape_default())?,
                c => self.0.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_only_when_they_must_be() {
        assert_eq!(format!("{}", Value("psci")), "psci");
        assert_eq!(format!("{}", Value("linux,dummy-virt")), "linux,dummy-virt");
        assert_eq!(
            format!("{}", Value("/soc/serial@7e201000")),
            "/soc/serial@7e201000"
        );
        assert_eq!(
            format!("{}", Value("Raspberry Pi 4 Model B")),
            "\"Raspberry Pi 4 Model B\""
        );
        assert_eq!(format!("{}", Value("")), "\"\"");
        assert_eq!(
            format!("{}", Value("run=\"cpus; dt\" a\\b")),
            "\"run=\\\"cpus; dt\\\" a\\\\b\""
        );
        // A line break in a value cannot end the line.
        assert_eq!(format!("{}", Value("a\nb")), "\"a\\nb\"");
        // Any Display, formatted once to look and once to write.
        assert_eq!(format!("{}", Value(format_args!("{} {}", 1, 2))), "\"1 2\"");
    }

    #[test]
    fn an_absent_value_is_none() {
        assert_eq!(format!("{}", OrNone(Some(33))), "33");
        assert_eq!(format!("{}", OrNone::<u32>(None)), "none");
        assert_eq!(yes_no(true), "yes");
        assert_eq!(yes_no(false), "no");
    }
}
