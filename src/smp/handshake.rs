//! A request from a controlling CPU to one other CPU that exactly one side settles: the
//! boot ticket (the controller starts a CPU and waits for it to arrive) and the death
//! request (the controller asks an online CPU to leave).
//!
//! The controller *requests*; the CPU *takes* the request, or the controller, giving up,
//! *withdraws* it. Both moves are a compare-and-swap from `Requested`, so whichever comes
//! first wins and the other learns that it lost: a CPU never dies on a request its
//! controller withdrew, and a controller never gives up on a CPU that took its request.
//! Each request has a number, kept with its stage in one atomic word, so an answer to an
//! old request is never taken for an answer to the current one. Under `cfg(loom)` the same
//! code is model-checked on the host, against the plain flag it replaces.

use core::fmt;

use num_enum::TryFromPrimitive;

#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, Ordering};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU64, Ordering};

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, TryFromPrimitive)]
#[repr(u8)]
pub enum Stage {
    /// No request yet.
    Idle = 0,
    /// Asked, and neither taken nor withdrawn.
    Requested = 1,
    /// The CPU took it: it acts on it.
    Taken = 2,
    /// The controller gave up on it first: the CPU must not act on it.
    Withdrawn = 3,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Idle => "idle",
            Stage::Requested => "requested",
            Stage::Taken => "taken",
            Stage::Withdrawn => "withdrawn",
        })
    }
}

/// One request, as its controller holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request(u64);

impl Request {
    pub fn number(self) -> u64 {
        self.0
    }
}

/// The request number above the stage byte.
const STAGE_BITS: u32 = 8;

fn word(request: Request, stage: Stage) -> u64 {
    request.0 << STAGE_BITS | stage as u64
}

/// One handshake between a controller and a CPU.
pub struct Handshake {
    word: AtomicU64,
}

#[cfg(not(loom))]
impl Handshake {
    pub const fn new() -> Self {
        Self {
            word: AtomicU64::new(0),
        }
    }
}

#[cfg(loom)]
impl Handshake {
    pub fn new() -> Self {
        Self {
            word: AtomicU64::new(0),
        }
    }
}

impl Default for Handshake {
    fn default() -> Self {
        Self::new()
    }
}

impl Handshake {
    /// The current request and its stage. A word that names no stage is memory
    /// corruption, a broken invariant.
    pub fn read(&self) -> (Request, Stage) {
        let w = self.word.load(Ordering::Acquire);
        let stage = Stage::try_from(w as u8).unwrap_or_else(|bad| {
            panic!("handshake word {w:#x}: {:#x} is not a stage", bad.number)
        });
        (Request(w >> STAGE_BITS), stage)
    }

    /// The controller: opens the next request (the last one must be settled: only the
    /// controller, which settled or saw it settled, calls this).
    pub fn request(&self) -> Request {
        let (last, stage) = self.read();
        debug_assert_ne!(stage, Stage::Requested, "a new request over an open one");
        let next = Request(last.0 + 1);
        self.word
            .store(word(next, Stage::Requested), Ordering::Release);
        next
    }

    /// The request the CPU has to answer, if one is open.
    pub fn pending(&self) -> Option<Request> {
        match self.read() {
            (request, Stage::Requested) => Some(request),
            _ => None,
        }
    }

