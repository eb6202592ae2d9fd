//! Integration tests of lb-core, in one binary (one link on small machines).

mod alloc;
mod bad_input;
mod concurrency;
mod deltas;
mod health;
mod lifecycle;
#[cfg(feature = "metrics")]
mod metrics;
mod passive;
mod policies;
mod props;
mod select;
mod service;
mod status;
mod support;
mod topology;
