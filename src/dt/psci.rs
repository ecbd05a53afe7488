//! The `/psci` node: which PSCI the firmware speaks, through which conduit, and for PSCI
//! 0.1 the function numbers the tree gives.
//!
//! Linux's rule (drivers/firmware/psci/psci.c, `psci_of_match`): a node compatible with
//! `arm,psci-0.2` or `arm,psci-1.0` speaks PSCI 0.2 or later, whose function numbers are
//! the standard ones and whose version PSCI_VERSION tells; one compatible with `arm,psci`
//! speaks PSCI 0.1, which has no standard numbers, no PSCI_VERSION, AFFINITY_INFO,
//! SYSTEM_OFF or SYSTEM_RESET: only the functions the node numbers exist (`cpu_suspend`,
//! `cpu_off`, `cpu_on`, `migrate`, each one 32-bit cell). A node compatible with several
//! is what the first of them in its list says, as Linux's `of_match_node` scores an
//! earlier string higher; Linux's trees list `"arm,psci-0.2", "arm,psci"` or
//! `"arm,psci-1.0", "arm,psci-0.2", "arm,psci"`, so 0.2 or later.

use core::fmt;

use super::walk::Visit;

/// Every compatible string of a PSCI node.
pub(super) const COMPATIBLE: [&str; 3] = ["arm,psci", "arm,psci-0.2", "arm,psci-1.0"];

/// How PSCI calls reach the firmware: `/psci/method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsciMethod {
    Hvc,
    Smc,
}

/// The PSCI firmware interface the tree describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PsciNode {
    pub method: PsciMethod,
    pub functions: PsciFunctions,
}

/// Which functions the firmware has, and by which numbers they are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsciFunctions {
    /// PSCI 0.2 or later: the standard function numbers; PSCI_VERSION says which version.
    Standard,
    /// PSCI 0.1: only the functions the node numbers.
    V0_1(FunctionIds),
}

/// PSCI 0.1's functions, each with the number the tree gives it, if it gives one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionIds {
    pub cpu_suspend: Option<u32>,
    pub cpu_off: Option<u32>,
    pub cpu_on: Option<u32>,
    pub migrate: Option<u32>,
}

impl FunctionIds {
    /// The properties naming them, in the order Linux's `psci_0_1_init` reads them.
    pub const PROPERTIES: [&str; 4] = ["cpu_suspend", "cpu_off", "cpu_on", "migrate"];

    /// Each function the tree numbers: its property name and number, in [`Self::PROPERTIES`]
    /// order.
    pub fn numbered(&self) -> impl Iterator<Item = (&'static str, u32)> {
        Self::PROPERTIES
            .into_iter()
            .zip([self.cpu_suspend, self.cpu_off, self.cpu_on, self.migrate])
            .filter_map(|(name, id)| Some((name, id?)))
    }

    fn slot(&mut self, property: &str) -> &mut Option<u32> {
        match property {
            "cpu_suspend" => &mut self.cpu_suspend,
            "cpu_off" => &mut self.cpu_off,
            "cpu_on" => &mut self.cpu_on,
            _ => &mut self.migrate,
        }
    }
}

/// `cpu_on 0xc4000003, cpu_off 0x84000002`, or `none` when the tree numbers nothing.
impl fmt::Display for FunctionIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (name, id) in self.numbered() {
            if any {
                f.write_str(", ")?;
            }
            write!(f, "{name} {id:#x}")?;
            any = true;
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Reads a PSCI node, saying through `problem` what in it is wrong. `None` when no PSCI
/// can be called through it (no usable `method`).
pub(super) fn read(
    v: &Visit<'_, '_>,
    problem: &mut dyn FnMut(fmt::Arguments<'_>),
) -> Option<PsciNode> {
    let method = match v.prop_str("method") {
        Some("hvc") => PsciMethod::Hvc,
        Some("smc") => PsciMethod::Smc,
        other => {
            problem(format_args!(
                "PSCI method {other:?}: expected \"hvc\" or \"smc\""
            ));
            return None;
        }
    };
    if first_compatible(v) != Some("arm,psci") {
        return Some(PsciNode {
            method,
            functions: PsciFunctions::Standard,
        });
    }
    let mut ids = FunctionIds::default();
    for name in FunctionIds::PROPERTIES {
        let Some(value) = v.prop(name) else {
            continue;
        };
        match <[u8; 4]>::try_from(value) {
            Ok(cell) => *ids.slot(name) = Some(u32::from_be_bytes(cell)),
            Err(_) => problem(format_args!(
                "PSCI 0.1 {name} is {} bytes, not one 32-bit cell: not called",
                value.len()
            )),
        }
    }
    if ids.cpu_on.is_none() {
        problem(format_args!(
            "PSCI 0.1 without cpu_on: no CPU can be started through it"
        ));
    } else if ids.cpu_off.is_none() {
        problem(format_args!(
            "PSCI 0.1 without cpu_off: no CPU can be taken offline through it"
        ));
    }
    Some(PsciNode {
        method,
        functions: PsciFunctions::V0_1(ids),
    })
}

/// The first string of the node's `compatible` that names a PSCI.
fn first_compatible<'dtb>(v: &Visit<'_, 'dtb>) -> Option<&'dtb str> {
    v.prop("compatible")?
        .split(|&b| b == 0)
        .filter_map(|c| core::str::from_utf8(c).ok())
        .find(|c| COMPATIBLE.contains(c))
}
