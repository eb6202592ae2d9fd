//! Backend selection strategies for lb.

mod arith;
mod candidates;
mod cdf;
mod error;
mod layout;
mod rng;
mod round_robin;
mod weighted;

#[cfg(test)]
mod test_util;

pub use error::SelectionError;
pub use round_robin::{Regime, RoundRobin, RoundRobinIter};
#[allow(deprecated)]
pub use weighted::{FVNHash, FnvHash, Weighted, WeightedIter};
