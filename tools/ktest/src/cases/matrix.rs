//! The matrix: QEMU virt configurations nobody tuned the kernel for (entered at EL2 with
//! each GIC, CPUs in sockets and clusters, two NUMA nodes, 8 GiB, highmem=off, other CPU
//! models). Each boots, cycles its CPUs (`hotplug 3`), runs the 2004 scenario briefly
//! (`stress slab-hotplug 3`), and must be the machine it asked for as the kernel saw it:
//! the CPUs and their MPIDRs, the RAM ranges and their NUMA nodes, the GIC version, the EL
//! it was entered at and the PSCI conduit that goes with it, all read from the raw forms.
//! The cases are generated from the table `MACHINES`, one row a configuration.

use std::time::Duration;

use crate::case::Case;
use crate::checks::hotplug_and_scenario_passed;

/// One configuration and what the kernel must see of it.
struct Machine {
    /// The case is `matrix-NAME`.
    name: &'static str,
    about: &'static str,
    /// QEMU's `-M`.
    machine: &'static str,
    cpu: &'static str,
    smp: u32,
    topology: &'static str,
    /// QEMU's `-m`.
    memory: &'static str,
    qemu_args: &'static [&'static str],
    /// The RAM ranges the tree gives, in its order: base, size, NUMA node.
    ram: &'static [(u64, u64, Option<u32>)],
    /// Each CPU's NUMA node, when the machine has nodes.
    cpu_nodes: &'static [u32],
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
/// Where virt's RAM starts.
const RAM: u64 = 0x4000_0000;

/// The configurations. The CPU models are paired with the GIC their real systems have:
/// the Cortex-A53 with a GICv2 (as the GIC-400 of the Raspberry Pi 3 and many A53 SoCs);
/// the Cortex-A76, Neoverse N1 and A64FX with a GICv3, since their GIC CPU interface is
/// the GICv3 system-register one, which QEMU's virt would leave out with a GICv2; `max`
/// (every feature QEMU has) with a GICv3 and at EL2, the most it can be given. A GICv2
/// serves at most 8 CPUs on virt, so the 8-CPU topology is the most a GICv2 takes.
const MACHINES: [Machine; 11] = [
    Machine {
        name: "gicv2-el2",
        about: "Entered at EL2 with a GICv2 (virtualization=on): the kernel drops to EL1 \
                and calls PSCI over SMC.",
        machine: "virt,gic-version=2,virtualization=on",
        cpu: "cortex-a72",
        smp: 4,
        topology: "",
        memory: "512M",
        qemu_args: &[],
        ram: &[(RAM, 512 * MIB, None)],
        cpu_nodes: &[],
    },
    Machine {
        name: "gicv3-el2",
        about: "Entered at EL2 with a GICv3: the kernel drops to EL1 and calls PSCI over \
                SMC.",
        machine: "virt,gic-version=3,virtualization=on",
        cpu: "cortex-a72",
        smp: 4,
        topology: "",
        memory: "512M",
        qemu_args: &[],
        ram: &[(RAM, 512 * MIB, None)],
        cpu_nodes: &[],
    },
    Machine {
        name: "2-sockets-2-clusters-2-cores",
        about: "Eight CPUs as 2 sockets of 2 clusters of 2 cores: QEMU adds a cpu-map to \
                the tree (each CPU's place, which topology-2-sockets-2-clusters-2-cores \
                checks); the MPIDRs stay 0-7.",
        machine: "virt,gic-version=2",
        cpu: "cortex-a72",
        smp: 8,
        topology: ",sockets=2,clusters=2,cores=2",
        memory: "512M",
        qemu_args: &[],
        ram: &[(RAM, 512 * MIB, None)],
        cpu_nodes: &[],
    },
    Machine {
        name: "2-numa-nodes",
        about: "Two NUMA nodes of 512 MiB, a socket of two CPUs in each: the tree lists \
                node 1's memory first, and dt shows each range and CPU with its node.",
        machine: "virt,gic-version=2",
        cpu: "cortex-a72",
        smp: 4,
        topology: ",sockets=2,cores=2",
        memory: "1G",
        qemu_args: &[
            "-object",
            "memory-backend-ram,id=m0,size=512M",
            "-object",
            "memory-backend-ram,id=m1,size=512M",
            "-numa",
            "node,nodeid=0,cpus=0-1,memdev=m0",
            "-numa",
            "node,nodeid=1,cpus=2-3,memdev=m1",
        ],
        ram: &[
            (RAM + 512 * MIB, 512 * MIB, Some(1)),
            (RAM, 512 * MIB, Some(0)),
        ],
        cpu_nodes: &[0, 0, 1, 1],
    },
    Machine {
        name: "8g",
        about: "8 GiB of RAM, most of it above 4 GiB: all of it in the tree, the memory \
                map and the page allocator's count.",
        machine: "virt,gic-version=3",
        cpu: "cortex-a72",
        smp: 4,
        topology: "",
        memory: "8G",
        qemu_args: &[],
        ram: &[(RAM, 8 * GIB, None)],
        cpu_nodes: &[],
    },
    Machine {
        name: "highmem-off-3g",
        about: "highmem=off with a GICv3 and the most RAM it allows, 3 GiB, which ends at \
                4 GiB: nothing above 32 bits.",
        machine: "virt,gic-version=3,highmem=off",
        cpu: "cortex-a72",
        smp: 4,
        topology: "",
        memory: "3G",
        qemu_args: &[],
        ram: &[(RAM, 3 * GIB, None)],
        cpu_nodes: &[],
    },
    Machine {
        name: "cortex-a53",
        about: "Four Cortex-A53s with a GICv2, as SoCs built on them pair them.",
        machine: "virt,gic-version=2",
        cpu: "cortex-a53",
        smp: 4,
        topology: "",
        memory: "512M",
        qemu_args: &[],
        ram: &[(RAM, 512 * MIB, None)],
        cpu_nodes: &[],
    },
    Machine {
        name: "cortex-a76",
        about: "Four Cortex-A76s (Armv8.2) with a GICv3.",
        machine: "virt,gic-version=3",
        cpu: "cortex-a76",
        smp: 4,
        topology: "",
        memory: "512M",
        qemu_args: &[],
        ram: &[(RAM, 512 * MIB, None)],
        cpu_nodes: &[],
    },
    Machine {
        name: "neoverse-n1",
        about: "Four Neoverse N1s (the server core of Armv8.2) with a GICv3.",
        machine: "virt,gic-version=3",
        cpu: "neoverse-n1",
        smp: 4,
        topology: "",
        memory: "512M",
        qemu_args: &[],
        ram: &[(RAM, 512 * MIB, None)],
        cpu_nodes: &[],
    },
    Machine {
        name: "a64fx",
        about: "Four A64FXs (Fujitsu's, with 512-bit SVE, which the kernel does not use) \
                with a GICv3.",
        machine: "virt,gic-version=3",
        cpu: "a64fx",
        smp: 4,
        topology: "",
        memory: "512M",
        qemu_args: &[],
        ram: &[(RAM, 512 * MIB, None)],
        cpu_nodes: &[],
    },
    Machine {
        name: "max",
        about: "QEMU's `max` CPU, every architectural feature it emulates, with a GICv3 \
                and entered at EL2.",
        machine: "virt,gic-version=3,virtualization=on",
        cpu: "max",
        smp: 4,
        topology: "",
        memory: "512M",
        qemu_args: &[],
        ram: &[(RAM, 512 * MIB, None)],
        cpu_nodes: &[],
    },
];

