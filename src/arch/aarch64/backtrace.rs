//! Frame-pointer backtraces: every function keeps a `{previous x29, return address}`
//! record at x29 (the kernel is built with frame pointers forced on); and the line that
//! closes every report with one, saying where the image runs.

use core::fmt::Write;

/// How many frames a report shows at most.
pub const MAX_FRAMES: usize = 32;

/// Calls `frame` with each return address on the chain starting at frame pointer `fp`.
/// A record outside `stack` (or out of order, or misaligned) ends the walk, so a corrupt
/// chain cannot fault the reporter.
pub fn walk(mut fp: u64, stack: core::ops::Range<u64>, mut frame: impl FnMut(u64)) {
    for _ in 0..MAX_FRAMES {
        if fp == 0 || !fp.is_multiple_of(16) || !stack.contains(&fp) || !stack.contains(&(fp + 15))
        {
            return;
        }
        // SAFETY: fp is aligned and the 16-byte record lies in the stack being walked, which
        // is mapped readable memory.
        let (next, ret) = unsafe {
            let record = fp as *const u64;
            (record.read_volatile(), record.add(1).read_volatile())
        };
        if ret == 0 {
            return;
        }
        frame(ret);
        // Frames grow towards higher addresses as we unwind.
        if next <= fp {
            return;
        }
        fp = next;
    }
}

/// Writes the line that ends every report with a backtrace: where the image runs and where
/// it was linked, which a symboliser needs to move the report's addresses back to the
/// ELF's (the two differ on a Raspberry Pi).
pub fn write_image_line(out: &mut dyn Write) {
    let _ = writeln!(
        out,
        "Kernel image at {:#x} (linked at {:#x}); addresses above are where it runs",
        super::layout::image().base,
        super::layout::LINK_ADDRESS
    );
}
