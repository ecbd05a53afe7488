//! A small deterministic random number generator (SplitMix64) for what only needs
//! variety and repeatability, not secrecy: the soak's choices, the device-tree mutation
//! tests (whose failures are replayed from their seed).

pub struct Rng(u64);

impl Rng {
    /// The generator that `seed` starts; the same seed gives the same numbers everywhere.
    pub const fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform (near enough) in `0..n`; `n` must not be 0.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
