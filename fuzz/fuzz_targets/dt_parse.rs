//! Fuzz target: the device tree reader on arbitrary bytes. Nothing may panic; a blob is
//! either rejected with an error that says why, or read into a platform that keeps every
//! promise of `Platform::check_consistency`, whose bootargs then parse without panicking.
//! Seeded by `make fuzz` with the repository's compiled trees and QEMU's own.

#![no_main]

use hotslab::dt::{Mpidr, Platform};
use hotslab::dt::bootargs::BootOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Platform::parse(data, 0x4800_0000) {
        Err(e) => assert!(!e.to_string().trim().is_empty(), "no reason: {e:?}"),
        Ok(platform) => {
            if let Err(e) = platform.check_consistency() {
                panic!("inconsistent platform: {e}\n{platform:#?}");
            }
            let _ = BootOptions::parse(platform.bootargs, |e| {
                assert!(!e.to_string().is_empty());
            });
            for problem in &platform.problems {
                assert!(!problem.to_string().is_empty());
            }
            let _ = (platform.total_memory(), platform.cpu_index_of(Mpidr::new(0)));
        }
    }
});
