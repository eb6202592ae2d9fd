//! [`SubsetError`]: a subsetting configuration that cannot work.

use std::fmt;

/// A subsetting configuration that cannot work; the message names the bad value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubsetError {
    /// A subset size of 0: every client needs at least one backend.
    SubsetSizeZero,
    /// A client id outside the id space `0..client_count` (every id is, when the count is 0).
    ClientIdOutOfRange {
        /// The rejected id.
        client_id: u64,
        /// The size of the id space.
        client_count: u64,
    },
}

impl fmt::Display for SubsetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubsetError::SubsetSizeZero => {
                f.write_str("subset size 0: each client needs at least one backend")
            }
            SubsetError::ClientIdOutOfRange {
                client_id,
                client_count,
            } => write!(
                f,
                "client id {client_id} is outside the id space 0..{client_count}"
            ),
        }
    }
}

impl std::error::Error for SubsetError {}
