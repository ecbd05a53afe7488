//! A walk through an ordered table of steps, the way CPU hotplug brings a CPU up and takes
//! it down (modern Linux's `cpuhp_invoke_callback_range` and its rollback): the steps run
//! forwards one by one; when one fails, the steps this walk did before it are undone
//! backwards, last first, by the same code whatever the step. A failing step undoes what
//! it did itself; a step that cannot be undone once done (a CPU that took its death
//! request is leaving whatever happens) ends the undoing, and the walk stays there.
//!
//! What a step does is the table's business ([`Walk`]); this file only orders it, so the
//! order is checked on the host with fake steps.

/// A table of steps as one walk sees it: step 0 first.
pub trait Walk {
    type Error;

    /// What step `step` is called, for reports.
    fn name(&self, step: usize) -> &'static str;

    /// Runs step `step` forwards.
    fn run(&mut self, step: usize) -> Result<(), Self::Error>;

    /// Whether step `step`, once done, can be undone.
    fn undoable(&self, step: usize) -> bool;

    /// Undoes step `step`, which ran and is undoable. Undoing cannot fail.
    fn undo(&mut self, step: usize);
}

/// Where a walk stopped, and what it left done.
#[derive(Debug, PartialEq, Eq)]
pub struct Stopped<E> {
    /// The step that failed.
    pub failed: usize,
    pub error: E,
    /// Steps `start..kept` stay done: `kept == start` when every step was undone, else
    /// the last of them is the step that could not be undone.
    pub kept: usize,
}

/// Runs steps `done..to` of `walk`, where steps `start..done` ran already (a walk may go
/// on in parts: parallel bring-up starts every CPU before it waits for any). If step `k`
/// fails, undoes steps `k-1` down to `start`, last first, until one cannot be undone.
pub fn advance<W: Walk>(
    walk: &mut W,
    start: usize,
    done: usize,
    to: usize,
) -> Result<(), Stopped<W::Error>> {
    debug_assert!(start <= done && done <= to);
    for step in done..to {
        if let Err(error) = walk.run(step) {
            let kept = roll_back(walk, start, step);
            return Err(Stopped {
                failed: step,
                error,
                kept,
            });
        }
    }
    Ok(())
}

/// Undoes steps `done-1` down to `start`; returns how many from `start` stay done.
fn roll_back<W: Walk>(walk: &mut W, start: usize, done: usize) -> usize {
    for step in (start..done).rev() {
        if !walk.undoable(step) {
            return step + 1;
        }
        walk.undo(step);
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    enum Did {
        Ran(usize),
        Undid(usize),
    }
    use Did::*;

    /// `len` steps; `fails` fails, `irrevocable` cannot be undone; every run and undo is
    /// logged.
    struct Fake {
        fails: Option<usize>,
        irrevocable: Option<usize>,
        log: Vec<Did>,
    }

    impl Fake {
        fn new(fails: Option<usize>, irrevocable: Option<usize>) -> Self {
            Fake {
                fails,
                irrevocable,
                log: Vec::new(),
            }
        }
    }

    impl Walk for Fake {
        type Error = &'static str;

        fn name(&self, _: usize) -> &'static str {
            "fake"
        }

        fn run(&mut self, step: usize) -> Result<(), &'static str> {
            self.log.push(Ran(step));
            if self.fails == Some(step) {
                Err("refused")
            } else {
                Ok(())
            }
        }

        fn undoable(&self, step: usize) -> bool {
            self.irrevocable != Some(step)
        }

        fn undo(&mut self, step: usize) {
            self.log.push(Undid(step));
        }
    }

    const LEN: usize = 6;

    #[test]
    fn a_walk_without_failure_runs_every_step_once_in_order() {
        let mut walk = Fake::new(None, None);
        assert_eq!(advance(&mut walk, 0, 0, LEN), Ok(()));
        assert_eq!(walk.log, (0..LEN).map(Ran).collect::<Vec<_>>());
    }

    #[test]
    fn a_failure_at_each_step_undoes_the_ones_before_last_first() {
        for k in 0..LEN {
            let mut walk = Fake::new(Some(k), None);
            let stopped = advance(&mut walk, 0, 0, LEN).unwrap_err();
            assert_eq!(
                stopped,
                Stopped {
                    failed: k,
                    error: "refused",
                    kept: 0
                }
            );
            let expected: Vec<Did> = (0..=k).map(Ran).chain((0..k).rev().map(Undid)).collect();
            assert_eq!(walk.log, expected, "failing at step {k}");
        }
    }

    #[test]
    fn a_walk_in_parts_undoes_what_every_part_did() {
        // Parallel bring-up: steps 0..3 for every CPU, then the rest of each.
        for k in 3..LEN {
            let mut walk = Fake::new(Some(k), None);
            assert_eq!(advance(&mut walk, 0, 0, 3), Ok(()));
            let stopped = advance(&mut walk, 0, 3, LEN).unwrap_err();
            assert_eq!((stopped.failed, stopped.kept), (k, 0));
            let expected: Vec<Did> = (0..=k).map(Ran).chain((0..k).rev().map(Undid)).collect();
            assert_eq!(walk.log, expected, "failing at step {k}");
        }
    }

    #[test]
    fn undoing_stops_at_a_step_that_cannot_be_undone() {
        for irrevocable in 0..LEN {
            for k in irrevocable + 1..LEN {
                let mut walk = Fake::new(Some(k), Some(irrevocable));
                let stopped = advance(&mut walk, 0, 0, LEN).unwrap_err();
                assert_eq!(
                    stopped.kept,
                    irrevocable + 1,
                    "the walk stays at {irrevocable}"
                );
                let expected: Vec<Did> = (0..=k)
                    .map(Ran)
                    .chain((irrevocable + 1..k).rev().map(Undid))
                    .collect();
                assert_eq!(walk.log, expected, "failing at {k} past {irrevocable}");
            }
        }
    }

    #[test]
    fn a_walk_resumed_part_way_undoes_nothing_before_its_start() {
        // A teardown resumed at step 3 (its death confirmed at last) that fails there
        // again stays where it was: the steps before its start are not its own.
        let mut walk = Fake::new(Some(3), None);
        let stopped = advance(&mut walk, 3, 3, LEN).unwrap_err();
        assert_eq!((stopped.failed, stopped.kept), (3, 3));
        assert_eq!(walk.log, [Ran(3)]);
        let mut walk = Fake::new(Some(5), None);
        let stopped = advance(&mut walk, 3, 3, LEN).unwrap_err();
        assert_eq!(stopped.kept, 3);
        assert_eq!(walk.log, [Ran(3), Ran(4), Ran(5), Undid(4), Undid(3)]);
    }
}
