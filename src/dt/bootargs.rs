//! The kernel command line (`/chosen/bootargs`): splitting it into `key=value` words and
//! reading the options this kernel understands into [`BootOptions`].
//!
//! Words are separated by spaces; a value may be double-quoted to hold spaces and
//! semicolons (`run="cpus; mem"`). A malformed or unknown word is reported, never fatal.

use core::fmt;

/// One word of the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootArg<'a> {
    pub key: &'a str,
    pub value: Option<&'a str>,
}

/// Splits a command line into words, honouring double quotes around values.
pub fn split(cmdline: &str) -> impl Iterator<Item = Result<BootArg<'_>, BootArgError<'_>>> {
    let mut rest = cmdline;
    core::iter::from_fn(move || {
        rest = rest.trim_start();
        if rest.is_empty() {
            return None;
        }
        // A word ends at the first space outside quotes.
        let mut in_quotes = false;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                c if c.is_whitespace() && !in_quotes => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let word = &rest[..end];
        rest = &rest[end..];
        if in_quotes {
            return Some(Err(BootArgError::UnclosedQuote(word)));
        }
        Some(Ok(match word.split_once('=') {
            Some((key, value)) => BootArg {
                key,
                value: Some(unquote(value)),
            },
            None => BootArg {
                key: unquote(word),
                value: None,
            },
        }))
    })
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// What the kernel does after a panic or Oops has been reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PanicAction {
    /// Stop every core and wait (the default: the report stays on screen).
    #[default]
    Halt,
    /// Power off with a failure status (semihosting exit 1, else PSCI SYSTEM_OFF).
    Poweroff,
    /// Reset the machine.
    Reboot,
}

/// The options this kernel reads from its command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootOptions<'a> {
    /// `run="cmd; cmd"`: shell commands to run before the first prompt.
    pub run: Option<&'a str>,
    /// `panic=halt|poweroff|reboot`.
    pub panic: PanicAction,
    /// `maxcpus=N`: bring at most N CPUs online at boot (the boot CPU counts).
    pub max_cpus: Option<usize>,
    /// `nosmp`: bring no secondary CPU online at boot.
    pub no_smp: bool,
    /// `slab.hotplug_lock=on|off`: whether cache create/destroy take the hotplug lock
    /// (off brings back the 2004 races).
    pub slab_hotplug_lock: Option<bool>,
    /// `slab.race_window_us=N`: a pause between the two steps of create and destroy.
    pub slab_race_window_us: Option<u64>,
    /// `slab_debug`: red zones and poison on every slab cache, to catch overruns, writes
    /// to freed objects, and bad frees, named.
    pub slab_debug: bool,
    /// `slab.lock_order=normal|inverted`: inverted takes the cache chain's lock before the
    /// hotplug lock's read side in kmem_cache_create (Linux 5.12's inversion).
    pub slab_lock_order_inverted: Option<bool>,
    /// `lockdep`: validate every lock's order and context.
    pub lockdep: bool,
    /// `fault=KIND@CPU[,KIND@CPU...]`: faults to inject into CPU bring-up and teardown,
    /// as text: the fault injector reads it.
    pub faults: Option<&'a str>,
    /// `quiet`, `loglevel=N`, `debug`: the console log level, as Linux reads them (the
    /// last one wins); `None`: the console's default.
    pub console_loglevel: Option<u8>,
}

/// The console log level `quiet` sets, as Linux's (`CONSOLE_LOGLEVEL_QUIET`): errors
/// and worse.
pub const CONSOLE_LOGLEVEL_QUIET: u8 = 4;
/// The console log level `debug` sets: every line.
pub const CONSOLE_LOGLEVEL_DEBUG: u8 = 10;
/// The highest `loglevel=` this kernel takes (Linux's `CONSOLE_LOGLEVEL_MOTORMOUTH`).
pub const CONSOLE_LOGLEVEL_MAX: u8 = 15;

/// The longest race window `slab.race_window_us` accepts (a tenth of a second).
pub const MAX_RACE_WINDOW_US: u64 = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootArgError<'a> {
    UnclosedQuote(&'a str),
    Unknown(&'a str),
    MissingValue(&'a str),
    BadValue {
        key: &'a str,
        value: &'a str,
        expected: &'static str,
    },
}

impl fmt::Display for BootArgError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootArgError::UnclosedQuote(w) => write!(f, "'{w}': unclosed quote"),
            BootArgError::Unknown(k) => write!(f, "'{k}': unknown option, ignored"),
            BootArgError::MissingValue(k) => write!(f, "'{k}' needs a value ({k}=...)"),
            BootArgError::BadValue {
                key,
                value,
                expected,
            } => write!(f, "'{key}={value}': expected {expected}"),
        }
    }
}

