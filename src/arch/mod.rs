//! Architecture support. Only AArch64 exists; it is the one place with inline assembly.

pub mod aarch64;
pub use aarch64::*;
