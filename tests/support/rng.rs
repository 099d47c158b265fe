//! A seedable xorshift64 generator for the tests that vary schedules,
//! weights and sizes; included with `#[path = "support/rng.rs"] mod rng;`.

use std::time::Duration;

/// xorshift64: cheap, seedable, good enough to shuffle schedules.
pub struct Rng(u64);

#[allow(dead_code)] // each test binary uses a subset
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True once in `n` calls, on average.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// A short random wait for the timed operations: 1 to `max` µs.
    pub fn micros(&mut self, max: u64) -> Duration {
        Duration::from_micros(1 + self.below(max))
    }
}
