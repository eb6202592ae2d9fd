//! The request path makes no heap allocation and logs nothing: `select`, `Selector::select`,
//! `report` and a dropped `Pick`, with load tracked or not, with a health check set and a
//! subscriber installed that records (and so allocates for) every event at every level, and,
//! with the `metrics` feature, with metrics recorded for every backend.

use std::time::Duration;

use lb_core::{
    Backend, BackendSelection, Backends, LoadBalancer, Outcome, PassiveHealth, Priority, Zone,
    ZoneRouting,
};

use lb_core::testing::RecordingSubscriber;

use crate::support::{LoadAware, Rotate, ScriptedCheck};

/// 100 backends, some down and one disabled; with `topology`, in two priority levels and
/// three zones, zone-aware routing on.
fn balancer<S: BackendSelection>(topology: bool) -> (LoadBalancer<S>, Vec<Backend>) {
    let backends: Vec<Backend> = (1..=100u16)
        .map(|i| {
            let b = Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], i)));
            if topology {
                let zone = ["a", "b", "c"][usize::from(i % 3)];
                b.with_ext(Zone::new(zone))
                    .with_ext(Priority(u32::from(i % 7 == 0)))
            } else {
                b
            }
        })
        .collect();
    let mut lb = LoadBalancer::<S>::from_backends(Backends::fixed(backends.clone()));
    if topology {
        lb.set_zone_routing(Some(ZoneRouting::new("a"))).unwrap();
    }
    lb.set_health_check(Box::new(ScriptedCheck::new(1, 1)));
    // Some backends unready, so select walks past candidates.
    for b in backends.iter().step_by(3) {
        lb.backends().set_health(b, false);
    }
    lb.backends().set_enable(&backends[1], false);
    (lb, backends)
}

/// With the `metrics` feature, names the load balancer's metrics under a recorder, and returns
/// a check that they were recorded.
fn with_metrics<S: BackendSelection>(lb: &LoadBalancer<S>) -> impl Fn(&str) {
    #[cfg(feature = "metrics")]
    {
        let values = crate::metrics::record_metrics(lb);
        move |what: &str| {
            assert!(
                values.load(std::sync::atomic::Ordering::Relaxed) > 10_000,
                "{what}: metrics recorded"
            );
        }
    }
    #[cfg(not(feature = "metrics"))]
    {
        let _ = lb;
        |_: &str| {}
    }
}

/// Runs `work` 10,000 times under the recording subscriber; asserts it allocated nothing and
/// logged nothing.
fn assert_silent_and_allocation_free(what: &str, mut work: impl FnMut(u32)) {
    let subscriber = RecordingSubscriber::default();
    let record = subscriber.record();
    tracing::subscriber::with_default(subscriber, || {
        // Warm up: a thread's first arc-swap load registers a thread-local node (one allocation
        // for the life of the thread); that is not per request.
        work(u32::MAX);
        let info = allocation_counter::measure(|| {
            for i in 0..10_000u32 {
                work(i);
            }
        });
        assert_eq!(info.count_total, 0, "{what} allocated: {info:?}");
    });
    assert!(record.is_empty(), "{what} logged: {:?}", record.lines());
}

