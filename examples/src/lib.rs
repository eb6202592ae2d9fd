//! Runnable examples of the lb crates: `cargo run --example <name>`.
