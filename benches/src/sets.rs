//! The backend sets and keys that every bench, the report and the pingora comparison use, so
//! that their figures describe the same inputs.

use std::net::{Ipv4Addr, SocketAddr};

use lb_core::Backend;

/// The backend counts of the select benches.
pub const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// `n` backends `10.0.0.1:port`, `10.0.0.2:port`, ... in address order (the order a load
/// balancer builds its selector from), backend `i` with weight `weight(i)`.
pub fn backends(n: usize, port: u16, weight: impl Fn(usize) -> u32) -> Vec<Backend> {
    (0..n).map(|i| backend(i, port, weight(i))).collect()
}

/// Backend `i` of [`backends`]: `10.0.0.1 + i` on `port`. Indices past 2^32 - 0x0a000001 wrap,
/// which no bench comes near.
pub fn backend(i: usize, port: u16, weight: u32) -> Backend {
    let ip = Ipv4Addr::from(0x0a00_0001_u32.wrapping_add(i as u32));
    Backend::from(SocketAddr::from((ip, port))).with_weight(weight)
}

/// Weights 1 to 10 in turn (`1 + i % 10`): the default weighted set of the benches.
pub fn weighted(i: usize) -> u32 {
    1 + (i % 10) as u32
}

/// Weights with no common structure (a prime spread from 1 to 100,003), too uneven for round
/// robin to tabulate.
pub fn uneven(i: usize) -> u32 {
    1 + ((i as u32).wrapping_mul(2_654_435_761) % 100_003)
}

/// 4,096 distinct 16-byte keys (`session-` and 8 mixed bytes); a power of two, so benches index
/// them with a mask.
pub fn keys() -> Vec<[u8; 16]> {
    (0..4096u64)
        .map(|i| {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(b"session-");
            k[8..].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            k
        })
        .collect()
}

/// Key `i` of the quality tables: `user-<i>` in decimal, the shape of a session or user id.
pub fn text_key(i: u64) -> String {
    format!("user-{i}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_sorted_distinct_and_weighted() {
        let set = backends(300, 8080, weighted);
        assert_eq!(set.len(), 300);
        assert!(set.windows(2).all(|w| w[0].addr < w[1].addr));
        assert_eq!(set[0].addr.to_string(), "10.0.0.1:8080");
        assert_eq!(set[255].addr.to_string(), "10.0.1.0:8080");
        assert_eq!(set[0].weight, 1);
        assert_eq!(set[9].weight, 10);
        assert_eq!(set[10].weight, 1);
    }

    #[test]
    fn keys_are_distinct() {
        let mut k = keys();
        assert_eq!(k.len(), 4096);
        k.sort_unstable();
        k.dedup();
        assert_eq!(k.len(), 4096);
        assert_eq!(text_key(42), "user-42");
    }

    #[test]
    fn uneven_weights_stay_in_range() {
        assert!((0..10_000).map(uneven).all(|w| (1..=100_003).contains(&w)));
        assert_ne!(uneven(1), uneven(2));
    }
}
