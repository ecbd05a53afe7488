//! What the markers ask the plugin to keep, and the text it publishes for the kernel.
//!
//! A bracket is a start and an end marker with the same tag on the same vCPU; what that
//! vCPU executed between them is added to the tag's totals, so a tag may bracket many operations one at a time, and the median
//! bracket (by the vCPU's instructions) is kept too: where an operation's path sometimes
//! depends on timing (a wait that ends at its first look, a doze instead of a spin), the
//! median operation's counts do not. A checkpoint keeps its vCPU's counts since the vCPU
//! started. Publishing renders everything, one record a line of `key=value` words:
//!
//! ```text
//! counts nonce=7
//! checkpoint vcpu=0 id=1 insns=120 loads=3 stores=4
//! bracket tag=5 vcpu=0 n=2 insns=80 loads=20 stores=10 med_insns=40 med_loads=10 med_stores=5
//! problem end-without-start vcpu=1 tag=9
//! ```
//!
//! `insns` are guest instructions executed (the markers themselves not counted, nor the
//! rounds of a wait: `spin`), `loads`
//! and `stores` guest memory accesses as QEMU performs them for the guest: an atomic
//! read-modify-write is one of each, a pair load may be one access or two as QEMU splits
//! it; page-table walks are not accesses of an instruction and are not counted.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::ops::{Add, Sub};

/// Counts of one vCPU, or summed over all of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub insns: u64,
    pub loads: u64,
    pub stores: u64,
}

impl Sub for Counts {
    type Output = Counts;
    fn sub(self, earlier: Counts) -> Counts {
        Counts {
            insns: self.insns.wrapping_sub(earlier.insns),
            loads: self.loads.wrapping_sub(earlier.loads),
            stores: self.stores.wrapping_sub(earlier.stores),
        }
    }
}

impl Add for Counts {
    type Output = Counts;
    fn add(self, more: Counts) -> Counts {
        Counts {
            insns: self.insns + more.insns,
            loads: self.loads + more.loads,
            stores: self.stores + more.stores,
        }
    }
}

/// A tag's totals over every bracket it closed, and each bracket's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bracket {
    pub vcpu: u32,
    pub brackets: u64,
    pub own: Counts,
    /// Each bracket's counts, up to [`MAX_KEPT`].
    each: Vec<Counts>,
}

impl Bracket {
    /// The bracket with the median instruction count (the lower of two).
    pub fn median(&self) -> Counts {
        let mut each = self.each.clone();
        each.sort_by_key(|c| (c.insns, c.loads, c.stores));
        each.get(each.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or_default()
    }
}

/// Brackets kept one by one per tag, for the median.
const MAX_KEPT: usize = 4096;

/// At most this many problems are kept (the first ones say what went wrong).
const MAX_PROBLEMS: usize = 16;

#[derive(Debug, Default)]
pub struct Ledger {
    /// Open brackets: (vCPU, tag) -> its counts at the start.
    open: HashMap<(u32, u64), Counts>,
    brackets: BTreeMap<u64, Bracket>,
    checkpoints: Vec<(u32, u64, Counts)>,
    problems: Vec<String>,
}

impl Ledger {
    pub fn start(&mut self, vcpu: u32, tag: u64, now: Counts) {
        if self.open.insert((vcpu, tag), now).is_some() {
            self.problem(format!("start-twice vcpu={vcpu} tag={tag}"));
        }
    }

    pub fn end(&mut self, vcpu: u32, tag: u64, now: Counts) {
        let Some(then) = self.open.remove(&(vcpu, tag)) else {
            self.problem(format!("end-without-start vcpu={vcpu} tag={tag}"));
            return;
        };
        let total = self.brackets.entry(tag).or_insert(Bracket {
            vcpu,
            ..Bracket::default()
        });
        if total.vcpu != vcpu {
            let first = total.vcpu;
            self.problem(format!(
                "tag-on-two-vcpus tag={tag} vcpu={first} vcpu={vcpu}"
            ));
            return;
        }
        let counted = now - then;
        total.brackets += 1;
        total.own = total.own + counted;
        if total.each.len() < MAX_KEPT {
            total.each.push(counted);
        }
    }

