//! The lock validator's model: classes, the dependency graph between them, and the checks
//! an acquisition and a release go through (Linux's `kernel/locking/lockdep.c`, in small).
//!
//! A class is every lock declared in one place (all caches' list locks are one class). An
//! acquisition of class B while this CPU holds class A adds the edge A -> B: "B was taken
//! with A held". Before an edge goes in, a breadth-first search from B looks for A: found,
//! the edge would close a cycle, and some interleaving of the CPUs that made the edges
//! deadlocks. Edges are only added within one context (interrupt handlers apart from the
//! code they interrupt, as Linux's `irq_context`), since a handler's locks are ordered
//! against what it interrupted by the interrupt rules instead:
//!
//! - a class taken in a hardirq handler (IN-HARDIRQ) that is also taken with interrupts
//!   enabled (HARDIRQ-ON) deadlocks when the interrupt arrives on the CPU holding it;
//! - a class taken again while this CPU holds it deadlocks on itself, unless the second
//!   acquisition is a read that cannot wait (a nested read of the hotplug lock);
//! - releasing a class not held, and holding more than [`MAX_DEPTH`], are errors.
//!
//! Three modes of taking a lock: `Write` (exclusive; every spin lock, the hotplug lock's
//! write side, a wait for other CPUs), `Read` (shared, but queued behind a writer that is
//! waiting: the hotplug lock's first read on a CPU, so a cycle through two reads of it is a
//! deadlock once a writer comes between them, which is why it counts here as exclusive)
//! and `RecursiveRead` (shared and never waiting: a nested read on the CPU already inside,
//! which therefore adds no edge into it).
//!
//! Everything here is plain data behind `&mut self`: the kernel keeps one graph behind a
//! lock of its own and the held locks per CPU; the host tests drive it directly.

use arrayvec::ArrayVec;

/// Classes the graph can hold (Linux's MAX_LOCKDEP_KEYS is 8192; this kernel has ~40).
pub const MAX_CLASSES: usize = 128;
/// Dependencies it can hold.
pub const MAX_EDGES: usize = 1024;
/// Locks one CPU may hold at once, in one context and its interrupt handler together.
pub const MAX_DEPTH: usize = 32;
/// Distinct problems remembered, so that each is reported once.
const MAX_REPORTED: usize = 64;

const WORDS: usize = MAX_CLASSES / 64;

/// A class's index in the graph.
pub type ClassId = u16;

/// How a lock is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Write,
    /// Shared, but waits behind a waiting writer.
    Read,
    /// Shared, and never waits.
    RecursiveRead,
}

impl Mode {
    /// The letter Linux's usage names end in: W or R.
    pub fn letter(self) -> char {
        match self {
            Mode::Write => 'W',
            Mode::Read | Mode::RecursiveRead => 'R',
        }
    }

    /// Linux's scenario verb: `lock` or `rlock`.
    pub fn verb(self) -> &'static str {
        match self {
            Mode::Write => "lock",
            Mode::Read | Mode::RecursiveRead => "rlock",
        }
    }
}

/// What a class stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassKind {
    /// A lock.
    Lock,
    /// A wait for work on other CPUs (a cross-call, a CPU coming or going): "taken" by the
    /// waiter for the moment of its wait, and held by the CPUs doing the work while they
    /// do it, so that a lock the work takes and the waiter holds closes a cycle. It has no
    /// interrupt usage: waiting with interrupts masked is refused where the wait is.
    Wait,
}

/// Where something happened: the code address and the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Site {
    pub pc: usize,
    pub cpu: u16,
}

/// A lock a CPU holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    pub class: ClassId,
    pub mode: Mode,
    /// The lock's address: which instance of the class, to match its release.
    pub instance: usize,
    /// Where it was taken.
    pub pc: usize,
    /// Taken in a hardirq handler.
    pub hardirq: bool,
}

/// The locks one CPU holds, in the order taken.
#[derive(Clone, Debug, Default)]
pub struct HeldStack {
    pub locks: ArrayVec<Held, MAX_DEPTH>,
}

impl HeldStack {
    pub const fn new() -> Self {
        Self {
            locks: ArrayVec::new_const(),
        }
    }
}

/// An acquisition about to happen (or, for a try-lock, that just happened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acquire {
    pub held: Held,
    pub cpu: u16,
    /// Interrupts were enabled when it was taken.
    pub irqs_enabled: bool,
    /// It does not wait (a try-lock that succeeded): it adds no edges into it.
    pub trylock: bool,
}

