//! Exception handling at EL1: the saved context, the decoding of ESR_EL1, and the `Oops:`
//! report of an exception the kernel cannot handle.
//!
//! Two exceptions are handled and returned from: a semihosting call nobody services
//! (stepped over, returning "unavailable"), and interrupts, which go to the registered
//! handler. Everything else is a kernel bug: it is reported with the exception class
//! decoded (an SError's syndrome too), ESR, FAR, ELR, the registers, a backtrace and the
//! CPU, and the kernel dies. An exception whose SP has left its stack comes here on the
//! CPU's overflow stack (`handle_stack_overflow`), and its report starts with the stack
//! overflow.

use core::fmt::{self, Write};
use core::ops::Range;
use core::sync::atomic::{AtomicUsize, Ordering};

use aarch64_cpu::registers::{ESR_EL1, FAR_EL1, Readable};
use tock_registers::{LocalRegisterCopy, register_bitfields};

use super::cpu::IrqContext;
use super::semihosting;
use super::stack::CpuStacks;

/// The interrupted context, as vectors.s saves it.
#[repr(C)]
pub struct TrapFrame {
    pub x: [u64; 31],
    pub sp: u64,
    pub elr: u64,
    pub spsr: u64,
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 0x110);

/// The kinds of vector, in table order.
const KIND_NAMES: [&str; 4] = ["synchronous exception", "IRQ", "FIQ", "SError"];

/// An IRQ handler: called with interrupts masked (the token says so), on the interrupted
/// core's stack, with the interrupted context (where it was, for a backtrace of it).
pub type IrqHandler = fn(&TrapFrame, IrqContext<'_>);

/// The handler IRQ vectors call; 0 until one is registered.
static IRQ_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Sets the function every IRQ on every core goes to.
pub fn set_irq_handler(handler: IrqHandler) {
    IRQ_HANDLER.store(handler as usize, Ordering::Release);
}

/// What reports a fatal exception and stops: given the report, the faulting PC and the
/// frame pointer. The kernel's crash handling registers it (`panic::die`); the
/// architecture names nothing above it.
pub type FatalHandler = fn(fmt::Arguments<'_>, Option<u64>, u64) -> !;

static FATAL_HANDLER: spin::Once<FatalHandler> = spin::Once::new();

/// Sets where fatal exceptions go. Until it is set (boot with the MMU still off), a fatal
/// exception is reported over semihosting and the core halts.
pub fn set_fatal_handler(handler: FatalHandler) {
    FATAL_HANDLER.call_once(|| handler);
}

#[unsafe(no_mangle)]
extern "C" fn handle_exception(kind: u64, frame: &mut TrapFrame) {
    let group = (kind / 4) as usize;
    let class = (kind % 4) as usize;
    if group == 1 && class == 1 {
        let handler = IRQ_HANDLER.load(Ordering::Acquire);
        if handler != 0 {
            // SAFETY: only set_irq_handler stores here, always from an IrqHandler.
            let handler: IrqHandler = unsafe { core::mem::transmute(handler) };
            handler(frame, IrqContext::of_irq_exception());
            return;
        }
    }
    let esr = ESR_EL1.extract();
    let far = FAR_EL1.get();
    if group == 1 && class == 0 && is_unserviced_semihosting(esr, frame) {
        frame.x[0] = semihosting::UNAVAILABLE;
        frame.elr += 4;
        return;
    }
    let report = Oops {
        kind: KIND_NAMES[class],
        from: from_name(group),
        esr,
        far,
        frame,
    };
    // A fault in the pages under the stack with SP still (just) inside it: the vector's
    // check let it through, but it is an overflow all the same.
    let data_abort = matches!(
        esr.read_as_enum(ESR_EL1::EC),
        Some(ESR_EL1::EC::Value::DataAbortCurrentEL)
    );
    match overflowed_stack("the access", far).filter(|_| data_abort) {
        Some(overflow) => fatal(format_args!("{overflow}\n{report}"), frame),
        None => fatal(format_args!("{report}"), frame),
    }
}

/// Where the vectors go when SP has left its stack: on the CPU's overflow stack, `frame`
/// saved there (its `sp` the interrupted one), report and die.
#[unsafe(no_mangle)]
extern "C" fn handle_stack_overflow(kind: u64, frame: &mut TrapFrame) -> ! {
    let report = Oops {
        kind: KIND_NAMES[(kind % 4) as usize],
        from: from_name((kind / 4) as usize),
        esr: ESR_EL1.extract(),
        far: FAR_EL1.get(),
        frame,
    };
    let overflow = overflowed_stack("SP", frame.sp).unwrap_or(StackOverflow {
        cpu: super::cpu::id(),
        stack: CpuStacks::of(super::cpu::id() % crate::MAX_CPUS).stack,
        what: "SP",
        at: frame.sp,
    });
    fatal(format_args!("{overflow}\n{report}"), frame)
}

fn from_name(group: usize) -> &'static str {
    match group {
        0 => "EL1 (SP_EL0)",
        1 => "EL1",
        2 => "EL0 (AArch64)",
        _ => "EL0 (AArch32)",
    }
}

/// Reports through the fatal handler (or semihosting, before there is one), and stops.
fn fatal(report: fmt::Arguments<'_>, frame: &TrapFrame) -> ! {
    match FATAL_HANDLER.get() {
        Some(die) => die(report, Some(frame.elr), frame.x[29]),
        None => {
            let _ = writeln!(
                semihosting::Writer,
                "Oops before the kernel was up: {report}"
            );
            super::cpu::halt()
        }
    }
}

/// A stack this CPU ran off, and where SP (or the faulting access) was.
struct StackOverflow {
    cpu: usize,
    stack: Range<u64>,
    /// `"SP"`, or `"the access"` for a fault with SP still inside.
    what: &'static str,
    at: u64,
}

/// The stack of this CPU whose guard `addr` (`what`: SP, or an access) lies in: its
/// slot's, or the boot stack's.
fn overflowed_stack(what: &'static str, addr: u64) -> Option<StackOverflow> {
    let cpu = super::cpu::id();
    let guarded = [
        (cpu < crate::MAX_CPUS)
            .then(|| CpuStacks::of(cpu))
            .map(|s| {
                let below = s.overflow.end..s.stack.start;
                (below, s.stack)
            }),
        Some((
            super::layout::boot_stack_guard_page().range(),
            super::layout::boot_stack_region().range(),
        )),
    ];
    guarded
        .into_iter()
        .flatten()
        .find(|(below, _)| below.contains(&addr))
        .map(|(_, stack)| StackOverflow {
            cpu,
            stack,
            what,
            at: addr,
        })
}

impl fmt::Display for StackOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stack overflow on cpu{}: its stack is {:#x}-{:#x} ({} KiB), {} {:#x} ",
            self.cpu,
            self.stack.start,
            self.stack.end,
            (self.stack.end - self.stack.start) >> 10,
            self.what,
            self.at,
        )?;
        match self.stack.start.checked_sub(self.at) {
            Some(below) if below > 0 => write!(f, "is {below} bytes below it"),
            _ => write!(f, "is outside it"),
        }
    }
}

