//! Integration tests of lb-ketama: nginx's own answers, ring properties, edges, allocation-free
//! lookups and builds on several threads. One binary, one module per concern.

mod alloc;
mod api;
mod nginx;
mod properties;
mod threads;

use std::net::SocketAddr;

use lb_ketama::Bucket;

/// A socket address from a literal.
fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// nginx's ring written plainly, as `(hash, bucket)` points: every point of every bucket, a stable
/// sort by hash, the first of equal hashes kept.
fn model(buckets: &[Bucket], multiple: u32) -> Vec<(u32, usize)> {
    let mut points = Vec::new();
    for (i, b) in buckets.iter().enumerate() {
        let name = b.node().to_string();
        let (host, port) = match name.strip_prefix("unix:") {
            Some(path) => (path.to_string(), String::new()),
            None => match name.rsplit_once(':') {
                Some((h, p)) if p.bytes().all(|c| c.is_ascii_digit()) => {
                    (h.to_string(), p.to_string())
                }
                _ => (name.clone(), String::new()),
            },
        };
        let mut prefix = crc32fast::Hasher::new();
        prefix.update(host.as_bytes());
        prefix.update(b"\0");
        prefix.update(port.as_bytes());
        let mut prev = 0u32;
        for _ in 0..u64::from(b.weight()) * u64::from(multiple) {
            let mut h = prefix.clone();
            h.update(&prev.to_le_bytes());
            prev = h.finalize();
            points.push((prev, i));
        }
    }
    points.sort_by_key(|p| p.0);
    points.dedup_by_key(|p| p.0);
    points
}