impl<'a> BootOptions<'a> {
    /// Reads `cmdline`, calling `report` for every word it cannot use.
    pub fn parse(cmdline: &'a str, mut report: impl FnMut(BootArgError<'a>)) -> Self {
        let mut options = BootOptions::default();
        for arg in split(cmdline) {
            match arg.and_then(|arg| options.apply(arg)) {
                Ok(()) => {}
                Err(e) => report(e),
            }
        }
        options
    }

    fn apply(&mut self, arg: BootArg<'a>) -> Result<(), BootArgError<'a>> {
        let value = || arg.value.ok_or(BootArgError::MissingValue(arg.key));
        match arg.key {
            "run" => self.run = Some(value()?),
            "panic" => {
                let v = value()?;
                self.panic = match v {
                    "halt" => PanicAction::Halt,
                    "poweroff" => PanicAction::Poweroff,
                    "reboot" => PanicAction::Reboot,
                    _ => {
                        return Err(BootArgError::BadValue {
                            key: arg.key,
                            value: v,
                            expected: "halt, poweroff or reboot",
                        });
                    }
                };
            }
            "maxcpus" => {
                let v = value()?;
                self.max_cpus = Some(v.parse().map_err(|_| BootArgError::BadValue {
                    key: arg.key,
                    value: v,
                    expected: "a CPU count",
                })?);
            }
            "nosmp" => self.no_smp = true,
            "slab_debug" => match arg.value {
                // A flag: `slab_debug=off` turning it on would be a trap.
                Some(v) => {
                    return Err(BootArgError::BadValue {
                        key: arg.key,
                        value: v,
                        expected: "no value (slab_debug is a flag)",
                    });
                }
                None => self.slab_debug = true,
            },
            "lockdep" => match arg.value {
                Some(v) => {
                    return Err(BootArgError::BadValue {
                        key: arg.key,
                        value: v,
                        expected: "no value (lockdep is a flag)",
                    });
                }
                None => self.lockdep = true,
            },
            "slab.lock_order" => {
                let v = value()?;
                self.slab_lock_order_inverted = Some(match v {
                    "normal" => false,
                    "inverted" => true,
                    _ => {
                        return Err(BootArgError::BadValue {
                            key: arg.key,
                            value: v,
                            expected: "normal or inverted",
                        });
                    }
                });
            }
            "slab.hotplug_lock" => {
                let v = value()?;
                self.slab_hotplug_lock = Some(parse_on_off(v).ok_or(BootArgError::BadValue {
                    key: arg.key,
                    value: v,
                    expected: "on or off",
                })?);
            }
            "slab.race_window_us" => {
                let v = value()?;
                self.slab_race_window_us = Some(
                    v.parse()
                        .ok()
                        .filter(|&us| us <= MAX_RACE_WINDOW_US)
                        .ok_or(BootArgError::BadValue {
                            key: arg.key,
                            value: v,
                            expected: "microseconds, 0 to 100000",
                        })?,
                );
            }
            // Read and checked by the fault injector (`smp::fault`), whose syntax it is.
            "fault" => self.faults = Some(value()?),
            "quiet" => self.console_loglevel = Some(CONSOLE_LOGLEVEL_QUIET),
            "debug" => self.console_loglevel = Some(CONSOLE_LOGLEVEL_DEBUG),
            "loglevel" => {
                let v = value()?;
                self.console_loglevel = Some(
                    v.parse()
                        .ok()
                        .filter(|&n| n <= CONSOLE_LOGLEVEL_MAX)
                        .ok_or(BootArgError::BadValue {
                            key: arg.key,
                            value: v,
                            expected: "a console log level, 0 to 15",
                        })?,
                );
            }
            // The console is chosen with the device tree (`Platform::parse`).
            "console" => {}
            // Linux's options, which the Raspberry Pi firmware and shared configs add.
            "earlycon" | "root" | "rootwait" | "rootfstype" | "coherent_pool" | "cma"
            | "fsck.repair" | "elevator" => {}
            // Another kernel's module parameters (`8250.nr_uarts=1`); `slab.` is ours.
            other if other.contains('.') && !other.starts_with("slab.") => {}
            other => return Err(BootArgError::Unknown(other)),
        }
        Ok(())
    }
}