    pub fn checkpoint(&mut self, vcpu: u32, id: u64, own: Counts) {
        self.checkpoints.push((vcpu, id, own));
    }

    pub fn problem(&mut self, what: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(what);
        }
    }

    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Every record, as the kernel reads them.
    pub fn render(&self, nonce: u64) -> String {
        let mut out = format!("counts nonce={nonce}\n");
        for (vcpu, id, c) in &self.checkpoints {
            let _ = writeln!(
                out,
                "checkpoint vcpu={vcpu} id={id} insns={} loads={} stores={}",
                c.insns, c.loads, c.stores
            );
        }
        for (tag, b) in &self.brackets {
            let med = b.median();
            let _ = writeln!(
                out,
                "bracket tag={tag} vcpu={} n={} insns={} loads={} stores={} med_insns={} \
                 med_loads={} med_stores={}",
                b.vcpu,
                b.brackets,
                b.own.insns,
                b.own.loads,
                b.own.stores,
                med.insns,
                med.loads,
                med.stores,
            );
        }
        for p in &self.problems {
            let _ = writeln!(out, "problem {p}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(insns: u64, loads: u64, stores: u64) -> Counts {
        Counts {
            insns,
            loads,
            stores,
        }
    }

    #[test]
    fn brackets_of_a_tag_add_up_and_render() {
        let mut l = Ledger::default();
        l.checkpoint(0, 1, c(120, 3, 4));
        l.start(0, 5, c(1000, 10, 10));
        l.end(0, 5, c(1040, 20, 15));
        l.start(0, 5, c(2000, 30, 30));
        l.end(0, 5, c(2040, 40, 35));
        assert_eq!(
            l.render(7),
            "counts nonce=7\n\
             checkpoint vcpu=0 id=1 insns=120 loads=3 stores=4\n\
             bracket tag=5 vcpu=0 n=2 insns=80 loads=20 stores=10 med_insns=40 med_loads=10 \
             med_stores=5\n"
        );
        assert!(l.problems().is_empty());
    }

    #[test]
    fn nested_brackets_each_count_their_own_stretch() {
        let mut l = Ledger::default();
        l.start(1, 1, c(0, 0, 0));
        l.start(1, 2, c(10, 1, 1));
        l.end(1, 2, c(15, 2, 1));
        l.end(1, 1, c(20, 2, 2));
        let text = l.render(0);
        assert!(text.contains("bracket tag=1 vcpu=1 n=1 insns=20 loads=2 stores=2 "));
        assert!(text.contains("bracket tag=2 vcpu=1 n=1 insns=5 loads=1 stores=0 "));
    }

    #[test]
    fn the_median_bracket_ignores_the_odd_slow_one() {
        let mut l = Ledger::default();
        for (i, insns) in [50, 50, 900, 50, 51].into_iter().enumerate() {
            let at = 1000 * i as u64;
            l.start(0, 1, c(at, 0, 0));
            l.end(0, 1, c(at + insns, 1, 1));
        }
        let text = l.render(0);
        assert!(text.contains(" insns=1101 "), "{text}");
        assert!(
            text.contains(" med_insns=50 med_loads=1 med_stores=1\n"),
            "{text}"
        );
    }

    #[test]
    fn a_broken_bracket_is_a_problem_not_a_count() {
        let mut l = Ledger::default();
        l.end(0, 3, c(5, 0, 0));
        l.start(0, 4, c(0, 0, 0));
        l.start(0, 4, c(0, 0, 0));
        l.end(0, 4, c(1, 0, 0));
        l.start(1, 4, c(0, 0, 0));
        l.end(1, 4, c(1, 0, 0));
        assert_eq!(
            l.problems(),
            [
                "end-without-start vcpu=0 tag=3",
                "start-twice vcpu=0 tag=4",
                "tag-on-two-vcpus tag=4 vcpu=0 vcpu=1"
            ]
        );
        assert!(
            l.render(0)
                .contains("problem end-without-start vcpu=0 tag=3\n")
        );
        assert!(!l.render(0).contains("tag=3 vcpu"));
    }
}
