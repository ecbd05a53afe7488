//! Finding each CPU's GICv3 redistributor: every region the device tree gives (its
//! `#redistributor-regions`), each walked frame by frame, each CPU matched by affinity.
//!
//! A region is a row of redistributors, each two 64 KiB frames (RD_base, SGI_base) or four
//! where GICR_TYPER.VLPIS says it has GICv4's virtual LPI frames, read from each
//! redistributor itself; the one whose GICR_TYPER.Last is set ends the region. So the
//! region's size from the tree is only a bound: QEMU's `virt` gives a first region of room
//! for 123 redistributors whatever the CPU count, and with more than 123 CPUs a second one
//! at 256 GiB. Each redistributor names its CPU by GICR_TYPER's affinity (Aff3.Aff2.Aff1.Aff0
//! in bits 63:32), which need not follow the CPUs' order in the tree. This is Linux's
//! `gic_iterate_rdists` (drivers/irqchip/irq-gic-v3.c), with the region's end as a bound
//! Linux does not keep: a region whose frames run out before a Last is reported, and
//! nothing past its end is read.
//!
//! Portable: the frames are read through [`Frames`], which the host tests fake.

use core::fmt;

use crate::dt::Mpidr;
use crate::mm::region::PhysRegion;

/// A redistributor's frames are 64 KiB each.
pub const FRAME_SIZE: u64 = 0x1_0000;
/// GICR_TYPER.VLPIS: GICv4's two more frames follow.
const TYPER_VLPIS: u64 = 1 << 1;
/// GICR_TYPER.Last: the last redistributor of its region.
const TYPER_LAST: u64 = 1 << 4;
/// GICR_PIDR2.ArchRev (bits 7:4): 3 for GICv3, 4 for GICv4.
const PIDR2_ARCH_REV_SHIFT: u32 = 4;

/// The two registers of a redistributor the walk reads.
pub trait Frames {
    /// GICR_TYPER (all 64 bits) of the redistributor whose RD_base is at `rd_base`.
    fn typer(&mut self, rd_base: u64) -> u64;
    /// GICR_PIDR2 of the redistributor whose RD_base is at `rd_base`.
    fn pidr2(&mut self, rd_base: u64) -> u32;
}

/// Why a region gave fewer redistributors than it should.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionError {
    /// Its first frame's GICR_PIDR2 names neither GICv3 nor GICv4.
    NoRedistributor { region: PhysRegion, pidr2: u32 },
    /// The frames reach the region's end without a redistributor whose GICR_TYPER.Last is
    /// set; `found` were found before it.
    NoLast { region: PhysRegion, found: usize },
    /// It is not mapped.
    NotMapped { region: PhysRegion },
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionError::NoRedistributor { region, pidr2 } => write!(
                f,
                "redistributor region {region}: GICR_PIDR2 reads {pidr2:#x}, which names no \
                 GICv3 or GICv4 redistributor: none used"
            ),
            RegionError::NoLast { region, found } => write!(
                f,
                "redistributor region {region} ends after {found} redistributor(s) without one \
                 whose GICR_TYPER.Last is set: nothing past its end is read"
            ),
            RegionError::NotMapped { region } => write!(
                f,
                "redistributor region {region} is not mapped (see the boot log's page tables): \
                 none of its redistributors used"
            ),
        }
    }
}

/// What the walk of every region found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Redistributors found.
    pub found: usize,
    /// Those given to a CPU.
    pub matched: usize,
}

impl Discovery {
    /// Whether every redistributor found belongs to a CPU the kernel manages.
    pub fn all_matched(self) -> bool {
        self.found == self.matched
    }
}

