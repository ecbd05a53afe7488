//! The console UART, whichever driver the device tree calls for.

use super::mini_uart::MiniUart;
use super::pl011::Pl011;
use crate::dt::{Uart as UartNode, UartKind};

/// A console UART.
#[derive(Debug)]
pub enum Uart {
    Pl011(Pl011),
    MiniUart(MiniUart),
}

impl Uart {
    /// # Safety
    /// `node.region` must be mapped as Device memory and driven by nothing else.
    pub unsafe fn from_dt(node: &UartNode<'_>) -> Self {
        match node.kind {
            // SAFETY: forwarded from the caller.
            UartKind::Pl011 => Uart::Pl011(unsafe { Pl011::new(node.region.base) }),
            // SAFETY: forwarded from the caller.
            UartKind::MiniUart => Uart::MiniUart(unsafe { MiniUart::new(node.region.base) }),
        }
    }

    pub fn init(&self, clock_hz: Option<u32>) {
        match self {
            Uart::Pl011(u) => u.init(clock_hz),
            Uart::MiniUart(u) => u.init(clock_hz),
        }
    }

    pub fn write_byte(&self, byte: u8) {
        match self {
            Uart::Pl011(u) => u.write_byte(byte),
            Uart::MiniUart(u) => u.write_byte(byte),
        }
    }

    /// Writes `text`, turning `\n` into `\r\n`.
    pub fn write_str(&self, text: &str) {
        for b in text.bytes() {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
    }

    pub fn read_byte(&self) -> Option<u8> {
        match self {
            Uart::Pl011(u) => u.read_byte(),
            Uart::MiniUart(u) => u.read_byte(),
        }
    }

    pub fn flush(&self) {
        match self {
            Uart::Pl011(u) => u.flush(),
            Uart::MiniUart(u) => u.flush(),
        }
    }
}
