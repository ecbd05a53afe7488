//! The kernel's `memset` (`memset.s`), which the compiler calls for every fill it does
//! not write out inline. It replaces compiler_builtins' portable one, whose word loop
//! costs three instructions per 8 bytes: at 512 CPUs boot fills about 19 MiB (the
//! cross-call tables and the slab caches' per-CPU arrays), which made memset a quarter
//! of the boot CPU's instructions. Paired stores, 64 bytes a round, cost seven per 64.

core::arch::global_asm!(include_str!("memset.s"));

/// A fill [`check_memset`] found wrong: where it started in the buffer, how long, which
/// byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadFill {
    pub start: usize,
    pub len: usize,
    pub byte: u8,
}

/// Runs `memset` on every start of a buffer up to 32 bytes in (both halves of every
/// 16-byte alignment) and every length up to 320 (each of its paths, and every tail),
/// with two bytes, and checks the return value, every byte filled and every byte around
/// them untouched. Says how many fills it checked, or the first wrong one.
pub fn check_memset() -> Result<usize, BadFill> {
    const STARTS: usize = 32;
    const LENGTHS: usize = 321;
    let mut buffer = [0u8; STARTS + LENGTHS + 16];
    let background = |i: usize| (i as u8) ^ 0x3c;
    unsafe extern "C" {
        fn memset(dst: *mut u8, byte: i32, count: usize) -> *mut u8;
    }
    // Through a pointer the optimiser cannot see into, so each call is the real memset and
    // not a fill the compiler writes out or drops.
    let fill =
        core::hint::black_box(memset as unsafe extern "C" fn(*mut u8, i32, usize) -> *mut u8);
    let mut fills = 0;
    for start in 0..STARTS {
        for len in 0..LENGTHS {
            // Bits above the low byte must be ignored (C's memset takes an int).
            for (byte, argument) in [(0x00u8, 0x100i32), (0xa5, 0x7fff_ffa5)] {
                for (i, b) in buffer.iter_mut().enumerate() {
                    *b = background(i);
                }
                let dst = buffer[start..].as_mut_ptr();
                // SAFETY: `dst` has `len` bytes of `buffer` after it (STARTS + LENGTHS
                // bytes in all), which nothing else refers to during the call.
                let returned = unsafe { fill(dst, argument, len) };
                let buffer = core::hint::black_box(&buffer);
                let right = returned == dst
                    && buffer.iter().enumerate().all(|(i, &b)| {
                        b == if (start..start + len).contains(&i) {
                            byte
                        } else {
                            background(i)
                        }
                    });
                if !right {
                    return Err(BadFill { start, len, byte });
                }
                fills += 1;
            }
        }
    }
    Ok(fills)
}
