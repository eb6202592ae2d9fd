//! Integration tests of lb-core, in one binary (one link on small machines).

mod alloc;
mod bad_input;
mod concurrency;
mod deltas;
mod health;
mod lifecycle;
mod passive;
mod policies;
mod props;
mod select;
mod service;
mod support;
mod topology;
