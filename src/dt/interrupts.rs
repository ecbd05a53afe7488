//! Interrupts in the device tree: which controller is the root one (where every
//! `interrupt-parent` chain ends, and so the GIC the kernel must drive), and a node's
//! interrupt specifiers read as the binding of the controller they name says
//! (`#interrupt-cells`; `interrupts` with an inherited `interrupt-parent`, or
//! `interrupts-extended`), then decoded as GIC INTIDs.
//!
//! Controllers are only known after the whole tree is walked (a node may name one that
//! comes later), so the walk records them and each node's specifiers, and this module
//! resolves both at the end.

use arrayvec::ArrayVec;

use super::cells;
use super::walk::Visit;

/// How many interrupt controllers (every GPIO bank is one) are remembered; real trees
/// have fewer than 80. Past it a chain may not resolve, which is a problem the parser
/// reports.
pub const MAX_CONTROLLERS: usize = 160;

/// A node that can be named as an interrupt parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Controller {
    phandle: u32,
    /// Its own interrupt parent (inherited from its ancestors if it has none itself).
    parent: Option<u32>,
    /// `#interrupt-cells`.
    cells: u32,
}

/// Every interrupt controller the walk met.
pub struct Controllers {
    known: ArrayVec<Controller, MAX_CONTROLLERS>,
    /// Controllers beyond [`MAX_CONTROLLERS`].
    pub dropped: usize,
}

/// The interrupts of one node, kept from the walk until the controllers are known.
#[derive(Clone, Copy, Debug)]
pub struct Specifiers<'dtb> {
    /// `interrupts-extended` (each entry starts with its controller's phandle) or
    /// `interrupts` (entries for `parent`).
    raw: &'dtb [u8],
    extended: bool,
    parent: Option<u32>,
}

impl<'dtb> Specifiers<'dtb> {
    /// The node's interrupts, if it has any.
    pub fn of(v: &Visit<'_, 'dtb>) -> Option<Self> {
        if let Some(raw) = v.prop("interrupts-extended") {
            return Some(Specifiers {
                raw,
                extended: true,
                parent: None,
            });
        }
        v.prop("interrupts").map(|raw| Specifiers {
            raw,
            extended: false,
            parent: v.interrupt_parent(),
        })
    }
}

/// A GIC interrupt specifier decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicInterrupt {
    /// A shared peripheral interrupt, as an INTID (32 and up).
    Spi(u32),
    /// A private peripheral interrupt, as an INTID (16-31).
    Ppi(u32),
}

impl Controllers {
    pub const fn new() -> Self {
        Self {
            known: ArrayVec::new_const(),
            dropped: 0,
        }
    }

    /// Forgets every controller.
    pub fn clear(&mut self) {
        self.known.clear();
        self.dropped = 0;
    }

    /// Remembers `v` if it is an interrupt controller with a phandle.
    pub fn record(&mut self, v: &Visit<'_, '_>) {
        let is_controller =
            v.prop("interrupt-controller").is_some() || v.prop("#interrupt-cells").is_some();
        let (true, Some(phandle)) = (is_controller, v.prop_u32("phandle")) else {
            return;
        };
        let controller = Controller {
            phandle,
            parent: v.interrupt_parent(),
            cells: v.prop_u32("#interrupt-cells").unwrap_or(0),
        };
        if self.known.try_push(controller).is_err() {
            self.dropped += 1;
        }
    }

    fn get(&self, phandle: u32) -> Option<&Controller> {
        self.known.iter().find(|c| c.phandle == phandle)
    }

    /// Where the chain of interrupt parents starting at `start` (the root's
    /// `interrupt-parent`) ends: the controller with no parent of its own, or itself as
    /// its parent. `None` where a link names no known controller or the chain loops.
    pub fn root_of(&self, start: u32) -> Option<u32> {
        let mut at = self.get(start)?;
        for _ in 0..MAX_CONTROLLERS {
            match at.parent {
                None => return Some(at.phandle),
                Some(p) if p == at.phandle => return Some(at.phandle),
                Some(p) => at = self.get(p)?,
            }
        }
        None
    }

    /// Specifier `index` of a node: its controller's phandle and its cells (still
    /// encoded). `None` where it has no such entry or names an unknown controller.
    pub fn specifier<'a>(&self, s: &Specifiers<'a>, index: usize) -> Option<(u32, &'a [u8])> {
        let mut rest = s.raw;
        for i in 0.. {
            let (controller, cells) = if s.extended {
                let phandle = cells::as_u32(rest.get(..4)?)?;
                rest = &rest[4..];
                (phandle, self.get(phandle)?.cells)
            } else {
                let parent = s.parent?;
                (parent, self.get(parent)?.cells)
            };
            let len = cells as usize * 4;
            if len == 0 || rest.len() < len {
                return None;
            }
            let (entry, tail) = rest.split_at(len);
            if i == index {
                return Some((controller, entry));
            }
            rest = tail;
        }
        None
    }
}

impl Default for Controllers {
    fn default() -> Self {
        Self::new()
    }
}

/// A specifier of the GIC bindings (three cells, four with GICv3 PPI partitions):
/// type (0 SPI, 1 PPI), number, flags.
pub fn decode_gic(cells: &[u8]) -> Option<GicInterrupt> {
    if cells.len() < 12 {
        return None;
    }
    let kind = cells::as_u32(&cells[0..4])?;
    let number = cells::as_u32(&cells[4..8])?;
    match kind {
        0 if number < 988 => Some(GicInterrupt::Spi(number + 32)),
        1 if number < 16 => Some(GicInterrupt::Ppi(number + 16)),
        _ => None,
    }
}
