//! Readers never observe a torn snapshot while another thread updates.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use lb_core::{Backend, LoadBalancer};

use crate::support::LastOnly;

/// Marks the last backend of each generation, so a reader can tell a pick from another
/// generation's selector.
#[derive(Clone, Debug, PartialEq)]
struct Last(u64);

fn generation(g: u64) -> Vec<Backend> {
    let n = (g % 37) as u16 + 1;
    (1..=n)
        .map(|p| {
            let b = Backend::from(std::net::SocketAddr::from(([10, 1, 0, 1], p)));
            if p == n { b.with_ext(Last(g)) } else { b }
        })
        .collect()
}

#[test]
fn selecting_threads_never_see_a_selector_of_another_generation() {
    let lb = Arc::new(LoadBalancer::<LastOnly>::try_from_iter(generation(0)).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let picks = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (lb, stop, picks) = (lb.clone(), stop.clone(), picks.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // LastOnly offers only the last index of the set it was built for: with a
                    // torn snapshot it would be out of range (None) or not the last backend.
                    let pick = lb.select(b"").expect("every backend is ready");
                    assert_eq!(pick.index() + 1, pick.set().len());
                    assert!(pick.ext.get::<Last>().is_some(), "{pick:?} is not last");
                    picks.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for g in 1..=5_000 {
        lb.apply(generation(g)).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader saw a torn snapshot");
    }
    assert!(picks.load(Ordering::Relaxed) > 0);
    assert_eq!(lb.stats().published, 5_000);
}

#[test]
fn backends_and_select_read_one_record_of_the_current_set() {
    // A writer publishes generation after generation and, after each `apply` returns, records
    // the generation it published. Readers read the set through `backends()`, then through a
    // pick, then through `backends()` again: with one record of the current set, the three are
    // never older than what an `apply` that returned before published, and never go back.
    use lb_core::Backends;
    let lb = Arc::new(LoadBalancer::<crate::support::Rotate>::from_backends(
        Backends::fixed(generation(0)),
    ));
    let floor = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (lb, floor, stop, checks) =
                (lb.clone(), floor.clone(), stop.clone(), checks.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    let published = floor.load(Ordering::Acquire);
                    let a = lb.backends().get_backend().generation();
                    let b = lb
                        .select(b"")
                        .expect("every backend is ready")
                        .set()
                        .generation();
                    let c = lb.backends().get_backend().generation();
                    assert!(published <= a, "backends() older than a returned update");
                    assert!(a <= b && b <= c, "views disagree: {a} {b} {c}");
                    checks.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for g in 1..=3_000 {
        lb.apply(generation(g)).unwrap();
        let published = lb.backends().get_backend().generation();
        floor.store(published, Ordering::Release);
    }
    stop.store(true, Ordering::Release);
    for r in readers {
        r.join().expect("a reader saw two records disagree");
    }
    assert!(checks.load(Ordering::Relaxed) > 0);
}
