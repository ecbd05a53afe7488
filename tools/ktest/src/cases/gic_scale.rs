//! The GICv3 beyond one redistributor region, and where each CPU sits. QEMU's virt has room
//! for 123 redistributors (61 of GICv4's, with their virtual LPI frames) in its first
//! region and puts the rest in a second one at 256 GiB: with 160 CPUs (and a GICv4 with 64)
//! every CPU must be found in one of them, come online, take cross-calls and go off and on,
//! and a call to every other CPU goes as one broadcast. With 2 sockets of 2 clusters of 2
//! cores, `cpus` must show each CPU's place from the tree's cpu-map.

use std::time::Duration;

use crate::case::Case;
use crate::checks::{field, passed_with_counts};

/// The census of `hotplug` passed: every call reached exactly the online CPUs.
fn hotplug_passed(output: &str) -> Result<(), String> {
    passed_with_counts(output, "hotplug", &["cycles", "ops", "censuses"], &[])
}

/// Each CPU of `-smp 8,sockets=2,clusters=2,cores=2`, as `cpus --raw` says: CPU i in
/// socket i / 4, cluster i / 2 % 2, core i % 2, thread 0.
fn places_of_2_sockets_2_clusters_2_cores(output: &str) -> Result<(), String> {
    let lines: Vec<&str> = output.lines().filter(|l| l.starts_with("cpu=")).collect();
    if lines.len() != 8 {
        return Err(format!("{} `cpus --raw` lines, not 8", lines.len()));
    }
    for line in lines {
        let cpu: u32 = field(line, "cpu")
            .and_then(|c| c.parse().ok())
            .ok_or(format!("no cpu in {line:?}"))?;
        let want = [cpu / 4, cpu / 2 % 2, cpu % 2, 0].map(|n| n.to_string());
        let have = ["socket", "cluster", "core", "thread"].map(|k| field(line, k).unwrap_or("?"));
        if have != want.each_ref().map(String::as_str) {
            return Err(format!(
                "cpu{cpu} is at socket:cluster:core:thread {} in {line:?}, not {}",
                have.join(":"),
                want.join(":")
            ));
        }
    }
    Ok(())
}

pub fn cases(base: Case) -> Vec<Case> {
    vec![
        Case {
            name: "gicv3-160cpus-two-redistributor-regions",
            about: "160 CPUs on a GICv3: 123 redistributors in the first region, 37 in the \
                    second at 256 GiB; all online, cross-calls to CPUs in both (cpu120 at \
                    Aff1 7, cpu150 and cpu159 in the second region at Aff1 9), one off and \
                    on there, and a cycle of all whose censuses go as one broadcast.",
            machine: "virt,gic-version=3",
            smp: 160,
            memory: "1G",
            bootargs: "run=\"dt --raw; ipi 120; ipi 150; ipi 159; cpu off 150; cpus --raw; \
                       cpu on 150; ipi 150; hotplug 1; poweroff\"",
            expect: &[
                "160 of 160 CPUs online: 0-159",
                "redistributors=0x80a0000 size=0xf60000 found=123",
                "redistributors=0x4000000000 size=0x4000000 found=37",
                "gic_redistributors=160 matched=160 range_selectors=no broadcast=yes",
                "ipi 120: 100 round trips",
                "ipi 159: 100 round trips",
                "cpu off 150: done in",
                "cpu=150 mpidr=0x906 method=psci state=offline",
                "cpu on 150: done in",
                "ipi 150: 100 round trips",
                "RESULT hotplug PASS cycles=1 ops=318 cpus=159 censuses=2 ",
            ],
            // An error of the interrupt controller's at boot, bring-up or power-off.
            forbid: &["Oops:", "interrupt controller"],
            check: Some(hotplug_passed),
            timeout: Duration::from_secs(180),
            ..base
        },
        Case {
            name: "gicv4-64cpus-vlpi-frames-two-regions",
            about: "A GICv4, entered at EL2: each redistributor four frames (GICR_TYPER.VLPIS), \
                    61 in the first region and 3 in the second; all 64 CPUs online, \
                    cross-calls to the second region, one of its CPUs off and on.",
            machine: "virt,gic-version=4,virtualization=on",
            smp: 64,
            bootargs: "run=\"dt --raw; ipi 60; ipi 63; cpu off 62; cpu on 62; ipi 62; \
                       poweroff\"",
            expect: &[
                "64 of 64 CPUs online: 0-63",
                "redistributors=0x80a0000 size=0xf60000 found=61",
                "redistributors=0x4000000000 size=0x4000000 found=3",
                "gic_redistributors=64 matched=64 range_selectors=no broadcast=yes",
                "ipi 60: 100 round trips",
                "ipi 63: 100 round trips",
                "cpu on 62: done in",
                "ipi 62: 100 round trips",
            ],
            forbid: &["Oops:", "interrupt controller"],
            timeout: Duration::from_secs(120),
            ..base
        },
        Case {
            name: "topology-2-sockets-2-clusters-2-cores",
            about: "Eight CPUs as 2 sockets of 2 clusters of 2 cores: cpus shows each one's \
                    socket, cluster, core and thread from QEMU's cpu-map.",
            machine: "virt,gic-version=3",
            smp: 8,
            topology: ",sockets=2,clusters=2,cores=2",
            bootargs: "run=\"cpus; cpus --raw; poweroff\"",
            expect: &[
                "8 of 8 CPUs online: 0-7",
                "cpu=7 mpidr=0x7 method=psci state=online",
            ],
            check: Some(places_of_2_sockets_2_clusters_2_cores),
            ..base
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_in_the_wrong_place_is_caught() {
        let line = |cpu: u32, place: &str| {
            format!("cpu={cpu} mpidr={cpu:#x} method=psci state=online {place}\n")
        };
        let good: String = (0..8)
            .map(|i| {
                line(
                    i,
                    &format!(
                        "socket={} cluster={} core={} thread=0",
                        i / 4,
                        i / 2 % 2,
                        i % 2
                    ),
                )
            })
            .collect();
        assert_eq!(places_of_2_sockets_2_clusters_2_cores(&good), Ok(()));
        let swapped = good.replace(
            "cpu=5 mpidr=0x5 method=psci state=online socket=1 cluster=0 core=1",
            "cpu=5 mpidr=0x5 method=psci state=online socket=1 cluster=1 core=1",
        );
        assert!(places_of_2_sockets_2_clusters_2_cores(&swapped).is_err());
        let unplaced = good.replace(
            "socket=0 cluster=0 core=0 thread=0",
            "socket=none cluster=none core=none thread=none",
        );
        assert!(places_of_2_sockets_2_clusters_2_cores(&unplaced).is_err());
        let missing: String = good.lines().take(7).map(|l| format!("{l}\n")).collect();
        assert!(places_of_2_sockets_2_clusters_2_cores(&missing).is_err());
    }
}
