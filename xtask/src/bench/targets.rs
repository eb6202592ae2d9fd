//! The targets for the pingora comparison, as ratios lb/pingora measured in one run, and
//! whether this run met them.
//!
//! - select: lb/pingora <= 0.05 for every shared strategy (round robin, random, FNV hash,
//!   consistent) at every N; judged separately for lb's owned `Pick` (the like-for-like
//!   comparison) and for the per-worker `Selector`;
//! - consistent build at N = 10,000: <= 0.2;
//! - selector memory at N = 1,000 with weight 10,000: <= 0.01;
//! - an update changing 1 or 10 backends of 10,000: <= 0.05 for every shared strategy, judged
//!   on lb's delta path (what its tracking sources answer); the whole-set path is shown beside.

use super::data::{Data, PingoraBytes};

/// Strategies both libraries have.
pub(crate) const SHARED: [&str; 4] = ["round_robin", "random", "fnv_hash", "consistent"];

/// One target and how the run fared.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    /// What is measured.
    pub(crate) what: String,
    /// The largest ratio allowed.
    pub(crate) limit: f64,
    /// The worst ratio measured and where; `None` when the run has no such figure.
    pub(crate) worst: Option<(f64, String)>,
    /// Rows left out of the judgement, and why.
    pub(crate) note: Option<String>,
}

impl Target {
    /// `Some(true)` when the worst ratio is within the limit, `None` without data.
    pub(crate) fn met(&self) -> Option<bool> {
        self.worst.as_ref().map(|(ratio, _)| *ratio <= self.limit)
    }

    /// `met (worst 0.035, random N=1000)`, `missed (...)` or `no data`.
    pub(crate) fn verdict(&self) -> String {
        match (&self.worst, self.met()) {
            (Some((ratio, at)), Some(met)) => format!(
                "{} (worst {ratio:.3}, {at})",
                if met { "met" } else { "missed" }
            ),
            _ => "no data".to_owned(),
        }
    }
}

