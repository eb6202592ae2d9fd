//! Benchmarks of the lb crates live in `benches/benches/`; this library holds what they share.
