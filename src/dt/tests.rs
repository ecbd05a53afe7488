//! Tests of the device tree reader on real blobs: ours from dts/ (compiled by dtc) and
//! QEMU's own for the virt board (dumped by `make unit` with `-machine dumpdtb=`), plus
//! damaged copies of them.

use super::*;
use crate::mm::region::PhysRegion;

pub(super) fn blob(name: &str) -> Vec<u8> {
    let path = format!("{}/build/dts/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e} (run `make unit`: it compiles dts/ and dumps QEMU's DTBs first)")
    })
}

#[test]
fn qemu_virt_gicv2() {
    let b = blob("qemu-virt-gicv2.dtb");
    let p = Platform::parse(&b, 0x4800_0000).unwrap();
    assert_eq!(p.model, Some("linux,dummy-virt"));
    assert!(!p.psci_off_by_warm_reset);
    assert_eq!(
        p.memory.as_slice(),
        &[PhysRegion::new(0x4000_0000, 512 << 20)]
    );
    let uart = p.console.unwrap();
    assert_eq!(uart.kind, UartKind::Pl011);
    assert_eq!(uart.region, PhysRegion::new(0x900_0000, 0x1000));
    assert_eq!(uart.clock_hz, Some(24_000_000));
    assert_eq!(uart.irq, Some(33));
    assert_eq!(
        p.gic,
        Some(Gic::V2 {
            distributor: PhysRegion::new(0x800_0000, 0x1_0000),
            cpu_interface: PhysRegion::new(0x801_0000, 0x1_0000),
        })
    );
    assert_eq!(
        p.psci,
        Some(PsciNode {
            method: PsciMethod::Hvc,
            functions: PsciFunctions::Standard,
        })
    );
    assert_eq!(p.timer, Some(ARCH_TIMER));
    let mpidrs: Vec<u64> = p.cpus.iter().map(|c| c.mpidr.affinity()).collect();
    assert_eq!(mpidrs, vec![0, 1, 2, 3]);
    assert!(p.cpus.iter().all(|c| c.enable_method == EnableMethod::Psci));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn qemu_virt_gicv3_el2_20_cpus() {
    let b = blob("qemu-virt-gicv3-20cpus.dtb");
    let p = Platform::parse(&b, 0).unwrap();
    assert_eq!(p.psci.map(|n| n.method), Some(PsciMethod::Smc));
    match p.gic {
        Some(Gic::V3 {
            distributor,
            ref redistributors,
        }) => {
            assert_eq!(distributor.base, 0x800_0000);
            assert_eq!(redistributors[0].base, 0x80a_0000);
        }
        ref other => panic!("expected GICv3, got {other:?}"),
    }
    assert_eq!(p.cpus.len(), 20);
    assert_eq!(p.cpus[16].mpidr, Mpidr::new(0x100));
    assert_eq!(p.cpus[19].mpidr, Mpidr::new(0x103));
}

#[test]
fn qemu_virt_two_numa_nodes() {
    // QEMU's tree for two nodes of 512 MiB, CPUs 0-1 in node 0 and 2-3 in node 1: it lists
    // node 1's memory first.
    let b = blob("qemu-virt-numa.dtb");
    let p = Platform::parse(&b, 0).unwrap();
    let node1 = PhysRegion::new(0x6000_0000, 512 << 20);
    let node0 = PhysRegion::new(0x4000_0000, 512 << 20);
    assert_eq!(p.memory.as_slice(), &[node1, node0]);
    assert_eq!(p.numa_node_of(&node0), Some(0));
    assert_eq!(p.numa_node_of(&node1), Some(1));
    let nodes: Vec<Option<u32>> = p.cpus.iter().map(|c| c.numa_node).collect();
    assert_eq!(nodes, [Some(0), Some(0), Some(1), Some(1)]);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    p.check_consistency().unwrap();
    // Without -numa, no node is named.
    let plain = blob("qemu-virt-gicv2.dtb");
    let p = Platform::parse(&plain, 0).unwrap();
    assert!(p.memory_numa.is_empty());
    assert!(p.cpus.iter().all(|c| c.numa_node.is_none()));
}

#[test]
fn qemu_virt_with_160_cpus_has_a_second_redistributor_region_at_256_gib() {
    let b = blob("qemu-virt-gicv3-160cpus.dtb");
    let p = Platform::parse(&b, 0).unwrap();
    assert_eq!(
        p.gic,
        Some(Gic::V3 {
            distributor: PhysRegion::new(0x800_0000, 0x1_0000),
            redistributors: [
                PhysRegion::new(0x80a_0000, 0xf6_0000),
                PhysRegion::new(0x40_0000_0000, 0x400_0000),
            ]
            .into_iter()
            .collect(),
        })
    );
    assert_eq!(p.cpus.len(), 160);
    assert_eq!(p.cpus[159].mpidr, Mpidr::new(0x90f));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

fn topology(socket: u32, cluster: u32, core: u32, thread: u32) -> Option<Topology> {
    Some(Topology {
        socket,
        cluster,
        core,
        thread,
    })
}

fn places(p: &Platform<'_>) -> Vec<Option<Topology>> {
    p.cpus.iter().map(|c| c.topology).collect()
}

#[test]
fn qemu_virt_cpu_map_of_two_sockets_of_two_clusters_of_two_cores() {
    // `-smp 8,sockets=2,clusters=2,cores=2`: QEMU writes the map before the CPUs, with
    // each leaf a core.
    let b = blob("qemu-virt-topology.dtb");
    let p = Platform::parse(&b, 0).unwrap();
    let expected: Vec<Option<Topology>> = (0..8)
        .map(|i| topology(i / 4, i / 2 % 2, i % 2, 0))
        .collect();
    assert_eq!(places(&p), expected);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    // A plain -smp 4: one socket, one cluster, four cores.
    let plain = blob("qemu-virt-gicv2.dtb");
    let p = Platform::parse(&plain, 0).unwrap();
    let expected: Vec<Option<Topology>> = (0..4).map(|i| topology(0, 0, i, 0)).collect();
    assert_eq!(places(&p), expected);
    // Without a cpu-map (our Raspberry Pi 4 tree has none), no CPU has a place, and
    // nothing is said.
    let pi = blob("rpi4.dtb");
    let p = Platform::parse(&pi, 0).unwrap();
    assert!(p.cpus.iter().all(|c| c.topology.is_none()));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

/// QEMU's 2x2x2 tree, edited at `/cpus/cpu-map`.
fn cpu_map_with(edit: impl FnOnce(&mut super::test_tree::Node)) -> Vec<u8> {
    let mut tree = super::test_tree::Tree::read(&blob("qemu-virt-topology.dtb"));
    edit(tree.root.child_or_new("cpus").child_or_new("cpu-map"));
    tree.write().0
}

fn phandle_of(cpu: u32) -> u32 {
    // QEMU numbers the CPUs' phandles down from 0x8008.
    0x8008 - cpu
}

#[test]
fn qemu_virt_cpu_map_with_threads() {
    // `-smp 8,sockets=1,clusters=2,cores=2,threads=2`: each leaf is a thread.
    let b = blob("qemu-virt-threads.dtb");
    let p = Platform::parse(&b, 0).unwrap();
    let expected: Vec<Option<Topology>> = (0..8)
        .map(|i| topology(0, i / 4, i / 2 % 2, i % 2))
        .collect();
    assert_eq!(places(&p), expected);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn what_the_cpu_map_gets_wrong_is_reported_and_the_rest_kept() {
    let b = cpu_map_with(|map| {
        let socket1 = map.child_or_new("socket1");
        // A leaf of no CPU: cpu6 is left without a place.
        socket1
            .child_or_new("cluster1")
            .child_or_new("core0")
            .set_cells("cpu", &[0xdead]);
        // cpu0 named again, by cpu7's core.
        socket1
            .child_or_new("cluster1")
            .child_or_new("core1")
            .set_cells("cpu", &[phandle_of(0)]);
        // A name the binding does not know: cpu1 has no place.
        let cluster0 = map.child_or_new("socket0").child_or_new("cluster0");
        cluster0.child_or_new("core1").name = b"kore1".to_vec();
    });
    let p = Platform::parse(&b, 0).unwrap();
    let expected = [
        topology(0, 0, 0, 0),
        None,
        topology(0, 1, 0, 0),
        topology(0, 1, 1, 0),
        topology(1, 0, 0, 0),
        topology(1, 0, 1, 0),
        None,
        None,
    ];
    assert_eq!(places(&p), expected);
    let said: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
    for expected in [
        "/cpus/cpu-map/socket0/cluster0/kore1: 'kore1' is not socketN, clusterN, coreN or threadN",
        "/cpus/cpu-map: 1:1:0:0 names phandle 0xdead, no CPU kept: ignored",
        "/cpus/cpu-map: 1:1:1:0 names cpu@0 again: ignored",
        "/cpus/cpu-map: 3 CPU(s) not in it: their place is unknown",
    ] {
        assert!(
            said.iter().any(|s| s.starts_with(expected)),
            "{expected:?} not in {said:#?}"
        );
    }
    p.check_consistency().unwrap();
}

#[test]
fn two_cpus_at_one_place_are_reported() {
    let b = cpu_map_with(|map| {
        // cpu1's core renamed core0: it and cpu0 are both at 0:0:0:0.
        let cluster0 = map.child_or_new("socket0").child_or_new("cluster0");
        let core1 = cluster0
            .children
            .iter_mut()
            .find(|c| c.name() == "core1")
            .unwrap();
        core1.name = b"core0".to_vec();
    });
    let p = Platform::parse(&b, 0).unwrap();
    assert_eq!(p.cpus[0].topology, p.cpus[1].topology);
    let said: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        said,
        ["/cpus/cpu-map: 1 place(s) given to two CPUs, 0:0:0:0 first"]
    );
}

#[test]
fn more_redistributor_regions_than_are_kept_is_reported() {
    let mut tree = super::test_tree::Tree::read(&blob("qemu-virt-gicv3-20cpus.dtb"));
    let gic = tree
        .root
        .children
        .iter_mut()
        .find(|n| n.name().starts_with("intc@"))
        .expect("QEMU's tree has its GIC at the root");
    let regions = MAX_GICV3_REDIST_REGIONS as u32 + 1;
    let mut reg = vec![0, 0x800_0000, 0, 0x1_0000];
    for i in 0..regions {
        reg.extend([0x10, i << 24, 0, 0x2_0000]);
    }
    gic.set_cells("#redistributor-regions", &[regions]);
    gic.set_cells("reg", &reg);
    let b = tree.write().0;
    let p = Platform::parse(&b, 0).unwrap();
    match &p.gic {
        Some(Gic::V3 { redistributors, .. }) => {
            assert_eq!(redistributors.len(), MAX_GICV3_REDIST_REGIONS);
            assert_eq!(redistributors[7].base, 0x10_0700_0000);
        }
        other => panic!("expected GICv3, got {other:?}"),
    }
    assert!(
        p.problems.iter().any(|p| p
            .message
            .starts_with("9 redistributor regions: only the first 8 used")),
        "{:?}",
        p.problems
    );
}

#[test]
fn a_numa_node_id_that_is_not_one_cell_is_reported() {
    let b = virt_with(|root| {
        let memory = root
            .children
            .iter_mut()
            .find(|n| n.name().starts_with("memory@"))
            .expect("QEMU's tree has a memory node");
        memory.set_cells("numa-node-id", &[0, 1]);
    });
    let p = Platform::parse(&b, 0).unwrap();
    assert!(p.memory_numa.is_empty());
    assert_eq!(p.memory.len(), 1);
    let problems: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        problems,
        ["/memory@40000000: 'numa-node-id' is not one 32-bit cell: ignored"]
    );
}

#[test]
fn soc_ranges_translate_everything() {
    let b = blob("soc-ranges.dtb");
    let p = Platform::parse(&b, 0).unwrap();
    let uart = p.console.unwrap();
    assert_eq!(uart.name, "serial@7e201000");
    assert_eq!(uart.region, PhysRegion::new(0xfe20_1000, 0x200));
    assert_eq!(uart.clock_hz, Some(48_000_000));
    assert_eq!(uart.irq, Some(153));
    assert_eq!(p.gic, Some(raspberry_pi_4_gic()));
    assert_eq!(
        p.memory.as_slice(),
        &[
            PhysRegion::new(0, 0x3b40_0000),
            PhysRegion::new(0x4000_0000, 0x4000_0000)
        ]
    );
    assert_eq!(p.reservations.len(), 2);
    assert_eq!(p.reservations[0].name, "/memreserve/");
    assert_eq!(
        p.reservations[1].region,
        PhysRegion::new(0x3b40_0000, 0x4c0_0000)
    );
    assert!(p.reservations[1].no_map);
    assert_eq!(
        p.cpus[0].enable_method,
        EnableMethod::SpinTable { release_addr: 0xd8 }
    );
    assert_eq!(
        p.cpus[1].enable_method,
        EnableMethod::SpinTable { release_addr: 0xe0 }
    );
    // A spin-table CPU without its release address, and an unknown method: reported.
    assert_eq!(
        p.cpus[2].enable_method,
        EnableMethod::Unsupported("spin-table")
    );
    assert_eq!(
        p.cpus[3].enable_method,
        EnableMethod::Unsupported("parking-lot")
    );
    let problems: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
    assert!(
        problems
            .iter()
            .any(|m| m.contains("cpu@2") && m.contains("cpu-release-addr"))
    );
    assert!(
        problems
            .iter()
            .any(|m| m.contains("'parking-lot' is not supported"))
    );
    assert_eq!(p.psci, None);
    assert_eq!(p.bootargs, "run=\"cpus\" maxcpus=2");
}

#[test]
fn a_tree_without_a_uart_has_no_console() {
    let b = blob("virt-no-uart.dtb");
    let p = Platform::parse(&b, 0).unwrap();
    assert_eq!(p.console, None);
    assert_eq!(p.cpus.len(), 2);
}

/// Overwrites the property `name` (its first occurrence) with FDT_NOP tokens, as libfdt's
/// fdt_nop_property and firmware editing a blob do.
fn nop_property(b: &mut [u8], name: &str) {
    let be = |b: &[u8], at: usize| u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let (off_struct, off_strings) = (be(b, 8), be(b, 12));
    let mut at = off_struct;
    loop {
        match be(b, at) {
            1 => {
                // BEGIN_NODE: skip the NUL-terminated name, padded to 4.
                let end = b[at + 4..].iter().position(|&c| c == 0).unwrap();
                at += 4 + (end + 1).next_multiple_of(4);
            }
            2 | 4 => at += 4,
            3 => {
                let len = be(b, at + 4);
                let nameoff = be(b, at + 8);
                let total = 12 + len.next_multiple_of(4);
                let s = &b[off_strings + nameoff..];
                let prop =
                    std::str::from_utf8(&s[..s.iter().position(|&c| c == 0).unwrap()]).unwrap();
                if prop == name {
                    for word in b[at..at + total].chunks_mut(4) {
                        word.copy_from_slice(&4u32.to_be_bytes());
                    }
                    return;
                }
                at += total;
            }
            _ => panic!("property {name} not found"),
        }
    }
}

#[test]
fn nop_tokens_are_skipped() {
    let mut b = blob("qemu-virt-gicv2.dtb");
    // QEMU puts /chosen's rng-seed before /cpus and the devices.
    nop_property(&mut b, "rng-seed");
    nop_property(&mut b, "kaslr-seed");
    let p = Platform::parse(&b, 0).unwrap();
    assert_eq!(p.cpus.len(), 4);
    assert!(p.console.is_some());
    assert!(p.gic.is_some());
}

#[test]
fn truncated_and_corrupt_blobs_are_errors() {
    let b = blob("qemu-virt-gicv2.dtb");
    let size = u32::from_be_bytes(b[4..8].try_into().unwrap()) as usize;
    assert!(matches!(
        Platform::parse(&b[..size / 2], 0),
        Err(DtError::BadSize { .. })
    ));
    let mut bad_magic = b.clone();
    bad_magic[0] = 0;
    assert!(matches!(
        Platform::parse(&bad_magic, 0),
        Err(DtError::Malformed(_))
    ));
    let mut bad_token = b.clone();
    let off_struct = u32::from_be_bytes(b[8..12].try_into().unwrap()) as usize;
    bad_token[off_struct..off_struct + 4].copy_from_slice(&9u32.to_be_bytes());
    let e = Platform::parse(&bad_token, 0).unwrap_err();
    assert!(
        e.to_string().starts_with("malformed device tree blob"),
        "{e}"
    );
    assert!(Platform::parse(&[], 0).is_err());
}

#[test]
fn every_single_byte_corruption_is_an_error_or_a_platform() {
    // Not the fuzzing campaign (that is mutation_tests.rs and `make fuzz`), just a sweep:
    // flip each byte of the header and the first part of the structure block; nothing may
    // panic, an error must say why, and a platform must keep its promises.
    let b = blob("soc-ranges.dtb");
    for at in 0..b.len().min(1024) {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut c = b.clone();
            c[at] ^= flip;
            match Platform::parse(&c, 0) {
                Ok(p) => {
                    if let Err(e) = p.check_consistency() {
                        panic!("byte {at:#x} ^ {flip:#x}: {e}");
                    }
                }
                Err(e) => assert!(!e.to_string().is_empty(), "byte {at:#x} ^ {flip:#x}"),
            }
        }
    }
}

/// The architected timer's interrupts in every tree here: the EL1 physical timer's PPI
/// 14 and the virtual timer's PPI 11, as GIC interrupt IDs.
const ARCH_TIMER: Timer = Timer {
    phys_irq: 30,
    virt_irq: 27,
};

/// The BCM2711's GIC-400, at the addresses /soc `ranges` translate its registers to.
fn raspberry_pi_4_gic() -> Gic {
    Gic::V2 {
        distributor: PhysRegion::new(0xff84_1000, 0x1000),
        cpu_interface: PhysRegion::new(0xff84_2000, 0x2000),
    }
}

/// The Raspberry Pi 4 description every blob for the board must yield: four spin-table
/// A72s, the GIC-400, timer and watchdog behind /soc `ranges`, and both UARTs.
fn assert_is_a_raspberry_pi_4(p: &Platform<'_>) {
    // Its SoC's PSCI, when it has one, is TF-A's Raspberry Pi port.
    assert!(p.psci_off_by_warm_reset);
    let cpus: Vec<(u64, EnableMethod<'_>)> = p
        .cpus
        .iter()
        .map(|c| (c.mpidr.affinity(), c.enable_method))
        .collect();
    assert_eq!(
        cpus,
        [0xd8, 0xe0, 0xe8, 0xf0]
            .iter()
            .enumerate()
            .map(|(i, &release_addr)| (i as u64, EnableMethod::SpinTable { release_addr }))
            .collect::<Vec<_>>()
    );
    assert_eq!(p.gic, Some(raspberry_pi_4_gic()));
    assert_eq!(p.timer, Some(ARCH_TIMER));
    assert_eq!(p.psci, None);
    assert_eq!(p.watchdog.map(|w| w.base), Some(0xfe10_0000));
    let uarts: Vec<(UartKind, u64)> = p.uarts.iter().map(|u| (u.kind, u.region.base)).collect();
    assert!(uarts.contains(&(UartKind::Pl011, 0xfe20_1000)), "{uarts:?}");
    assert!(
        uarts.contains(&(UartKind::MiniUart, 0xfe21_5040)),
        "{uarts:?}"
    );
    assert!(
        p.reservations
            .iter()
            .any(|r| r.region == PhysRegion::new(0, 0x1000)),
        "the spin-table page must be reserved: {:?}",
        p.reservations
    );
}

#[test]
fn our_rpi4_tree_as_qemu_passes_it() {
    let b = blob("qemu-raspi4b-rpi4.dtb");
    let p = Platform::parse(&b, 0x800_0000).unwrap();
    assert_is_a_raspberry_pi_4(&p);
    assert_eq!(p.memory.as_slice(), &[PhysRegion::new(0, 0x3c00_0000)]);
    let console = p.console.unwrap();
    assert_eq!(
        (console.kind, console.region.base),
        (UartKind::Pl011, 0xfe20_1000)
    );
    assert_eq!(console.clock_hz, Some(48_000_000));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

/// Debian's copy of the upstream bcm2711-rpi-4-b.dtb, fetched by `make unit`; `None`, with
/// a loud message, where that was impossible (no apt, no network).
fn upstream_blob(name: &str) -> Option<Vec<u8>> {
    let path = format!("{}/build/dts/{name}", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!(
                "\n*** SKIPPED: {path}: {e}\n*** the upstream Raspberry Pi 4 tree could not be \
                 fetched from Debian (see `make unit`'s output); this test did not run\n"
            );
            None
        }
    }
}

#[test]
fn upstream_rpi4_tree_as_qemu_passes_it_matches_ours() {
    let Some(b) = upstream_blob("qemu-raspi4b-upstream.dtb") else {
        return;
    };
    // QEMU has filled in /memory and disabled what it does not emulate, leaving FDT_NOPs.
    assert!(
        b.windows(4).any(|w| w == [0, 0, 0, 4]),
        "expected FDT_NOP tokens"
    );
    let p = Platform::parse(&b, 0x800_0000).unwrap();
    assert_is_a_raspberry_pi_4(&p);
    let ours_blob = blob("qemu-raspi4b-rpi4.dtb");
    let ours = Platform::parse(&ours_blob, 0x800_0000).unwrap();
    assert_eq!(p.memory, ours.memory);
    assert_eq!(p.cpus.len(), ours.cpus.len());
    for (theirs, ours) in p.cpus.iter().zip(&ours.cpus) {
        assert_eq!(
            (theirs.mpidr, theirs.enable_method),
            (ours.mpidr, ours.enable_method)
        );
    }
    assert_eq!(
        (p.gic.clone(), p.timer, p.watchdog),
        (ours.gic, ours.timer, ours.watchdog)
    );
    // Its stdout-path is serial1: the mini UART, whose clock only the firmware knows.
    assert_eq!(p.stdout_path, Some("serial1"));
    let console = p.console.unwrap();
    assert_eq!(
        (console.kind, console.region),
        (UartKind::MiniUart, PhysRegion::new(0xfe21_5040, 0x40))
    );
    assert_eq!(console.clock_hz, None);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn upstream_rpi4_tree_unedited_has_no_memory_until_firmware_fills_it() {
    let Some(b) = upstream_blob("upstream/bcm2711-rpi-4-b.dtb") else {
        return;
    };
    assert_eq!(Platform::parse(&b, 0).unwrap_err(), DtError::NoMemory);
}

#[test]
fn console_bootarg_overrides_stdout_path() {
    // Our tree says serial0 (the PL011); the bootarg asks for the mini UART by alias, by
    // path with options, and by alias with Linux-style options. A name that leads nowhere
    // is reported and stdout-path decides.
    for (bootargs, kind, problem) in [
        ("console=serial1", UartKind::MiniUart, None),
        (
            "console=/soc/serial@7e215040:115200",
            UartKind::MiniUart,
            None,
        ),
        ("x=1 console=serial1,115200n8", UartKind::MiniUart, None),
        ("console=serial1 console=serial0", UartKind::Pl011, None),
        (
            "console=ttyS0,115200",
            UartKind::Pl011,
            Some("console= 'ttyS0' names no UART"),
        ),
    ] {
        let b = rpi4_with_bootargs(bootargs);
        let p = Platform::parse(&b, 0).unwrap();
        assert_eq!(p.console.unwrap().kind, kind, "{bootargs}");
        let problems: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
        match problem {
            Some(m) => assert!(problems.iter().any(|p| p.contains(m)), "{problems:?}"),
            None => assert!(problems.is_empty(), "{bootargs}: {problems:?}"),
        }
    }
}

/// dts/rpi4.dts compiled by dtc with `bootargs` in /chosen.
fn rpi4_with_bootargs(bootargs: &str) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let path = format!("{}/dts/rpi4.dts", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).unwrap();
    let chosen = "\tchosen {\n";
    assert!(source.contains(chosen), "{path}: no /chosen");
    let source = source.replacen(
        chosen,
        &format!(
            "{chosen}\t\tbootargs = \"{}\";\n",
            bootargs.replace('"', "\\\"")
        ),
        1,
    );
    let mut dtc = Command::new("dtc")
        .args(["-q", "-I", "dts", "-O", "dtb"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("dtc (installed by tools/setup.sh)");
    dtc.stdin
        .take()
        .unwrap()
        .write_all(source.as_bytes())
        .unwrap();
    let out = dtc.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dtc failed on {path} with {bootargs:?}"
    );
    out.stdout
}

// What real trees do that the reader once got wrong: each found by comparing it with
// libfdt over Linux's trees (corpus_tests), pinned here on QEMU's virt tree.

fn virt_with(edit: impl FnOnce(&mut super::test_tree::Node)) -> Vec<u8> {
    let mut tree = super::test_tree::Tree::read(&blob("qemu-virt-gicv2.dtb"));
    edit(&mut tree.root);
    tree.write().0
}

#[test]
fn names_longer_than_31_characters_are_read() {
    // Linux's trees use such names (snps,quirk-frame-length-adjustment, 34), and so does
    // QEMU's xlnx-versal-virt; dtc, libfdt and Linux read them.
    let b = virt_with(|root| {
        root.set_str("arm,cpu-registers-not-fw-configured", "");
        root.child_or_new("a-pinmux-node-name-of-thirty-four-c")
            .set_cells("snps,quirk-frame-length-adjustment", &[0x20]);
    });
    let p = Platform::parse(&b, 0).expect("a tree with long names");
    assert_eq!(p.cpus.len(), 4);
    assert!(p.console.is_some());
}

#[test]
fn a_property_after_a_child_node_is_malformed() {
    // / { a { }; x; }: what dtoolkit's walk cannot read (its iterator panics on it),
    // refused up front. The same tree with the property first is fine.
    use super::test_tree::{FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_PROP};
    let build = |property_first: bool| {
        let property = [FDT_PROP, 0, 0];
        let child = [
            FDT_BEGIN_NODE,
            u32::from_be_bytes(*b"a\0\0\0"),
            FDT_END_NODE,
        ];
        let mut structure = vec![FDT_BEGIN_NODE, 0];
        if property_first {
            structure.extend(property.iter().chain(&child));
        } else {
            structure.extend(child.iter().chain(&property));
        }
        structure.extend([FDT_END_NODE, FDT_END]);
        let (off_rsvmap, off_struct) = (40u32, 56u32);
        let off_strings = off_struct + 4 * structure.len() as u32;
        let total = off_strings + 4;
        let header = [
            0xd00d_feed,
            total,
            off_struct,
            off_strings,
            off_rsvmap,
            17,
            16,
            0,
            4,
            4 * structure.len() as u32,
        ];
        let mut blob: Vec<u8> = header.iter().flat_map(|w| w.to_be_bytes()).collect();
        blob.extend([0; 16]);
        blob.extend(structure.iter().flat_map(|w| w.to_be_bytes()));
        blob.extend(b"x\0\0\0");
        blob
    };
    assert_eq!(super::blob::check(&build(true)), Ok(()));
    let e = super::blob::check(&build(false)).expect_err("a property after a child");
    assert_eq!(e.kind, super::blob::BlobErrorKind::BadToken(FDT_PROP));
    assert!(matches!(
        Platform::parse(&build(false), 0),
        Err(DtError::Malformed(_))
    ));
}

#[test]
fn interrupts_extended_and_four_cell_specifiers_are_decoded() {
    // Renesas trees give the timer `interrupts-extended`; GICv3 trees with PPI partitions
    // use four cells per interrupt.
    let b = virt_with(|root| {
        let gic_phandle = root
            .child_or_new("intc@8000000")
            .prop("phandle")
            .map(|v| u32::from_be_bytes(v.try_into().unwrap()));
        let gic = gic_phandle.expect("the GIC has a phandle");
        let timer = root.child_or_new("timer");
        timer.props.retain(|(n, _)| n != b"interrupts");
        timer.set_cells(
            "interrupts-extended",
            &[gic, 1, 13, 4, gic, 1, 14, 4, gic, 1, 11, 4, gic, 1, 10, 4],
        );
    });
    let p = Platform::parse(&b, 0).unwrap();
    assert_eq!(p.timer, Some(ARCH_TIMER));

    let b = virt_with(|root| {
        root.child_or_new("intc@8000000")
            .set_cells("#interrupt-cells", &[4]);
        root.child_or_new("timer").set_cells(
            "interrupts",
            &[1, 13, 4, 0, 1, 14, 4, 0, 1, 11, 4, 0, 1, 10, 4, 0],
        );
        root.child_or_new("pl011@9000000")
            .set_cells("interrupts", &[0, 1, 4, 0]);
    });
    let p = Platform::parse(&b, 0).unwrap();
    assert_eq!(p.timer, Some(ARCH_TIMER));
    assert_eq!(p.console.unwrap().irq, Some(33));
}

#[test]
fn the_root_interrupt_controller_is_the_gic_even_when_another_comes_first() {
    // A second GIC earlier in the tree, not the root's interrupt parent.
    let b = virt_with(|root| {
        let other = root.child_or_new("aaa-gic@2c000000");
        other.set_str("compatible", "arm,gic-400");
        other.set_cells(
            "reg",
            &[0, 0x2c00_0000, 0, 0x1000, 0, 0x2c00_2000, 0, 0x2000],
        );
        other.set("interrupt-controller", Vec::new());
        other.set_cells("#interrupt-cells", &[3]);
        other.set_cells("phandle", &[0x7777]);
        root.children.rotate_right(1);
    });
    let p = Platform::parse(&b, 0).unwrap();
    match p.gic {
        Some(Gic::V2 { distributor, .. }) => assert_eq!(distributor.base, 0x800_0000),
        other => panic!("the root GIC, not {other:?}"),
    }
    assert!(
        p.problems
            .iter()
            .any(|q| q.message.contains("not the root interrupt controller"))
    );
}

/// QEMU's virt tree with its `/psci` edited by `edit`.
fn virt_with_psci(edit: impl FnOnce(&mut super::test_tree::Node)) -> Vec<u8> {
    virt_with(|root| edit(root.child_or_new("psci")))
}

fn without(node: &mut super::test_tree::Node, property: &str) {
    node.props.retain(|(name, _)| name != property.as_bytes());
}

/// Numbers no firmware uses as standard ones, so that a reader defaulting to those shows.
const V0_1_CPU_ON: u32 = 0x95c1_ba60;
const V0_1_CPU_OFF: u32 = 0x95c1_ba5f;

fn psci_0_1_node(psci: &mut super::test_tree::Node) {
    psci.set_str("compatible", "arm,psci");
    psci.set_cells("cpu_on", &[V0_1_CPU_ON]);
    psci.set_cells("cpu_off", &[V0_1_CPU_OFF]);
    without(psci, "cpu_suspend");
    without(psci, "migrate");
}

#[test]
fn psci_0_1_alone_is_read_with_the_trees_function_numbers() {
    let b = virt_with_psci(psci_0_1_node);
    let p = Platform::parse(&b, 0).unwrap();
    assert_eq!(
        p.psci,
        Some(PsciNode {
            method: PsciMethod::Hvc,
            functions: PsciFunctions::V0_1(FunctionIds {
                cpu_on: Some(V0_1_CPU_ON),
                cpu_off: Some(V0_1_CPU_OFF),
                cpu_suspend: None,
                migrate: None,
            }),
        })
    );
    assert!(p.cpus.iter().all(|c| c.enable_method == EnableMethod::Psci));
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    p.check_consistency().unwrap();
}

#[test]
fn psci_0_2_listed_with_psci_0_1_is_0_2_and_the_first_listed_decides() {
    // Linux's trees list "arm,psci-0.2", "arm,psci" (and QEMU's "arm,psci-1.0" first): the
    // standard numbers, whatever cpu_on the node also gives for 0.1 callers.
    for list in [
        "arm,psci-0.2\0arm,psci\0",
        "arm,psci-1.0\0arm,psci-0.2\0arm,psci\0",
        "acme,firmware\0arm,psci-0.2\0arm,psci\0",
    ] {
        let b = virt_with_psci(|psci| {
            psci_0_1_node(psci);
            psci.set("compatible", list.as_bytes().to_vec());
        });
        let p = Platform::parse(&b, 0).unwrap();
        assert_eq!(
            p.psci.map(|n| n.functions),
            Some(PsciFunctions::Standard),
            "{list:?}"
        );
    }
    // Linux's of_match_node scores an earlier string higher: "arm,psci" first is 0.1.
    let b = virt_with_psci(|psci| {
        psci_0_1_node(psci);
        psci.set("compatible", b"arm,psci\0arm,psci-0.2\0".to_vec());
    });
    let p = Platform::parse(&b, 0).unwrap();
    assert!(matches!(
        p.psci.map(|n| n.functions),
        Some(PsciFunctions::V0_1(ids)) if ids.cpu_on == Some(V0_1_CPU_ON)
    ));
}

#[test]
fn psci_0_1_without_cpu_on_is_read_and_says_its_cpus_cannot_start() {
    let b = virt_with_psci(|psci| {
        psci_0_1_node(psci);
        without(psci, "cpu_on");
    });
    let p = Platform::parse(&b, 0).unwrap();
    match p.psci.map(|n| n.functions) {
        Some(PsciFunctions::V0_1(ids)) => {
            assert_eq!((ids.cpu_on, ids.cpu_off), (None, Some(V0_1_CPU_OFF)))
        }
        other => panic!("PSCI 0.1 without cpu_on, not {other:?}"),
    }
    // The CPUs keep their method; the kernel's PSCI says why it cannot start them.
    assert!(p.cpus.iter().all(|c| c.enable_method == EnableMethod::Psci));
    assert!(
        p.problems
            .iter()
            .any(|q| q.node.as_str() == "/psci" && q.message.contains("without cpu_on")),
        "{:?}",
        p.problems
    );
    p.check_consistency().unwrap();
}

#[test]
fn bad_psci_0_1_nodes_get_a_clear_problem() {
    // No method: nothing can be called; the CPUs say psci without a usable node.
    let b = virt_with_psci(|psci| {
        psci_0_1_node(psci);
        without(psci, "method");
    });
    let p = Platform::parse(&b, 0).unwrap();
    assert_eq!(p.psci, None);
    assert!(
        p.cpus
            .iter()
            .all(|c| c.enable_method == EnableMethod::Unsupported("psci"))
    );
    assert!(p.problems.iter().any(|q| q.message.contains("PSCI method")));
    p.check_consistency().unwrap();

    // A function number that is not one 32-bit cell is not called, and said.
    let b = virt_with_psci(|psci| {
        psci_0_1_node(psci);
        psci.set_cells("cpu_on", &[0, V0_1_CPU_ON]);
        psci.set("cpu_off", vec![0x12, 0x34]);
    });
    let p = Platform::parse(&b, 0).unwrap();
    match p.psci.map(|n| n.functions) {
        Some(PsciFunctions::V0_1(ids)) => assert_eq!((ids.cpu_on, ids.cpu_off), (None, None)),
        other => panic!("PSCI 0.1 with neither number usable, not {other:?}"),
    }
    for (name, bytes) in [("cpu_on", 8), ("cpu_off", 2)] {
        let said = format!("PSCI 0.1 {name} is {bytes} bytes, not one 32-bit cell");
        assert!(
            p.problems.iter().any(|q| q.message.contains(&said)),
            "{said}: {:?}",
            p.problems
        );
    }
    p.check_consistency().unwrap();
}

#[test]
fn disabled_reservations_and_nested_memory_nodes_are_not_read() {
    let b = virt_with(|root| {
        let resmem = root.child_or_new("reserved-memory");
        resmem.set_cells("#address-cells", &[2]);
        resmem.set_cells("#size-cells", &[2]);
        resmem.set("ranges", Vec::new());
        let on = resmem.child_or_new("fw@50000000");
        on.set_cells("reg", &[0, 0x5000_0000, 0, 0x10_0000]);
        on.set("no-map", Vec::new());
        let off = resmem.child_or_new("unused@51000000");
        off.set_cells("reg", &[0, 0x5100_0000, 0, 0x10_0000]);
        off.set_str("status", "disabled");
        let bus = root.child_or_new("bus");
        let memory = bus.child_or_new("memory@80000000");
        memory.set_str("device_type", "memory");
        memory.set_cells("reg", &[0, 0x8000_0000, 0, 0x1000_0000]);
    });
    let p = Platform::parse(&b, 0).unwrap();
    let reserved: Vec<_> = p
        .reservations
        .iter()
        .map(|r| (r.region.base, r.no_map))
        .collect();
    assert_eq!(reserved, vec![(0x5000_0000, true)]);
    assert_eq!(
        p.memory.as_slice(),
        &[PhysRegion::new(0x4000_0000, 512 << 20)]
    );
}

#[test]
fn a_32_bit_spin_table_release_address_is_not_read_as_64() {
    let b = virt_with(|root| {
        let cpus = root.child_or_new("cpus");
        let cpu = cpus.child_or_new("cpu@1");
        cpu.set_str("enable-method", "spin-table");
        cpu.set_cells("cpu-release-addr", &[0x8000_00d8]);
    });
    let p = Platform::parse(&b, 0).unwrap();
    assert_eq!(
        p.cpus[1].enable_method,
        EnableMethod::Unsupported("spin-table")
    );
}

#[test]
fn a_repeated_mpidr_is_caught_in_any_order() {
    // QEMU's four CPUs given MPIDRs 1, 0, 1, 0: the third repeats the highest so far, the
    // fourth one below it; the second, below the highest but new, is kept. The cpu-map's
    // leaves of the two left out name no CPU kept.
    let mut tree = super::test_tree::Tree::read(&blob("qemu-virt-gicv2.dtb"));
    let cpus = tree.root.child_or_new("cpus");
    for (name, mpidr) in [("cpu@0", 1), ("cpu@1", 0), ("cpu@2", 1), ("cpu@3", 0)] {
        cpus.child_or_new(name).set_cells("reg", &[mpidr]);
    }
    let (b, _) = tree.write();
    let p = Platform::parse(&b, 0).unwrap();
    let mpidrs: Vec<u64> = p.cpus.iter().map(|c| c.mpidr.affinity()).collect();
    assert_eq!(mpidrs, vec![1, 0]);
    let said: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        said,
        [
            "/cpus/cpu@2: MPIDR 0x1 appears twice: left out",
            "/cpus/cpu@3: MPIDR 0x0 appears twice: left out",
            "/cpus/cpu-map: 0:0:2:0 names phandle 0x8002, no CPU kept: ignored",
            "/cpus/cpu-map: 0:0:3:0 names phandle 0x8001, no CPU kept: ignored",
        ]
    );
    p.check_consistency().unwrap();
}