    /// Moves `request` from requested to `to`; false if it is no longer requested.
    fn settle(&self, request: Request, to: Stage) -> bool {
        self.word
            .compare_exchange(
                word(request, Stage::Requested),
                word(request, to),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// The CPU: takes `request`, unless the controller withdrew it first (false).
    pub fn take(&self, request: Request) -> bool {
        self.settle(request, Stage::Taken)
    }

    /// The controller: withdraws `request`, unless the CPU took it first (false).
    pub fn withdraw(&self, request: Request) -> bool {
        self.settle(request, Stage::Withdrawn)
    }

    /// Whether the CPU took `request`.
    pub fn taken(&self, request: Request) -> bool {
        self.read() == (request, Stage::Taken)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn one_side_settles_each_request() {
        let h = Handshake::new();
        assert_eq!(h.pending(), None);
        let first = h.request();
        assert_eq!(h.pending(), Some(first));
        assert!(h.take(first));
        assert!(
            !h.withdraw(first),
            "taken: the controller cannot withdraw it"
        );
        assert!(h.taken(first));
        let second = h.request();
        assert_ne!(first, second);
        assert!(!h.take(first), "an old request is never taken again");
        assert!(h.withdraw(second));
        assert!(!h.take(second), "withdrawn: the CPU cannot take it");
        assert_eq!(h.read(), (second, Stage::Withdrawn));
    }

    #[test]
    fn stages_read_back_or_fail() {
        for s in [
            Stage::Idle,
            Stage::Requested,
            Stage::Taken,
            Stage::Withdrawn,
        ] {
            assert_eq!(Stage::try_from(s as u8).ok(), Some(s));
        }
        assert_eq!(Stage::try_from(4).map_err(|e| e.number), Err(4));
        let h = Handshake::new();
        h.word.store(0x1_07, Ordering::Relaxed);
        let garbage = std::panic::catch_unwind(|| h.read());
        assert!(
            garbage.is_err(),
            "a word with no stage is not mapped to one"
        );
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! The controller gives up at some point while the CPU takes the request at some
    //! point: in every interleaving exactly one of them acts, for the boot ticket (the CPU
    //! joins the online set, or the controller rolls it back) and the death request (the
    //! CPU dies, or the controller keeps it online). The plain flag the death request used
    //! to be lets both act: the model finds that.

    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicBool;
    use std::sync::atomic::{AtomicBool as StdBool, Ordering as StdOrdering};

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(f);
    }

    /// A controller that waits a bounded while for the CPU, then gives up; and the CPU,
    /// which answers at any point. Returns (the CPU acted, the controller gave up).
    fn race(h: &Arc<Handshake>, cpu_acted: &Arc<AtomicBool>) -> bool {
        let request = h.request();
        let cpu = {
            let (h, acted) = (h.clone(), cpu_acted.clone());
            loom::thread::spawn(move || {
                if let Some(r) = h.pending()
                    && h.take(r)
                {
                    acted.store(true, Ordering::Release);
                }
            })
        };
        // One look, then the deadline: give up unless it was taken.
        let gave_up = !h.taken(request) && h.withdraw(request);
        cpu.join().unwrap();
        gave_up
    }

    #[test]
    fn boot_ticket_one_side_wins() {
        model(|| {
            let h = Arc::new(Handshake::new());
            let joined = Arc::new(AtomicBool::new(false));
            let rolled_back = race(&h, &joined);
            assert_ne!(
                joined.load(Ordering::Acquire),
                rolled_back,
                "the CPU joined and was rolled back, or neither"
            );
        });
    }

    #[test]
    fn death_request_one_side_wins() {
        model(|| {
            let h = Arc::new(Handshake::new());
            // An earlier request, settled, must not be answered again.
            let old = h.request();
            assert!(h.withdraw(old));
            let died = Arc::new(AtomicBool::new(false));
            let kept_online = race(&h, &died);
            assert_ne!(
                died.load(Ordering::Acquire),
                kept_online,
                "the CPU died while kept online, or neither"
            );
        });
    }

    static BOTH_ACTED: StdBool = StdBool::new(false);

    #[test]
    fn a_plain_flag_lets_both_sides_win() {
        // The death request as it was, a bool: the controller sets it and watches for the
        // CPU to say it is dying; giving up, it clears the bool and calls the CPU online.
        // The CPU dies if it saw the bool set.
        BOTH_ACTED.store(false, StdOrdering::SeqCst);
        model(|| {
            let requested = Arc::new(AtomicBool::new(true));
            let dying = Arc::new(AtomicBool::new(false));
            let cpu = {
                let (requested, dying) = (requested.clone(), dying.clone());
                loom::thread::spawn(move || {
                    if requested.load(Ordering::Acquire) {
                        dying.store(true, Ordering::Release);
                    }
                })
            };
            let kept_online = !dying.load(Ordering::Acquire);
            if kept_online {
                requested.store(false, Ordering::Release);
            }
            cpu.join().unwrap();
            if dying.load(Ordering::Acquire) && kept_online {
                BOTH_ACTED.store(true, StdOrdering::SeqCst);
            }
        });
        assert!(
            BOTH_ACTED.load(StdOrdering::SeqCst),
            "loom found no interleaving where a flag lets both sides act"
        );
    }
}