/// Walks every region in `regions` (`mapped` says which can be read), and gives each
/// redistributor found to the one of `cpus` CPUs whose MPIDR (`mpidr(cpu)`) is its
/// affinity: `assign(cpu, rd_base)` returns false if that CPU has one already. Says how
/// each region's walk ended through `walked(index, outcome)`: how many it held, or why it
/// held fewer than it should.
pub fn discover(
    regions: &[PhysRegion],
    mapped: impl Fn(PhysRegion) -> bool,
    frames: &mut impl Frames,
    cpus: usize,
    mpidr: impl Fn(usize) -> Mpidr,
    mut assign: impl FnMut(usize, u64) -> bool,
    mut walked: impl FnMut(usize, Result<usize, RegionError>),
) -> Discovery {
    let mut discovery = Discovery::default();
    // Redistributors usually come in the CPUs' order: look at the CPU after the last one
    // matched first, so that matching is linear rather than quadratic.
    let mut next = 0;
    for (index, &region) in regions.iter().enumerate() {
        if !mapped(region) {
            walked(index, Err(RegionError::NotMapped { region }));
            continue;
        }
        let outcome = walk(region, frames, |rd_base, affinity| {
            discovery.found += 1;
            let cpu = (next < cpus && mpidr(next) == affinity)
                .then_some(next)
                .or_else(|| (0..cpus).find(|&c| mpidr(c) == affinity));
            if let Some(cpu) = cpu
                && assign(cpu, rd_base)
            {
                discovery.matched += 1;
                next = cpu + 1;
            }
        });
        walked(index, outcome);
    }
    discovery
}

impl RegionError {
    /// How many redistributors the region gave before it ended short.
    pub fn found(self) -> usize {
        match self {
            RegionError::NoLast { found, .. } => found,
            RegionError::NoRedistributor { .. } | RegionError::NotMapped { .. } => 0,
        }
    }
}

/// Walks one region, calling `found(rd_base, affinity)` for each redistributor; returns
/// how many there were.
pub fn walk(
    region: PhysRegion,
    frames: &mut impl Frames,
    mut found: impl FnMut(u64, Mpidr),
) -> Result<usize, RegionError> {
    if region.size < 2 * FRAME_SIZE {
        // Not even one redistributor's two frames: nothing in it is read.
        return Err(RegionError::NoLast { region, found: 0 });
    }
    let pidr2 = frames.pidr2(region.base);
    if !matches!((pidr2 >> PIDR2_ARCH_REV_SHIFT) & 0xf, 3 | 4) {
        return Err(RegionError::NoRedistributor { region, pidr2 });
    }
    let mut count = 0;
    let mut rd_base = region.base;
    loop {
        // Its RD_base and SGI_base frames must lie in the region before either is read.
        if region.end().saturating_sub(rd_base) < 2 * FRAME_SIZE {
            return Err(RegionError::NoLast {
                region,
                found: count,
            });
        }
        let typer = frames.typer(rd_base);
        found(rd_base, affinity(typer));
        count += 1;
        if typer & TYPER_LAST != 0 {
            return Ok(count);
        }
        let frames_each = if typer & TYPER_VLPIS != 0 { 4 } else { 2 };
        rd_base += frames_each * FRAME_SIZE;
    }
}

