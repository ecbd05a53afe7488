//! What one QEMU case is: the machine, the kernel file, the boot arguments, what the run
//! must print and must not, and how it must end; the boards cases are generated over; and
//! the defaults every case starts from.

use std::time::Duration;

/// A check of a run's whole output: `Err` says what is wrong.
pub type OutputCheck = fn(&str) -> Result<(), String>;

/// Facts read from a run's whole output, to compare with another run's: `Err` says why
/// they could not be read.
pub type OutputFacts = fn(&str) -> Result<String, String>;

/// How long a run may take unless its case says otherwise.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// One boot of the kernel and what it must show.
#[derive(Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    /// What the case shows, in a sentence: the line of docs/tests.md.
    pub about: &'static str,
    pub machine: &'static str,
    pub cpu: &'static str,
    pub smp: u32,
    /// How QEMU lays the `smp` CPUs out (`,sockets=2,clusters=2,cores=2`), after `-smp N`.
    pub topology: &'static str,
    /// QEMU's `-m` (boards that have their own RAM ignore it).
    pub memory: &'static str,
    /// Which file to boot: the Image, a relocated copy of it, or the ELF.
    pub kernel: Kernel,
    /// A device tree (build/dts/NAME) instead of QEMU's own. One under `upstream/` or
    /// `linux/` is fetched from Debian; where that failed, the case is skipped, loudly.
    pub dtb: Option<&'static str>,
    /// Whether QEMU services semihosting calls (exit status, poweroff).
    pub semihosting: bool,
    /// More QEMU options.
    pub qemu_args: &'static [&'static str],
    pub bootargs: &'static str,
    /// Bytes typed on the serial line after the first prompt.
    pub typed: &'static [u8],
    pub expect: &'static [&'static str],
    pub forbid: &'static [&'static str],
    pub exit_code: i32,
    /// Stop QEMU once this text has appeared this many times (exit status not checked).
    pub until: Option<(&'static str, usize)>,
    /// How long the run may take before QEMU is killed and the case fails.
    pub timeout: Duration,
    /// A further check on the whole output, beyond `expect` and `forbid`.
    pub check: Option<OutputCheck>,
    /// Boot the case twice (each boot checked as usual): these facts of both must be equal.
    pub same_twice: Option<OutputFacts>,
}

#[derive(Clone, Copy)]
pub enum Kernel {
    Image,
    /// The Image with its header's text_offset changed, so QEMU loads it 4 MiB higher
    /// than its link address (as U-Boot's booti moves it).
    Relocated,
    Elf,
    /// The Image through a Raspberry Pi 4 boot chain (raspi4b only).
    Through(Chain),
}

/// What runs before the kernel on a Raspberry Pi 4, as on a real card, from files under
/// build/ that `make` fetches and writes (Debian's firmware, `make sdcard`'s card images).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    /// Trusted Firmware-A's BL31 as the ARM stub (tools/rpi4-armstub.sh), entering the
    /// Image with the case's tree and bootargs.
    TfA,
    /// U-Boot as the firmware's kernel, booting the Image from the card image by itself;
    /// the bootargs are the card's (`run="cpus"`): the case types its commands.
    UBoot,
    /// BL31, then U-Boot, then the Image from the card image.
    TfAUBoot,
}

impl Chain {
    /// The files under build/ the chain needs.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            Chain::TfA => &["firmware/bl31.bin"],
            Chain::UBoot => &["firmware/u-boot.bin", "cards/u-boot.img"],
            Chain::TfAUBoot => &[
                "firmware/bl31.bin",
                "firmware/u-boot.bin",
                "cards/tf-a-u-boot.img",
            ],
        }
    }

    /// The card image, if the chain boots from one.
    pub fn card(self) -> Option<&'static str> {
        self.files()
            .iter()
            .copied()
            .find(|f| f.starts_with("cards/"))
    }

    /// Whether BL31 runs first: it makes `serial0` (the PL011) the console.
    pub fn has_tf_a(self) -> bool {
        matches!(self, Chain::TfA | Chain::TfAUBoot)
    }

    /// As docs/tests.md shows it.
    pub fn label(self) -> &'static str {
        match self {
            Chain::TfA => "TF-A BL31",
            Chain::UBoot => "U-Boot from the card",
            Chain::TfAUBoot => "TF-A BL31, U-Boot from the card",
        }
    }
}

