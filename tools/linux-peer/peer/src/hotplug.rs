//! `linux-peer hotplug CYCLES`: how long Linux takes to take a CPU offline and bring it
//! back online through sysfs. Each cycle writes `0` to the `online` file of CPUs 1..n-1 in
//! turn, then `1` to each in turn, timing every write with the virtual counter. The first
//! cycle warms up and is not counted; the result is the median and 99th percentile over
//! every single CPU operation of the other `CYCLES`.

use crate::sys::{self, Errno, Fd};
use crate::text::Text;
use crate::ticks_to;

/// CPUs looked for (Debian's arm64 kernel has `CONFIG_NR_CPUS=256`).
const MAX_CPUS: usize = 256;
/// Timed operations kept per direction: `CYCLES * (CPUs - 1)` may not exceed it.
const MAX_SAMPLES: usize = 4096;

/// Why the measurement stopped.
enum Failure {
    /// The cycle count is missing, not a number or 0.
    Usage,
    /// Only CPU 0, or no CPU has an `online` file.
    NoHotpluggableCpu,
    /// More operations than `MAX_SAMPLES` asked for.
    TooManySamples,
    /// A system call (`op`) on CPU `cpu`'s `online` file failed.
    Sysfs {
        op: &'static str,
        cpu: usize,
        errno: Errno,
    },
    /// CPU `cpu` was not online to begin with.
    NotOnline { cpu: usize },
}

/// What a measurement found; times are in tenths of a microsecond.
struct Summary {
    /// CPUs, counting CPU 0.
    cpus: usize,
    cycles: usize,
    offline_median: u64,
    offline_p99: u64,
    online_median: u64,
    online_p99: u64,
}

/// Runs the measurement with the arguments after `hotplug` (the cycle count, in decimal)
/// and prints its result; returns the exit status.
pub fn run(args: &[&[u8]]) -> i32 {
    let mut line = Text::new();
    line.str("RESULT peer-hotplug ");
    match measure(args) {
        Ok(summary) => {
            line.str("PASS cpus=")
                .uint(summary.cpus as u64)
                .str(" cycles=")
                .uint(summary.cycles as u64)
                .str(" offline_us=")
                .fixed(summary.offline_median, 1)
                .str(" online_us=")
                .fixed(summary.online_median, 1)
                .str(" offline_p99_us=")
                .fixed(summary.offline_p99, 1)
                .str(" online_p99_us=")
                .fixed(summary.online_p99, 1)
                .print();
            0
        }
        Err(failure) => {
            line.str("FAIL reason=");
            match failure {
                Failure::Usage => line.str("usage"),
                Failure::NoHotpluggableCpu => line.str("no-hotpluggable-cpu"),
                Failure::TooManySamples => {
                    line.str("too-many-samples limit=").uint(MAX_SAMPLES as u64)
                }
                Failure::Sysfs { op, cpu, errno } => line
                    .str(op)
                    .str(" errno=")
                    .uint(errno.0 as u64)
                    .str(" file=")
                    .bytes(online_path(cpu).as_bytes()),
                Failure::NotOnline { cpu } => line
                    .str("not-online file=")
                    .bytes(online_path(cpu).as_bytes()),
            };
            line.print();
            if matches!(failure, Failure::Usage) {
                Text::new().str(crate::USAGE).str(", CYCLES >= 1").print();
            }
            1
        }
    }
}

/// Does the measurement.
fn measure(args: &[&[u8]]) -> Result<Summary, Failure> {
    let [cycles] = args else {
        return Err(Failure::Usage);
    };
    let cycles = parse_count(cycles).ok_or(Failure::Usage)?;
    let mut files = [None; MAX_CPUS];
    let cpus = find_cpus(&mut files)?;
    let files = &files[..cpus];
    if cpus < 2 {
        return Err(Failure::NoHotpluggableCpu);
    }
    if (cpus - 1) * cycles > MAX_SAMPLES {
        return Err(Failure::TooManySamples);
    }

    let mut offline = Samples::new();
    let mut online = Samples::new();
    for cycle in 0..=cycles {
        let warm_up = cycle == 0;
        set_all(files, b"0", (!warm_up).then_some(&mut offline))?;
        set_all(files, b"1", (!warm_up).then_some(&mut online))?;
    }

    let freq = sys::counter_freq();
    let (offline_median, offline_p99) = offline.summary(freq);
    let (online_median, online_p99) = online.summary(freq);
    Ok(Summary {
        cpus,
        cycles,
        offline_median,
        offline_p99,
        online_median,
        online_p99,
    })
}