/// ESR_EL1 as read at the exception.
type Esr = LocalRegisterCopy<u64, ESR_EL1::Register>;

register_bitfields! [u64,
    /// The ISS of an instruction or data abort (ESR_EL1.ISS, Arm ARM D24.2.40).
    ABORT_ISS [
        /// Instruction or data fault status code.
        FSC OFFSET(0) NUMBITS(6) [],
        /// Data aborts: the access was a write.
        WNR OFFSET(6) NUMBITS(1) []
    ],
    /// The ISS of an SError interrupt (ESR_EL1.ISS for EC 0x2f, Arm ARM D24.2.40).
    SERROR_ISS [
        /// Data fault status: 0b000000 uncategorized, 0b010001 asynchronous SError.
        DFSC OFFSET(0) NUMBITS(6) [],
        /// External abort type (implementation defined).
        EA OFFSET(9) NUMBITS(1) [],
        /// Asynchronous error type: the state the error left the core in (RAS).
        AET OFFSET(10) NUMBITS(3) [],
        /// The rest of the ISS is implementation defined.
        IDS OFFSET(24) NUMBITS(1) []
    ]
];

/// An undefined-instruction exception on `hlt #0xf000`: nobody services semihosting.
fn is_unserviced_semihosting(esr: Esr, frame: &TrapFrame) -> bool {
    esr.matches_all(ESR_EL1::EC::Unknown)
        // SAFETY: ELR points at the instruction that faulted with an "unknown reason"
        // synchronous exception at EL1, which was fetched, so it is mapped and readable.
        && unsafe { (frame.elr as *const u32).read_volatile() } == semihosting::HLT_SEMIHOSTING
}

struct Oops<'a> {
    kind: &'static str,
    from: &'static str,
    esr: Esr,
    far: u64,
    frame: &'a TrapFrame,
}

