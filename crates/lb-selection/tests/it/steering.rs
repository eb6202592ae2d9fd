//! Load-aware strategies and slow start under real concurrency: client tasks on tokio's paused
//! clock send requests through `select`, wait for each backend's simulated latency, and report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lb_core::{BackendSelection, Backends, LoadBalancer, Outcome, SlowStart};
use lb_selection::{LeastRequest, PeakEwma, Random, RoundRobin};

use crate::support::backends;

const FAST: Duration = Duration::from_millis(10);
const SLOW: Duration = Duration::from_millis(100);

/// `clients` tasks send requests for `run` of virtual time to ten backends of which backend 0
/// answers in `SLOW` and the others in `FAST`; returns backend 0's share of the requests.
async fn share_of_the_slow_backend<S: BackendSelection>(clients: usize, run: Duration) -> f64
where
    S::Config: Default,
{
    let lb = Arc::new(LoadBalancer::<S>::from_backends(Backends::fixed(backends(
        &[1; 10],
    ))));
    let picks: Arc<[AtomicU64; 10]> = Arc::new(Default::default());
    let end = tokio::time::Instant::now() + run;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (lb, picks) = (Arc::clone(&lb), Arc::clone(&picks));
            tokio::spawn(async move {
                while tokio::time::Instant::now() < end {
                    let pick = lb.select(b"").expect("a backend");
                    picks[pick.index()].fetch_add(1, Ordering::Relaxed);
                    let latency = if pick.index() == 0 { SLOW } else { FAST };
                    tokio::time::sleep(latency).await;
                    pick.report(Outcome::Success, latency);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let counts: Vec<u64> = picks.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let total: u64 = counts.iter().sum();
    assert!(total > 10_000, "{total} requests");
    counts[0] as f64 / total as f64
}

#[tokio::test(start_paused = true)]
async fn load_aware_strategies_steer_away_from_a_backend_ten_times_slower() {
    let run = Duration::from_secs(10);
    let round_robin = share_of_the_slow_backend::<RoundRobin>(20, run).await;
    let least_request = share_of_the_slow_backend::<LeastRequest>(20, run).await;
    let peak_ewma = share_of_the_slow_backend::<PeakEwma>(20, run).await;
    assert!(
        (round_robin - 0.1).abs() < 0.01,
        "round robin: {round_robin:.4}"
    );
    assert!(least_request < 0.1, "least request: {least_request:.4}");
    assert!(peak_ewma < 0.03, "Peak EWMA: {peak_ewma:.4}");
    assert!(
        peak_ewma < least_request,
        "{peak_ewma:.4} {least_request:.4}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_backends_share_over_its_slow_start_follows_envoys_formula() {
    // Ten equal backends; an eleventh joins and ramps over 10 s from 10 %, linearly.
    let set = backends(&[1; 11]);
    let lb = LoadBalancer::<Random>::from_backends(Backends::fixed(set[..10].to_vec()));
    let window = Duration::from_secs(10);
    lb.set_slow_start(Some(SlowStart::over(window)));
    lb.apply(set.clone()).unwrap();
    let newcomer = &set[10];
    let (mut expected, mut got) = (0.0, 0u64);
    let (steps, per_step) = (100u32, 400u32);
    for step in 0..steps {
        let t = window.as_secs_f64() * f64::from(step) / f64::from(steps);
        let factor = (t.max(1.0) / 10.0).max(0.1);
        // Envoy's weights: the newcomer's share is its weight over the sum.
        expected += f64::from(per_step) * factor / (10.0 + factor);
        got += (0..per_step)
            .filter(|_| lb.select(b"").unwrap().addr == newcomer.addr)
            .count() as u64;
        tokio::time::advance(window / steps).await;
    }
    let ratio = got as f64 / expected;
    assert!(
        (ratio - 1.0).abs() < 0.1,
        "got {got}, expected {expected:.0}"
    );
    // After the window it takes its full share.
    let full = (0..11_000)
        .filter(|_| lb.select(b"").unwrap().addr == newcomer.addr)
        .count();
    assert!((800..1_200).contains(&full), "{full} of 11,000");
}
