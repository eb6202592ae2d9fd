//! A per-thread wyrand generator: about a nanosecond per number, no lock, no allocation.

use std::cell::Cell;

use rand::TryRngCore;

thread_local! {
    /// The generator's state; 0 means "not seeded yet". A `const` initializer with no destructor
    /// makes access a plain thread-local load.
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// The next random number of this thread's generator: wyrand, seeded once per thread from the
/// operating system; a thread-local load and store, no lock, no allocation. Not for
/// cryptography.
#[inline]
pub fn next_u64() -> u64 {
    STATE.with(|state| {
        let mut s = state.get();
        if s == 0 {
            s = seed();
        }
        // wyrand (Wang Yi): a 64-bit Weyl sequence mixed by a 128-bit multiplication; it passes
        // BigCrush and PractRand, which is more than load balancing needs.
        s = s.wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

/// Seeds this thread's generator, and lb-core's (slow start's thinning, the topology's draws):
/// from then on the picks of `Random`, `LeastRequest` and `PeakEwma` on this thread
/// are a function of `seed` and of the loads they read. For reproducible runs (a simulation, a
/// test); each thread otherwise seeds itself from the operating system on first use.
pub fn seed_thread_random(seed: u64) {
    lb_core::seed_thread_random(seed);
    // A stream other than lb-core's: the same seed must not make both generators agree.
    let mut z = (seed ^ 0x5851_f42d_4c95_7f2d).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    STATE.with(|state| state.set((z ^ (z >> 31)) | 1));
}

/// A seed from the operating system; if that fails (no `getrandom` in a sandbox), from the
/// standard library's per-process random hasher keys, which differ per thread and per call.
#[cold]
fn seed() -> u64 {
    let s = rand::rngs::OsRng.try_next_u64().unwrap_or_else(|_| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x243f_6a88_85a3_08d3);
        h.finish()
    });
    // 0 is the "not seeded" marker; any other state is as good as another.
    s | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_differ_and_spread_over_the_bits() {
        let xs: Vec<u64> = (0..4096).map(|_| next_u64()).collect();
        let mut sorted = xs.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), xs.len(), "no repeats in 4096 draws");
        for bit in 0..64 {
            let ones = xs.iter().filter(|x| *x >> bit & 1 == 1).count();
            assert!(
                (1700..2400).contains(&ones),
                "bit {bit} set {ones} times of 4096"
            );
        }
    }

    #[test]
    fn a_seeded_thread_repeats_its_draws() {
        let draws = |seed| {
            seed_thread_random(seed);
            (0..4).map(|_| next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draws(3), draws(3));
        assert_ne!(draws(3), draws(4));
    }

    #[test]
    fn threads_get_different_streams() {
        let a = std::thread::spawn(|| (next_u64(), next_u64()))
            .join()
            .unwrap();
        let b = std::thread::spawn(|| (next_u64(), next_u64()))
            .join()
            .unwrap();
        assert_ne!(a, b);
    }
}
