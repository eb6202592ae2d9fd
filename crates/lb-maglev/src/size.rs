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

/// The table size a table of `entries` entries gets by default: the smallest rung of the ladder
/// of the smallest primes above 2^16, 2^17, 2^18, ... ([`DEFAULT_TABLE_SIZE`] = 65,537, then
/// 131,101, 262,147, 524,309, 1,048,583, 2,097,169, 4,194,319) that gives at least
/// [`SLOTS_PER_ENTRY`] slots per entry, and at most [`DEFAULT_MAX_TABLE_SIZE`] (past 50,000
/// entries the table stays at that size, and entries get fewer than 100 slots each).
///
/// The size moves in doublings, not with every entry: keys map to other slots in a table of
/// another size, so when the size changes nearly every key moves. With the ladder that happens
/// only when the number of entries goes past 655, 1,311, 2,621, 5,243, 10,485, 20,971 or 41,943
/// (either way); pass a size to [`Table::with_size`](crate::Table::with_size) to keep one
/// whatever the count.
///
/// ```
/// use lb_maglev::default_size;
///
/// assert_eq!(default_size(10), 65_537);
/// assert_eq!(default_size(655), 65_537);
/// assert_eq!(default_size(656), 131_101);
/// assert_eq!(default_size(1_000), 131_101);
/// assert_eq!(default_size(10_000), 1_048_583);
/// assert_eq!(default_size(1_000_000), 5_000_011);
/// ```
pub fn default_size(entries: usize) -> u64 {
    let wanted = (entries as u64).saturating_mul(SLOTS_PER_ENTRY);
    (16..)
        .map(|k| next_prime((1u64 << k) + 1).min(DEFAULT_MAX_TABLE_SIZE))
        .find(|&rung| rung >= wanted || rung == DEFAULT_MAX_TABLE_SIZE)
        .unwrap_or(DEFAULT_MAX_TABLE_SIZE)
}

/// The smallest prime of at least `n` (table sizes are far below the largest `u64` prime).
fn next_prime(n: u64) -> u64 {
    (n..).find(|&p| is_prime(p)).unwrap_or(n)
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
    fn the_default_grows_in_doublings_between_envoys_bounds() {
        assert_eq!(default_size(0), DEFAULT_TABLE_SIZE);
        assert_eq!(default_size(655), DEFAULT_TABLE_SIZE);
        // The rungs (the smallest primes above 2^16, 2^17, ...) and the entry counts where the
        // size changes.
        let mut rungs = vec![DEFAULT_TABLE_SIZE];
        let mut changes = Vec::new();
        for n in 1..60_000usize {
            let m = default_size(n);
            assert!(is_prime(m), "{n}: {m}");
            assert!(
                m >= 100 * n as u64 || m == DEFAULT_MAX_TABLE_SIZE,
                "{n}: {m}"
            );
            if m != *rungs.last().unwrap() {
                rungs.push(m);
                changes.push(n);
            }
        }
        assert_eq!(
            rungs,
            [
                65_537, 131_101, 262_147, 524_309, 1_048_583, 2_097_169, 4_194_319, 5_000_011
            ]
        );
        assert_eq!(changes, [656, 1_312, 2_622, 5_244, 10_486, 20_972, 41_944]);
        for (k, &rung) in rungs.iter().take(7).enumerate() {
            assert!(
                ((1u64 << (16 + k)) + 1..rung).all(|n| !is_prime(n)),
                "{rung}"
            );
        }
        assert_eq!(default_size(usize::MAX), DEFAULT_MAX_TABLE_SIZE);
    }
}
