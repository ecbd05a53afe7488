//! Waiting, taken out of the counts. A CPU that waits for another spins, and how many
//! rounds it spins depends on the host, not on the code; counted, it would make every
//! count with a wait in it (a cross-call, a CPU brought up) differ from run to run.
//!
//! The kernel's waits spin with `core::hint::spin_loop()`, an ISB on AArch64, and read the
//! counter for their deadline after an ISB too; ISB ends a translation block under QEMU,
//! so each round of a wait passes the same ISBs. A stretch between two executions of the
//! same ISB, at most [`MAX_ROUND`] instructions long, is a round of a wait if it stored
//! nothing (a flag or a counter polled) or repeats the stretch before it at that ISB
//! exactly (a poll through a call, whose frame stores); it is moved out of the CPU's
//! counts into its waited counts (once, where such stretches overlap). What comes before
//! a wait's first round and after its last still counts, so a wait counts the same
//! however long it lasts once it has repeated (a wait that ends at its first look counts
//! less).

use crate::ledger::Counts;

/// The longest round of a wait, in instructions.
pub const MAX_ROUND: u64 = 1000;
/// ISBs remembered per CPU: a wait's round passes at most a few distinct ones.
const REMEMBERED: usize = 4;

/// One vCPU's recent ISBs and what was taken out of its counts.
#[derive(Debug, Default)]
pub struct SpinFilter {
    /// (address, raw counts when it last executed, the stretch before that), least
    /// recent first.
    recent: Vec<(u64, Counts, Counts)>,
    /// Raw counts up to which waiting has been taken out.
    taken_until: Counts,
    waited: Counts,
}

impl SpinFilter {
    /// An ISB at `pc` is about to execute, with the vCPU's raw counts `now`.
    /// Whether the stretch just ended was a round of a wait.
    pub fn isb(&mut self, pc: u64, now: Counts) -> bool {
        let mut round = None;
        if let Some(at) = self.recent.iter().position(|(p, _, _)| *p == pc) {
            let (_, then, before) = self.recent.remove(at);
            let stretch = now - then;
            if stretch.insns <= MAX_ROUND && (stretch.stores == 0 || stretch == before) {
                let from = if self.taken_until.insns > then.insns {
                    self.taken_until
                } else {
                    then
                };
                self.waited = self.waited + (now - from);
                self.taken_until = now;
            }
            round = Some(stretch);
        } else if self.recent.len() == REMEMBERED {
            self.recent.remove(0);
        }
        self.recent.push((pc, now, round.unwrap_or_default()));
        self.taken_until == now
    }

    /// Forgets the recent ISBs: no stretch from before now is taken for a round.
    pub fn forget(&mut self) {
        self.recent.clear();
    }

    /// What the vCPU waited, so far.
    pub fn waited(&self) -> Counts {
        self.waited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(insns: u64, loads: u64, stores: u64) -> Counts {
        Counts {
            insns,
            loads,
            stores,
        }
    }

    /// A wait of `rounds` rounds starting at `start`: each round reads the counter (ISB at
    /// 0x100, 4 instructions, 1 load) and spins (ISB at 0x200, 3 instructions, 1 load),
    /// then 5 instructions leave. Returns the raw counts at the end.
    fn wait(f: &mut SpinFilter, start: Counts, rounds: u64) -> Counts {
        let mut now = start;
        for _ in 0..rounds {
            f.isb(0x100, now);
            now = now + at(4, 1, 0);
            f.isb(0x200, now);
            now = now + at(3, 1, 0);
        }
        now + at(5, 0, 0)
    }

    #[test]
    fn a_wait_counts_the_same_however_many_rounds_it_spins() {
        let counted = |rounds| {
            let mut f = SpinFilter::default();
            let end = wait(&mut f, at(50, 10, 10), rounds);
            end - f.waited()
        };
        let two = counted(2);
        assert_eq!(counted(3), two);
        assert_eq!(counted(1000), two);
        // One round has nothing to repeat: it counts whole.
        assert_eq!(counted(1), at(50 + 7 + 5, 12, 10));
        // Up to the first ISB, and from the last one (the last spin) to the exit.
        assert_eq!(two, at(50 + 3 + 5, 11, 10));
    }

    #[test]
    fn work_between_the_same_isb_is_not_waiting() {
        let mut f = SpinFilter::default();
        f.isb(0x100, at(0, 0, 0));
        // A store in between: work, e.g. timing an operation twice with the same code.
        f.isb(0x100, at(40, 5, 1));
        // Too long to be a round of a wait.
        f.isb(0x100, at(40 + MAX_ROUND + 1, 5, 1));
        assert_eq!(f.waited(), Counts::default());
        // Store-free and short: a round.
        f.isb(0x100, at(2000, 9, 1));
        assert_eq!(f.waited(), at(2000 - (41 + MAX_ROUND), 4, 0));
    }

    #[test]
    fn a_poll_through_a_call_is_waiting_once_it_repeats() {
        let counted = |rounds: u64| {
            let mut f = SpinFilter::default();
            let mut now = at(100, 0, 0);
            for _ in 0..rounds {
                f.isb(0x300, now);
                // A call to ask the firmware: its frame stores.
                now = now + at(30, 4, 2);
            }
            (now + at(5, 0, 0)) - f.waited()
        };
        assert_eq!(counted(2), counted(50));
        assert_eq!(counted(2), at(100 + 30 + 30 + 5, 8, 4));
        assert_ne!(counted(1), counted(2), "one round is not yet a wait");
    }

    #[test]
    fn the_least_recent_isb_is_forgotten() {
        let mut f = SpinFilter::default();
        for (i, pc) in [0x10, 0x20, 0x30, 0x40, 0x50].into_iter().enumerate() {
            f.isb(pc, at(i as u64, 0, 0));
        }
        f.isb(0x10, at(10, 0, 0));
        assert_eq!(f.waited(), Counts::default(), "0x10 was forgotten");
        f.isb(0x50, at(12, 0, 0));
        assert_eq!(f.waited(), at(8, 0, 0));
    }
}