/// The script every configuration runs: what it is, its CPUs cycled, the scenario, and
/// its CPUs and memory again.
const SCRIPT: &str = "run=\"dt --raw; cpus --raw; mem --raw; hotplug 3; stress slab-hotplug 3; \
                      cpus --raw; poweroff\"";

/// Each run: `hotplug` and the scenario passed and lost nothing, and every CPU is online
/// after them, as before.
fn ran_clean(output: &str) -> Result<(), String> {
    hotplug_and_scenario_passed(output)?;
    let (before, after) = output
        .split_once("RESULT stress-slab-hotplug ")
        .ok_or("no stress run")?;
    let (before, after) = (cpu_lines(before), cpu_lines(after));
    if after.is_empty() || after != before {
        return Err(format!(
            "the CPUs after the scenario are not as before it: {before:?} -> {after:?}"
        ));
    }
    Ok(())
}

/// The `cpus --raw` lines of `text`.
fn cpu_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("cpu=")).collect()
}

/// What the kernel must show of `m`: the EL and conduit, the GIC, each CPU, each RAM range
/// with its node, the page count, and the runs passing.
fn expected(m: &Machine) -> Vec<&'static str> {
    let el2 = m.machine.contains("virtualization=on");
    let gic = if m.machine.contains("gic-version=3") {
        "gic=v3 distributor=0x8000000 distributor_size=0x10000 redistributor_regions=1"
    } else {
        "gic=v2 distributor=0x8000000 distributor_size=0x10000 cpu_interface=0x8010000 \
         cpu_interface_size=0x10000"
    };
    let mut texts = vec![
        format!("entered at EL{}, now EL1", if el2 { 2 } else { 1 }),
        format!("psci={} version=", if el2 { "smc" } else { "hvc" }),
        gic.to_string(),
        format!("{} CPU(s) in the device tree", m.smp),
        format!("{0} of {0} CPUs online: 0-{1}", m.smp, m.smp - 1),
        "cpus_left_out=0 limit=".to_string(),
        "problems=0 not_kept=0".to_string(),
    ];
    for cpu in 0..m.smp {
        let node = m.cpu_nodes.get(cpu as usize);
        texts.push(format!("cpu={cpu} mpidr={cpu:#x} method=psci state=online"));
        texts.push(format!(
            "cpu_node=cpu@{cpu:x} index={cpu} mpidr={cpu:#x} method=psci numa_node={}",
            node.map_or("none".to_string(), u32::to_string)
        ));
    }
    for (base, size, node) in m.ram {
        texts.push(format!(
            "memory={base:#x} size={size:#x} numa_node={}",
            node.map_or("none".to_string(), |n| n.to_string())
        ));
        texts.push(format!("ram={base:#x} size={size:#x}"));
    }
    let pages: u64 = m.ram.iter().map(|(_, size, _)| size / 4096).sum();
    texts.push(format!("page_size=4096 total={pages} "));
    texts.push("RESULT hotplug PASS cycles=3 ".to_string());
    texts.push("lost=(none)".to_string());
    texts.push("RESULT stress-slab-hotplug PASS seconds=".to_string());
    texts.into_iter().map(|t| &*t.leak()).collect()
}

pub fn cases(base: Case) -> Vec<Case> {
    MACHINES
        .iter()
        .map(|m| Case {
            name: format!("matrix-{}", m.name).leak(),
            about: m.about,
            machine: m.machine,
            cpu: m.cpu,
            smp: m.smp,
            topology: m.topology,
            memory: m.memory,
            qemu_args: m.qemu_args,
            bootargs: SCRIPT,
            expect: expected(m).leak(),
            // A CPU beyond those asked for, or QEMU finding fault with its options.
            forbid: vec![
                "Oops:",
                format!("cpu={} ", m.smp).leak(),
                "qemu-system-aarch64:",
            ]
            .leak(),
            check: Some(ran_clean),
            timeout: Duration::from_secs(90),
            ..base
        })
        .collect()
}
