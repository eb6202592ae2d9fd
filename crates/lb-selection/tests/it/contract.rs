//! Every built-in strategy passes the contract checks users run on their own strategies.

use lb_selection::testing::{Report, Violation, check_contract, check_contract_counting};
use lb_selection::{
    Bounded, BoundedConfig, Consistent, FnvHash, Jump, KetamaConfig, LeastRequest,
    LeastRequestConfig, Maglev, PeakEwma, Random, Rendezvous, RoundRobin,
};

/// The contract with the allocations counted by this binary's counting allocator.
fn checked<S: lb_core::BackendSelection>(config: &S::Config) -> Result<Report, Violation> {
    check_contract_counting::<S>(config, |pick| allocation_counter::measure(pick).count_total)
}

fn passes(report: Result<Report, Violation>) -> Report {
    let report = report.unwrap_or_else(|v| panic!("{v}"));
    assert!(report.sets >= 30 && report.picks > 1_000, "{report:?}");
    report
}

#[test]
fn round_robin_keeps_the_contract() {
    assert!(passes(checked::<RoundRobin>(&())).build_errors.is_empty());
}

#[test]
fn random_keeps_the_contract() {
    assert!(passes(checked::<Random>(&())).build_errors.is_empty());
}

#[test]
fn least_request_keeps_the_contract_in_every_mode() {
    for config in [
        LeastRequestConfig::default(),
        LeastRequest::choices(3),
        LeastRequestConfig::default().with_active_request_bias(0.5),
        LeastRequestConfig::default().with_active_request_bias(0.0),
        LeastRequest::full_scan(),
    ] {
        assert!(
            passes(checked::<LeastRequest>(&config))
                .build_errors
                .is_empty(),
            "{config:?}"
        );
    }
}

#[test]
fn peak_ewma_keeps_the_contract() {
    assert!(passes(checked::<PeakEwma>(&())).build_errors.is_empty());
}

#[test]
fn fnv_hash_keeps_the_contract() {
    assert!(passes(checked::<FnvHash>(&())).build_errors.is_empty());
}

#[test]
fn maglev_keeps_the_contract() {
    let report = passes(checked::<Maglev>(&Default::default()));
    assert!(
        report
            .build_errors
            .iter()
            .all(|e| e.contains("maglev") || e.contains("table") || e.contains("weight")),
        "{:?}",
        report.build_errors
    );
}

#[test]
fn rendezvous_keeps_the_contract() {
    assert!(passes(checked::<Rendezvous>(&())).build_errors.is_empty());
}

#[test]
fn jump_keeps_the_contract() {
    assert!(
        passes(checked::<Jump>(&Default::default()))
            .build_errors
            .is_empty()
    );
}

#[test]
fn bounded_keeps_the_contract_over_each_hashing_strategy() {
    passes(checked::<Bounded<Consistent>>(&BoundedConfig::default()));
    passes(checked::<Bounded<Maglev>>(&BoundedConfig::default()));
    assert!(
        passes(checked::<Bounded<Rendezvous>>(&BoundedConfig::default()))
            .build_errors
            .is_empty()
    );
}

#[test]
fn consistent_keeps_the_contract_and_refuses_rings_too_heavy_with_an_error() {
    let report = passes(checked::<Consistent>(&KetamaConfig::default()));
    // Sets with weights like u32::MAX would need more ring points than a ring holds: a typed
    // error naming the heaviest backend, not a panic; the usual weights build.
    assert!(!report.build_errors.is_empty());
    assert!(
        report
            .build_errors
            .iter()
            .all(|e| e.contains("extreme weights") || e.contains("u32::MAX")),
        "{:?}",
        report.build_errors
    );
    assert!(report.build_errors.iter().all(|e| e.contains("has weight")));
}

/// A strategy that offers its first backend twice: the check must catch it.
#[test]
fn the_check_catches_a_broken_strategy() {
    use lb_core::{Backend, BackendIter, BackendSelection, BoxError};
    struct Twice(usize);
    struct TwiceIter(usize, usize);
    impl BackendIter for TwiceIter {
        fn next(&mut self) -> Option<usize> {
            let i = self.0;
            self.0 += 1;
            // 0, 0, 1, 2, ...: backend 0 twice.
            (self.1 > 0 && i <= self.1).then(|| i.saturating_sub(1))
        }
    }
    impl BackendSelection for Twice {
        type Config = ();
        type Iter<'a> = TwiceIter;
        fn build(backends: &[Backend], _: &()) -> Result<Self, BoxError> {
            Ok(Twice(backends.len()))
        }
        fn iter(&self, _: &[u8]) -> TwiceIter {
            TwiceIter(0, self.0)
        }
    }
    let violation = check_contract::<Twice>(&()).unwrap_err();
    assert!(violation.problem.contains("offered twice"), "{violation}");
    assert_eq!(violation.set, "one backend");
}

/// Round robin with a flaw added to every pick: the check must name it.
mod flawed {
    use lb_core::{Backend, BackendSelection, BoxError};
    use lb_selection::{RoundRobin, RoundRobinIter};

    pub(super) struct Allocating(RoundRobin);
    impl BackendSelection for Allocating {
        type Config = ();
        type Iter<'a> = RoundRobinIter<'a>;
        fn build(backends: &[Backend], c: &()) -> Result<Self, BoxError> {
            Ok(Allocating(RoundRobin::build(backends, c)?))
        }
        fn iter(&self, key: &[u8]) -> RoundRobinIter<'_> {
            std::hint::black_box(key.to_vec());
            self.0.iter(key)
        }
    }

    pub(super) struct Logging(RoundRobin);
    impl BackendSelection for Logging {
        type Config = ();
        type Iter<'a> = RoundRobinIter<'a>;
        fn build(backends: &[Backend], c: &()) -> Result<Self, BoxError> {
            Ok(Logging(RoundRobin::build(backends, c)?))
        }
        fn iter(&self, key: &[u8]) -> RoundRobinIter<'_> {
            tracing::trace!(len = key.len(), "picking");
            self.0.iter(key)
        }
    }
}

#[test]
fn the_check_catches_a_strategy_that_allocates_or_logs_per_pick() {
    let violation = checked::<flawed::Allocating>(&()).unwrap_err();
    assert!(violation.problem.contains("allocated"), "{violation}");
    let violation = checked::<flawed::Logging>(&()).unwrap_err();
    assert!(
        violation.problem.contains("logged: TRACE picking len="),
        "{violation}"
    );
}
