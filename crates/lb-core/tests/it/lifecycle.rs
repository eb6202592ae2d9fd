//! The request lifecycle: a `Pick` counts in flight from `select` to its end when load is
//! tracked, `report` ends it with a verdict that feeds the load signals, a drop ends it as
//! cancelled; and the streams that follow a load balancer.

use std::sync::Arc;
use std::time::Duration;

use lb_core::{
    Backend, BackendSelection, Backends, LoadBalancer, LoadSignals, Outcome, PassiveHealth, States,
    Window,
};
use tokio::time::advance;
use tokio_stream::StreamExt;

use crate::support::{LoadAware, Rotate};

fn backends(n: u16) -> Vec<Backend> {
    (1..=n)
        .map(|p| Backend::from(std::net::SocketAddr::from(([10, 3, 0, 1], p))))
        .collect()
}

fn balancer<S: BackendSelection>(n: u16) -> LoadBalancer<S> {
    LoadBalancer::from_backends(Backends::fixed(backends(n)))
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn a_tracked_pick_is_in_flight_until_reported_or_dropped() {
    let lb = balancer::<LoadAware>(1);
    let state = Arc::clone(lb.select(b"").unwrap().state());
    assert_eq!(
        (state.in_flight(), state.cancellations()),
        (0, 1),
        "select then drop"
    );
    let held: Vec<_> = (0..3).map(|_| lb.select(b"").unwrap()).collect();
    assert!(held.iter().all(|p| p.is_tracked()));
    assert_eq!(state.in_flight(), 3);
    let mut held = held.into_iter();
    held.next().unwrap().report(Outcome::Success, 20 * MS);
    held.next().unwrap().report(Outcome::Failure, 40 * MS);
    assert_eq!(state.in_flight(), 1);
    drop(held);
    assert_eq!(state.in_flight(), 0);
    assert_eq!(
        (state.requests(), state.failures(), state.cancellations()),
        (2, 1, 2),
        "a report is a success or a failure; a drop is neither"
    );
    assert_eq!(state.latency_estimate(), Some(40 * MS), "the peak");
}

#[test]
fn a_strategy_that_needs_no_load_pays_nothing() {
    let lb = balancer::<Rotate>(1);
    let held: Vec<_> = (0..3).map(|_| lb.select(b"").unwrap()).collect();
    let state = Arc::clone(held[0].state());
    assert!(held.iter().all(|p| !p.is_tracked()));
    assert_eq!(state.in_flight(), 0, "nothing counted");
    drop(held);
    assert_eq!(state.cancellations(), 0, "nothing counted");
    // Reports still reach the load signals.
    lb.select(b"").unwrap().report(Outcome::Success, 7 * MS);
    assert_eq!(
        (state.requests(), state.latency_estimate()),
        (1, Some(7 * MS))
    );
}

#[test]
fn a_policy_that_needs_load_turns_tracking_on_and_off_cleanly() {
    let lb = balancer::<Rotate>(1);
    let before = lb.select(b"").unwrap();
    lb.set_passive_health(Some(PassiveHealth::default()));
    let during = lb.select(b"").unwrap();
    assert!(!before.is_tracked() && during.is_tracked());
    let state = Arc::clone(during.state());
    assert_eq!(
        state.in_flight(),
        1,
        "only the pick taken while tracked counts"
    );
    lb.set_passive_health(None);
    let after = lb.select(b"").unwrap();
    assert!(!after.is_tracked());
    drop((before, after));
    assert_eq!(state.in_flight(), 1);
    during.report(Outcome::Success, MS);
    assert_eq!(
        state.in_flight(),
        0,
        "a tracked pick ends its count whatever changed since"
    );
}

#[test]
fn select_with_and_owned_selector_picks_start_requests_local_picks_do_not() {
    let lb = balancer::<LoadAware>(2);
    let with = lb.select_with(b"", 8, |_, ready| ready).unwrap();
    assert!(with.is_tracked());
    let state = Arc::clone(with.state());
    drop(with);
    let mut selector = lb.selector();
    let local = selector.select(b"").unwrap();
    let target = Arc::clone(local.state());
    assert_eq!(target.in_flight(), 0, "a local pick is a view");
    let owned = local.to_pick();
    assert!(owned.is_tracked());
    assert_eq!(target.in_flight(), 1);
    owned.report(Outcome::Success, MS);
    assert_eq!(target.in_flight(), 0);
    assert_eq!(state.cancellations(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pick_works_across_await_threads_and_generations() {
    let lb = Arc::new(balancer::<LoadAware>(3));
    let picks: Vec<_> = (0..30).map(|_| lb.select(b"").unwrap()).collect();
    let states: Vec<_> = lb.backends().get_backend().states().to_vec();
    assert_eq!(states.iter().map(|s| s.in_flight()).sum::<u64>(), 30);
    // The set moves on: every backend removed but the first.
    lb.apply(backends(1)).unwrap();
    assert_eq!(lb.backends().get_backend().len(), 1);
    let tasks: Vec<_> = picks
        .into_iter()
        .enumerate()
        .map(|(i, pick)| {
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                if i % 3 == 0 {
                    drop(pick);
                } else {
                    pick.report(Outcome::Success, MS);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        states.iter().all(|s| s.in_flight() == 0),
        "every request ended on its own state"
    );
    assert_eq!(states.iter().map(|s| s.requests()).sum::<u64>(), 20);
    assert_eq!(states.iter().map(|s| s.cancellations()).sum::<u64>(), 10);
}

#[tokio::test(start_paused = true)]
async fn the_latency_estimate_is_a_peak_ewma_on_the_paused_clock() {
    let lb = balancer::<LoadAware>(1);
    let set = lb.backends().get_backend();
    let signals = lb.load_signals();
    assert_eq!(signals, LoadSignals::default());
    let states = States::new(&set, &signals);
    // No sample: the default estimate, 30 ms.
    assert_eq!(states.latency(0, states.now()), (30e6, false));
    lb.select(b"").unwrap().report(Outcome::Success, 100 * MS);
    assert_eq!(states.latency(0, states.now()), (100e6, true));
    // One decay constant (10 s) later, a 10 ms sample keeps e^-1 of the estimate...
    advance(Duration::from_secs(10)).await;
    lb.select(b"").unwrap().report(Outcome::Success, 10 * MS);
    let keep = (-1.0f64).exp();
    let want = 100e6 * keep + 10e6 * (1.0 - keep);
    let (got, _) = states.latency(0, states.now());
    assert!((got - want).abs() < 10.0, "{got} vs {want}");
    // ...and read 20 s later with no traffic, it has decayed by e^-2.
    advance(Duration::from_secs(20)).await;
    let (later, _) = states.latency(0, states.now());
    assert!((later - want * (-2.0f64).exp()).abs() < 10.0, "{later}");
    // A peak replaces it at once.
    lb.select(b"").unwrap().report(Outcome::Success, 300 * MS);
    assert_eq!(states.latency(0, states.now()), (300e6, true));
}

#[tokio::test(start_paused = true)]
async fn outcome_windows_close_for_the_whole_set_when_one_is_over() {
    let lb = balancer::<Rotate>(2);
    lb.set_load_signals(LoadSignals::default().with_window(Duration::from_secs(10)));
    let set = lb.backends().get_backend();
    let report = |i: usize, o: Outcome| {
        lb.select_with(b"", 8, |b, _| b.addr == set[i].addr)
            .unwrap()
            .report(o, MS)
    };
    report(0, Outcome::Success);
    report(0, Outcome::Failure);
    report(1, Outcome::Success);
    assert_eq!(
        set.states()[0].current_window(),
        Window::default().with(1, 1)
    );
    advance(Duration::from_secs(9)).await;
    report(0, Outcome::Success);
    assert_eq!(
        set.states()[0].last_window(),
        Window::default(),
        "not over yet"
    );
    advance(Duration::from_secs(1)).await;
    // The first report after the end closes the window of every backend, itself counted in the
    // next one.
    report(1, Outcome::Failure);
    assert_eq!(set.states()[0].last_window(), Window::default().with(2, 1));
    assert_eq!(set.states()[1].last_window(), Window::default().with(1, 0));
    assert_eq!(
        set.states()[1].current_window(),
        Window::default().with(0, 1)
    );
    assert_eq!(
        set.states()[0].last_window().success_rate(),
        Some(2.0 / 3.0)
    );
}

#[tokio::test]
async fn generations_start_with_the_current_set_and_follow_every_publication() {
    let lb = balancer::<Rotate>(2);
    let mut generations = lb.generations();
    let first = generations.next().await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first.generation(), lb.backends().get_backend().generation());
    lb.apply(backends(3)).unwrap();
    let second = generations.next().await.unwrap();
    assert_eq!(second.len(), 3);
    assert!(second.generation() > first.generation());
    // A slow consumer sees the latest, never an older one after it.
    lb.apply(backends(4)).unwrap();
    lb.apply(backends(5)).unwrap();
    let latest = StreamExt::next(&mut generations).await.unwrap();
    assert_eq!(latest.len(), 5);
    // Nothing new: the stream waits.
    let idle = tokio::time::timeout(Duration::from_millis(20), generations.next()).await;
    assert!(idle.is_err(), "no publication, no item");
    drop(lb);
    assert!(
        generations.next().await.is_none(),
        "the stream ends with the load balancer"
    );
}