/// The two interrupt usages a class can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    InHardirq,
    HardirqOn,
}

impl Usage {
    fn index(self) -> usize {
        self as usize
    }

    /// Linux's name, with the mode's letter: `IN-HARDIRQ-W`, `HARDIRQ-ON-W`.
    pub fn name(self) -> &'static str {
        match self {
            Usage::InHardirq => "IN-HARDIRQ",
            Usage::HardirqOn => "HARDIRQ-ON",
        }
    }

    fn other(self) -> Usage {
        match self {
            Usage::InHardirq => Usage::HardirqOn,
            Usage::HardirqOn => Usage::InHardirq,
        }
    }
}

/// One class: its name, kind and what has been seen of it.
#[derive(Clone, Copy, Debug)]
pub struct Class {
    pub name: &'static str,
    pub kind: ClassKind,
    /// The first acquisition of each usage, and its mode.
    pub usage: [Option<(Site, Mode)>; 2],
    pub acquisitions: u64,
    /// Times a CPU waited for it (its first try failed).
    pub contentions: u64,
}

impl Class {
    /// Linux's one-character summary of the hardirq usage: `.` neither, `-` in a handler,
    /// `+` with interrupts on, `?` both.
    pub fn usage_char(&self) -> char {
        match (
            self.usage[Usage::InHardirq.index()].is_some(),
            self.usage[Usage::HardirqOn.index()].is_some(),
        ) {
            (false, false) => '.',
            (true, false) => '-',
            (false, true) => '+',
            (true, true) => '?',
        }
    }
}

/// A dependency: `to` taken while `from` was held, first on `site.cpu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: ClassId,
    pub to: ClassId,
    pub from_mode: Mode,
    pub to_mode: Mode,
    /// Where `from` was taken, then.
    pub from_pc: usize,
    /// Where `to` was taken: where the edge was made.
    pub site: Site,
}

/// Something wrong with an acquisition or release. Made only to be reported, one at a
/// time, never kept: its size (a cycle's path) costs nothing on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Problem {
    /// Taking `new` while holding `held` closes a cycle: `path` is the existing chain of
    /// edges from `new` back to `held`.
    Circular {
        new: Acquire,
        held: Held,
        path: ArrayVec<Edge, 16>,
    },
    /// A class taken again on the CPU that holds it.
    Recursive { new: Acquire, held: Held },
    /// A class used in a hardirq handler and with interrupts enabled.
    Inconsistent {
        new: Acquire,
        was: Usage,
        was_site: Site,
        was_mode: Mode,
        now: Usage,
    },
    /// A release of a lock the CPU does not hold.
    BadUnlock { class: ClassId, site: Site },
    /// More than [`MAX_DEPTH`] locks held.
    TooDeep { new: Acquire },
    /// The graph is full: validation stops.
    Full { what: &'static str },
}

/// What reporting a problem once needs: the problem's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Circular(ClassId, ClassId),
    Recursive(ClassId),
    Inconsistent(ClassId),
    BadUnlock(ClassId),
    TooDeep,
    Full,
}

/// Counts for `lockdep` (Linux's /proc/lockdep_stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub classes: usize,
    pub edges: usize,
    pub acquisitions: u64,
    pub checks: u64,
    pub searches: u64,
    pub problems: u64,
    pub reported: usize,
}

/// The classes, their dependencies, and the problems already reported.
pub struct Graph {
    classes: ArrayVec<Class, MAX_CLASSES>,
    /// `adjacency[a]` has bit b when the edge a -> b exists.
    adjacency: [[u64; WORDS]; MAX_CLASSES],
    edges: ArrayVec<Edge, MAX_EDGES>,
    reported: ArrayVec<Key, MAX_REPORTED>,
    checks: u64,
    searches: u64,
    problems: u64,
    /// The graph filled up; nothing more is validated.
    full: bool,
}

impl Default for Graph {
    fn default() -> Self {
        Self::new()
    }
}

impl Graph {
    pub const fn new() -> Self {
        Self {
            classes: ArrayVec::new_const(),
            adjacency: [[0; WORDS]; MAX_CLASSES],
            edges: ArrayVec::new_const(),
            reported: ArrayVec::new_const(),
            checks: 0,
            searches: 0,
            problems: 0,
            full: false,
        }
    }

