//! Integration tests of lb-ketama: nginx's own answers, ring properties, edges and allocation-free
//! lookups. One binary, one module per concern.

mod alloc;
mod api;
mod nginx;
mod properties;

use std::net::SocketAddr;

/// A socket address from a literal.
fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
