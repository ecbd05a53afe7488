//! The shell's commands: one table, each entry with its usage and what it does, and the
//! error type they share. The commands themselves live by subject in the modules below.

// There is no heap to box errors into: a failure carries its message inline (a few hundred
// bytes: a CPU that will not come up is explained in full).
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod bench;
mod cpu;
mod locks;
mod machine;
mod slab;
mod stress;

pub use cpu::finish_cpu_off;

use core::fmt;

use arrayvec::ArrayString;

use super::args::{ArgError, Args};
use crate::println;
pub(super) use crate::text::Truncating;

/// Why a command did not do what was asked.
pub enum CmdError<'a> {
    /// The arguments are wrong: the shell prints the error and the usage.
    Usage(ArgError<'a>),
    /// The command ran and failed.
    Failed(ArrayString<512>),
}

impl<'a> From<ArgError<'a>> for CmdError<'a> {
    fn from(e: ArgError<'a>) -> Self {
        CmdError::Usage(e)
    }
}

impl CmdError<'_> {
    pub fn failed(args: fmt::Arguments<'_>) -> Self {
        let mut text = ArrayString::new();
        let _ = fmt::write(&mut Truncating::new(&mut text), args);
        CmdError::Failed(text)
    }
}

pub type CmdResult<'a> = Result<(), CmdError<'a>>;

pub struct Command {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
    pub run: for<'a> fn(&Args<'a>) -> CmdResult<'a>,
}

const COMMANDS: &[Command] = &[
    Command {
        name: "help",
        args: "",
        help: "list the commands",
        run: help,
    },
    Command {
        name: "dt",
        args: "[--raw]",
        help: "what the device tree describes, with addresses",
        run: machine::dt,
    },
    Command {
        name: "cpus",
        args: "[--raw]",
        help: "each CPU: logical id, MPIDR, enable method, state; the hotplug lock",
        run: cpu::cpus,
    },
    Command {
        name: "cpu",
        args: "on|off N",
        help: "bring CPU N online or take it offline, with the time it took",
        run: cpu::cpu_on_off,
    },
    Command {
        name: "ipi",
        args: "N",
        help: "SGI round trip to CPU N (a cross-call that waits), 100 times",
        run: cpu::ipi,
    },
    Command {
        name: "hotplug",
        args: "[cycles]",
        help: "offline then online the other online CPUs, repeatedly (default 1)",
        run: cpu::hotplug,
    },
    Command {
        name: "fault",
        args: "[KIND CPU]",
        help: "inject a fault into CPU's next bring-up or teardown (none: list them):\n\
               cpu_on_invalid|cpu_on_already_on|cpu_on_denied|no_arrival|never_arrives|\n\
               no_death|death_unconfirmed|death_taken_late|down_prepare_refused",
        run: cpu::fault,
    },
    Command {
        name: "backtrace",
        args: "",
        help: "every online CPU's backtrace, each printed by the CPU itself",
        run: cpu::backtrace,
    },
    Command {
        name: "slabinfo",
        args: "[--raw]",
        help: "every slab cache, in the layout of Linux's /proc/slabinfo",
        run: slab::slabinfo,
    },
    Command {
        name: "slab",
        args: "SUBCOMMAND ...",
        help: "slab caches by hand: create NAME SIZE [ALIGN] | alloc NAME N |\n\
               free NAME N | destroy NAME | shrink NAME | check (the invariant,\n\
               every cache's lists, red zones and poison) |\n\
               set hotplug_lock on|off | set lock_order normal|inverted |\n\
               set race_window_us N |\n\
               misuse double-free|foreign|wrong-cache|overrun|use-after-free [NAME]",
        run: slab::slab_command,
    },
    Command {
        name: "stress",
        args: "slab-hotplug|all|fpsimd [s]",
        help: "slab-hotplug: the 2004 scenario, caches made and destroyed while CPUs\n\
               come and go; all: the soak, traffic on every CPU, cache churn and\n\
               random hotplug; fpsimd: vector registers held across cross-calls on\n\
               every CPU; for s seconds (default 10)",
        run: stress::stress,
    },
    Command {
        name: "bench",
        args: "[part ...]",
        help: "measure: boot hotplug slab lock ipi cache (default all), as RESULT lines",
        run: bench::bench,
    },
    Command {
        name: "lockdep",
        args: "[--raw] | violate irq",
        help: "the lock validator: its counts, every lock class, every dependency;\n\
               violate irq: a lock taken with interrupts on and in a handler",
        run: locks::lockdep,
    },
    Command {
        name: "mem",
        args: "[--raw|--check-memset]",
        help: "memory map, page allocator counts, each stack's high-water mark;\n\
               --check-memset: memset at every alignment and length to 320, checked",
        run: machine::mem,
    },
    Command {
        name: "dmesg",
        args: "",
        help: "the kernel log",
        run: machine::dmesg,
    },
    Command {
        name: "poweroff",
        args: "",
        help: "turn the machine off (PSCI SYSTEM_OFF)",
        run: machine::poweroff,
    },
    Command {
        name: "reboot",
        args: "",
        help: "reset the machine (PSCI SYSTEM_RESET)",
        run: machine::reboot,
    },
    Command {
        name: "crash",
        args: "null|undefined|stack|serror|locked|fpsimd|panic|masked-spin",
        help: "make the kernel fail on purpose, to see its Oops report;\n\
               masked-spin: another CPU spins 3 s with interrupts masked, then goes on",
        run: machine::crash,
    },
];

pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// The column `help` writes each command's usage in.
const USAGE_WIDTH: usize = 28;
/// The longest usage `help` prints: every command's fits (checked when the kernel is
/// built), so none is cut.
const USAGE_MAX: usize = 72;

const _: () = {
    let mut i = 0;
    while i < COMMANDS.len() {
        assert!(
            COMMANDS[i].name.len() + 1 + COMMANDS[i].args.len() <= USAGE_MAX,
            "a command's usage is longer than help prints"
        );
        i += 1;
    }
};

fn help<'a>(args: &Args<'a>) -> CmdResult<'a> {
    args.at_most(0)?;
    for c in COMMANDS {
        let mut usage = ArrayString::<USAGE_MAX>::new();
        let _ = fmt::write(
            &mut Truncating::new(&mut usage),
            format_args!("{} {}", c.name, c.args),
        );
        let mut lines = c.help.lines();
        if usage.len() > USAGE_WIDTH {
            // Too wide for the column: the usage on a line of its own.
            println!("  {usage}");
            println!("  {:<USAGE_WIDTH$} {}", "", lines.next().unwrap_or(""));
        } else {
            println!("  {usage:<USAGE_WIDTH$} {}", lines.next().unwrap_or(""));
        }
        for more in lines {
            println!("  {:<USAGE_WIDTH$}   {}", "", more.trim_start());
        }
    }
    println!(
        "  --raw (dt, cpus, lockdep, mem, slabinfo): the same facts as key=value words, a line per thing"
    );
    Ok(())
}

/// Formats as `0x...` with a width applied to the whole.
pub(super) struct Hex(pub u64);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = ArrayString::<20>::new();
        let _ = fmt::write(&mut s, format_args!("{:#x}", self.0));
        f.pad(&s)
    }
}
