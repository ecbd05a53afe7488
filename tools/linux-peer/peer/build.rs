//! Links the peer as a static, non-PIE executable for Linux: the repository's cargo config
//! compiles aarch64-unknown-none code as PIE, which rustc links as a static PIE that
//! expects to relocate itself; with `--no-pie` the linker resolves every address instead,
//! so Linux can load the ELF as it is (no interpreter, no dynamic relocations).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo::rustc-link-arg-bins=--no-pie");
    }
}
