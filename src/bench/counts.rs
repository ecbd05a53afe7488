//! Costs that do not depend on the host: guest instructions, loads and stores per
//! operation, counted by QEMU's counting plugin (`tools/counts`) between the count markers
//! (`arch::count_marker`) that `bench` sets around what it measures.
//!
//! The plugin keeps, for each bracket tag, what the marking CPU executed inside all the
//! brackets of that tag and inside its median bracket, and for each checkpoint the CPU's
//! counts since it started; the rounds of a wait for another CPU are not counted (they
//! depend on the host), what the CPU does before and after its waits is. Asked to publish, it writes them as text
//! to a host file, which the kernel reads over semihosting; the bootarg
//! `bench.counts=PATH` names it (`make bench` gives it, with the plugin's `out=PATH`).
//! Without the bootarg, without semihosting or without the plugin the markers are NOPs
//! and each part says its counts are unavailable. Before a file is believed it is removed
//! and published again with a fresh nonce, and a bracket of known contents (two lengths
//! of `count_marker::calibration`) must come back exactly as the code says it must.
//!
//! The records, one a line (the plugin's `ledger` writes them):
//!
//! ```text
//! counts nonce=7
//! checkpoint vcpu=0 id=1 insns=120 loads=3 stores=4
//! bracket tag=5 vcpu=0 n=2 insns=80 loads=20 stores=10 med_insns=40 med_loads=10 med_stores=5
//! problem end-without-start vcpu=1 tag=9
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use super::stats::Hundredths;

/// Guest instructions executed and memory accesses made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub insns: u64,
    pub loads: u64,
    pub stores: u64,
}

impl Counts {
    /// What happened from `earlier` to `self`.
    pub fn since(self, earlier: Counts) -> Counts {
        Counts {
            insns: self.insns.saturating_sub(earlier.insns),
            loads: self.loads.saturating_sub(earlier.loads),
            stores: self.stores.saturating_sub(earlier.stores),
        }
    }
}

/// A tag's totals: the brackets closed and the marking CPU's counts inside them; and the
/// median bracket's (by instructions), which an operation that sometimes takes another
/// path (a wait that ends at its first look) does not move.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bracket {
    pub brackets: u64,
    pub total: Counts,
    pub median: Counts,
}

/// What one publish said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Records {
    pub nonce: u64,
    /// (vCPU, id, counts since the vCPU started).
    pub checkpoints: Vec<(u64, u64, Counts)>,
    pub brackets: Vec<(u64, Bracket)>,
    /// The first problem the plugin saw (a bracket closed that was never opened...).
    pub problem: Option<String>,
}

/// Why the records could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRecords {
    NoHeader,
    UnknownRecord,
    /// A field missing or not a number.
    Field(&'static str),
}

impl fmt::Display for BadRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRecords::NoHeader => write!(f, "no 'counts nonce=' first line"),
            BadRecords::UnknownRecord => write!(f, "a record of an unknown kind"),
            BadRecords::Field(name) => write!(f, "a record without a number for '{name}'"),
        }
    }
}

/// The value of `key=` among `words`.
fn field(words: &str, key: &'static str) -> Result<u64, BadRecords> {
    words
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
        .ok_or(BadRecords::Field(key))
}

/// The counts of `words` whose keys are `insns`, `loads` and `stores` after `prefix`.
fn counts(words: &str, prefix: &'static str) -> Result<Counts, BadRecords> {
    let (insns, loads, stores) = match prefix {
        "med_" => ("med_insns", "med_loads", "med_stores"),
        _ => ("insns", "loads", "stores"),
    };
    Ok(Counts {
        insns: field(words, insns)?,
        loads: field(words, loads)?,
        stores: field(words, stores)?,
    })
}

