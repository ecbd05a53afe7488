//! Links the kernel binary with our linker script, as a position-independent executable.
//!
//! Cargo does not relink when a linker script changes, so this also tells it to.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=build.rs");
    if target == "aarch64-unknown-none-softfloat" {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
        // A static PIE: the image carries its own R_AARCH64_RELATIVE relocations and applies
        // them wherever a loader put it. --apply-dynamic-relocs also writes the link-time
        // values into the image, so at its link address the relocation pass is a no-op.
        println!("cargo:rustc-link-arg-bins=--pie");
        println!("cargo:rustc-link-arg-bins=--apply-dynamic-relocs");
        // libcore ships built for the static model, with absolute addresses in read-only
        // data (vtables); allow relocating those too: the image relocates itself before
        // the MMU makes anything read-only.
        println!("cargo:rustc-link-arg-bins=-znotext");
        println!("cargo:rustc-link-arg-bins=-znorelro");
        println!("cargo:rustc-link-arg-bins=--no-dynamic-linker");
        println!("cargo:rustc-link-arg-bins=-zseparate-loadable-segments");
    }
}
