//! Where each CPU sits: `/cpus/cpu-map`, as Linux's
//! Documentation/devicetree/bindings/cpu/cpu-topology.txt describes it and
//! drivers/base/arch_topology.c reads it.
//!
//! ```text
//! cpus {
//!     cpu-map {
//!         socket0 {                      optional: without it, socket 0
//!             cluster0 {                 clusters may nest; the innermost one counts
//!                 core0 {
//!                     thread0 { cpu = <&CPU0>; };     a core's threads,
//!                     thread1 { cpu = <&CPU1>; };
//!                 };
//!                 core1 { cpu = <&CPU2>; };           or the core itself
//! ```
//!
//! A node with a `cpu` phandle is a leaf, and its path below `cpu-map` is its CPU's place:
//! each number is the one in its node's name (Linux counts `clusterN` from 0 and stops at
//! the first gap, which reads the same tree the same way where the names have no gaps;
//! here a gap loses nothing). A cluster is required, as in Linux (cores straight under a
//! socket or under `cpu-map` are refused); nested clusters are flattened to the innermost
//! one's number, as Linux does. What cannot be placed is reported, and the rest kept.
//!
//! Pure: the reader calls [`place`] with the path; the host tests below and the corpus
//! test (against libfdt's reading of Linux's trees) check it.

use core::fmt;

/// A CPU's place in the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Topology {
    pub socket: u32,
    pub cluster: u32,
    pub core: u32,
    pub thread: u32,
}

impl fmt::Display for Topology {
    /// `socket:cluster:core:thread`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.socket, self.cluster, self.core, self.thread
        )
    }
}

/// Why a cpu-map leaf places no CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceError<'a> {
    /// A node name that is not `socket`, `cluster`, `core` or `thread` and a number.
    Name(&'a str),
    /// A node where the binding allows none of its kind (`what` says where).
    Misplaced(&'a str, &'static str),
    /// A leaf that is not a core or a thread.
    NotCoreOrThread,
}

impl fmt::Display for PlaceError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlaceError::Name(name) => write!(
                f,
                "'{name}' is not socketN, clusterN, coreN or threadN: its CPU is not placed"
            ),
            PlaceError::Misplaced(name, why) => {
                write!(f, "'{name}' {why}: its CPU is not placed")
            }
            PlaceError::NotCoreOrThread => write!(
                f,
                "a cpu phandle on a node that is not a core or a thread: its CPU is not placed"
            ),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Socket,
    Cluster,
    Core,
    Thread,
}

/// `name`'s level and number: `cluster12` is (Cluster, 12).
fn level_of(name: &str) -> Option<(Level, u32)> {
    const KINDS: [(&str, Level); 4] = [
        ("socket", Level::Socket),
        ("cluster", Level::Cluster),
        ("core", Level::Core),
        ("thread", Level::Thread),
    ];
    KINDS.iter().find_map(|&(kind, level)| {
        let digits = name.strip_prefix(kind)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((level, digits.parse().ok()?))
    })
}

/// The place of the CPU a leaf names, from the names on its path below `cpu-map`, outermost
/// first (`["socket0", "cluster1", "core0", "thread1"]`).
pub fn place<'a>(path: impl IntoIterator<Item = &'a str>) -> Result<Topology, PlaceError<'a>> {
    let mut topology = Topology::default();
    let mut last: Option<Level> = None;
    let mut clusters = 0;
    for name in path {
        let (level, number) = level_of(name).ok_or(PlaceError::Name(name))?;
        let allowed = match level {
            Level::Socket => last.is_none(),
            Level::Cluster => matches!(last, None | Some(Level::Socket | Level::Cluster)),
            Level::Core => last == Some(Level::Cluster),
            Level::Thread => last == Some(Level::Core),
        };
        if !allowed {
            let why = match level {
                Level::Socket => "is not at the top of cpu-map",
                Level::Cluster => "is below a core",
                Level::Core => "is not in a cluster",
                Level::Thread => "is not in a core",
            };
            return Err(PlaceError::Misplaced(name, why));
        }
        match level {
            Level::Socket => topology.socket = number,
            Level::Cluster => {
                topology.cluster = number;
                clusters += 1;
            }
            Level::Core => topology.core = number,
            Level::Thread => topology.thread = number,
        }
        last = Some(level);
    }
    match last {
        Some(Level::Core | Level::Thread) if clusters > 0 => Ok(topology),
        _ => Err(PlaceError::NotCoreOrThread),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(socket: u32, cluster: u32, core: u32, thread: u32) -> Topology {
        Topology {
            socket,
            cluster,
            core,
            thread,
        }
    }

    #[test]
    fn each_level_takes_the_number_in_its_name() {
        assert_eq!(
            place(["socket1", "cluster2", "core3", "thread4"]),
            Ok(at(1, 2, 3, 4))
        );
        assert_eq!(place(["cluster0", "core12"]), Ok(at(0, 0, 12, 0)));
        assert_eq!(place(["socket0", "cluster1", "core1"]), Ok(at(0, 1, 1, 0)));
    }

    #[test]
    fn nested_clusters_count_as_the_innermost_one() {
        assert_eq!(place(["cluster1", "cluster3", "core0"]), Ok(at(0, 3, 0, 0)));
    }

    #[test]
    fn what_the_binding_does_not_allow_places_nothing() {
        assert_eq!(
            place(["socket0", "core0"]),
            Err(PlaceError::Misplaced("core0", "is not in a cluster"))
        );
        assert_eq!(
            place(["core0"]),
            Err(PlaceError::Misplaced("core0", "is not in a cluster"))
        );
        assert_eq!(
            place(["cluster0", "socket0", "core0"]),
            Err(PlaceError::Misplaced(
                "socket0",
                "is not at the top of cpu-map"
            ))
        );
        assert_eq!(
            place(["cluster0", "core0", "thread0", "thread1"]),
            Err(PlaceError::Misplaced("thread1", "is not in a core"))
        );
        assert_eq!(place(["cluster0"]), Err(PlaceError::NotCoreOrThread));
        assert_eq!(
            place(["socket0", "cluster0"]),
            Err(PlaceError::NotCoreOrThread)
        );
        for bad in [
            "core",
            "corex",
            "core-1",
            "cpu0",
            "core1a",
            "core99999999999",
        ] {
            assert_eq!(
                place(["cluster0", bad]),
                Err(PlaceError::Name(bad)),
                "{bad}"
            );
        }
    }

    #[test]
    fn it_reads_as_socket_cluster_core_thread() {
        assert_eq!(at(1, 0, 3, 1).to_string(), "1:0:3:1");
    }
}
