//! Why a table could not be built.

use std::fmt;

use crate::size::MAX_TABLE_SIZE;

/// Why a [`Table`](crate::Table) could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The table size asked for is not a prime number: Maglev's permutations cover every slot
    /// only when it is.
    NotPrime {
        /// The size asked for.
        size: u64,
    },
    /// The table size asked for is above [`MAX_TABLE_SIZE`].
    TooLarge {
        /// The size asked for.
        size: u64,
        /// The limit, [`MAX_TABLE_SIZE`].
        max: u64,
    },
    /// More entries than a 32-bit index can number.
    TooManyEntries {
        /// How many entries were given.
        entries: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotPrime { size } => write!(f, "table size {size} is not a prime number"),
            Error::TooLarge { size, max } => {
                write!(f, "table size {size} is above the limit of {max}")
            }
            Error::TooManyEntries { entries } => write!(
                f,
                "{entries} entries exceed the limit of {} (a 32-bit index)",
                u32::MAX
            ),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    pub(crate) fn check_size(size: u64) -> Result<(), Error> {
        if size > MAX_TABLE_SIZE {
            Err(Error::TooLarge {
                size,
                max: MAX_TABLE_SIZE,
            })
        } else if !crate::size::is_prime(size) {
            Err(Error::NotPrime { size })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_name_the_culprit() {
        assert_eq!(
            Error::NotPrime { size: 65_536 }.to_string(),
            "table size 65536 is not a prime number"
        );
        assert_eq!(
            Error::TooLarge {
                size: 1 << 40,
                max: MAX_TABLE_SIZE
            }
            .to_string(),
            "table size 1099511627776 is above the limit of 67108859"
        );
        assert!(
            Error::TooManyEntries {
                entries: 5_000_000_000
            }
            .to_string()
            .starts_with("5000000000 entries")
        );
    }

    #[test]
    fn sizes_are_checked() {
        assert_eq!(Error::check_size(0), Err(Error::NotPrime { size: 0 }));
        assert_eq!(Error::check_size(1), Err(Error::NotPrime { size: 1 }));
        assert_eq!(Error::check_size(2), Ok(()));
        assert_eq!(Error::check_size(65_537), Ok(()));
        assert!(matches!(
            Error::check_size(u64::MAX),
            Err(Error::TooLarge { .. })
        ));
    }
}