/// The affinity GICR_TYPER names (Aff3.Aff2.Aff1.Aff0 in bits 63:32), as an MPIDR.
pub fn affinity(typer: u64) -> Mpidr {
    Mpidr::from_levels(((typer >> 32) as u32).to_le_bytes())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const QEMU_LOW: PhysRegion = PhysRegion::new(0x80a_0000, 0xf6_0000);
    const QEMU_HIGH: PhysRegion = PhysRegion::new(0x40_0000_0000, 0x400_0000);
    const GICV3: u32 = 3 << PIDR2_ARCH_REV_SHIFT;
    const GICV4: u32 = 4 << PIDR2_ARCH_REV_SHIFT;

    /// Redistributors by RD_base; every other address reads 0, as QEMU's unassigned ones.
    #[derive(Default)]
    struct FakeFrames {
        typers: BTreeMap<u64, u64>,
        pidr2: u32,
        /// Each GICR_TYPER read, and each GICR_PIDR2 read.
        reads: Vec<u64>,
        id_reads: Vec<u64>,
    }

    impl FakeFrames {
        /// `count` redistributors from `base`, every `frames` frames, with affinities
        /// `affinities` and Last on the final one (QEMU sets it per region).
        fn region(&mut self, base: u64, frames: u64, affinities: &[Mpidr]) {
            for (i, m) in affinities.iter().enumerate() {
                let a = m.affinity();
                let packed = (a & 0xff_ffff) | (a >> 32) << 24;
                let mut typer = packed << 32 | (i as u64) << 8;
                if frames == 4 {
                    typer |= TYPER_VLPIS;
                }
                if i == affinities.len() - 1 {
                    typer |= TYPER_LAST;
                }
                self.typers
                    .insert(base + i as u64 * frames * FRAME_SIZE, typer);
            }
        }
    }

    impl Frames for FakeFrames {
        fn typer(&mut self, rd_base: u64) -> u64 {
            self.reads.push(rd_base);
            self.typers.get(&rd_base).copied().unwrap_or(0)
        }

        fn pidr2(&mut self, rd_base: u64) -> u32 {
            self.id_reads.push(rd_base);
            if self.typers.contains_key(&rd_base) {
                self.pidr2
            } else {
                0
            }
        }
    }

    /// QEMU virt's MPIDRs on a GICv3: sixteen to an Aff1.
    fn qemu_virt(count: usize) -> Vec<Mpidr> {
        (0..count)
            .map(|i| Mpidr::from_levels([(i % 16) as u8, (i / 16) as u8, 0, 0]))
            .collect()
    }

    /// Each CPU's RD_base after discovery, the discovery, and the problems.
    fn run(
        regions: &[PhysRegion],
        frames: &mut FakeFrames,
        mpidrs: &[Mpidr],
    ) -> (Vec<Option<u64>>, Discovery, Vec<RegionError>) {
        let mut bases = vec![None; mpidrs.len()];
        let mut problems = Vec::new();
        let mut walked = Vec::new();
        let discovery = discover(
            regions,
            |r| r != PhysRegion::new(0xdead_0000, 0x2_0000),
            frames,
            mpidrs.len(),
            |cpu| mpidrs[cpu],
            |cpu, base| bases[cpu].replace(base).is_none(),
            |index, outcome| {
                walked.push(index);
                if let Err(e) = outcome {
                    problems.push(e);
                }
            },
        );
        // Each region's outcome, once, in order.
        assert_eq!(walked, (0..regions.len()).collect::<Vec<_>>());
        (bases, discovery, problems)
    }

    #[test]
    fn qemu_virt_with_160_cpus_fills_the_low_region_and_goes_on_at_256_gib() {
        let mpidrs = qemu_virt(160);
        let mut frames = FakeFrames {
            pidr2: GICV3,
            ..Default::default()
        };
        frames.region(QEMU_LOW.base, 2, &mpidrs[..123]);
        frames.region(QEMU_HIGH.base, 2, &mpidrs[123..]);
        let (bases, discovery, problems) = run(&[QEMU_LOW, QEMU_HIGH], &mut frames, &mpidrs);
        assert_eq!(problems, []);
        assert_eq!(
            discovery,
            Discovery {
                found: 160,
                matched: 160
            }
        );
        assert!(discovery.all_matched());
        assert_eq!(bases[0], Some(0x80a_0000));
        assert_eq!(bases[122], Some(0x80a_0000 + 122 * 0x2_0000));
        assert_eq!(bases[123], Some(0x40_0000_0000));
        assert_eq!(bases[159], Some(0x40_0000_0000 + 36 * 0x2_0000));
        // Nothing beyond each region's Last was read.
        assert_eq!(frames.reads.len(), 160);
    }

    #[test]
    fn gicv4_redistributors_are_four_frames_apart() {
        // QEMU's gic-version=4: room for 61 in the low region.
        let mpidrs = qemu_virt(64);
        let mut frames = FakeFrames {
            pidr2: GICV4,
            ..Default::default()
        };
        frames.region(QEMU_LOW.base, 4, &mpidrs[..61]);
        frames.region(QEMU_HIGH.base, 4, &mpidrs[61..]);
        let (bases, discovery, problems) = run(&[QEMU_LOW, QEMU_HIGH], &mut frames, &mpidrs);
        assert_eq!(problems, []);
        assert_eq!(
            discovery,
            Discovery {
                found: 64,
                matched: 64
            }
        );
        // Only the redistributors were read, none of their VLPI frames.
        assert_eq!(frames.reads.len(), 64);
        assert_eq!(bases[1], Some(0x80a_0000 + 0x4_0000));
        assert_eq!(bases[60], Some(0x80a_0000 + 60 * 0x4_0000));
        assert_eq!(bases[63], Some(0x40_0000_0000 + 2 * 0x4_0000));
    }

    #[test]
    fn last_ends_a_region_that_has_room_for_more() {
        let mpidrs = qemu_virt(4);
        let mut frames = FakeFrames {
            pidr2: GICV3,
            ..Default::default()
        };
        frames.region(QEMU_LOW.base, 2, &mpidrs);
        let (bases, discovery, problems) = run(&[QEMU_LOW], &mut frames, &mpidrs);
        assert_eq!(problems, []);
        assert_eq!(discovery.found, 4);
        assert!(bases.iter().all(Option::is_some));
        assert_eq!(frames.reads.len(), 4);
    }

    #[test]
    fn a_region_without_last_is_reported_and_never_read_past_its_end() {
        let mpidrs = qemu_virt(4);
        let mut frames = FakeFrames {
            pidr2: GICV3,
            ..Default::default()
        };
        frames.region(0x100_0000, 2, &mpidrs);
        // Room for three: the fourth, and its Last, lie beyond the region.
        let region = PhysRegion::new(0x100_0000, 3 * 0x2_0000 + 0x1_0000);
        let (bases, discovery, problems) = run(&[region], &mut frames, &mpidrs);
        assert_eq!(problems, [RegionError::NoLast { region, found: 3 }]);
        assert_eq!(
            discovery,
            Discovery {
                found: 3,
                matched: 3
            }
        );
        assert_eq!(bases[3], None);
        assert!(frames.reads.iter().all(|&r| r + 0x2_0000 <= region.end()));
    }

    #[test]
    fn a_region_too_small_for_one_redistributor_is_not_read() {
        let mut frames = FakeFrames {
            pidr2: GICV3,
            ..Default::default()
        };
        frames.region(0x100_0000, 2, &qemu_virt(1));
        let region = PhysRegion::new(0x100_0000, 0x1_0000);
        let (_, discovery, problems) = run(&[region], &mut frames, &qemu_virt(1));
        assert_eq!(problems, [RegionError::NoLast { region, found: 0 }]);
        assert_eq!(discovery.found, 0);
        assert!(frames.reads.is_empty() && frames.id_reads.is_empty());
    }

    #[test]
    fn a_region_that_holds_no_redistributor_is_reported() {
        let mpidrs = qemu_virt(4);
        let mut frames = FakeFrames {
            pidr2: 0x1b,
            ..Default::default()
        };
        frames.region(QEMU_LOW.base, 2, &mpidrs);
        let (_, discovery, problems) = run(&[QEMU_LOW], &mut frames, &mpidrs);
        assert_eq!(
            problems,
            [RegionError::NoRedistributor {
                region: QEMU_LOW,
                pidr2: 0x1b
            }]
        );
        assert_eq!(discovery.found, 0);
    }

    #[test]
    fn an_unmapped_region_is_reported_and_not_read() {
        let unmapped = PhysRegion::new(0xdead_0000, 0x2_0000);
        let mut frames = FakeFrames::default();
        let (_, discovery, problems) = run(&[unmapped], &mut frames, &qemu_virt(1));
        assert_eq!(problems, [RegionError::NotMapped { region: unmapped }]);
        assert_eq!(discovery.found, 0);
        assert!(frames.reads.is_empty() && frames.id_reads.is_empty());
    }

    #[test]
    fn cpus_are_matched_by_affinity_not_by_order() {
        let mpidrs = qemu_virt(40);
        let reversed: Vec<Mpidr> = mpidrs.iter().rev().copied().collect();
        let mut frames = FakeFrames {
            pidr2: GICV3,
            ..Default::default()
        };
        frames.region(QEMU_LOW.base, 2, &reversed);
        let (bases, discovery, _) = run(&[QEMU_LOW], &mut frames, &mpidrs);
        assert_eq!(discovery.matched, 40);
        assert_eq!(bases[39], Some(QEMU_LOW.base));
        assert_eq!(bases[0], Some(QEMU_LOW.base + 39 * 0x2_0000));
    }

    #[test]
    fn a_redistributor_of_no_cpu_the_kernel_manages_is_counted_as_such() {
        let mpidrs = qemu_virt(8);
        let mut frames = FakeFrames {
            pidr2: GICV3,
            ..Default::default()
        };
        frames.region(QEMU_LOW.base, 2, &mpidrs);
        // The kernel manages the first six (the tree lists no more).
        let (_, discovery, _) = run(&[QEMU_LOW], &mut frames, &mpidrs[..6]);
        assert_eq!(
            discovery,
            Discovery {
                found: 8,
                matched: 6
            }
        );
        assert!(!discovery.all_matched());
    }

    #[test]
    fn gicr_typer_affinity_is_aff3_aff2_aff1_aff0() {
        assert_eq!(
            affinity(0x43_32_21_10 << 32 | TYPER_LAST),
            Mpidr::new(0x43_0032_2110)
        );
    }
}
