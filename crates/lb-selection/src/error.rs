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
    /// The Maglev table could not be built: a table size that is not a prime or is too large.
    Maglev(lb_maglev::Error),
    /// A bounded-load balance factor between 1 and 99: a cap below the average load leaves no
    /// backend under it. It is a percentage of the average (125 = 1.25 times it), at least
    /// 100; 0 turns bounded loads off.
    BalanceFactor {
        /// The factor given.
        factor: u32,
    },
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
            SelectionError::Maglev(e) => write!(f, "maglev table: {e}"),
            SelectionError::BalanceFactor { factor } => write!(
                f,
                "balance factor {factor} is below 100 (a percentage of the average load; 0 \
                 turns bounded loads off)"
            ),
        }
    }
}

impl StdError for SelectionError {}
