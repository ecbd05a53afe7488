//! `bench cache`: `kmem_cache_create` and `kmem_cache_destroy` of an empty cache, which
//! make and free an array for every online CPU under the hotplug lock.

use super::stats::{Micros, Samples, Verdict};
use super::timed;
use crate::mm::kernel_slab;
use crate::mm::slab::SlabFlags;
use crate::println;
use crate::smp::state;

const ROUNDS: usize = 50;

pub fn run() {
    let mut create = Samples::<ROUNDS>::new();
    let mut destroy = Samples::<ROUNDS>::new();
    for round in 0..=ROUNDS {
        let (made, create_ns) =
            timed(|| kernel_slab::kmem_cache_create("bench-cache", 128, 8, SlabFlags::NONE, None));
        let cache = match made {
            Ok(cache) => cache,
            Err(e) => {
                println!("bench cache: create: {e}");
                println!("RESULT bench-cache FAIL reason=create");
                return;
            }
        };
        let (result, destroy_ns) = timed(|| kernel_slab::kmem_cache_destroy(cache));
        if let Err((_, e)) = result {
            println!("bench cache: destroy: {e}");
            println!("RESULT bench-cache FAIL reason=destroy");
            return;
        }
        if round > 0 {
            create.push(create_ns);
            destroy.push(destroy_ns);
        }
    }
    let mut verdict = Verdict::new();
    verdict.samples(&mut create, "create-samples");
    verdict.samples(&mut destroy, "destroy-samples");
    verdict.check(!kernel_slab::contains("bench-cache"), "cache-left-behind");
    println!(
        "RESULT bench-cache {} cpus={} create_us={} destroy_us={} create_p99_us={} destroy_p99_us={}{verdict}",
        verdict.word(),
        state::online().len(),
        Micros(create.median()),
        Micros(destroy.median()),
        Micros(create.p99()),
        Micros(destroy.p99()),
    );
}
