//! Tiny non-cryptographic random sources (jitter, slow start's thinning), so lb-core needs no
//! `rand`.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    /// The state of this thread's generator for the select path; 0 means "not seeded yet".
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// A random number from this thread's generator (wyrand): a thread-local load and store.
#[inline]
pub(crate) fn random_u64() -> u64 {
    STATE.with(|state| {
        let mut s = state.get();
        if s == 0 {
            s = Rng::new().0;
        }
        s = s.wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

/// Seeds this thread's generator (the one behind slow start's thinning and the topology's draws
/// for strategies without keys): from then on the thread's draws are a function of `seed`.
/// Reproducible runs (a simulation, a test) call it at the start of their thread; nothing else
/// needs to, as each thread seeds itself from the standard library's random keys on first use.
pub fn seed_thread_random(seed: u64) {
    // 0 marks "not seeded"; mix so that nearby seeds give unrelated streams.
    STATE.with(|state| state.set(splitmix(seed) | 1));
}

/// splitmix64's finaliser: a seed's bits spread over the whole word.
fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random number uniform in [0, 1) from this thread's generator.
#[inline]
pub(crate) fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// xorshift64* seeded from the standard library's per-process random hasher keys.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new() -> Self {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        // xorshift must not start at zero.
        Rng(h.finish() | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_thread_repeats_its_draws() {
        let draws = |seed| {
            seed_thread_random(seed);
            (0..4).map(|_| random_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
    }

    #[test]
    fn unit_is_in_range_and_spread() {
        let mut rng = Rng::new();
        let samples: Vec<f64> = (0..10_000).map(|_| rng.unit()).collect();
        assert!(samples.iter().all(|x| (0.0..1.0).contains(x)));
        let low = samples.iter().filter(|x| **x < 0.5).count();
        assert!((4_500..5_500).contains(&low), "{low}");
    }
}