    /// Adds a class; `None` when the graph has no room for one more (then validation
    /// stops, and `report` hears it once).
    pub fn register(
        &mut self,
        name: &'static str,
        kind: ClassKind,
        report: &mut dyn FnMut(&Graph, &Problem, &[Held]),
    ) -> Option<ClassId> {
        let id = self.classes.len();
        let added = self.classes.try_push(Class {
            name,
            kind,
            usage: [None; 2],
            acquisitions: 0,
            contentions: 0,
        });
        if added.is_err() {
            let problem = self.fill("classes");
            if self.first(Key::Full) {
                report(self, &problem, &[]);
            }
            return None;
        }
        Some(id as ClassId)
    }

    fn fill(&mut self, what: &'static str) -> Problem {
        self.full = true;
        Problem::Full { what }
    }

    /// Whether validation stopped because the graph is full.
    pub fn is_full(&self) -> bool {
        self.full
    }

    pub fn class(&self, id: ClassId) -> &Class {
        &self.classes[id as usize]
    }

    pub fn classes(&self) -> &[Class] {
        &self.classes
    }

    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    pub fn has_edge(&self, from: ClassId, to: ClassId) -> bool {
        self.adjacency[from as usize][to as usize / 64] & (1 << (to % 64)) != 0
    }

    /// Counts a CPU waiting for a lock of `class`.
    pub fn contended(&mut self, class: ClassId) {
        self.classes[class as usize].contentions += 1;
    }

    pub fn stats(&self) -> Stats {
        Stats {
            classes: self.classes.len(),
            edges: self.edges.len(),
            acquisitions: self.classes.iter().map(|c| c.acquisitions).sum(),
            checks: self.checks,
            searches: self.searches,
            problems: self.problems,
            reported: self.reported.len(),
        }
    }

    /// True the first time `key` is seen: the problem is to be reported.
    fn first(&mut self, key: Key) -> bool {
        self.problems += 1;
        if self.reported.contains(&key) {
            return false;
        }
        // Past the table's room, a problem is still reported each time rather than never.
        let _ = self.reported.try_push(key);
        true
    }

    /// Checks taking `new` on a CPU holding `held`, records what it teaches, and pushes it
    /// on `held`. Each problem found the first time is handed to `report` (with the graph,
    /// to name its classes). The acquisition goes on the stack whatever was found, so its
    /// release matches, except when the stack is full.
    pub fn acquire(
        &mut self,
        held: &mut HeldStack,
        new: Acquire,
        report: &mut dyn FnMut(&Graph, &Problem, &[Held]),
    ) {
        self.checks += 1;
        if self.full {
            let _ = held.locks.try_push(new.held);
            return;
        }
        let class = new.held.class;
        self.classes[class as usize].acquisitions += 1;
        self.check_usage(new, &held.locks, report);
        let same_context = |h: &Held| h.hardirq == new.held.hardirq;
        let recursive = held
            .locks
            .iter()
            .find(|h| same_context(h) && h.class == class);
        if let Some(&h) = recursive
            && !(new.held.mode == Mode::RecursiveRead || new.trylock)
            && self.first(Key::Recursive(class))
        {
            report(self, &Problem::Recursive { new, held: h }, &held.locks);
        }
        // An acquisition that cannot wait is no dependency on what is held.
        if new.held.mode != Mode::RecursiveRead && !new.trylock {
            for (i, h) in held.locks.iter().enumerate() {
                let first_of_its_class = !held.locks[..i].iter().any(|e| e.class == h.class);
                if same_context(h) && h.class != class && first_of_its_class {
                    self.depend(*h, new, &held.locks, report);
                    if self.full {
                        break;
                    }
                }
            }
        }
        if held.locks.is_full() {
            if self.first(Key::TooDeep) {
                report(self, &Problem::TooDeep { new }, &held.locks);
            }
        } else {
            held.locks.push(new.held);
        }
    }

    /// Records the edge `held -> new`, unless it closes a cycle.
    fn depend(
        &mut self,
        held: Held,
        new: Acquire,
        stack: &[Held],
        report: &mut dyn FnMut(&Graph, &Problem, &[Held]),
    ) {
        let (from, to) = (held.class, new.held.class);
        if self.has_edge(from, to) {
            return;
        }
        self.searches += 1;
        if self.reaches(to, from) {
            if self.first(Key::Circular(from, to)) {
                self.report_cycle(held, new, stack, report);
            }
            return;
        }
        let edge = Edge {
            from,
            to,
            from_mode: held.mode,
            to_mode: new.held.mode,
            from_pc: held.pc,
            site: Site {
                pc: new.held.pc,
                cpu: new.cpu,
            },
        };
        if self.edges.try_push(edge).is_err() {
            let problem = self.fill("dependencies");
            if self.first(Key::Full) {
                report(self, &problem, stack);
            }
            return;
        }
        self.adjacency[from as usize][to as usize / 64] |= 1 << (to % 64);
    }