/// `on`/`off` (also `1`/`0`, `yes`/`no`).
pub fn parse_on_off(v: &str) -> Option<bool> {
    match v {
        "on" | "1" | "yes" => Some(true),
        "off" | "0" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_handed_on_as_text() {
        let o = BootOptions::parse("fault=cpu_on_denied@1,bogus@2", |e| panic!("{e}"));
        assert_eq!(o.faults, Some("cpu_on_denied@1,bogus@2"));
    }

    #[test]
    fn log_levels_as_linux_reads_them() {
        let level = |cmdline| BootOptions::parse(cmdline, |e| panic!("{e}")).console_loglevel;
        assert_eq!(level("run=x"), None);
        assert_eq!(level("quiet"), Some(4));
        assert_eq!(level("quiet loglevel=8"), Some(8));
        assert_eq!(level("loglevel=0 quiet"), Some(4));
        assert_eq!(level("debug"), Some(10));
        let mut errors = Vec::new();
        let o = BootOptions::parse("loglevel=16 loglevel=x loglevel", |e| {
            errors.push(e.to_string())
        });
        assert_eq!(o.console_loglevel, None);
        assert_eq!(
            errors,
            [
                "'loglevel=16': expected a console log level, 0 to 15",
                "'loglevel=x': expected a console log level, 0 to 15",
                "'loglevel' needs a value (loglevel=...)"
            ]
        );
    }

    #[test]
    fn slab_knobs() {
        let o = BootOptions::parse("slab.hotplug_lock=off slab.race_window_us=200", |e| {
            panic!("{e}")
        });
        assert_eq!(o.slab_hotplug_lock, Some(false));
        assert_eq!(o.slab_race_window_us, Some(200));
        let mut errors = Vec::new();
        BootOptions::parse(
            "slab.hotplug_lock=maybe slab.race_window_us=999999 slab.race_window_us",
            |e| errors.push(e.to_string()),
        );
        assert_eq!(
            errors,
            [
                "'slab.hotplug_lock=maybe': expected on or off",
                "'slab.race_window_us=999999': expected microseconds, 0 to 100000",
                "'slab.race_window_us' needs a value (slab.race_window_us=...)",
            ]
        );
    }

    #[test]
    fn lock_validation_options() {
        let o = BootOptions::parse("lockdep slab.lock_order=inverted", |e| panic!("{e}"));
        assert!(o.lockdep);
        assert_eq!(o.slab_lock_order_inverted, Some(true));
        let o = BootOptions::parse("slab.lock_order=normal", |e| panic!("{e}"));
        assert!(!o.lockdep);
        assert_eq!(o.slab_lock_order_inverted, Some(false));
        let mut errors = Vec::new();
        BootOptions::parse("lockdep=on slab.lock_order=backwards", |e| {
            errors.push(e.to_string())
        });
        assert_eq!(
            errors,
            [
                "'lockdep=on': expected no value (lockdep is a flag)",
                "'slab.lock_order=backwards': expected normal or inverted",
            ]
        );
    }

    #[test]
    fn slab_debug_is_a_flag() {
        assert!(!BootOptions::parse("nosmp", |e| panic!("{e}")).slab_debug);
        let o = BootOptions::parse("slab_debug run=\"slab check\"", |e| panic!("{e}"));
        assert!(o.slab_debug);
        assert_eq!(o.run, Some("slab check"));
        let mut errors = Vec::new();
        let o = BootOptions::parse("slab.debug slab_debg slab_debug=off", |e| {
            errors.push(e.to_string())
        });
        assert!(!o.slab_debug);
        assert_eq!(
            errors,
            [
                "'slab.debug': unknown option, ignored",
                "'slab_debg': unknown option, ignored",
                "'slab_debug=off': expected no value (slab_debug is a flag)",
            ]
        );
    }

    #[test]
    fn raspberry_pi_firmware_arguments_are_quietly_ignored() {
        let cmdline = "coherent_pool=1M 8250.nr_uarts=1 snd_bcm2835.enable_hdmi=1 \
                       bcm2708_fb.fbwidth=0 vc_mem.mem_base=0x3ec00000 console=ttyS0,115200 \
                       console=tty1 nosmp";
        let o = BootOptions::parse(cmdline, |e| panic!("{e}"));
        assert!(o.no_smp);
        let mut errors = Vec::new();
        BootOptions::parse("slab.hotplug_lok=on", |e| errors.push(e.to_string()));
        assert_eq!(errors, ["'slab.hotplug_lok': unknown option, ignored"]);
    }

    #[test]
    fn splits_and_unquotes() {
        let words: Vec<_> = split("  a=1 run=\"cpus; mem\"  nosmp \"x=y z\"")
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            words,
            vec![
                BootArg {
                    key: "a",
                    value: Some("1")
                },
                BootArg {
                    key: "run",
                    value: Some("cpus; mem")
                },
                BootArg {
                    key: "nosmp",
                    value: None
                },
                BootArg {
                    key: "\"x",
                    value: Some("y z\"")
                },
            ]
        );
    }

    #[test]
    fn unclosed_quote_is_reported() {
        let got: Vec<_> = split("run=\"cpus").collect();
        assert_eq!(got, vec![Err(BootArgError::UnclosedQuote("run=\"cpus"))]);
    }

    #[test]
    fn options_and_errors() {
        let mut errors = Vec::new();
        let o = BootOptions::parse(
            "run=\"help; cpus\" panic=poweroff maxcpus=2 nosmp bogus maxcpus=x panic=maybe run",
            |e| errors.push(e),
        );
        assert_eq!(o.run, Some("help; cpus"));
        assert_eq!(o.panic, PanicAction::Poweroff);
        assert_eq!(o.max_cpus, Some(2));
        assert!(o.no_smp);
        assert_eq!(
            errors,
            vec![
                BootArgError::Unknown("bogus"),
                BootArgError::BadValue {
                    key: "maxcpus",
                    value: "x",
                    expected: "a CPU count"
                },
                BootArgError::BadValue {
                    key: "panic",
                    value: "maybe",
                    expected: "halt, poweroff or reboot"
                },
                BootArgError::MissingValue("run"),
            ]
        );
        assert_eq!(errors[0].to_string(), "'bogus': unknown option, ignored");
    }

    #[test]
    fn empty_command_line() {
        assert_eq!(BootOptions::parse("", |_| panic!()), BootOptions::default());
    }
}