impl fmt::Display for Oops<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ESR_EL1::EC::Value as Ec;
        let ec = self.esr.read_as_enum(ESR_EL1::EC);
        write!(
            f,
            "{} from {}: {}",
            self.kind,
            self.from,
            exception_class(ec)
        )?;
        let data = matches!(ec, Some(Ec::DataAbortLowerEL | Ec::DataAbortCurrentEL));
        let instruction = matches!(ec, Some(Ec::InstrAbortLowerEL | Ec::InstrAbortCurrentEL));
        if data || instruction {
            let iss =
                LocalRegisterCopy::<u64, ABORT_ISS::Register>::new(self.esr.read(ESR_EL1::ISS));
            write!(f, " ({}", fault_status(iss.read(ABORT_ISS::FSC)))?;
            if data {
                let write = iss.is_set(ABORT_ISS::WNR);
                f.write_str(if write { ", write" } else { ", read" })?;
            }
            write!(f, ") at {:#x}", self.far)?;
        }
        if matches!(ec, Some(Ec::SError)) {
            let iss =
                LocalRegisterCopy::<u64, SERROR_ISS::Register>::new(self.esr.read(ESR_EL1::ISS));
            write_serror(f, iss)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  ESR {:#010x}  FAR {:#018x}  ELR {:#018x}  SPSR {:#010x}",
            self.esr.get(),
            self.far,
            self.frame.elr,
            self.frame.spsr
        )?;
        for (i, pair) in self.frame.x.chunks(4).enumerate() {
            f.write_str(" ")?;
            for (j, value) in pair.iter().enumerate() {
                let n = i * 4 + j;
                let name = match n {
                    29 => "fp",
                    30 => "lr",
                    _ => "",
                };
                if name.is_empty() {
                    write!(f, " x{n:<2} {value:#018x}")?;
                } else {
                    write!(f, " {name:<3} {value:#018x}")?;
                }
            }
            writeln!(f)?;
        }
        write!(f, "  sp  {:#018x}", self.frame.sp)
    }
}

/// The name of an exception class (ESR_EL1.EC), `None` for one aarch64-cpu does not
/// name.
fn exception_class(ec: Option<ESR_EL1::EC::Value>) -> &'static str {
    use ESR_EL1::EC::Value as Ec;
    match ec {
        Some(Ec::Unknown) => "unknown reason (undefined instruction)",
        Some(Ec::TrappedWFIorWFE) => "trapped WFI/WFE",
        Some(Ec::TrappedFP) => {
            "FP/SIMD instruction at EL1, where it is trapped: the kernel is built without \
             FP/SIMD (aarch64-unknown-none-softfloat) and saves no vector registers"
        }
        Some(Ec::IllegalExecutionState) => "illegal execution state",
        Some(Ec::SVC64) => "SVC",
        Some(Ec::TrappedMsrMrs) => "trapped system register access",
        Some(Ec::InstrAbortLowerEL) => "instruction abort from a lower EL",
        Some(Ec::InstrAbortCurrentEL) => "instruction abort",
        Some(Ec::PCAlignmentFault) => "PC alignment fault",
        Some(Ec::DataAbortLowerEL) => "data abort from a lower EL",
        Some(Ec::DataAbortCurrentEL) => "data abort",
        Some(Ec::SPAlignmentFault) => "SP alignment fault",
        Some(Ec::SError) => "SError",
        Some(Ec::BreakpointLowerEL | Ec::BreakpointCurrentEL) => "breakpoint",
        Some(Ec::SoftwareStepLowerEL | Ec::SoftwareStepCurrentEL) => "software step",
        Some(Ec::WatchpointLowerEL | Ec::WatchpointCurrentEL) => "watchpoint",
        Some(Ec::Brk64) => "BRK instruction",
        _ => "unexpected exception class",
    }
}

/// What an SError's syndrome says: an asynchronous abort, usually an access the
/// interconnect or a device refused after the instruction had retired (a peripheral that
/// is off or not there on a Raspberry Pi), and what state it left the core in.
fn write_serror(
    f: &mut fmt::Formatter<'_>,
    iss: LocalRegisterCopy<u64, SERROR_ISS::Register>,
) -> fmt::Result {
    if iss.is_set(SERROR_ISS::IDS) {
        return write!(
            f,
            " (an asynchronous abort; implementation-defined syndrome {:#x})",
            iss.get() & 0xff_ffff
        );
    }
    let kind = match iss.read(SERROR_ISS::DFSC) {
        0b00_0000 => "uncategorized",
        0b01_0001 => "asynchronous SError interrupt",
        _ => "reserved fault status",
    };
    let state = match iss.read(SERROR_ISS::AET) {
        0b000 => "uncontainable: the core's state is corrupt",
        0b001 => "unrecoverable state",
        0b010 => "restartable state",
        0b011 => "recoverable state",
        0b110 => "corrected",
        _ => "reserved error type",
    };
    write!(
        f,
        " (an asynchronous abort, reported after the access that caused it: {kind}, {state})"
    )
}