    /// The classes on a shortest path of edges from `from` to `to` (both included).
    #[inline(never)]
    fn path(&self, from: ClassId, to: ClassId) -> Option<ArrayVec<ClassId, 17>> {
        let mut parent = [ClassId::MAX; MAX_CLASSES];
        let mut queue: ArrayVec<ClassId, MAX_CLASSES> = ArrayVec::new();
        queue.push(from);
        parent[from as usize] = from;
        let mut next = 0;
        while next < queue.len() {
            let at = queue[next];
            next += 1;
            if at == to {
                let mut path = ArrayVec::<ClassId, 17>::new();
                let mut c = to;
                loop {
                    if path.try_push(c).is_err() {
                        // Longer than a report shows: keep its two ends.
                        path.pop();
                        path.push(c);
                    }
                    if c == from {
                        break;
                    }
                    c = parent[c as usize];
                }
                path.reverse();
                return Some(path);
            }
            for (w, &word) in self.adjacency[at as usize].iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let b = (w * 64 + bits.trailing_zeros() as usize) as ClassId;
                    bits &= bits - 1;
                    if parent[b as usize] == ClassId::MAX {
                        parent[b as usize] = at;
                        queue.push(b);
                    }
                }
            }
        }
        None
    }

    /// Whether an edge path leads from `from` to `to`.
    #[inline(never)]
    fn reaches(&self, from: ClassId, to: ClassId) -> bool {
        self.path(from, to).is_some()
    }

    /// Reports the cycle that `held -> new` would close (kept out of the acquisition's
    /// frame: it is built once per cycle, and is large).
    #[cold]
    #[inline(never)]
    fn report_cycle(
        &self,
        held: Held,
        new: Acquire,
        stack: &[Held],
        report: &mut dyn FnMut(&Graph, &Problem, &[Held]),
    ) {
        let path = self
            .path(new.held.class, held.class)
            .map(|p| self.path_edges(&p))
            .unwrap_or_default();
        report(self, &Problem::Circular { new, held, path }, stack);
    }

    fn path_edges(&self, classes: &[ClassId]) -> ArrayVec<Edge, 16> {
        classes
            .windows(2)
            .filter_map(|pair| {
                self.edges
                    .iter()
                    .find(|e| e.from == pair[0] && e.to == pair[1])
                    .copied()
            })
            .collect()
    }

    /// The interrupt rule: a class used in a hardirq handler is never taken with
    /// interrupts enabled, and the other way round. Waits have no usage.
    fn check_usage(
        &mut self,
        new: Acquire,
        stack: &[Held],
        report: &mut dyn FnMut(&Graph, &Problem, &[Held]),
    ) {
        let class = new.held.class as usize;
        if self.classes[class].kind == ClassKind::Wait {
            return;
        }
        let now = if new.held.hardirq {
            Usage::InHardirq
        } else if new.irqs_enabled {
            Usage::HardirqOn
        } else {
            return;
        };
        let site = Site {
            pc: new.held.pc,
            cpu: new.cpu,
        };
        if self.classes[class].usage[now.index()].is_none() {
            self.classes[class].usage[now.index()] = Some((site, new.held.mode));
        }
        if let Some((was_site, was_mode)) = self.classes[class].usage[now.other().index()]
            && self.first(Key::Inconsistent(new.held.class))
        {
            report(
                self,
                &Problem::Inconsistent {
                    new,
                    was: now.other(),
                    was_site,
                    was_mode,
                    now,
                },
                stack,
            );
        }
    }

    /// Takes the lock `instance` of `class` off `held`, wherever it is in the stack (locks
    /// need not be released in the order taken); a release of one not held is reported.
    pub fn release(
        &mut self,
        held: &mut HeldStack,
        class: ClassId,
        instance: usize,
        site: Site,
        report: &mut dyn FnMut(&Graph, &Problem, &[Held]),
    ) {
        if let Some(at) = held
            .locks
            .iter()
            .rposition(|h| h.class == class && h.instance == instance)
        {
            held.locks.remove(at);
        } else if !self.full && self.first(Key::BadUnlock(class)) {
            report(self, &Problem::BadUnlock { class, site }, &held.locks);
        }
    }
}
