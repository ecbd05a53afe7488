//! The BCM2835/BCM2711 auxiliary "mini UART" (`brcm,bcm2835-aux-uart`): what the Raspberry
//! Pi 4 carries on GPIO 14/15 with plain `enable_uart=1`, and what the upstream device tree's
//! `stdout-path` names.
//!
//! Its baud rate is a divisor of the VPU core clock, which only the firmware knows and may
//! change, so `init` keeps the divisor the firmware set for `enable_uart=1` unless the
//! device tree gives a fixed clock. It sets everything else itself: 8-bit frames, no flow
//! control, both directions on, the receive interrupt (which wakes a core in WFI). The
//! block itself must have been switched on in AUX_ENABLES, which the firmware does for
//! `enable_uart=1`; the register lies outside this device's node, so it is left alone.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite};
use tock_registers::{register_bitfields, register_structs};

use super::mmio::Mmio;
use super::timer::Deadline;

register_bitfields! {u32,
    IER [
        /// Interrupt when a byte has arrived (the datasheet swaps the two bits; this is
        /// the 16550 order the hardware has).
        RX OFFSET(0) NUMBITS(1) [],
        TX OFFSET(1) NUMBITS(1) []
    ],
    IIR [
        /// Writing 1s clears the receive (bit 1) and transmit (bit 2) FIFOs.
        CLEAR_FIFOS OFFSET(1) NUMBITS(2) []
    ],
    LCR [
        /// 0b11 is 8-bit mode (bit 1 is undocumented but needed on real chips).
        DATA_SIZE OFFSET(0) NUMBITS(2) [
            EightBit = 0b11
        ]
    ],
    LSR [
        DATA_READY OFFSET(0) NUMBITS(1) [],
        /// The transmit FIFO can take a byte.
        TX_EMPTY OFFSET(5) NUMBITS(1) [],
        /// The transmit FIFO is empty and the transmitter idle.
        TX_IDLE OFFSET(6) NUMBITS(1) []
    ],
    CNTL [
        RX_ENABLE OFFSET(0) NUMBITS(1) [],
        TX_ENABLE OFFSET(1) NUMBITS(1) []
    ]
}

register_structs! {
    Registers {
        (0x00 => io: ReadWrite<u32>),
        (0x04 => ier: ReadWrite<u32, IER::Register>),
        (0x08 => iir: ReadWrite<u32, IIR::Register>),
        (0x0c => lcr: ReadWrite<u32, LCR::Register>),
        (0x10 => mcr: ReadWrite<u32>),
        (0x14 => lsr: ReadOnly<u32, LSR::Register>),
        (0x18 => _msr),
        (0x20 => cntl: ReadWrite<u32, CNTL::Register>),
        (0x24 => _stat),
        (0x28 => baud: ReadWrite<u32>),
        (0x2c => @END),
    }
}

const BAUD: u32 = 115_200;

/// How long a full transmitter may take to drain before the UART counts as dead: a 64-byte
/// FIFO at 9600 baud, the slowest rate anyone sets, takes 67 ms.
const STUCK_US: u64 = 100_000;

/// A mini UART at a fixed MMIO address (the node's `reg`, AUX base + 0x40).
#[derive(Debug)]
pub struct MiniUart {
    regs: Mmio<Registers>,
}

impl MiniUart {
    /// # Safety
    /// `base` must be the physical (identity-mapped, Device memory) address of a mini
    /// UART's register block that nothing else drives.
    pub const unsafe fn new(base: u64) -> Self {
        Self {
            // SAFETY: the caller's contract is `Mmio::new`'s.
            regs: unsafe { Mmio::new(base) },
        }
    }

    /// 8N1 at 115200 when `core_clock_hz` is known, else at the firmware's rate.
    pub fn init(&self, core_clock_hz: Option<u32>) {
        let r = &*self.regs;
        self.flush();
        r.cntl.set(0);
        r.ier.set(0);
        r.lcr.write(LCR::DATA_SIZE::EightBit);
        r.mcr.set(0);
        if let Some(clock) = core_clock_hz.filter(|&c| c >= 8 * BAUD) {
            // baud = clock / (8 * (divisor + 1)), rounded to the nearest.
            let divisor = (clock + 4 * BAUD) / (8 * BAUD) - 1;
            r.baud.set(divisor);
        }
        r.iir.write(IIR::CLEAR_FIFOS.val(0b11));
        r.ier.write(IER::RX::SET);
        r.cntl.write(CNTL::RX_ENABLE::SET + CNTL::TX_ENABLE::SET);
    }

    /// Sends `byte`, or drops it if the transmitter stays full for [`STUCK_US`] (a block
    /// the firmware never switched on reads all zeroes and would otherwise hang the kernel).
    pub fn write_byte(&self, byte: u8) {
        let r = &*self.regs;
        if self.wait_for(LSR::TX_EMPTY) {
            r.io.set(u32::from(byte));
        }
    }

    pub fn read_byte(&self) -> Option<u8> {
        let r = &*self.regs;
        r.lsr
            .is_set(LSR::DATA_READY)
            .then(|| (r.io.get() & 0xff) as u8)
    }

    /// Waits until everything written has left the transmitter (at most [`STUCK_US`]).
    pub fn flush(&self) {
        self.wait_for(LSR::TX_IDLE);
    }

    /// Spins until `flag` is set in LSR; false if it was not within [`STUCK_US`].
    fn wait_for(&self, flag: tock_registers::fields::Field<u32, LSR::Register>) -> bool {
        let lsr = &self.regs.lsr;
        if lsr.is_set(flag) {
            return true;
        }
        let deadline = Deadline::after_us(STUCK_US);
        while !lsr.is_set(flag) {
            if deadline.passed() {
                return false;
            }
            core::hint::spin_loop();
        }
        true
    }
}
