//! The kernel's count markers as the plugin recognises them: four `orr xN, xN, xN`
//! instructions (a register ORed with itself into itself, which changes nothing), each with
//! its own register, whose value is the marker's argument. The kernel's side is
//! `arch::aarch64::count_marker`; the two must name the same registers.
//!
//! | marker | instruction | argument |
//! |---|---|---|
//! | start a bracket | `orr x9, x9, x9` | the bracket's tag |
//! | end a bracket | `orr x10, x10, x10` | the bracket's tag |
//! | checkpoint | `orr x11, x11, x11` | the checkpoint's id |
//! | publish | `orr x12, x12, x12` | a nonce echoed in the records |

/// What a marker asks of the plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Start,
    End,
    Checkpoint,
    Publish,
}

impl Marker {
    pub const ALL: [Marker; 4] = [
        Marker::Start,
        Marker::End,
        Marker::Checkpoint,
        Marker::Publish,
    ];

    /// The general-purpose register that is both the marker's operand and its argument.
    pub const fn register(self) -> u32 {
        match self {
            Marker::Start => 9,
            Marker::End => 10,
            Marker::Checkpoint => 11,
            Marker::Publish => 12,
        }
    }

    /// The register's name as QEMU's register list gives it (`x9`).
    pub fn register_name(self) -> String {
        format!("x{}", self.register())
    }

    /// The A64 encoding of `orr xN, xN, xN`: ORR (shifted register), 64-bit (sf=1,
    /// opc=01, 0b01010, shift LSL #0, N=0), Rm = Rn = Rd = N.
    pub const fn encoding(self) -> u32 {
        let n = self.register();
        0xaa00_0000 | (n << 16) | (n << 5) | n
    }

    /// The marker an instruction's bytes (little-endian, as QEMU hands them over) encode.
    pub fn decode(bytes: &[u8]) -> Option<Marker> {
        let word = u32::from_le_bytes(bytes.try_into().ok()?);
        Marker::ALL.into_iter().find(|m| m.encoding() == word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_the_assemblers() {
        // What llvm-mc and GNU as give for `orr x9, x9, x9` ... `orr x12, x12, x12`
        // (both print them back as `mov xN, xN`).
        assert_eq!(Marker::Start.encoding(), 0xaa09_0129);
        assert_eq!(Marker::End.encoding(), 0xaa0a_014a);
        assert_eq!(Marker::Checkpoint.encoding(), 0xaa0b_016b);
        assert_eq!(Marker::Publish.encoding(), 0xaa0c_018c);
    }

    #[test]
    fn only_the_four_markers_decode() {
        assert_eq!(
            Marker::decode(&[0x29, 0x01, 0x09, 0xaa]),
            Some(Marker::Start)
        );
        assert_eq!(
            Marker::decode(&[0x8c, 0x01, 0x0c, 0xaa]),
            Some(Marker::Publish)
        );
        // `mov x9, x10` (orr x9, xzr, x10), `orr x8, x8, x8`, a NOP, a short read.
        for other in [0xaa0a_03e9u32, 0xaa08_0108, 0xd503_201f] {
            assert_eq!(Marker::decode(&other.to_le_bytes()), None, "{other:#x}");
        }
        assert_eq!(Marker::decode(&[0x29, 0x01]), None);
    }
}
