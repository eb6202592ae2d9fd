//! Zero heap allocations per pick, for every strategy, through `LoadBalancer::select` and
//! `select_with`, with a health check set and some backends not ready.

use lb_core::{BackendSelection, Backends, LoadBalancer};
use lb_selection::{
    Bounded, Consistent, FnvHash, Jump, LeastRequest, Maglev, PeakEwma, Random, Rendezvous,
    RoundRobin,
};

use crate::support::{AlwaysUp, backends};

fn assert_no_allocation<S: BackendSelection>() {
    let name = std::any::type_name::<S>();
    // Uneven weights (including standby backends) so the weighted paths are the ones measured.
    let weights: Vec<u32> = (0..200u32)
        .map(|i| [1, 3, 0, 7, 100][i as usize % 5])
        .collect();
    let set = backends(&weights);
    let mut lb = LoadBalancer::<S>::from_backends(Backends::fixed(set.clone()));
    lb.set_health_check(Box::new(AlwaysUp));
    // Some backends down or disabled, so select walks past candidates into the fallback order.
    for b in set.iter().step_by(3) {
        assert!(lb.backends().set_health(b, false));
    }
    lb.backends().set_enable(&set[1], false);

    // Warm up: a thread's first arc-swap load registers a thread-local node, and the random
    // generator seeds itself; neither happens per pick.
    drop(lb.select(b"warm"));

    let info = allocation_counter::measure(|| {
        for i in 0..10_000u32 {
            let pick = lb.select(&i.to_le_bytes()).expect("ready backends exist");
            assert!(pick.state().is_ready());
            std::hint::black_box(pick.addr.port());
        }
    });
    assert_eq!(info.count_total, 0, "{name}: select allocated: {info:?}");

    let info = allocation_counter::measure(|| {
        for i in 0..10_000u32 {
            // Accept only standby backends, so every pick walks the whole candidate order.
            let pick = lb
                .select_with(&i.to_le_bytes(), usize::MAX, |b, _ready| b.weight == 0)
                .expect("standby backends exist");
            std::hint::black_box(pick.index());
        }
    });
    assert_eq!(
        info.count_total, 0,
        "{name}: select_with allocated: {info:?}"
    );
}

#[test]
fn round_robin_allocates_nothing_per_pick() {
    assert_no_allocation::<RoundRobin>();
}

#[test]
fn random_allocates_nothing_per_pick() {
    assert_no_allocation::<Random>();
}

#[test]
fn least_request_allocates_nothing_per_pick() {
    assert_no_allocation::<LeastRequest>();
}

#[test]
fn peak_ewma_allocates_nothing_per_pick() {
    assert_no_allocation::<PeakEwma>();
}

#[test]
fn fnv_hash_allocates_nothing_per_pick() {
    assert_no_allocation::<FnvHash>();
}

#[test]
fn consistent_allocates_nothing_per_pick() {
    assert_no_allocation::<Consistent>();
}

#[test]
fn maglev_allocates_nothing_per_pick() {
    assert_no_allocation::<Maglev>();
}

#[test]
fn rendezvous_allocates_nothing_per_pick() {
    assert_no_allocation::<Rendezvous>();
}

#[test]
fn jump_allocates_nothing_per_pick() {
    assert_no_allocation::<Jump>();
}

#[test]
fn bounded_allocates_nothing_per_pick() {
    assert_no_allocation::<Bounded<Consistent>>();
    assert_no_allocation::<Bounded<Maglev>>();
    assert_no_allocation::<Bounded<Rendezvous>>();
}

#[test]
fn bounded_allocates_nothing_per_pick_under_load() {
    // 100 backends, 60 of them carrying requests: picks walk past many over their cap (more
    // than the walk keeps inline), which lends the thread's spill buffer after the warm-up.
    let set = backends(&[1; 100]);
    let mut lb = LoadBalancer::<Bounded<Maglev>>::from_backends(Backends::fixed(set.clone()));
    lb.set_health_check(Box::new(AlwaysUp));
    // Picks held count in flight (`Bounded` needs load).
    let held: Vec<_> = set[..60]
        .iter()
        .flat_map(|b| {
            let lb = &lb;
            (0..5).map(move |_| {
                lb.select_with(b"", usize::MAX, |x, _| x.addr == b.addr)
                    .expect("exists")
            })
        })
        .collect();
    // Only the loaded backends are acceptable, so each pick walks the whole order.
    let loaded = |b: &lb_core::Backend| set[..60].iter().any(|x| x.addr == b.addr);
    drop(lb.select_with(b"warm", usize::MAX, |b, _| loaded(b)));
    let info = allocation_counter::measure(|| {
        for i in 0..2_000u32 {
            let pick = lb
                .select_with(&i.to_le_bytes(), usize::MAX, |b, _| loaded(b))
                .expect("loaded backends are ready");
            std::hint::black_box(pick.index());
        }
    });
    assert_eq!(info.count_total, 0, "bounded select allocated: {info:?}");
    drop(held);
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the tests above against passing vacuously (a counter that is not installed).
    let info = allocation_counter::measure(|| {
        std::hint::black_box(Box::new(7u64));
    });
    assert_eq!(info.count_total, 1);
}
