//! The kernel binary: everything is in the library; this only links it into an image whose
//! entry point (`_start`, in `arch::aarch64::entry`) linker.ld names.

#![no_std]
#![no_main]

use hotslab as _;
