//! Links the peer as a static, non-PIE executable, which Linux loads as it is (no
//! interpreter, nothing to relocate). The repository's cargo config compiles
//! aarch64-unknown-none code as position-independent; rustc links that target without
//! `-pie` today, and `--no-pie` keeps it so should that change, the linker resolving every
//! address itself. tools/linux-peer/build.sh checks the result.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo::rustc-link-arg-bins=--no-pie");
    }
}
