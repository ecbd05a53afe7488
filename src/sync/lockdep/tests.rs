//! The graph driven on the host: cycles of two and three classes, the hotplug lock's read
//! modes, the interrupt rule, unbalanced releases and the held-lock limit, and the reports'
//! shape.

use std::string::String;
use std::vec::Vec;

use super::graph::*;
use super::report;

struct Machine {
    graph: Graph,
    cpus: Vec<HeldStack>,
    reports: Vec<String>,
}

impl Machine {
    fn new(cpus: usize) -> Self {
        Self {
            graph: Graph::new(),
            cpus: (0..cpus).map(|_| HeldStack::new()).collect(),
            reports: Vec::new(),
        }
    }

    fn register(&mut self, name: &'static str, kind: ClassKind) -> Option<ClassId> {
        let reports = &mut self.reports;
        self.graph.register(name, kind, &mut |g, p, held| {
            let mut text = String::new();
            report::write(&mut text, g, p, held).unwrap();
            reports.push(text);
        })
    }

    fn class(&mut self, name: &'static str) -> ClassId {
        self.register(name, ClassKind::Lock).unwrap()
    }

    fn wait_class(&mut self, name: &'static str) -> ClassId {
        self.register(name, ClassKind::Wait).unwrap()
    }

    fn take(&mut self, cpu: usize, class: ClassId, mode: Mode) {
        self.take_with(cpu, class, mode, false, true);
    }

    fn take_with(&mut self, cpu: usize, class: ClassId, mode: Mode, hardirq: bool, irqs: bool) {
        let new = Acquire {
            held: Held {
                class,
                mode,
                instance: class as usize,
                pc: 0x4008_0000 + class as usize * 4,
                hardirq,
            },
            cpu: cpu as u16,
            irqs_enabled: irqs,
            trylock: false,
        };
        let reports = &mut self.reports;
        self.graph
            .acquire(&mut self.cpus[cpu], new, &mut |g, p, held| {
                let mut text = String::new();
                report::write(&mut text, g, p, held).unwrap();
                reports.push(text);
            });
    }

    fn drop_lock(&mut self, cpu: usize, class: ClassId) {
        let reports = &mut self.reports;
        self.graph.release(
            &mut self.cpus[cpu],
            class,
            class as usize,
            Site {
                pc: 0x4008_1000,
                cpu: cpu as u16,
            },
            &mut |g, p, held| {
                let mut text = String::new();
                report::write(&mut text, g, p, held).unwrap();
                reports.push(text);
            },
        );
    }
}

#[test]
fn a_cycle_of_two_is_reported_once_with_the_scenario() {
    let mut m = Machine::new(2);
    let (hotplug, chain) = (m.class("cpu_hotplug_lock"), m.class("slab_mutex"));
    // kmem_cache_create, inverted: the chain, then the hotplug lock's read side.
    m.take(0, chain, Mode::Write);
    m.take(0, hotplug, Mode::Read);
    m.drop_lock(0, hotplug);
    m.drop_lock(0, chain);
    assert!(m.reports.is_empty());
    // The DEAD callback under the write side takes the chain.
    m.take(1, hotplug, Mode::Write);
    m.take(1, chain, Mode::Write);
    assert_eq!(m.reports.len(), 1, "{:?}", m.reports);
    let r = &m.reports[0];
    assert!(r.contains("WARNING: possible circular locking dependency detected"));
    assert!(
        r.contains("cpu1 is trying to acquire lock:\n (slab_mutex){+}"),
        "{r}"
    );
    assert!(r.contains("but cpu1 is already holding lock:\n (cpu_hotplug_lock){+}"));
    assert!(
        r.contains("-> #1 (cpu_hotplug_lock){+}:\n       taken on cpu0"),
        "{r}"
    );
    assert!(r.contains("-> #0 (slab_mutex){+}:"));
    assert!(r.contains(
        "  lock(cpu_hotplug_lock);\n                               lock(slab_mutex);\n                               rlock(cpu_hotplug_lock);\n  lock(slab_mutex);"
    ), "{r}");
    assert!(r.contains("1 lock held by cpu1:\n #0: (cpu_hotplug_lock){+}, at: 0x"));
    // The edge that would close the cycle is not added, and the same pair is not
    // reported again.
    assert!(!m.graph.has_edge(hotplug, chain));
    m.drop_lock(1, chain);
    m.drop_lock(1, hotplug);
    m.take(1, hotplug, Mode::Write);
    m.take(1, chain, Mode::Write);
    assert_eq!(m.reports.len(), 1);
}

