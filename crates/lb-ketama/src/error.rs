//! Why a ring could not be built.

use std::fmt;

/// Why [`Continuum::try_new`](crate::Continuum::try_new) refused to build a ring.
///
/// The infallible constructors never fail: see [`Continuum::new`](crate::Continuum::new) for what
/// they do instead.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The buckets' weights times the point multiple add up to more than
    /// [`MAX_POINTS`](crate::MAX_POINTS).
    TooManyPoints {
        /// The number of points the ring would have.
        points: u64,
        /// The limit, [`MAX_POINTS`](crate::MAX_POINTS).
        limit: u64,
        /// The index of the heaviest bucket, the likely culprit.
        bucket: usize,
        /// The name of that bucket, as it is hashed.
        name: String,
        /// Its weight.
        weight: u32,
    },
    /// [`Version::V2`](crate::Version::V2) with a `point_multiple` of 0: no bucket would get a point.
    ZeroPointMultiple,
    /// More buckets than a 32-bit bucket index can number.
    TooManyBuckets {
        /// How many buckets were given.
        buckets: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooManyPoints {
                points,
                limit,
                bucket,
                name,
                weight,
            } => write!(
                f,
                "ring of {points} points exceeds the limit of {limit}: bucket {bucket} ({name}) \
                 has weight {weight}"
            ),
            Error::ZeroPointMultiple => f.write_str("point multiple of 0 gives no bucket a point"),
            Error::TooManyBuckets { buckets } => write!(
                f,
                "{buckets} buckets exceed the limit of {} (a 32-bit index)",
                u32::MAX
            ),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_name_the_culprit() {
        let e = Error::TooManyPoints {
            points: 687_194_767_200,
            limit: 67_108_864,
            bucket: 3,
            name: "10.0.0.4:80".into(),
            weight: u32::MAX,
        };
        assert_eq!(
            e.to_string(),
            "ring of 687194767200 points exceeds the limit of 67108864: bucket 3 (10.0.0.4:80) \
             has weight 4294967295"
        );
        assert_eq!(
            Error::ZeroPointMultiple.to_string(),
            "point multiple of 0 gives no bucket a point"
        );
        assert!(
            Error::TooManyBuckets {
                buckets: 5_000_000_000
            }
            .to_string()
            .starts_with("5000000000 buckets")
        );
    }
}
