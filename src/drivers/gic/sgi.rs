//! How a GICv3 SGI is addressed, and which ICC_SGI1R_EL1 writes send one to exactly a set
//! of CPUs.
//!
//! ICC_SGI1R_EL1 names its targets as one group, Aff3.Aff2.Aff1, and a 16-bit list of the
//! Aff0 values in it: one write reaches at most 16 CPUs. Aff0 can be up to 255: a GIC with
//! range selectors (GICD_TYPER.RSS, and ICC_CTLR_EL1.RSS on the sending CPU interface)
//! takes RS, the list's sixteen, so Aff0 is RS * 16 plus the list bit; without them only
//! Aff0 0-15 can be named, and a CPU with a higher one cannot be sent an SGI at all (its
//! route is `None`, and the driver reports it). IRM = 1 instead sends to every PE but the
//! writer.
//!
//! [`send`] writes one target list per (Aff3, Aff2, Aff1, RS) group of the targets, as
//! Linux's `gic_ipi_send_mask` does through `gic_send_sgi`; where the targets are every
//! online CPU but the sender and lists would take more than one write, one IRM = 1 write
//! instead, if the driver allows it (every PE the GIC serves is a CPU the kernel manages:
//! IRM also reaches offline ones, where the SGI waits, disabled or harmless, until they
//! come up and set their interrupts up again).
//!
//! Portable: the host tests below check the values written.

use crate::dt::Mpidr;
use crate::smp::cpumask::CpuMask;

/// ICC_SGI1R_EL1's fields (GICv3 architecture, IHI 0069, "ICC_SGI1R_EL1").
const AFF1_SHIFT: u32 = 16;
const INTID_SHIFT: u32 = 24;
const AFF2_SHIFT: u32 = 32;
const IRM: u64 = 1 << 40;
const RS_SHIFT: u32 = 44;
const AFF3_SHIFT: u32 = 48;
/// A target list covers sixteen Aff0 values.
const LIST_BITS: u8 = 16;

/// Where one CPU sits in ICC_SGI1R_EL1's addressing: its group (Aff3, Aff2, Aff1 and the
/// range selector, as the register's bits) and its bit in the group's target list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SgiRoute {
    group: u64,
    bit: u16,
}

impl SgiRoute {
    /// How an SGI reaches the CPU with affinity `mpidr`, on a GIC with or without range
    /// selectors; `None` if it cannot be reached (Aff0 16 or more, no range selectors).
    pub fn of(mpidr: Mpidr, range_selectors: bool) -> Option<Self> {
        let aff0 = mpidr.level(0);
        let range = aff0 / LIST_BITS;
        if range != 0 && !range_selectors {
            return None;
        }
        Some(Self {
            group: u64::from(mpidr.level(3)) << AFF3_SHIFT
                | u64::from(range) << RS_SHIFT
                | u64::from(mpidr.level(2)) << AFF2_SHIFT
                | u64::from(mpidr.level(1)) << AFF1_SHIFT,
            bit: 1 << (aff0 % LIST_BITS),
        })
    }

    /// Whether naming this CPU takes a range selector (its Aff0 is 16 or more).
    pub fn needs_range_selector(self) -> bool {
        (self.group >> RS_SHIFT) & 0xf != 0
    }
}

/// Sends SGI `intid` to every CPU of `targets` from `sender`, by calling `write` with each
/// value for ICC_SGI1R_EL1; `route(cpu)` says how each CPU is addressed (`None`: it cannot
/// be). `broadcast` is the set of CPUs online now where an IRM = 1 write may stand in for
/// the lists, `None` where it may not. Returns the targets no write reaches, for the
/// caller to report.
pub fn send(
    intid: u32,
    targets: CpuMask,
    sender: usize,
    route: impl Fn(usize) -> Option<SgiRoute>,
    broadcast: Option<CpuMask>,
    mut write: impl FnMut(u64),
) -> CpuMask {
    let intid = u64::from(intid & 0xf) << INTID_SHIFT;
    let others = targets.without(sender);
    let every_other_online =
        broadcast.is_some_and(|online| online.without(sender).minus(others).is_empty());
    if every_other_online && spans_groups(others, &route) {
        write(IRM | intid);
        return match targets.contains(sender) {
            true => send_lists(intid, CpuMask::single(sender), &route, &mut write),
            false => CpuMask::empty(),
        };
    }
    send_lists(intid, targets, &route, &mut write)
}

