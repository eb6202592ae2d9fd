//! `LeastRequest` inside a `LoadBalancer`: the power of two choices over requests in flight.

use lb_core::{Backends, LoadBalancer, Pick};
use lb_selection::{LeastConnections, LeastRequest, LeastRequestConfig};

use crate::support::backends;

fn balancer(weights: &[u32]) -> LoadBalancer<LeastRequest> {
    LoadBalancer::from_backends(Backends::fixed(backends(weights)))
}

/// Holds `count` requests in flight on backend `index`: live picks, as a proxy holds them for
/// requests it has sent and not yet seen answered.
fn load(lb: &LoadBalancer<LeastRequest>, index: usize, count: usize) -> Vec<Pick<LeastRequest>> {
    let target = lb.backends().get_backend().backends()[index].addr.clone();
    (0..count)
        .map(|_| {
            lb.select_with(b"", usize::MAX, |b, _| b.addr == target)
                .expect("the backend exists")
        })
        .collect()
}

/// Each backend's share of `n` picks.
fn shares(lb: &LoadBalancer<LeastRequest>, n: u32) -> Vec<f64> {
    let mut counts = vec![0u32; lb.backends().get_backend().len()];
    for _ in 0..n {
        counts[lb.select(b"").expect("a backend").index()] += 1;
    }
    counts
        .iter()
        .map(|&c| f64::from(c) / f64::from(n))
        .collect()
}

/// `got` is within 5.5 standard deviations of `p` over `n` draws (a false alarm about once in
/// 100,000 runs).
fn assert_near(got: f64, p: f64, n: u32, what: &str) {
    let sd = (p * (1.0 - p) / f64::from(n)).sqrt();
    assert!(
        (got - p).abs() <= 5.5 * sd + 1e-9,
        "{what}: share {got:.4}, expected {p:.4} ± {:.4}",
        5.5 * sd
    );
}

const N: u32 = 40_000;

#[test]
fn without_load_the_picks_follow_the_weights() {
    let lb = balancer(&[1, 2, 3, 4]);
    for (i, got) in shares(&lb, N).into_iter().enumerate() {
        assert_near(got, (i + 1) as f64 / 10.0, N, &format!("backend {i}"));
    }
}

#[test]
fn a_backend_with_requests_piling_up_gets_only_the_draws_it_wins_alone() {
    // Plain `select`, no call but holding the picks of requests in flight: the lifecycle
    // counts them.
    let lb = balancer(&[1, 1, 1, 1]);
    let busy = load(&lb, 0, 100);
    assert_eq!(busy[0].state().in_flight(), 100);
    let got = shares(&lb, N);
    assert!(
        got[0] <= 0.07,
        "the busy backend got {:.4} of new picks",
        got[0]
    );
    // Backend 0 wins only when both draws are backend 0: (1/4)^2.
    assert_near(got[0], 1.0 / 16.0, N, "the busy backend");
    for (i, &share) in got.iter().enumerate().skip(1) {
        assert_near(share, 5.0 / 16.0, N, &format!("idle backend {i}"));
    }
}

#[test]
fn load_is_compared_per_unit_of_weight() {
    // Backend 1 weighs three times backend 0: three requests on it weigh as one on backend 0.
    let lb = balancer(&[1, 3]);
    let _a = load(&lb, 0, 1);
    let b = load(&lb, 1, 3);
    let got = shares(&lb, N);
    // Equal load per weight: ties go to the first draw, so the weights decide.
    assert_near(got[0], 0.25, N, "a tie");
    // One more on backend 1 makes backend 0 the better one whenever it is drawn at all.
    let _b_more = load(&lb, 1, 1);
    let got = shares(&lb, N);
    assert_near(got[0], 1.0 - 0.75 * 0.75, N, "backend 0 less loaded");
    drop(b);
    // Now backend 1 carries 1 request for weight 3: less per weight than backend 0's 1 for 1.
    let got = shares(&lb, N);
    assert_near(got[1], 1.0 - 0.25 * 0.25, N, "backend 1 less loaded");
}