/// The worst (largest) of `ratios`, with where it was measured.
fn worst(ratios: impl Iterator<Item = (f64, String)>) -> Option<(f64, String)> {
    ratios
        .filter(|(r, _)| r.is_finite())
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// Every target, judged on `data`.
pub(crate) fn evaluate(data: &Data) -> Vec<Target> {
    let shared_selects = || {
        data.compare_select
            .iter()
            .filter(|r| SHARED.contains(&r.strategy.as_str()))
    };
    let select = |what: &str, lb: fn(&super::data::CompareSelect) -> f64| Target {
        what: what.to_owned(),
        limit: 0.05,
        worst: worst(
            shared_selects().map(|r| (lb(r) / r.pingora, format!("{} N={}", r.strategy, r.n))),
        ),
        note: None,
    };
    let build = |strategy: &str, what: &str| Target {
        what: what.to_owned(),
        limit: 0.2,
        worst: worst(
            data.compare_build
                .iter()
                .filter(|r| r.strategy == strategy && r.n == 10_000)
                .map(|r| (r.lb / r.pingora, format!("{} N={}", r.strategy, r.n))),
        ),
        note: None,
    };
    let heavy = || {
        data.compare_memory
            .iter()
            .filter(|r| r.n == 1_000 && r.weights == "10000")
    };
    let memory = Target {
        what: "selector memory, N = 1,000, weight 10,000, lb / pingora".to_owned(),
        limit: 0.01,
        worst: worst(heavy().filter_map(|r| match (&r.lb, &r.pingora) {
            (Ok(lb), PingoraBytes::Counted(p)) if *p > 0 => {
                Some((*lb as f64 / *p as f64, r.strategy.clone()))
            }
            _ => None,
        })),
        note: {
            let skipped: Vec<String> = heavy()
                .filter(|r| !matches!((&r.lb, &r.pingora), (Ok(_), PingoraBytes::Counted(_))))
                .map(|r| r.strategy.clone())
                .collect();
            (!skipped.is_empty()).then(|| {
                format!(
                    "not comparable: {} (lb refuses a ring of 1.6 billion points; pingora would \
                     allocate it)",
                    skipped.join(", ")
                )
            })
        },
    };
    let update = Target {
        what: "update of 1 or 10 backends of 10,000, lb `apply_delta` / pingora `update`, every \
               shared strategy"
            .to_owned(),
        limit: 0.05,
        worst: worst(
            data.compare_update
                .iter()
                .filter(|r| {
                    r.n == 10_000
                        && (SHARED.contains(&r.strategy.as_str()) || r.strategy == "consistent_w1")
                })
                .map(|r| {
                    (
                        r.lb_delta / r.pingora,
                        format!("{} changed {}", r.strategy, r.changed),
                    )
                }),
        ),
        note: None,
    };
    vec![
        select(
            "select, lb `Pick` (`LoadBalancer::select`) / pingora, every shared strategy and N",
            |r| r.lb_pick,
        ),
        select(
            "select, lb `Selector` / pingora, every shared strategy and N",
            |r| r.lb_selector,
        ),
        build(
            "consistent",
            "consistent build, N = 10,000, weights 1-10, lb / pingora",
        ),
        build(
            "consistent_w1",
            "consistent build, N = 10,000, weight 1, lb / pingora",
        ),
        memory,
        update,
    ]
}

#[cfg(test)]
mod tests {
    use super::super::data::{CompareBuild, CompareMemory, CompareSelect};
    use super::*;

    fn select(strategy: &str, n: u64, pick: f64, selector: f64, pingora: f64) -> CompareSelect {
        CompareSelect {
            strategy: strategy.into(),
            n,
            lb_pick: pick,
            lb_selector: selector,
            pingora,
        }
    }

    #[test]
    fn updates_are_judged_on_the_delta_path_of_shared_strategies_at_10000() {
        let row =
            |strategy: &str, n, changed, delta, full, pingora| super::super::data::CompareUpdate {
                strategy: strategy.into(),
                n,
                changed,
                lb_delta: delta,
                lb_full: full,
                pingora,
            };
        let data = Data {
            compare_update: vec![
                row("round_robin", 10_000, 1, 3e5, 9e5, 9.5e6),
                row("consistent", 10_000, 10, 2e6, 4e7, 5.6e7),
                // Not shared, or not at 10,000: never judged.
                row("maglev", 10_000, 1, 4e7, 4e7, 1.0),
                row("random", 10, 1, 1.0, 1.0, 1e-3),
            ],
            ..Data::default()
        };
        let t = evaluate(&data).pop().unwrap();
        assert!(t.what.starts_with("update"));
        let (ratio, at) = t.worst.clone().unwrap();
        assert!((ratio - 2e6 / 5.6e7).abs() < 1e-12);
        assert_eq!(at, "consistent changed 10");
        assert_eq!(t.met(), Some(true));
    }

    #[test]
    fn judges_each_target_on_its_worst_ratio() {
        let data = Data {
            compare_select: vec![
                select("round_robin", 10, 15.0, 4.0, 150.0),
                select("fnv_hash", 10_000, 36.0, 7.0, 240.0),
                // Not a shared strategy: never judged.
                select("consistent_w1", 10, 1000.0, 1000.0, 1.0),
            ],
            compare_build: vec![
                CompareBuild {
                    strategy: "consistent".into(),
                    n: 10_000,
                    lb: 40.0,
                    pingora: 250.0,
                },
                CompareBuild {
                    strategy: "consistent".into(),
                    n: 1_000,
                    lb: 1000.0,
                    pingora: 1.0,
                },
            ],
            compare_memory: vec![
                CompareMemory {
                    strategy: "random".into(),
                    n: 1_000,
                    weights: "10000".into(),
                    lb: Ok(20_000),
                    pingora: PingoraBytes::Counted(20_000_000),
                },
                CompareMemory {
                    strategy: "consistent".into(),
                    n: 1_000,
                    weights: "10000".into(),
                    lb: Err("too many points".into()),
                    pingora: PingoraBytes::Estimated(12_800_000_000),
                },
            ],
            ..Data::default()
        };
        let t = evaluate(&data);
        assert_eq!(t[0].worst, Some((0.15, "fnv_hash N=10000".into())));
        assert_eq!(t[0].met(), Some(false));
        assert_eq!(t[0].verdict(), "missed (worst 0.150, fnv_hash N=10000)");
        assert_eq!(t[1].worst.as_ref().map(|w| w.0), Some(7.0 / 240.0));
        assert_eq!(t[1].met(), Some(true));
        assert_eq!(t[2].worst, Some((0.16, "consistent N=10000".into())));
        assert_eq!(t[2].met(), Some(true));
        assert_eq!(t[3].met(), None);
        assert_eq!(t[3].verdict(), "no data");
        assert_eq!(t[4].worst, Some((0.001, "random".into())));
        assert!(
            t[4].note
                .as_deref()
                .is_some_and(|n| n.contains("consistent"))
        );
    }
}
