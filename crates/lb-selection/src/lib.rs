//! Backend selection strategies for lb.

mod arith;
mod candidates;
mod cdf;
mod consistent;
mod error;
mod layout;
mod random;
mod rng;
mod round_robin;
mod weighted;

#[cfg(test)]
mod test_util;

pub use consistent::{Consistent, ConsistentIter, KetamaConfig, KetamaHashing};
pub use error::SelectionError;
pub use random::{Random, RandomIter};
pub use round_robin::{Regime, RoundRobin, RoundRobinIter};
#[allow(deprecated)]
pub use weighted::{FVNHash, FnvHash, Weighted, WeightedIter};
