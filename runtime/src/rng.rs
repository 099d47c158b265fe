//! A tiny per-worker pseudo-random generator (xorshift64*).
//!
//! The scheduler needs cheap randomness to pick a first steal victim; it
//! does not need quality or security. Each worker owns one `FastRand`, so
//! there is no sharing and no atomics.

use std::cell::Cell;

/// xorshift64* state; never zero.
pub(crate) struct FastRand(Cell<u64>);

impl FastRand {
    /// Seeds from `seed`, mixing it so that consecutive seeds diverge.
    pub(crate) fn new(seed: u64) -> FastRand {
        let mixed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        FastRand(Cell::new(mixed | 1))
    }

    /// A value in `0..n`; `n` must be non-zero.
    pub(crate) fn below(&self, n: usize) -> usize {
        debug_assert!(n > 0);
        let mut x = self.0.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        // Lemire's multiply-shift maps 32 random bits onto 0..n without a division.
        (((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) * n as u64) >> 32) as usize
    }
}