/// One write per group of `targets`; the targets without a route are returned.
fn send_lists(
    intid: u64,
    targets: CpuMask,
    route: &impl Fn(usize) -> Option<SgiRoute>,
    write: &mut impl FnMut(u64),
) -> CpuMask {
    let mut unreachable = CpuMask::empty();
    let mut remaining = targets;
    while let Some(first) = remaining.iter().next() {
        let Some(lead) = route(first) else {
            unreachable.insert(first);
            remaining.remove(first);
            continue;
        };
        let mut list = 0u16;
        for cpu in remaining.iter() {
            if let Some(r) = route(cpu).filter(|r| r.group == lead.group) {
                list |= r.bit;
                remaining.remove(cpu);
            }
        }
        write(lead.group | intid | u64::from(list));
    }
    unreachable
}

/// Whether the CPUs of `cpus` take more than one target list.
fn spans_groups(cpus: CpuMask, route: &impl Fn(usize) -> Option<SgiRoute>) -> bool {
    let mut groups = cpus.iter().map(|cpu| route(cpu).map(|r| r.group));
    match groups.next() {
        Some(first) => groups.any(|g| g != first),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SGI: u32 = 5;
    const INTID: u64 = (SGI as u64) << INTID_SHIFT;

    /// QEMU virt's MPIDRs for `count` CPUs on a GICv3: sixteen to an Aff1.
    fn qemu_virt(count: usize) -> Vec<Mpidr> {
        (0..count)
            .map(|i| Mpidr::from_levels([(i % 16) as u8, (i / 16) as u8, 0, 0]))
            .collect()
    }

    fn routes(mpidrs: &[Mpidr], range_selectors: bool) -> Vec<Option<SgiRoute>> {
        mpidrs
            .iter()
            .map(|&m| SgiRoute::of(m, range_selectors))
            .collect()
    }

    /// The values `send` writes, and what it says it could not reach.
    fn sent(
        routes: &[Option<SgiRoute>],
        targets: &[usize],
        sender: usize,
        broadcast: Option<CpuMask>,
    ) -> (Vec<u64>, Vec<usize>) {
        let mut writes = Vec::new();
        let unreachable = send(
            SGI,
            targets.iter().copied().collect(),
            sender,
            |cpu| routes.get(cpu).copied().flatten(),
            broadcast,
            |value| writes.push(value),
        );
        (writes, unreachable.iter().collect())
    }

    fn list(aff1: u64, bits: u64) -> u64 {
        aff1 << AFF1_SHIFT | INTID | bits
    }

    #[test]
    fn one_write_per_cluster_with_each_target_aff0_as_a_bit() {
        let r = routes(&qemu_virt(160), false);
        let (writes, unreachable) = sent(&r, &[1, 3, 17, 159], 0, None);
        assert_eq!(
            writes,
            [list(0, 1 << 1 | 1 << 3), list(1, 1 << 1), list(9, 1 << 15)]
        );
        assert!(unreachable.is_empty());
    }

    #[test]
    fn a_group_is_one_write_whatever_the_order_of_logical_ids() {
        // Logical ids alternate between two clusters.
        let mpidrs: Vec<Mpidr> = (0..8)
            .map(|i| Mpidr::from_levels([(i / 2) as u8, (i % 2) as u8, 0, 0]))
            .collect();
        let (writes, _) = sent(&routes(&mpidrs, false), &[1, 2, 3, 4, 5, 6, 7], 0, None);
        // Cluster 1 first: cpu1, the lowest target, is in it.
        assert_eq!(writes, [list(1, 0b1111), list(0, 0b1110)]);
    }

    #[test]
    fn aff3_and_aff2_go_where_the_register_has_them() {
        let r = routes(&[Mpidr::new(0x12_0034_5607)], false);
        let (writes, _) = sent(&r, &[0], 1, None);
        assert_eq!(
            writes,
            [0x12 << 48 | 0x34 << 32 | 0x56 << 16 | INTID | 1 << 7]
        );
    }

    #[test]
    fn aff0_of_16_or_more_is_named_through_the_range_selector() {
        // One cluster of 64 CPUs, Aff0 0-63, on a GIC with range selectors.
        let mpidrs: Vec<Mpidr> = (0..64).map(|i| Mpidr::from_levels([i, 0, 0, 0])).collect();
        let r = routes(&mpidrs, true);
        assert!(!r[15].unwrap().needs_range_selector());
        assert!(r[16].unwrap().needs_range_selector());
        let (writes, unreachable) = sent(&r, &[2, 17, 18, 63], 0, None);
        assert_eq!(
            writes,
            [
                INTID | 1 << 2,
                1 << RS_SHIFT | INTID | 1 << 1 | 1 << 2,
                3 << RS_SHIFT | INTID | 1 << 15,
            ]
        );
        assert!(unreachable.is_empty());
        // Aff0 255: RS 15, bit 15.
        let top = SgiRoute::of(Mpidr::from_levels([255, 1, 0, 0]), true).unwrap();
        let (writes, _) = sent(&[Some(top)], &[0], 1, None);
        assert_eq!(writes, [15 << RS_SHIFT | 1 << AFF1_SHIFT | INTID | 1 << 15]);
    }

    #[test]
    fn without_range_selectors_aff0_of_16_or_more_is_reported_not_skipped() {
        let mpidrs: Vec<Mpidr> = (0..20).map(|i| Mpidr::from_levels([i, 0, 0, 0])).collect();
        let r = routes(&mpidrs, false);
        assert_eq!(r[15], SgiRoute::of(mpidrs[15], true));
        assert_eq!(r[16], None);
        let (writes, unreachable) = sent(&r, &[1, 16, 19], 0, None);
        assert_eq!(writes, [INTID | 1 << 1]);
        assert_eq!(unreachable, [16, 19]);
    }

    #[test]
    fn every_other_online_cpu_in_several_groups_is_one_irm_write() {
        let r = routes(&qemu_virt(160), false);
        let online = CpuMask::first(160);
        let others: Vec<usize> = (1..160).collect();
        let (writes, unreachable) = sent(&r, &others, 0, Some(online));
        assert_eq!(writes, [IRM | INTID]);
        assert!(unreachable.is_empty());
        // Offline CPUs need not be targets; the sender listed gets a list of its own
        // (IRM = 1 leaves the writer out).
        let online = CpuMask::first(160).without(40).without(41);
        let targets: Vec<usize> = online.iter().collect();
        let (writes, _) = sent(&r, &targets, 7, Some(online));
        assert_eq!(writes, [IRM | INTID, list(0, 1 << 7)]);
    }

    #[test]
    fn irm_only_when_every_other_online_cpu_is_a_target_and_it_saves_writes() {
        let r = routes(&qemu_virt(160), false);
        let online = CpuMask::first(160);
        // One online CPU left out: lists, one per cluster.
        let most: Vec<usize> = (1..159).collect();
        let (writes, _) = sent(&r, &most, 0, Some(online));
        assert_eq!(writes.len(), 10);
        assert!(writes.iter().all(|w| w & IRM == 0));
        // Not allowed by the driver: lists.
        let others: Vec<usize> = (1..160).collect();
        let (writes, _) = sent(&r, &others, 0, None);
        assert_eq!(writes.len(), 10);
        // Every other CPU in the sender's one cluster: one list does it.
        let (writes, _) = sent(&r, &[1, 2, 3], 0, Some(CpuMask::first(4)));
        assert_eq!(writes, [list(0, 0b1110)]);
    }

    #[test]
    fn no_targets_no_writes() {
        let r = routes(&qemu_virt(4), false);
        assert_eq!(sent(&r, &[], 0, Some(CpuMask::single(0))), (vec![], vec![]));
    }
}
