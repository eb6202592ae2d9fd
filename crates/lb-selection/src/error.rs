//! Errors of lb-selection.

use std::error::Error as StdError;
use std::fmt;

/// Why a selector could not be built. The load balancer keeps its previous set and reports it.
#[derive(Debug)]
#[non_exhaustive]
pub enum SelectionError {
    /// More backends than the selectors index (they store indices as `u32`).
    TooManyBackends {
        /// The number of backends given.
        count: usize,
        /// The most a selector accepts.
        max: usize,
    },
    /// The consistent-hash ring could not be built.
    Ring(lb_ketama::Error),
}

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectionError::TooManyBackends { count, max } => write!(
                f,
                "{count} backends is more than the {max} a selector can index"
            ),
            SelectionError::Ring(_) => f.write_str("building the consistent-hash ring failed"),
        }
    }
}

impl StdError for SelectionError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            SelectionError::TooManyBackends { .. } => None,
            SelectionError::Ring(e) => Some(e),
        }
    }
}