impl Records {
    pub fn parse(text: &str) -> Result<Records, BadRecords> {
        let mut lines = text.lines();
        let header = lines.next().and_then(|l| l.strip_prefix("counts "));
        let mut records = Records {
            nonce: field(header.ok_or(BadRecords::NoHeader)?, "nonce")?,
            ..Records::default()
        };
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let (kind, words) = line.split_once(' ').unwrap_or((line, ""));
            match kind {
                "checkpoint" => records.checkpoints.push((
                    field(words, "vcpu")?,
                    field(words, "id")?,
                    counts(words, "")?,
                )),
                "bracket" => records.brackets.push((
                    field(words, "tag")?,
                    Bracket {
                        brackets: field(words, "n")?,
                        total: counts(words, "")?,
                        median: counts(words, "med_")?,
                    },
                )),
                "problem" => {
                    records.problem.get_or_insert_with(|| String::from(words));
                }
                _ => return Err(BadRecords::UnknownRecord),
            }
        }
        Ok(records)
    }

    pub fn bracket(&self, tag: u64) -> Option<Bracket> {
        self.brackets
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, b)| *b)
    }

    /// The checkpoint `id`, if exactly one CPU set it exactly once.
    pub fn checkpoint(&self, id: u64) -> Option<Counts> {
        let mut found = self.checkpoints.iter().filter(|(_, i, _)| *i == id);
        match (found.next(), found.next()) {
            (Some((_, _, counts)), None) => Some(*counts),
            _ => None,
        }
    }
}

/// ` NAME_insns=X NAME_loads=Y NAME_stores=Z`, each per operation over `ops` operations
/// (two decimals), onto `line`.
pub fn write_per_op(line: &mut String, name: &str, total: Counts, ops: u64) {
    let per = |n: u64| Hundredths((n * 100 + ops / 2) / ops.max(1));
    let _ = write!(
        line,
        " {name}_insns={} {name}_loads={} {name}_stores={}",
        per(total.insns),
        per(total.loads),
        per(total.stores)
    );
}

#[cfg(target_os = "none")]
pub use kernel::{PartCounts, Reported, Session, Unavailable, bracket, new_tag};

#[cfg(target_os = "none")]
mod kernel {
    use alloc::string::String;
    use alloc::vec;
    use core::fmt;
    use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use super::{BadRecords, Counts, Records};
    use crate::arch::count_marker;
    use crate::arch::semihosting::{self, FileError};
    use crate::bench::stats::Verdict;
    use crate::println;

    /// The most the records may hold.
    const MAX_RECORDS_BYTES: usize = 256 * 1024;

