//! The Arm PrimeCell PL011 UART.
//!
//! `init` programs the line itself (115200 8N1, FIFOs on) from the reference clock the
//! device tree gives, so nothing depends on how firmware or QEMU left the UART. Without a
//! known clock the divisor firmware set is kept, and only the frame format is set.

use super::mmio::Mmio;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! {u32,
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// Busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    LCR_H [
        WLEN OFFSET(5) NUMBITS(2) [
            EightBit = 0b11
        ],
        FEN OFFSET(4) NUMBITS(1) []
    ],
    CR [
        RXE OFFSET(9) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) [],
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    INT [
        /// Receive timeout.
        RT OFFSET(6) NUMBITS(1) [],
        /// Receive.
        RX OFFSET(4) NUMBITS(1) []
    ]
}

register_structs! {
    Registers {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x24 => ibrd: ReadWrite<u32>),
        (0x28 => fbrd: ReadWrite<u32>),
        (0x2c => lcr_h: ReadWrite<u32, LCR_H::Register>),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x38 => imsc: ReadWrite<u32, INT::Register>),
        (0x3c => _reserved3),
        (0x44 => icr: WriteOnly<u32, INT::Register>),
        (0x48 => @END),
    }
}

const BAUD: u32 = 115_200;

/// A PL011 at a fixed MMIO address.
#[derive(Debug)]
pub struct Pl011 {
    regs: Mmio<Registers>,
}

impl Pl011 {
    /// # Safety
    /// `base` must be the physical (identity-mapped, Device memory) address of a PL011
    /// that nothing else drives.
    pub const unsafe fn new(base: u64) -> Self {
        Self {
            // SAFETY: the caller's contract is `Mmio::new`'s.
            regs: unsafe { Mmio::new(base) },
        }
    }

    /// Sets 115200 8N1 with FIFOs, from `clock_hz` when known, and enables receive
    /// interrupts (which wake a core waiting in WFI).
    pub fn init(&self, clock_hz: Option<u32>) {
        let r = &*self.regs;
        while r.fr.is_set(FR::BUSY) {}
        r.cr.set(0);
        r.lcr_h.set(0); // flushes the transmit FIFO
        if let Some(clock) = clock_hz.filter(|&c| c >= 16 * BAUD) {
            // The divisor in 64ths: clock / (16 * baud) = clock * 4 / baud.
            let div = (u64::from(clock) * 4 + u64::from(BAUD) / 2) / u64::from(BAUD);
            r.ibrd.set((div >> 6) as u32);
            r.fbrd.set((div & 0x3f) as u32);
        }
        r.lcr_h.write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
        r.icr.set(0x7ff);
        r.imsc.write(INT::RX::SET + INT::RT::SET);
        r.cr.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    pub fn write_byte(&self, byte: u8) {
        let r = &*self.regs;
        while r.fr.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        r.dr.set(u32::from(byte));
    }

    pub fn read_byte(&self) -> Option<u8> {
        let r = &*self.regs;
        if r.fr.is_set(FR::RXFE) {
            None
        } else {
            Some(r.dr.get() as u8)
        }
    }

    /// Waits until everything written has left the transmitter.
    pub fn flush(&self) {
        while self.regs.fr.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }
}