fn request_path_is_silent_and_allocation_free<S: BackendSelection>(passive: bool, topology: bool) {
    let name = format!(
        "{} (passive health {passive}, topology {topology})",
        std::any::type_name::<S>()
    );
    let (lb, _) = balancer::<S>(topology);
    let recorded = with_metrics(&lb);
    if passive {
        lb.set_passive_health(Some(PassiveHealth::default()));
    }
    let tracked = S::NEEDS_LOAD || passive;
    assert_eq!(lb.select(b"").unwrap().is_tracked(), tracked, "{name}");
    let ms = Duration::from_millis(3);

    assert_silent_and_allocation_free(&format!("{name}: select and drop"), |i| {
        let pick = lb.select(&i.to_le_bytes()).expect("ready backends exist");
        std::hint::black_box(pick.addr.port());
    });
    assert_silent_and_allocation_free(&format!("{name}: select and report"), |i| {
        let pick = lb.select(&i.to_le_bytes()).expect("ready backends exist");
        // Failures now and then, never as many in a row as passive health's threshold (an
        // ejection is logged: that is not the common path).
        let outcome = if i % 2 == 0 && pick.state().consecutive_failed_requests() < 3 {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        pick.report(outcome, ms);
    });
    assert_silent_and_allocation_free(&format!("{name}: select_with"), |i| {
        let pick = lb
            .select_with(&i.to_le_bytes(), 256, |b, ready| ready && b.weight > 0)
            .expect("ready backends exist");
        std::hint::black_box(pick.index());
    });
    let mut selector = lb.selector();
    assert_silent_and_allocation_free(&format!("{name}: Selector::select"), |i| {
        let pick = selector
            .select(&i.to_le_bytes())
            .expect("ready backends exist");
        std::hint::black_box(pick.addr.port());
    });
    assert_silent_and_allocation_free(&format!("{name}: Selector, to_pick, report"), |i| {
        let pick = selector
            .select(&i.to_le_bytes())
            .expect("ready backends exist");
        pick.to_pick().report(Outcome::Success, ms);
    });
    if topology {
        let stats = lb.stats();
        assert!(
            stats.routed_local > 0 && lb.priority_load().len() == 2,
            "{name}: the walk went through levels and zones: {stats:?}"
        );
    }
    recorded(&name);
    let set = lb.backends().get_backend();
    assert!(
        set.states().iter().all(|s| s.in_flight() == 0),
        "{name}: every request ended"
    );
    let cancelled: u64 = set.states().iter().map(|s| s.cancellations()).sum();
    assert_eq!(
        cancelled > 0,
        tracked,
        "{name}: dropped picks count as cancelled when tracked"
    );
}

#[test]
fn an_untracked_request_path_is_silent_and_allocation_free() {
    request_path_is_silent_and_allocation_free::<Rotate>(false, false);
}

#[test]
fn a_request_path_tracked_for_the_strategy_is_silent_and_allocation_free() {
    request_path_is_silent_and_allocation_free::<LoadAware>(false, false);
}

#[test]
fn a_request_path_tracked_for_passive_health_is_silent_and_allocation_free() {
    request_path_is_silent_and_allocation_free::<Rotate>(true, false);
}

#[test]
fn a_request_path_through_levels_and_zones_is_silent_and_allocation_free() {
    request_path_is_silent_and_allocation_free::<Rotate>(false, true);
    request_path_is_silent_and_allocation_free::<LoadAware>(true, true);
}

#[test]
fn passive_health_ejects_and_readmits_without_allocating() {
    ejects_and_readmits_without_allocating(false);
    // Each ejection and readmission also recomputes the routing of levels and zones.
    ejects_and_readmits_without_allocating(true);
}

fn ejects_and_readmits_without_allocating(topology: bool) {
    let backends: Vec<Backend> = (1..=20u16)
        .map(|i| {
            let b = Backend::from(std::net::SocketAddr::from(([10, 0, 0, 1], i)));
            if topology {
                b.with_ext(Zone::new(["a", "b"][usize::from(i % 2)]))
                    .with_ext(Priority(u32::from(i > 15)))
            } else {
                b
            }
        })
        .collect();
    let lb = LoadBalancer::<Rotate>::from_backends(Backends::fixed(backends));
    if topology {
        lb.set_zone_routing(Some(ZoneRouting::new("a").with_min_ready_backends(1)))
            .unwrap();
    }
    // Ejections of zero length: every select that meets an ejected backend readmits it, so the
    // loop goes through reporting, ejecting (a scan of the set) and readmitting over and over.
    // (Ejections and readmissions are logged: this one runs without a subscriber.)
    let policy = PassiveHealth::default()
        .with_consecutive_failures(2)
        .with_ejection(Duration::ZERO, Duration::ZERO);
    lb.set_passive_health(Some(policy));
    let recorded = with_metrics(&lb);
    drop(lb.select(b"warm"));
    let info = allocation_counter::measure(|| {
        for i in 0..10_000u32 {
            let pick = lb.select(&i.to_le_bytes()).expect("ready backends exist");
            pick.report(Outcome::Failure, Duration::from_micros(5));
        }
    });
    assert_eq!(
        info.count_total, 0,
        "report and readmission allocated: {info:?}"
    );
    recorded("ejections and readmissions");
    let set = lb.backends().get_backend();
    let ejections: u64 = set.states().iter().map(|s| s.ejections()).sum();
    assert!(ejections > 1_000, "the loop ejected only {ejections} times");
}

#[test]
fn the_counter_and_the_subscriber_see_what_they_guard() {
    // Guards the tests above against passing vacuously: the counter is installed, and an event
    // on the measured path would be recorded and would allocate.
    let info = allocation_counter::measure(|| {
        std::hint::black_box(Box::new(7u64));
    });
    assert_eq!(info.count_total, 1);
    let subscriber = RecordingSubscriber::default();
    let record = subscriber.record();
    tracing::subscriber::with_default(subscriber, || {
        tracing::trace!("warm");
        let info = allocation_counter::measure(|| tracing::trace!(backend = 7, "an event"));
        assert!(
            info.count_total > 0,
            "an event under the subscriber allocates"
        );
    });
    assert!(record.lines().iter().any(|l| l.contains("an event")));
}
