//! The select path makes no heap allocation, with a health check set.

use lb_core::{Backend, Backends, LoadBalancer};

use crate::support::{Rotate, ScriptedCheck};

#[test]
fn select_and_select_with_allocate_nothing() {
    let backends: Vec<Backend> = (1..=100u16)
        .map(|i| Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], i))))
        .collect();
    let mut lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(backends.clone()));
    lb.set_health_check(Box::new(ScriptedCheck::new(1, 1)));
    // Some backends unready, so select walks past candidates.
    for b in backends.iter().step_by(3) {
        lb.backends().set_health(b, false);
    }
    lb.backends().set_enable(&backends[1], false);

    // Warm up: a thread's first arc-swap load registers a thread-local node (one allocation for
    // the life of the thread); that is not per select.
    drop(lb.select(b"warm"));

    let info = allocation_counter::measure(|| {
        for i in 0..10_000u32 {
            let pick = lb.select(&i.to_le_bytes()).expect("ready backends exist");
            std::hint::black_box(pick.addr.port());
        }
    });
    assert_eq!(info.count_total, 0, "select allocated: {info:?}");

    let info = allocation_counter::measure(|| {
        for i in 0..10_000u32 {
            let pick = lb
                .select_with(&i.to_le_bytes(), 256, |b, ready| ready && b.weight > 0)
                .expect("ready backends exist");
            std::hint::black_box(pick.index());
        }
    });
    assert_eq!(info.count_total, 0, "select_with allocated: {info:?}");

    let mut selector = lb.selector();
    let _ = selector.select(b"warm").map(|p| p.index());
    let info = allocation_counter::measure(|| {
        for i in 0..10_000u32 {
            let pick = selector
                .select(&i.to_le_bytes())
                .expect("ready backends exist");
            std::hint::black_box(pick.addr.port());
        }
    });
    assert_eq!(info.count_total, 0, "Selector::select allocated: {info:?}");
}

#[test]
fn passive_health_ejects_and_readmits_without_allocating() {
    let backends: Vec<Backend> = (1..=20u16)
        .map(|i| Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], i))))
        .collect();
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(backends));
    // Ejections of zero length: every select that meets an ejected backend readmits it, so the
    // loop goes through reporting, ejecting (a scan of the set) and readmitting over and over.
    let policy = lb_core::PassiveHealth::default()
        .with_consecutive_failures(2)
        .with_ejection(std::time::Duration::ZERO, std::time::Duration::ZERO);
    lb.set_passive_health(Some(policy));
    drop(lb.select(b"warm"));
    let info = allocation_counter::measure(|| {
        for i in 0..10_000u32 {
            let pick = lb.select(&i.to_le_bytes()).expect("ready backends exist");
            pick.report(
                lb_core::Outcome::Failure,
                std::time::Duration::from_micros(5),
            );
        }
    });
    assert_eq!(
        info.count_total, 0,
        "report and readmission allocated: {info:?}"
    );
    let set = lb.backends().get_backend();
    let ejections: u64 = set.states().iter().map(|s| s.ejections()).sum();
    assert!(ejections > 1_000, "the loop ejected only {ejections} times");
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the test above against passing vacuously (a counter that is not installed).
    let info = allocation_counter::measure(|| {
        std::hint::black_box(Box::new(7u64));
    });
    assert_eq!(info.count_total, 1);
}
