//! `a % d` for a divisor fixed when the table is built, without a division on the lookup path.

/// A remainder by a fixed divisor, computed with multiplications only: Lemire, Kaser and Kurz's
/// "direct remainder" (Faster Remainder by Direct Computation, 2019) with a 128-bit magic number,
/// exact for every 64-bit dividend and divisor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastMod {
    magic: u128,
    divisor: u64,
}

impl FastMod {
    /// A remainder by `divisor`; 0 is treated as 1 (every remainder is 0), so that nothing
    /// divides by zero.
    pub(crate) fn new(divisor: u64) -> Self {
        let divisor = divisor.max(1);
        // ceil(2^128 / d) for d > 1; for d == 1 it would be 2^128, which does not fit, and a
        // magic number of 0 gives every remainder 0, the right answer for d == 1.
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_at_the_edges() {
        for d in [1, 2, 3, 7, 65_537, 5_000_011, u64::MAX - 1, u64::MAX] {
            let m = FastMod::new(d);
            for a in [0, 1, 2, d - 1, d, d.wrapping_add(1), u64::MAX - 1, u64::MAX] {
                assert_eq!(m.rem(a), a % d, "{a} % {d}");
            }
        }
        assert_eq!(FastMod::new(0).rem(12345), 0);
    }

    proptest! {
        #[test]
        fn matches_the_remainder_operator(a: u64, d in 1u64..) {
            prop_assert_eq!(FastMod::new(d).rem(a), a % d);
        }

        #[test]
        fn matches_for_table_sizes(a: u64, d in 2u64..70_000_000) {
            prop_assert_eq!(FastMod::new(d).rem(a), a % d);
        }
    }
}
