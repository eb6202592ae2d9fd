//! Ending attempts: statuses and errors to outcomes, latencies on tokio's clock, and what each
//! ending does to the backend's state.

use std::time::Duration;

use lb::{LeastRequest, LoadBalancer, Outcome, PassiveHealth, RoundRobin};
use lb_pingora::{Attempt, report_error, report_status};
use pingora_core::{Error, ErrorType};

#[tokio::test(start_paused = true)]
async fn an_attempt_reports_the_time_since_it_started() {
    let lb = LoadBalancer::<LeastRequest>::try_from_iter(["10.0.0.1:80"]).unwrap();
    let mut slot = lb.select(b"").map(Attempt::new);
    let state = slot.as_ref().unwrap().pick().state().clone();
    assert_eq!(state.in_flight(), 1);
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(slot.as_ref().unwrap().elapsed(), Duration::from_millis(40));
    assert_eq!(report_status(&mut slot, 200), Some(Outcome::Success));
    assert_eq!(
        (state.in_flight(), state.requests(), state.failures()),
        (0, 1, 0)
    );
    let estimate = state.latency_estimate().expect("a sample");
    assert_eq!(estimate, Duration::from_millis(40));
}

#[tokio::test(start_paused = true)]
async fn errors_of_the_upstream_fail_and_others_cancel() {
    let lb = LoadBalancer::<RoundRobin>::try_from_iter(["10.0.0.1:80"]).unwrap();
    lb.set_passive_health(Some(PassiveHealth::default()));
    let state = lb.backends().get_backend().states()[0].clone();

    let mut slot = lb.select(b"").map(Attempt::new);
    let client_gone = Error::new_down(ErrorType::ConnectionClosed);
    assert_eq!(report_error(&mut slot, &client_gone), None);
    assert!(slot.is_none());
    assert_eq!((state.cancellations(), state.failures()), (1, 0));

    let mut slot = lb.select(b"").map(Attempt::new);
    let ours = Error::explain(ErrorType::InternalError, "a filter of the proxy failed");
    assert_eq!(report_error(&mut slot, &ours), None);
    assert_eq!((state.cancellations(), state.failures()), (2, 0));

    let mut slot = lb.select(b"").map(Attempt::new);
    let refused = Error::new_up(ErrorType::ConnectRefused);
    assert_eq!(report_error(&mut slot, &refused), Some(Outcome::Failure));
    assert_eq!((state.cancellations(), state.failures()), (2, 1));
    assert_eq!(state.consecutive_failed_requests(), 1);
    // Nothing left to end: a later phase's report is a no-op.
    assert_eq!(report_error(&mut slot, &refused), None);
    assert_eq!(state.failures(), 1);
}

#[tokio::test(start_paused = true)]
async fn informational_statuses_wait_for_the_final_one() {
    let lb = LoadBalancer::<RoundRobin>::try_from_iter(["10.0.0.1:80"]).unwrap();
    lb.set_passive_health(Some(PassiveHealth::default()));
    let state = lb.backends().get_backend().states()[0].clone();
    let mut slot = lb.select(b"").map(Attempt::new);
    assert_eq!(report_status(&mut slot, 103), None);
    assert!(slot.is_some());
    assert_eq!(report_status(&mut slot, 500), Some(Outcome::Failure));
    assert_eq!((state.requests(), state.failures()), (1, 1));
}
