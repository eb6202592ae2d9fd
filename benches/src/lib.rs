//! Benchmarks of the lb crates: criterion benches in `benches/benches/`, the quality and memory
//! tables in `src/bin/report/`, and what they share in this library.
//!
//! `cargo xtask bench` runs all of it and writes `target/lb-report/report.md`; see the workspace
//! README's "Performance" section. Each part runs on its own too:
//!
//! - `cargo bench -p lb-benches --bench select` (also `build`, `ketama`, `hashing`, `tower`,
//!   `k8s`): criterion timings, and "quiet" batch timings ([`quiet`]);
//! - `cargo run --release -p lb-benches --bin report`: load balance and keys moved for the hashing
//!   strategies, and selector memory counted by a counting allocator (JSON lines on stdout).
//!
//! This library holds the backend sets and keys every part uses ([`sets`]), the quality
//! computations ([`quality`]) and the results sink through which benches hand extra figures to
//! xtask ([`record`]). It installs no global allocator: only the `report` binary counts
//! allocations, so the timed benches run on the system allocator.
//!
//! ```
//! use lb_benches::quality::{max_over_mean, moved_fraction};
//! use lb_benches::sets::backends;
//!
//! assert_eq!(backends(3, 80, |_| 1).len(), 3);
//! assert_eq!(max_over_mean(&[2, 1, 1, 0]), 2.0);
//! assert_eq!(moved_fraction(&[0, 1, 2, 3], &[0, 1, 1, 3]), 0.25);
//! ```
//!
//! # Feature flags
//!
//! None.

pub mod quality;
pub mod quiet;
pub mod record;
pub mod sets;