impl Case {
    /// The defaults: QEMU's virt with a GICv2 and four Cortex-A72s entered at EL1 with
    /// 512 MiB, the Image and QEMU's own tree, semihosting on, no Oops, a clean exit within
    /// `TIMEOUT`.
    pub fn base() -> Case {
        let board = Board::VIRT_GICV2_4CPUS;
        Case {
            name: "",
            about: "",
            machine: board.machine,
            cpu: "cortex-a72",
            smp: board.smp,
            topology: "",
            memory: MEMORY,
            kernel: Kernel::Image,
            dtb: board.dtb,
            semihosting: true,
            qemu_args: &[],
            bootargs: "",
            typed: b"",
            expect: &[],
            forbid: &["Oops:"],
            exit_code: 0,
            until: None,
            timeout: TIMEOUT,
            check: None,
            same_twice: None,
        }
    }

    /// This case on `board`, with `name` (the same case on every board keeps its
    /// assertions; only where it runs changes).
    pub fn on(self, board: &Board, name: &'static str) -> Case {
        Case {
            name,
            machine: board.machine,
            smp: board.smp,
            dtb: board.dtb,
            ..self
        }
    }

    /// Where the case runs, as docs/tests.md shows it: the board, and what differs from
    /// the defaults in its RAM, topology and NUMA nodes.
    pub fn board(&self) -> String {
        let mut label = board_label(self.machine, self.cpu, self.smp, self.dtb);
        if let Kernel::Through(chain) = self.kernel {
            label += &format!(", through {}", chain.label());
        }
        if let Some((_, options)) = self.machine.split_once(',') {
            for option in options
                .split(',')
                .filter(|o| !o.starts_with("gic-version=") && !o.starts_with("virtualization="))
            {
                label += &format!(", {option}");
            }
        }
        if !self.topology.is_empty() {
            label += &format!(" ({})", self.topology.trim_start_matches(','));
        }
        if self.memory != MEMORY && !self.machine.starts_with("raspi") {
            label += &format!(", {}", self.memory);
        }
        let nodes = self
            .qemu_args
            .iter()
            .filter(|a| a.starts_with("node,"))
            .count();
        if nodes > 0 {
            label += &format!(", {nodes} NUMA nodes");
        }
        label
    }
}

/// RAM unless a case says otherwise.
pub const MEMORY: &str = "512M";

/// A machine as docs/tests.md shows it: `virt GICv3 EL2, 8 CPUs`, `virt GICv2 EL1 secure=on,
/// 4 CPUs`, `raspi4b, rpi4.dtb`.
pub fn board_label(machine: &str, cpu: &str, smp: u32, dtb: Option<&str>) -> String {
    let name = match machine.split_once(',') {
        Some(("virt", options)) => {
            let gic = if options.contains("gic-version=4") {
                "GICv4"
            } else if options.contains("gic-version=3") {
                "GICv3"
            } else {
                "GICv2"
            };
            let el = if options.contains("virtualization=on") {
                "EL2"
            } else {
                "EL1"
            };
            let secure = if options.contains("secure=on") {
                " secure=on"
            } else {
                ""
            };
            format!("virt {gic} {el}{secure}")
        }
        _ => machine.to_string(),
    };
    let cpus = if machine.starts_with("raspi") {
        String::new()
    } else if cpu == "cortex-a72" {
        format!(", {smp} CPUs")
    } else {
        format!(", {smp} × {cpu}")
    };
    let tree = dtb.map(|dtb| format!(", {dtb}")).unwrap_or_default();
    format!("{name}{cpus}{tree}")
}

/// A machine a case can be generated for.
pub struct Board {
    /// The part of a generated case's name that says where it ran.
    pub label: &'static str,
    pub machine: &'static str,
    pub smp: u32,
    pub dtb: Option<&'static str>,
}

impl Board {
    /// virt with a GICv2 and four CPUs entered at EL1.
    pub const VIRT_GICV2_4CPUS: Board = Board {
        label: "gicv2-4cpus",
        machine: "virt,gic-version=2",
        smp: 4,
        dtb: None,
    };
    /// virt with a GICv3 and eight CPUs entered at EL2.
    pub const VIRT_GICV3_8CPUS: Board = Board {
        label: "gicv3-8cpus",
        machine: "virt,gic-version=3,virtualization=on",
        smp: 8,
        dtb: None,
    };
    /// QEMU's Raspberry Pi 4 (four A72s entered at EL2, spin-table secondaries) with the
    /// project's own tree.
    pub const RPI4: Board = Board {
        label: "rpi4",
        machine: "raspi4b",
        smp: 4,
        dtb: Some("rpi4.dtb"),
    };
    /// The two virt boards the stress runs are generated for.
    pub const VIRT: [Board; 2] = [Board::VIRT_GICV2_4CPUS, Board::VIRT_GICV3_8CPUS];
}
