//! Helpers shared by the unit tests.

use lb_core::{Backend, BackendIter};

/// Backends of the given weights at 10.0.0.1:80, 10.0.0.2:80, … (so index order is address order).
pub(crate) fn backends(weights: &[u32]) -> Vec<Backend> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let ip = std::net::Ipv4Addr::from(0x0a00_0001 + i as u32);
            Backend::from(std::net::SocketAddr::from((ip, 80))).with_weight(w)
        })
        .collect()
}

/// Every candidate of an iterator, failing the test if it does not end within a million.
pub(crate) fn all_candidates(mut it: impl BackendIter) -> Vec<usize> {
    let mut out = Vec::new();
    while let Some(i) = it.next() {
        out.push(i);
        assert!(out.len() < 1_000_000, "the candidate iterator does not end");
    }
    out
}

/// Pearson's chi-square test of `counts` against proportions `weights`, at a significance of
/// about one in a million (so a correct strategy fails it about once per million runs, and a
/// wrong one fails it for sure with tens of thousands of samples).
pub(crate) fn chi_square_ok(counts: &[u64], weights: &[u64]) -> bool {
    let n: u64 = counts.iter().sum();
    let w: u64 = weights.iter().sum();
    let stat: f64 = counts
        .iter()
        .zip(weights)
        .map(|(&c, &wi)| {
            let expected = n as f64 * wi as f64 / w as f64;
            (c as f64 - expected).powi(2) / expected
        })
        .sum();
    let df = (counts.len() - 1).max(1) as f64;
    // Wilson–Hilferty: the chi-square quantile from the normal one (z = 4.75 for p = 1e-6).
    let z = 4.75;
    let a = 2.0 / (9.0 * df);
    let critical = df * (1.0 - a + z * a.sqrt()).powi(3);
    stat < critical
}
