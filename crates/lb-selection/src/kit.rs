//! The strategy kit: the parts lb's own strategies are built from, for writing your own.
//!
//! A strategy implements [`BackendSelection`](lb_core::BackendSelection): it chooses a first
//! candidate its own way, then must offer every other backend exactly once, standbys (weight 0)
//! last, without allocating. The kit does the second half for you:
//!
//! - [`Layout`]: which backends are active and which are standby, and the order of the fallback
//!   scan;
//! - [`Candidates`] (with your [`Draw`]): the shared candidate order after your first pick, which
//!   keeps the contract by construction;
//! - [`AliasTable`]: a weighted random draw in O(1);
//! - [`random_u64`]: a per-thread random number generator, about a nanosecond per number
//!   ([`seed_thread_random`] makes a thread's draws reproducible);
//! - and, behind the `testing` feature, [`check_contract`](crate::testing::check_contract):
//!   the property checks every built-in strategy passes, for your strategy's tests.
//!
//! The [crate documentation](crate#writing-a-strategy) builds a complete strategy from it.

pub use crate::alias::AliasTable;
pub use crate::candidates::{Candidates, DRAWS, Draw};
pub use crate::layout::Layout;
pub use crate::rng::next_u64 as random_u64;
pub use crate::rng::seed_thread_random;
