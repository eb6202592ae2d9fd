//! Integration tests of lb-ketama: nginx's own answers, ring properties, edges, allocation-free
//! lookups and builds on several threads. One binary, one module per concern.

mod alloc;
mod api;
mod nginx;
mod properties;
mod threads;

use std::net::SocketAddr;

/// A socket address from a literal.
fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
