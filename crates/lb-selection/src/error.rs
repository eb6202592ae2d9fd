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
    /// The consistent-hash ring could not be built: too many points (the message names the
    /// heaviest backend) or a point multiple of 0.
    Ring(lb_ketama::Error),
}

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectionError::TooManyBackends { count, max } => write!(
                f,
                "{count} backends is more than the {max} a selector can index"
            ),
            // The ring's error is the whole story (it names the culprit), not a cause: it is
            // shown here so that logs that print only the top error still name the backend.
            SelectionError::Ring(e) => write!(f, "consistent-hash ring: {e}"),
        }
    }
}

impl StdError for SelectionError {}
