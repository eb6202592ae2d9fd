//! The size of a lookup table: Envoy's default, grown with the number of entries, and the primes
//! it must be.

/// Envoy's default table size (`MaglevTable::DefaultTableSize`), the smallest a default table has.
pub const DEFAULT_TABLE_SIZE: u64 = 65_537;

/// The largest size [`default_size`] grows a table to: Envoy's largest allowed table size.
pub const DEFAULT_MAX_TABLE_SIZE: u64 = 5_000_011;

/// Slots per entry that [`default_size`] aims for: the Maglev paper's advice for shares within
/// about 1% of even.
pub const SLOTS_PER_ENTRY: u64 = 100;

/// The largest table size accepted (the largest prime below 2^26): a table of this size holds
/// 64 Mi slots, up to 256 MiB of memory. Larger tables are a build error.
pub const MAX_TABLE_SIZE: u64 = 67_108_859;

/// The table size a table of `entries` entries gets by default: the smallest prime of at least
/// [`SLOTS_PER_ENTRY`] × `entries`, no smaller than [`DEFAULT_TABLE_SIZE`] and no larger than
/// [`DEFAULT_MAX_TABLE_SIZE`] (past 50,000 entries the table stays at that size, and entries get
/// fewer than 100 slots each).
///
/// ```
/// use lb_maglev::default_size;
///
/// assert_eq!(default_size(10), 65_537);
/// assert_eq!(default_size(1_000), 100_003);
/// assert_eq!(default_size(10_000), 1_000_003);
/// assert_eq!(default_size(1_000_000), 5_000_011);
/// ```
pub fn default_size(entries: usize) -> u64 {
    let wanted = (entries as u64).saturating_mul(SLOTS_PER_ENTRY);
    if wanted <= DEFAULT_TABLE_SIZE {
        DEFAULT_TABLE_SIZE
    } else if wanted >= DEFAULT_MAX_TABLE_SIZE {
        DEFAULT_MAX_TABLE_SIZE
    } else {
        // A prime follows every number (and 5,000,011 is one), so the search ends by the cap.
        (wanted..=DEFAULT_MAX_TABLE_SIZE)
            .find(|&n| is_prime(n))
            .unwrap_or(DEFAULT_MAX_TABLE_SIZE)
    }
}

/// Whether `n` is prime, by trial division (table sizes are at most [`MAX_TABLE_SIZE`], so this
/// tries at most a few thousand divisors).
pub fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n.is_multiple_of(2) || n.is_multiple_of(3) {
        return false;
    }
    let mut d = 5u64;
    while d.saturating_mul(d) <= n {
        if n.is_multiple_of(d) || n.is_multiple_of(d + 2) {
            return false;
        }
        d += 6;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes_are_recognised() {
        let small: Vec<u64> = (0..40).filter(|&n| is_prime(n)).collect();
        assert_eq!(small, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]);
        for p in [
            DEFAULT_TABLE_SIZE,
            DEFAULT_MAX_TABLE_SIZE,
            MAX_TABLE_SIZE,
            100_003,
            1_000_003,
        ] {
            assert!(is_prime(p), "{p}");
        }
        assert!(!is_prime(1_000_001)); // 101 × 9,901
        assert!(!is_prime(65_535));
        assert!(!is_prime(25));
        // The largest prime below 2^26.
        assert!(((MAX_TABLE_SIZE + 1)..(1 << 26)).all(|n| !is_prime(n)));
    }

    #[test]
    fn the_default_grows_with_the_entries_between_envoys_bounds() {
        assert_eq!(default_size(0), DEFAULT_TABLE_SIZE);
        assert_eq!(default_size(655), DEFAULT_TABLE_SIZE);
        assert_eq!(default_size(656), 65_609);
        assert!(is_prime(65_609));
        assert!((65_600..65_609).all(|n| !is_prime(n)));
        assert_eq!(default_size(50_000), DEFAULT_MAX_TABLE_SIZE);
        assert_eq!(default_size(usize::MAX), DEFAULT_MAX_TABLE_SIZE);
        for n in [1usize, 700, 1_000, 3_333, 10_000, 49_999] {
            let m = default_size(n);
            assert!(is_prime(m) && m >= 100 * n as u64, "{n}: {m}");
        }
    }
}