/// The name of a data/instruction fault status code (ESR_EL1.ISS.xFSC).
fn fault_status(fsc: u64) -> &'static str {
    match fsc {
        0x00..=0x03 => "address size fault",
        0x04 => "translation fault, level 0",
        0x05 => "translation fault, level 1",
        0x06 => "translation fault, level 2",
        0x07 => "translation fault, level 3",
        0x09..=0x0b => "access flag fault",
        0x0d..=0x0f => "permission fault",
        0x10 => "synchronous external abort",
        0x21 => "alignment fault",
        0x30 => "TLB conflict",
        _ => "fault",
    }
}

/// Writes a backtrace: `pc` first when the report is of an exception, then the return
/// addresses on the frame-pointer chain from `fp` within `stack`.
pub fn write_backtrace(
    out: &mut dyn Write,
    pc: Option<u64>,
    fp: u64,
    stack: core::ops::Range<u64>,
) {
    let _ = writeln!(out, "Call trace:");
    let mut n = 0;
    if let Some(pc) = pc {
        let _ = writeln!(out, "  #{n:<2} {pc:#018x}");
        n += 1;
    }
    super::backtrace::walk(fp, stack, |ret| {
        // The return address follows the call: the call is the instruction before it.
        let _ = writeln!(out, "  #{n:<2} {:#018x}", ret.wrapping_sub(4));
        n += 1;
    });
}

/// Faults the `crash` command provokes, to show the Oops report.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// A read of address 0, which is never mapped.
    NullDereference,
    /// An undefined instruction (`udf`).
    UndefinedInstruction,
    /// Calls that never return until this core's stack runs out.
    StackOverflow,
    /// An asynchronous abort: a virtual SError, raised by the EL2 stub a kernel entered at
    /// EL2 keeps (QEMU raises no physical one).
    SError,
}

/// Why a fault cannot be provoked here.
#[derive(Clone, Copy, Debug)]
pub struct CannotProvoke(pub &'static str);

/// Provokes `fault` on this core; the exception handler reports it and the kernel dies.
/// Always inlined, so the report's first frame names both the fault and the code that
/// asked for it (its inlined caller), however large that caller grows.
#[inline(always)]
pub fn provoke(fault: Fault) -> Result<(), CannotProvoke> {
    match fault {
        // SAFETY: the read faults (page 0 is never mapped); the Oops path never returns.
        Fault::NullDereference => unsafe {
            core::arch::asm!("mov {t}, xzr", "ldr {t}, [{t}]", t = out(reg) _);
        },
        // SAFETY: as above, the exception does not return here.
        Fault::UndefinedInstruction => unsafe { core::arch::asm!("udf #0") },
        Fault::StackOverflow => {
            exhaust_stack(0);
        }
        Fault::SError => {
            if !super::entry::entered_at_el2() {
                return Err(CannotProvoke(
                    "the kernel was entered at EL1: there is no EL2 of its own to raise a \
                     virtual SError (boot with EL=2, or on rpi4)",
                ));
            }
            // SAFETY: the EL2 stub's one service sets HCR_EL2.VSE and AMO and returns 0 in
            // x0, clobbering x1; the SError it raises is taken here, at EL1, once unmasked.
            unsafe {
                core::arch::asm!(
                    "hvc #0",
                    inout("x0") super::entry::HVC_RAISE_SERROR => _,
                    out("x1") _,
                )
            };
            // Taken at the next instruction boundary where SError is unmasked (it is, on
            // every core, once the vectors are in place): the ISB makes that here.
            aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
            return Err(CannotProvoke(
                "the SError was raised but not taken: SError is masked on this CPU",
            ));
        }
    }
    Ok(())
}

/// Recurses with a 1 KiB frame until the stack's guard page stops it.
#[inline(never)]
fn exhaust_stack(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[0] = depth as u8;
    // The compiler cannot see through black_box: the frame is real and the recursion goes
    // on (the condition is always true, which it cannot know either).
    let frame = core::hint::black_box(&mut frame);
    if core::hint::black_box(depth) < u64::MAX {
        return exhaust_stack(depth + 1) + u64::from(frame[1]);
    }
    u64::from(frame[0])
}