/// A decimal count from 1 to 1,000,000.
fn parse_count(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 7 {
        return None;
    }
    let mut n = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (d - b'0') as usize;
    }
    (1..=1_000_000).contains(&n).then_some(n)
}

/// `/sys/devices/system/cpu/cpu<cpu>/online`.
fn online_path(cpu: usize) -> Text {
    let mut path = Text::new();
    path.str("/sys/devices/system/cpu/cpu")
        .uint(cpu as u64)
        .str("/online");
    path
}

/// Opens the `online` file of CPUs 1, 2, ... up to the first that has none, checking that
/// each is online, into `files[cpu]`; returns how many CPUs there are, counting CPU 0
/// (whose `online` file is not opened: CPU 0 usually cannot go offline).
fn find_cpus(files: &mut [Option<Fd>; MAX_CPUS]) -> Result<usize, Failure> {
    for (cpu, file) in files.iter_mut().enumerate().skip(1) {
        // What a failed system call `op` on this file is reported as.
        let failed = |op| move |errno| Failure::Sysfs { op, cpu, errno };
        let mut path = online_path(cpu);
        let fd = match sys::open(path.str("\0").as_bytes(), sys::O_RDWR | sys::O_CLOEXEC) {
            Err(Errno::ENOENT) => return Ok(cpu),
            opened => opened.map_err(failed("open"))?,
        };
        let mut state = [0; 2];
        let n = sys::pread(fd, &mut state, 0).map_err(failed("read"))?;
        if state[..n] != *b"1\n" {
            return Err(Failure::NotOnline { cpu });
        }
        *file = Some(fd);
    }
    Ok(MAX_CPUS)
}

/// Writes `value` to every open `online` file in turn, adding how long each write took to
/// `samples` if given.
fn set_all(
    files: &[Option<Fd>],
    value: &[u8],
    mut samples: Option<&mut Samples>,
) -> Result<(), Failure> {
    for (cpu, fd) in files.iter().enumerate() {
        let Some(fd) = *fd else { continue };
        let start = sys::counter();
        let written = sys::pwrite(fd, value, 0);
        let ticks = sys::counter() - start;
        if let Err(errno) = written {
            let op = if value == b"0" { "offline" } else { "online" };
            return Err(Failure::Sysfs { op, cpu, errno });
        }
        if let Some(samples) = samples.as_deref_mut() {
            samples.push(ticks);
        }
    }
    Ok(())
}

/// Durations of timed operations, in counter ticks.
struct Samples {
    ticks: [u64; MAX_SAMPLES],
    len: usize,
}

impl Samples {
    fn new() -> Self {
        Samples {
            ticks: [0; MAX_SAMPLES],
            len: 0,
        }
    }

    fn push(&mut self, ticks: u64) {
        self.ticks[self.len] = ticks;
        self.len += 1;
    }

    /// The median and the 99th percentile (nearest rank), in tenths of a microsecond, of
    /// at least one sample taken with a counter running at `freq` Hz.
    fn summary(&mut self, freq: u64) -> (u64, u64) {
        let sorted = &mut self.ticks[..self.len];
        sorted.sort_unstable();
        let n = sorted.len();
        // Twice the median: the middle sample twice, or the two middle ones.
        let median_x2 = sorted[(n - 1) / 2] + sorted[n / 2];
        let p99 = sorted[(n * 99).div_ceil(100) - 1];
        (
            ticks_to(median_x2, 2 * freq, 10_000_000),
            ticks_to(p99, freq, 10_000_000),
        )
    }
}