#[test]
fn more_choices_steer_harder_and_a_bias_of_zero_ignores_load() {
    let lb = LoadBalancer::<LeastRequest>::from_backends_with_config(
        Backends::fixed(backends(&[1, 1, 1, 1])),
        LeastRequest::choices(3),
    );
    let _busy = load(&lb, 0, 10);
    // Three draws: the busy backend only when all three are it.
    assert_near(shares(&lb, N)[0], 1.0 / 64.0, N, "three choices");
    let lb = LoadBalancer::<LeastRequest>::from_backends_with_config(
        Backends::fixed(backends(&[1, 1, 1, 1])),
        LeastRequestConfig::default().with_active_request_bias(0.0),
    );
    let _busy = load(&lb, 0, 10);
    assert_near(shares(&lb, N)[0], 0.25, N, "bias 0: weighted random");
}

#[test]
fn a_full_scan_takes_the_least_loaded_per_weight_and_breaks_ties_in_turn() {
    let lb = LoadBalancer::<LeastConnections>::from_backends_with_config(
        Backends::fixed(backends(&[1, 2, 1, 1])),
        LeastRequest::full_scan(),
    );
    let _loads = [
        load(&lb, 0, 1),
        load(&lb, 1, 1),
        load(&lb, 2, 1),
        load(&lb, 3, 2),
    ];
    // Per unit of weight: 1, 1/2, 1, 2: backend 1 every time.
    assert!((0..100).all(|_| lb.select(b"").unwrap().index() == 1));
    // A held pick counts: backend 1 at 2/2 now ties with 0 and 2 (1 each): turns among them.
    let _held = load(&lb, 1, 1);
    let mut seen = [0usize; 4];
    for _ in 0..300 {
        seen[lb.select(b"").unwrap().index()] += 1;
    }
    assert_eq!(seen[3], 0, "the most loaded is never taken");
    assert!(seen[..3].iter().all(|&n| n >= 60), "ties in turn: {seen:?}");
    // A ready backend is always found, even when the least loaded is down.
    lb.backends().set_enable(&backends(&[1, 2, 1, 1])[1], false);
    assert!((0..50).all(|_| lb.select(b"").unwrap().index() != 1));
}

#[test]
fn a_less_loaded_backend_that_is_down_is_passed_over() {
    let lb = balancer(&[1, 1, 1]);
    let set = backends(&[1, 1, 1]);
    let _busy = load(&lb, 0, 5);
    lb.backends().set_enable(&set[1], false);
    lb.backends().set_enable(&set[2], false);
    for _ in 0..100 {
        assert_eq!(lb.select(b"").unwrap().index(), 0, "the only ready backend");
    }
    lb.backends().set_enable(&set[0], false);
    assert!(lb.select(b"").is_none());
}

#[test]
fn states_that_do_not_match_the_set_never_break_the_candidate_order() {
    use lb_core::{BackendIter, BackendSelection};
    // A selector over three backends (one standby), asked with no states, fewer, or more than
    // it was built over: each backend offered exactly once, active ones first, no panic.
    let set = backends(&[u32::MAX, 1, 0]);
    let sel = LeastRequest::build(&set, &Default::default()).unwrap();
    let others: Vec<_> = [0, 1, 5].map(|n| balancer(&vec![1; n])).into();
    let _busy = load(&others[2], 1, 3);
    for other in &others {
        let states = other.backends().get_backend();
        for _ in 0..200 {
            let mut it = sel.iter_with_states(b"", lb_core::States::with_default_signals(&states));
            let mut got = Vec::new();
            while let Some(i) = it.next() {
                got.push(i);
                assert!(got.len() <= 3, "{got:?}");
            }
            assert_eq!(got[2], 2, "the standby comes last: {got:?}");
            got.sort_unstable();
            assert_eq!(got, [0, 1, 2]);
        }
    }
}
