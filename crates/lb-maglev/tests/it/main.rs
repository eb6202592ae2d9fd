//! Integration tests of lb-maglev, in one binary.

mod alloc;
mod envoy;
mod properties;
