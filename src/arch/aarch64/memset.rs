//! The kernel's `memset` (`memset.s`), which the compiler calls for every fill it does
//! not write out inline. It replaces compiler_builtins' portable one, whose word loop
//! costs three instructions per 8 bytes: at 512 CPUs boot fills about 19 MiB (the
//! cross-call tables and the slab caches' per-CPU arrays), which made memset a quarter
//! of the boot CPU's instructions. Paired stores, 64 bytes a round, cost seven per 64.

core::arch::global_asm!(include_str!("memset.s"));
