//! Seeded randomness. xoshiro256++ is small, fast, well studied and value-stable across
//! platforms, so the same seed gives the same run natively and in wasm.

use rand_core::{Rng as _, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng(Xoshiro256PlusPlus);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, n)` by Lemire's multiply-shift; `n` is tiny next to 2^64, so the
    /// bias is far below anything a simulation could observe. `below(0)` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `[lo, hi)`; `lo` when the range is empty.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo))
    }

    /// True with probability `ppm` parts per million.
    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        self.below(1_000_000) < ppm as u64
    }
}

/// Equal generators give equal draws, so hashing the next few draws (of a copy) is a
/// hash consistent with `Eq` (xoshiro keeps its state private).
impl core::hash::Hash for Rng {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        let mut copy = self.clone();
        for _ in 0..4 {
            state.write_u64(copy.next_u64());
        }
    }
}
