//! The FP/SIMD registers at EL1: who may use them, and the routine that checks nobody else
//! changes them.
//!
//! The kernel is built for `aarch64-unknown-none-softfloat`, the equivalent of Linux's
//! `-mgeneral-regs-only`: the compiler never puts a value in a vector or FP register, so
//! an exception cannot change what the code it interrupts holds there, and the vectors save
//! none of them. Each core traps FP/SIMD at EL1 (CPACR_EL1.FPEN, set in `entry.s`), so an
//! instruction that uses them anyway, outside [`with_fpsimd`], is an Oops that says so
//! (`crash fpsimd` shows one). `make test` checks the image: only the routines of
//! `fpsimd.s` name an FP or vector register.
//!
//! [`with_fpsimd`] is Linux's `kernel_neon_begin`/`kernel_neon_end`: FP/SIMD access on
//! this core for the length of a closure run in thread context. Nothing saves the registers
//! around it: code inside may not expect them to survive anything but exceptions, which
//! leave them alone.

use aarch64_cpu::registers::{CPACR_EL1, ReadWriteable, Readable, Writeable};

/// v0-v31, FPCR and FPSR, laid out as `fpsimd.s` reads and writes them.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorFile {
    pub v: [u128; 32],
    pub fpcr: u64,
    pub fpsr: u64,
}

const _: () = assert!(core::mem::offset_of!(VectorFile, fpcr) == 0x200);
const _: () = assert!(core::mem::offset_of!(VectorFile, fpsr) == 0x208);

/// FPCR's bits that are writable on every Armv8.0 core: AHP, DN, FZ, RMode.
pub const FPCR_CONTROL_BITS: u64 = 0b1111 << 22;

/// Where two register files differ first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Difference {
    Vector {
        register: usize,
        expected: u128,
        found: u128,
    },
    Fpcr {
        expected: u64,
        found: u64,
    },
    Fpsr {
        expected: u64,
        found: u64,
    },
}

impl core::fmt::Display for Difference {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Difference::Vector {
                register,
                expected,
                found,
            } => write!(
                f,
                "v{register} changed: held {expected:#034x}, found {found:#034x}"
            ),
            Difference::Fpcr { expected, found } => {
                write!(f, "FPCR changed: held {expected:#x}, found {found:#x}")
            }
            Difference::Fpsr { expected, found } => {
                write!(f, "FPSR changed: held {expected:#x}, found {found:#x}")
            }
        }
    }
}

impl VectorFile {
    pub const fn zeroed() -> Self {
        Self {
            v: [0; 32],
            fpcr: 0,
            fpsr: 0,
        }
    }

    /// The first register in which `found` differs from `self`.
    pub fn first_difference(&self, found: &VectorFile) -> Option<Difference> {
        if let Some(register) = (0..32).find(|&r| self.v[r] != found.v[r]) {
            return Some(Difference::Vector {
                register,
                expected: self.v[register],
                found: found.v[register],
            });
        }
        if self.fpcr & FPCR_CONTROL_BITS != found.fpcr & FPCR_CONTROL_BITS {
            return Some(Difference::Fpcr {
                expected: self.fpcr,
                found: found.fpcr,
            });
        }
        if self.fpsr != found.fpsr {
            return Some(Difference::Fpsr {
                expected: self.fpsr,
                found: found.fpsr,
            });
        }
        None
    }
}

unsafe extern "C" {
    fn hold_vector_registers_asm(expected: *const VectorFile, seen: *mut VectorFile, until: u64);
    fn use_fpsimd_asm();
}

core::arch::global_asm!(include_str!("fpsimd.s"));

/// Runs `f` with FP/SIMD access enabled on this core (Linux's `kernel_neon_begin` and
/// `kernel_neon_end`). Thread context only, not nested: an interrupt handler that used
/// it would turn the access off under its interrupted owner.
pub fn with_fpsimd<R>(f: impl FnOnce() -> R) -> R {
    let before = CPACR_EL1.get();
    CPACR_EL1.modify(CPACR_EL1::FPEN::TrapNothing);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    let result = f();
    CPACR_EL1.set(before);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    result
}

/// Executes one FP instruction as this core stands: outside [`with_fpsimd`] the trap
/// makes it an Oops (for `crash fpsimd`).
pub fn use_fpsimd() {
    // SAFETY: the routine writes d0 only, which no compiled code of the kernel uses.
    unsafe { use_fpsimd_asm() }
}

/// Loads `expected` into v0-v31, FPCR and FPSR, spins with interrupts as they are until
/// the system counter reaches `until`, and returns what the registers then hold.
pub fn hold_vector_registers(expected: &VectorFile, until: u64) -> VectorFile {
    let mut seen = VectorFile::zeroed();
    with_fpsimd(|| {
        // SAFETY: the routine reads `expected` and writes `seen` (both VectorFiles, laid
        // out as it expects), keeps the AAPCS64's callee-saved registers, and uses the
        // FP/SIMD registers only with access enabled here.
        unsafe { hold_vector_registers_asm(expected, &mut seen, until) }
    });
    seen
}
