//! Integer tricks for the select path: remainder by an invariant divisor without a division,
//! and mapping a 64-bit number onto a range by a multiplication.

/// `a % d` for a divisor fixed at build time, computed with multiplications only.
///
/// This is Lemire, Kaser and Kurz's "direct remainder" (Faster Remainder by Direct Computation,
/// 2019) with a 128-bit magic number, which is exact for every 64-bit `a` and `d`. A hardware
/// 64-bit division costs 15 to 90 cycles depending on the processor; this costs a handful of
/// multiplications, and it keeps the select path free of division whatever the machine.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastMod {
    magic: u128,
    divisor: u64,
}

impl FastMod {
    /// A remainder by `divisor`; a divisor of 0 is treated as 1 (every remainder is 0), so that
    /// no input can make the select path divide by zero.
    pub(crate) fn new(divisor: u64) -> Self {
        let divisor = divisor.max(1);
        // ceil(2^128 / d) for d > 1; for d == 1 the magic number would be 2^128, which does not
        // fit, and 0 makes `rem` return 0, the right answer for d == 1.
        let magic = if divisor == 1 {
            0
        } else {
            u128::MAX / u128::from(divisor) + 1
        };
        FastMod { magic, divisor }
    }

    /// `a % divisor`.
    #[inline]
    pub(crate) fn rem(&self, a: u64) -> u64 {
        let low_bits = self.magic.wrapping_mul(u128::from(a));
        // The high 64 bits of the 192-bit product `low_bits * divisor`.
        let d = u128::from(self.divisor);
        let bottom = ((low_bits & u128::from(u64::MAX)) * d) >> 64;
        let top = (low_bits >> 64) * d;
        ((bottom + top) >> 64) as u64
    }
}

/// Maps `x`, uniform over the 64-bit integers, onto `0..n` by a multiplication
/// (`floor(x * n / 2^64)`): Lemire's "fastrange". Each value of `0..n` receives
/// `floor(2^64 / n)` or `ceil(2^64 / n)` inputs.
#[inline]
pub(crate) fn fastrange(x: u64, n: u64) -> u64 {
    ((u128::from(x) * u128::from(n)) >> 64) as u64
}

/// 2^64 divided by the golden ratio, rounded to odd: the step of a Weyl sequence with the lowest
/// possible discrepancy, and a bijection of the 64-bit integers when multiplied.
pub(crate) const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// The greatest common divisor.
pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `a⁻¹ mod m`, for `a` coprime to `m` (extended Euclid); `None` when they are not coprime.
pub(crate) fn modular_inverse(a: u64, m: u64) -> Option<u64> {
    let (mut r0, mut r1) = (i128::from(m), i128::from(a));
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    (r0 == 1).then(|| t0.rem_euclid(i128::from(m)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn modular_inverses_of_known_pairs() {
        assert_eq!(modular_inverse(4, 7), Some(2));
        assert_eq!(
            modular_inverse(17, 55_000).map(|i| i * 17 % 55_000),
            Some(1)
        );
        assert_eq!(modular_inverse(4, 6), None);
        assert_eq!(modular_inverse(1, 1), Some(0));
    }

    #[test]
    fn fastmod_is_exact_at_the_edges() {
        for d in [
            1,
            2,
            3,
            7,
            10,
            1 << 32,
            (1 << 32) + 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let m = FastMod::new(d);
            for a in [0, 1, 2, d - 1, d, d.wrapping_add(1), u64::MAX - 1, u64::MAX] {
                assert_eq!(m.rem(a), a % d, "{a} % {d}");
            }
        }
        assert_eq!(FastMod::new(0).rem(12345), 0, "a zero divisor acts as one");
    }

    #[test]
    fn fastrange_covers_the_range() {
        assert_eq!(fastrange(0, 10), 0);
        assert_eq!(fastrange(u64::MAX, 10), 9);
        assert_eq!(fastrange(u64::MAX, u64::MAX), u64::MAX - 1);
        assert_eq!(fastrange(1 << 63, 10), 5);
    }

    #[test]
    fn gcd_of_known_pairs() {
        assert_eq!(gcd(12, 18), 6);
        assert_eq!(gcd(0, 5), 5);
        assert_eq!(gcd(7, 0), 7);
        assert_eq!(gcd(17, 5), 1);
    }

    proptest! {
        #[test]
        fn fastmod_matches_the_remainder_operator(a: u64, d in 1u64..) {
            prop_assert_eq!(FastMod::new(d).rem(a), a % d);
        }

        #[test]
        fn fastmod_matches_for_small_divisors(a: u64, d in 1u64..100_000) {
            prop_assert_eq!(FastMod::new(d).rem(a), a % d);
        }

        #[test]
        fn fastrange_stays_in_range(x: u64, n in 1u64..) {
            prop_assert!(fastrange(x, n) < n);
        }
    }
}
