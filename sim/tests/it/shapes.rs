//! The known shapes, each with a tolerance.

use std::time::Duration;

use lb_sim::{Change, ServerSpec, Strategy};

use crate::{scenario, summaries};

/// One server of ten turns ten times slower 5 s in: the load-aware strategies steer around it,
/// so their p99 stays below round robin's (which keeps sending it a tenth of the requests), and
/// Peak EWMA's stays within 1.5 × the p99 of ten fast servers.
#[test]
fn around_a_slow_backend_load_aware_strategies_keep_the_tail_short() {
    let slow = scenario("slow-backend", 12);
    let [rr, lr, ewma] = summaries(
        &slow,
        &[
            Strategy::RoundRobin,
            Strategy::LeastRequest,
            Strategy::PeakEwma,
        ],
    )
    .try_into()
    .expect("three summaries");
    let [fast] = summaries(&scenario("all-equal", 12), &[Strategy::PeakEwma])
        .try_into()
        .expect("one summary");
    assert!(
        lr.p99 < rr.p99,
        "least request {} ms, round robin {} ms",
        lr.p99,
        rr.p99
    );
    assert!(
        ewma.p99 < rr.p99,
        "peak ewma {} ms, round robin {} ms",
        ewma.p99,
        rr.p99
    );
    assert!(
        ewma.p99 < 1.5 * fast.p99,
        "peak ewma {} ms with a slow server, {} ms without",
        ewma.p99,
        fast.p99
    );
    // Round robin's tail is the slow server's: ten times a fast one's.
    assert!(
        rr.p99 > 3.0 * fast.p99,
        "round robin {} ms, fast {} ms",
        rr.p99,
        fast.p99
    );
}

/// One server of ten fails half its requests 5 s in: passive health ejects it, after which
/// fewer than 2 % of requests fail, whatever the strategy.
#[test]
fn passive_health_contains_a_failing_backend() {
    let failing = scenario("failing-backend", 12);
    let strategies = [
        Strategy::RoundRobin,
        Strategy::LeastRequest,
        Strategy::PeakEwma,
        Strategy::Consistent,
    ];
    for s in summaries(&failing, &strategies) {
        let ejected = s.first_ejection.expect("the failing server is ejected");
        assert!(
            ejected > Duration::from_secs(5),
            "{}: ejected at {ejected:?}",
            s.strategy
        );
        assert!(s.failed > 0, "{}: the server's failures show", s.strategy);
        let after = s
            .failed_after_ejection
            .expect("requests after the ejection");
        assert!(
            after < 0.02,
            "{}: {after} failed after the ejection",
            s.strategy
        );
    }
}

/// A server leaves the set, another joins: with a consistent strategy the leaving server's keys
/// all move and the others stay (Maglev moves a few), and about one key in eleven moves to the
/// new server once its slow start is over. `fnv_hash` (hash modulo the set) moves most keys,
/// which shows the measure sees moves.
#[test]
fn consistent_strategies_move_only_the_keys_they_must() {
    let mut churn = scenario("churn", 15);
    churn.changes = vec![
        (Duration::from_secs(2), Change::Remove { server: 3 }),
        (Duration::from_secs(3), Change::Add(ServerSpec::standard())),
    ];
    let strategies = [
        Strategy::Consistent,
        Strategy::Rendezvous,
        Strategy::Maglev,
        Strategy::FnvHash,
    ];
    for s in summaries(&churn, &strategies) {
        let (own, others) = s.moved_on_remove.expect("keys seen around the removal");
        let added = s.moved_on_add.expect("keys seen around the addition");
        assert_eq!(
            own, 1.0,
            "{}: the removed server's keys all move",
            s.strategy
        );
        match s.strategy {
            "fnv_hash" => assert!(others > 0.5, "fnv_hash moved {others} of the others"),
            "maglev" => assert!(others < 0.02, "maglev moved {others} of the others"),
            _ => assert_eq!(others, 0.0, "{}: moved {others} of the others", s.strategy),
        }
        if s.strategy != "fnv_hash" {
            assert!(
                (0.04..0.16).contains(&added),
                "{}: {added} moved on add",
                s.strategy
            );
        }
    }
}