    /// Why a part has no counts.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Unavailable {
        /// No `bench.counts=` on the command line.
        NoPath,
        /// The file could not be read (no semihosting, or nothing was published: no
        /// plugin).
        NotRead(FileError),
        /// What was read was not the records of the publish just asked for.
        Stale,
        Malformed(BadRecords),
        /// The plugin said something went wrong.
        Problem(String),
        /// The bracket of known contents came back counted otherwise.
        Miscounted {
            expected: count_marker::Expected,
            counted: Counts,
        },
    }

    impl Unavailable {
        /// Whether the counts exist but are wrong (a failure), rather than not there.
        pub fn is_wrong(&self) -> bool {
            matches!(
                self,
                Unavailable::Malformed(_)
                    | Unavailable::Problem(_)
                    | Unavailable::Miscounted { .. }
                    | Unavailable::Stale
            )
        }

        /// Says why, once per boot for what is merely missing (every part would say
        /// the same), always for what is wrong.
        pub fn say(&self, part: &str) {
            static SAID: AtomicBool = AtomicBool::new(false);
            if self.is_wrong() || !SAID.swap(true, Ordering::Relaxed) {
                println!("bench {part}: counts unavailable: {self}");
            }
        }
    }

    impl fmt::Display for Unavailable {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Unavailable::NoPath => write!(
                    f,
                    "no bench.counts=FILE bootarg (make bench boots with the counting plugin \
                     and gives it)"
                ),
                Unavailable::NotRead(FileError::Unavailable) => {
                    write!(f, "nobody services semihosting")
                }
                Unavailable::NotRead(FileError::NotOpened(errno)) => write!(
                    f,
                    "nothing was published (host errno {errno}): QEMU runs without the \
                     counting plugin, or with another out= file"
                ),
                Unavailable::NotRead(e) => write!(f, "the published counts: {e:?}"),
                Unavailable::Stale => write!(f, "the file holds another publish's counts"),
                Unavailable::Malformed(e) => write!(f, "the published counts: {e}"),
                Unavailable::Problem(p) => write!(f, "the plugin saw a problem: {p}"),
                Unavailable::Miscounted { expected, counted } => write!(
                    f,
                    "a bracket of {} instructions, {} loads and {} stores was counted as {}, \
                     {} and {}",
                    expected.insns,
                    expected.loads,
                    expected.stores,
                    counted.insns,
                    counted.loads,
                    counted.stores
                ),
            }
        }
    }

    /// One part's counting: a checked counter, or the reason there is none (said once).
    pub struct PartCounts {
        part: &'static str,
        session: Option<Session>,
    }

    impl PartCounts {
        /// Opens the counter for `part`; counts that exist but are wrong fail `verdict`.
        pub fn open(part: &'static str, verdict: &mut Verdict) -> PartCounts {
            let session = match Session::open() {
                Ok(session) => Some(session),
                Err(why) => {
                    why.say(part);
                    verdict.check(!why.is_wrong(), "counts-wrong");
                    None
                }
            };
            PartCounts { part, session }
        }

        /// Whether the part should run its counted brackets.
        pub fn on(&self) -> bool {
            self.session.is_some()
        }

        /// What was counted so far; `None` (said, and a failure if wrong) if nothing.
        pub fn records(&self, verdict: &mut Verdict) -> Option<Records> {
            match self.session.as_ref()?.publish() {
                Ok(records) => Some(records),
                Err(why) => {
                    why.say(self.part);
                    verdict.check(!why.is_wrong(), "counts-wrong");
                    None
                }
            }
        }
    }

    /// A bracket tag a part reports: its name on the RESULT line, how many brackets it
    /// must have closed, and how many operations each bracket holds.
    pub struct Reported {
        pub name: &'static str,
        pub tag: u64,
        pub brackets: u64,
        pub ops: u64,
    }

    impl PartCounts {
        /// Each tag's counts per operation onto `line` (its one bracket's, or the median
        /// bracket's where it has several), a tag whose brackets are not all there failing
        /// `verdict`; ` counts=unavailable` where there are no counts.
        pub fn write_tags(&self, line: &mut String, verdict: &mut Verdict, tags: &[Reported]) {
            let Some(records) = self.records(verdict) else {
                line.push_str(" counts=unavailable");
                return;
            };
            for reported in tags {
                let bracket = records.bracket(reported.tag).unwrap_or_default();
                verdict.check(
                    bracket.brackets == reported.brackets,
                    "counted-brackets-missing",
                );
                let counts = if reported.brackets == 1 {
                    bracket.total
                } else {
                    bracket.median
                };
                super::write_per_op(line, reported.name, counts, reported.ops);
            }
        }
    }

    static NEXT_TAG: AtomicU64 = AtomicU64::new(1);
    static NEXT_NONCE: AtomicU64 = AtomicU64::new(1);

    /// A tag no other bracket of this boot has.
    pub fn new_tag() -> u64 {
        NEXT_TAG.fetch_add(1, Ordering::Relaxed)
    }

    /// `f`, between a start and an end marker with `tag`.
    #[inline(always)]
    pub fn bracket<T>(tag: u64, f: impl FnOnce() -> T) -> T {
        count_marker::start(tag);
        let value = f();
        count_marker::end(tag);
        value
    }

    /// The counter, checked, for one part of `bench`.
    pub struct Session {
        path: &'static str,
    }

    impl Session {
        /// The counter if the command line names its file and a bracket of known contents
        /// comes back counted exactly.
        pub fn open() -> Result<Session, Unavailable> {
            let bootargs = crate::boot::platform().bootargs;
            let path = crate::dt::bootargs::split(bootargs)
                .filter_map(Result::ok)
                .filter(|arg| arg.key == "bench.counts")
                .last()
                .and_then(|arg| arg.value)
                .ok_or(Unavailable::NoPath)?;
            let session = Session { path };
            // Two lengths: a counter that counted anything but instructions executed
            // (the block once per translation, say) would get one of them wrong.
            let (short, long) = (new_tag(), new_tag());
            let expect_short = count_marker::calibration(short, 5);
            let expect_long = count_marker::calibration(long, 6);
            let records = session.publish()?;
            for (tag, expected) in [(short, expect_short), (long, expect_long)] {
                let counted = records.bracket(tag).map(|b| b.total).unwrap_or_default();
                if (counted.insns, counted.loads, counted.stores)
                    != (expected.insns, expected.loads, expected.stores)
                {
                    return Err(Unavailable::Miscounted { expected, counted });
                }
            }
            Ok(session)
        }

        /// Everything the plugin counted so far.
        pub fn publish(&self) -> Result<Records, Unavailable> {
            let nonce = NEXT_NONCE.fetch_add(1, Ordering::Relaxed);
            // What the file held before is not this publish's.
            semihosting::remove_file(self.path);
            count_marker::publish(nonce);
            let mut buf = vec![0u8; MAX_RECORDS_BYTES];
            let len = semihosting::read_file(self.path, &mut buf).map_err(Unavailable::NotRead)?;
            let text = core::str::from_utf8(&buf[..len])
                .map_err(|_| Unavailable::Malformed(BadRecords::NoHeader))?;
            let records = Records::parse(text).map_err(Unavailable::Malformed)?;
            if records.nonce != nonce {
                return Err(Unavailable::Stale);
            }
            if let Some(problem) = &records.problem {
                return Err(Unavailable::Problem(String::from(problem.as_str())));
            }
            Ok(records)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the plugin's ledger renders (tools/counts/src/ledger.rs's own test shows the
    /// same lines coming out of it).
    const PUBLISHED: &str = "counts nonce=7\n\
        checkpoint vcpu=0 id=1 insns=120 loads=3 stores=4\n\
        bracket tag=5 vcpu=0 n=2 insns=80 loads=20 stores=10 med_insns=40 med_loads=10 \
        med_stores=5\n";

    #[test]
    fn reads_what_the_plugin_publishes() {
        let r = Records::parse(PUBLISHED).unwrap();
        assert_eq!(r.nonce, 7);
        assert_eq!(
            r.checkpoint(1),
            Some(Counts {
                insns: 120,
                loads: 3,
                stores: 4
            })
        );
        let b = r.bracket(5).unwrap();
        assert_eq!((b.brackets, b.total.insns, b.total.stores), (2, 80, 10));
        assert_eq!(
            (b.median.insns, b.median.loads, b.median.stores),
            (40, 10, 5)
        );
        assert_eq!(r.bracket(6), None);
        assert_eq!(r.problem, None);
    }

    #[test]
    fn a_problem_a_twice_set_checkpoint_and_bad_text_are_seen() {
        let text = format!(
            "{PUBLISHED}checkpoint vcpu=1 id=1 insns=1 loads=0 stores=0\n\
             problem end-without-start vcpu=1 tag=9\nproblem second\n"
        );
        let r = Records::parse(&text).unwrap();
        assert_eq!(r.checkpoint(1), None, "set twice: neither is the boot's");
        assert_eq!(r.problem.as_deref(), Some("end-without-start vcpu=1 tag=9"));
        assert_eq!(Records::parse("nonce=1\n"), Err(BadRecords::NoHeader));
        assert_eq!(
            Records::parse("counts nonce=1\nbracket tag=1 n=1 insns=1 loads=1\n"),
            Err(BadRecords::Field("stores"))
        );
        assert_eq!(
            Records::parse("counts nonce=1\nwhatever\n"),
            Err(BadRecords::UnknownRecord)
        );
    }

    #[test]
    fn per_operation_rounds_to_hundredths() {
        let mut line = String::new();
        let total = Counts {
            insns: 43_517,
            loads: 10_000,
            stores: 7,
        };
        write_per_op(&mut line, "slab", total, 1000);
        assert_eq!(line, " slab_insns=43.52 slab_loads=10.00 slab_stores=0.01");
    }
}