#[test]
fn a_cycle_of_three_names_its_chain() {
    let mut m = Machine::new(3);
    let (a, b, c) = (m.class("A"), m.class("B"), m.class("C"));
    for (cpu, (first, second)) in [(a, b), (b, c)].into_iter().enumerate() {
        m.take(cpu, first, Mode::Write);
        m.take(cpu, second, Mode::Write);
        m.drop_lock(cpu, second);
        m.drop_lock(cpu, first);
    }
    assert!(m.reports.is_empty());
    m.take(2, c, Mode::Write);
    m.take(2, a, Mode::Write);
    assert_eq!(m.reports.len(), 1);
    let r = &m.reports[0];
    assert!(
        r.contains("Chain exists of:\n  (A){+} --> (B){+} --> (C){+}"),
        "{r}"
    );
    assert!(r.contains("-> #2 (C){+}:"));
    assert!(r.contains("-> #1 (B){+}:"));
    assert!(r.contains("-> #0 (A){+}:"));
}

#[test]
fn orders_that_agree_are_quiet() {
    let mut m = Machine::new(2);
    let (a, b) = (m.class("A"), m.class("B"));
    for cpu in 0..2 {
        m.take(cpu, a, Mode::Write);
        m.take(cpu, b, Mode::Write);
        m.drop_lock(cpu, a); // released out of order
        m.drop_lock(cpu, b);
    }
    assert!(m.reports.is_empty(), "{:?}", m.reports);
    assert_eq!(m.graph.stats().edges, 1);
}

#[test]
fn a_nested_read_adds_no_dependency() {
    // cpu0: rlock(H); lock(L); rlock(H) again (nested: never waits) is no L -> H.
    let mut m = Machine::new(2);
    let (h, l) = (m.class("cpu_hotplug_lock"), m.class("L"));
    m.take(0, h, Mode::Read);
    m.take(0, l, Mode::Write);
    m.take(0, h, Mode::RecursiveRead);
    assert!(m.reports.is_empty(), "{:?}", m.reports);
    assert!(m.graph.has_edge(h, l) && !m.graph.has_edge(l, h));
    m.drop_lock(0, h);
    m.drop_lock(0, l);
    m.drop_lock(0, h);
    assert!(m.cpus[0].locks.is_empty());
}

#[test]
fn a_first_read_after_a_lock_that_a_reader_takes_is_a_deadlock() {
    // cpu0: rlock(H); lock(L). cpu1: lock(L); rlock(H) as a first read: with a writer
    // waiting between, cpu1's read waits behind it, the writer for cpu0, cpu0 for L.
    let mut m = Machine::new(2);
    let (h, l) = (m.class("cpu_hotplug_lock"), m.class("L"));
    m.take(0, h, Mode::Read);
    m.take(0, l, Mode::Write);
    m.drop_lock(0, l);
    m.drop_lock(0, h);
    m.take(1, l, Mode::Write);
    m.take(1, h, Mode::Read);
    assert_eq!(m.reports.len(), 1);
    assert!(m.reports[0].contains("an rlock waits while a writer waits"));
}

