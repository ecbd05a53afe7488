//! A shell command line split into words, with typed access that explains what was
//! expected when an argument is missing or malformed.

use core::fmt;

use arrayvec::ArrayVec;

pub const MAX_WORDS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError<'a> {
    /// Argument `index` (1-based) is missing; `expected` says what it should be.
    Missing {
        index: usize,
        expected: &'static str,
    },
    /// Argument `index` is `got`, which is not `expected`.
    Invalid {
        index: usize,
        got: &'a str,
        expected: &'static str,
    },
    /// More arguments than the command takes.
    TooMany { max: usize },
}

impl fmt::Display for ArgError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::Missing { index, expected } => {
                write!(f, "missing argument {index}: expected {expected}")
            }
            ArgError::Invalid {
                index,
                got,
                expected,
            } => write!(f, "argument {index} '{got}': expected {expected}"),
            ArgError::TooMany { max } => write!(f, "too many arguments (at most {max})"),
        }
    }
}

/// The words of a command line after the command's name.
#[derive(Debug)]
pub struct Args<'a> {
    words: ArrayVec<&'a str, MAX_WORDS>,
    /// How many arguments the line had, those beyond [`MAX_WORDS`] (dropped) included.
    total: usize,
}

impl<'a> Args<'a> {
    /// Splits `line` into the command name and its arguments; `None` for a blank line.
    /// Words beyond [`MAX_WORDS`] make [`Args::at_most`] fail.
    pub fn split(line: &'a str) -> Option<(&'a str, Args<'a>)> {
        let mut words = line.split_whitespace();
        let name = words.next()?;
        let mut args = ArrayVec::new();
        let mut total = 0;
        for w in words {
            total += 1;
            let _ = args.try_push(w);
        }
        Some((name, Args { words: args, total }))
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Fails when there are more than `max` arguments.
    pub fn at_most(&self, max: usize) -> Result<(), ArgError<'a>> {
        if self.total > max {
            Err(ArgError::TooMany { max })
        } else {
            Ok(())
        }
    }

    /// For a command whose one argument may be the option `option` (`--raw`): whether it
    /// was given. Any other word is refused, naming the option expected.
    pub fn only_option(&self, option: &'static str) -> Result<bool, ArgError<'a>> {
        self.at_most(1)?;
        match self.get(0) {
            None => Ok(false),
            Some(word) if word == option => Ok(true),
            Some(got) => Err(ArgError::Invalid {
                index: 1,
                got,
                expected: option,
            }),
        }
    }

    /// Argument `index` (0-based here, 1-based in messages), if present.
    pub fn get(&self, index: usize) -> Option<&'a str> {
        self.words.get(index).copied()
    }

    pub fn word(&self, index: usize, expected: &'static str) -> Result<&'a str, ArgError<'a>> {
        self.get(index).ok_or(ArgError::Missing {
            index: index + 1,
            expected,
        })
    }

    /// A decimal or `0x` hexadecimal number.
    pub fn number(&self, index: usize, expected: &'static str) -> Result<u64, ArgError<'a>> {
        let word = self.word(index, expected)?;
        parse_number(word).ok_or(ArgError::Invalid {
            index: index + 1,
            got: word,
            expected,
        })
    }

    /// An optional number with a default.
    pub fn number_or(
        &self,
        index: usize,
        default: u64,
        expected: &'static str,
    ) -> Result<u64, ArgError<'a>> {
        match self.get(index) {
            None => Ok(default),
            Some(_) => self.number(index, expected),
        }
    }

    /// One of `choices`.
    pub fn choice(
        &self,
        index: usize,
        choices: &[&'static str],
        expected: &'static str,
    ) -> Result<&'static str, ArgError<'a>> {
        let word = self.word(index, expected)?;
        choices
            .iter()
            .find(|c| **c == word)
            .copied()
            .ok_or(ArgError::Invalid {
                index: index + 1,
                got: word,
                expected,
            })
    }
}

/// Splits a script of commands separated by `;` (the bootarg `run="cmd; cmd"`): the next
/// non-blank command, trimmed, and what follows it; `None` once only blanks are left.
pub fn next_command(script: &str) -> Option<(&str, &str)> {
    let mut rest = script;
    loop {
        if rest.trim().is_empty() {
            return None;
        }
        let (command, after) = rest.split_once(';').unwrap_or((rest, ""));
        rest = after;
        let command = command.trim();
        if !command.is_empty() {
            return Some((command, rest));
        }
    }
}

pub fn parse_number(word: &str) -> Option<u64> {
    match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => word.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_name_and_args() {
        let (name, args) = Args::split("  cpu   on 3 ").unwrap();
        assert_eq!(name, "cpu");
        assert_eq!(args.len(), 2);
        assert_eq!(args.word(0, "on|off"), Ok("on"));
        assert_eq!(args.number(1, "a CPU number"), Ok(3));
        assert!(Args::split("   ").is_none());
    }

    #[test]
    fn errors_say_what_was_expected() {
        let (_, args) = Args::split("ipi x").unwrap();
        let e = args.number(0, "a CPU number").unwrap_err();
        assert_eq!(e.to_string(), "argument 1 'x': expected a CPU number");
        let e = args.number(1, "a count").unwrap_err();
        assert_eq!(e.to_string(), "missing argument 2: expected a count");
        assert_eq!(
            args.at_most(0).unwrap_err().to_string(),
            "too many arguments (at most 0)"
        );
        assert_eq!(args.number_or(1, 7, "a count"), Ok(7));
        let e = args.choice(0, &["on", "off"], "on or off").unwrap_err();
        assert_eq!(e.to_string(), "argument 1 'x': expected on or off");
    }

    #[test]
    fn an_option_alone_or_nothing() {
        let only = |line| Args::split(line).unwrap().1.only_option("--raw");
        assert_eq!(only("cpus"), Ok(false));
        assert_eq!(only("cpus --raw"), Ok(true));
        assert_eq!(
            only("cpus --rwa").unwrap_err().to_string(),
            "argument 1 '--rwa': expected --raw"
        );
        assert_eq!(
            only("cpus extra").unwrap_err().to_string(),
            "argument 1 'extra': expected --raw"
        );
        assert_eq!(
            only("cpus --raw --raw").unwrap_err().to_string(),
            "too many arguments (at most 1)"
        );
    }

    #[test]
    fn numbers_in_decimal_and_hex() {
        assert_eq!(parse_number("42"), Some(42));
        assert_eq!(parse_number("0x2a"), Some(42));
        assert_eq!(parse_number("0X2A"), Some(42));
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("99999999999999999999"), None);
    }

    #[test]
    fn too_many_words_are_detected() {
        let line = "c 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17";
        let (_, args) = Args::split(line).unwrap();
        assert_eq!(args.len(), MAX_WORDS);
        // The dropped word still counts: no limit below 17 lets 17 arguments through.
        assert!(args.at_most(MAX_WORDS).is_err());
        assert!(args.at_most(MAX_WORDS + 1).is_ok());
        let (_, args) = Args::split("c 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16").unwrap();
        assert!(args.at_most(MAX_WORDS).is_ok());
    }

    #[test]
    fn scripts_split_into_trimmed_commands() {
        let mut script = " cpus;; mem ; ;cpu on 1";
        let mut commands = Vec::new();
        while let Some((command, rest)) = next_command(script) {
            commands.push(command);
            script = rest;
        }
        assert_eq!(commands, ["cpus", "mem", "cpu on 1"]);
        assert_eq!(next_command(" ; ;  "), None);
    }
}