#[test]
fn taking_a_held_class_again_is_recursive_locking() {
    let mut m = Machine::new(1);
    let a = m.class("A");
    m.take(0, a, Mode::Write);
    m.take(0, a, Mode::Write);
    assert_eq!(m.reports.len(), 1);
    assert!(m.reports[0].contains("WARNING: possible recursive locking detected"));
    assert!(m.reports[0].contains("  lock(A);\n  lock(A);"));
}

#[test]
fn a_lock_in_a_handler_and_with_interrupts_on_is_inconsistent() {
    let mut m = Machine::new(2);
    let a = m.class("A");
    m.take_with(0, a, Mode::Write, false, true);
    m.drop_lock(0, a);
    // Masked, outside a handler: no usage either way.
    m.take_with(1, a, Mode::Write, false, false);
    m.drop_lock(1, a);
    assert!(m.reports.is_empty());
    m.take_with(1, a, Mode::Write, true, false);
    assert_eq!(m.reports.len(), 1);
    let r = &m.reports[0];
    assert!(r.contains("WARNING: inconsistent lock state"));
    assert!(
        r.contains("inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage."),
        "{r}"
    );
    assert!(r.contains("{HARDIRQ-ON-W} state was registered on cpu0 at: 0x"));
    assert!(r.contains("  lock(A);\n  <Interrupt>\n    lock(A);"));
}

#[test]
fn a_handler_orders_nothing_against_what_it_interrupted() {
    let mut m = Machine::new(1);
    let (a, b) = (m.class("A"), m.class("B"));
    m.take_with(0, a, Mode::Write, false, false);
    m.take_with(0, b, Mode::Write, true, false);
    assert!(!m.graph.has_edge(a, b));
    m.drop_lock(0, b);
    m.drop_lock(0, a);
    assert!(m.reports.is_empty());
}

#[test]
fn a_wait_for_a_handler_that_takes_a_held_lock_is_a_cycle() {
    let mut m = Machine::new(2);
    let (l, call) = (m.class("L"), m.wait_class("cross-call wait"));
    // cpu1's cross-call handler takes L.
    m.take_with(1, call, Mode::Write, true, false);
    m.take_with(1, l, Mode::Write, true, false);
    m.drop_lock(1, l);
    m.drop_lock(1, call);
    // cpu0 waits for a cross-call holding L (interrupts on: L is HARDIRQ-ON too, which
    // is its own report; the cycle is the wait's).
    m.take_with(0, l, Mode::Write, false, false);
    m.take_with(0, call, Mode::Write, false, true);
    assert!(
        m.reports
            .iter()
            .any(|r| r.contains("circular") && r.contains("lock(cross-call wait)")),
        "{:?}",
        m.reports
    );
}

#[test]
fn a_release_of_a_lock_not_held_is_reported() {
    let mut m = Machine::new(1);
    let a = m.class("A");
    m.drop_lock(0, a);
    assert_eq!(m.reports.len(), 1);
    assert!(m.reports[0].contains("WARNING: bad unlock balance detected!"));
    assert!(m.reports[0].contains("but there are no more locks to release!"));
}

#[test]
fn holding_too_many_is_reported() {
    let mut m = Machine::new(1);
    let classes: Vec<ClassId> = (0..=MAX_DEPTH)
        .map(|i| m.class(Box::leak(std::format!("L{i}").into_boxed_str())))
        .collect();
    for &c in &classes {
        m.take(0, c, Mode::Write);
    }
    assert_eq!(m.reports.len(), 1);
    assert!(m.reports[0].contains("BUG: MAX_LOCK_DEPTH too low!"));
    assert_eq!(m.cpus[0].locks.len(), MAX_DEPTH);
}

#[test]
fn a_full_graph_says_so_and_stops() {
    let mut m = Machine::new(1);
    for _ in 0..MAX_CLASSES {
        m.class("C");
    }
    assert_eq!(m.register("one too many", ClassKind::Lock), None);
    assert!(m.graph.is_full());
    assert_eq!(m.reports.len(), 1);
    assert!(m.reports[0].contains("no room for more classes: lock validation stops here"));
}
